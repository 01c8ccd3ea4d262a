#!/usr/bin/env bash
# The bash completion: source it and ask what it offers at given points of
# a command line, as bash would on TAB.
set -euo pipefail
file=$1
# shellcheck source=/dev/null
. "$file"
fail() { echo "FAIL: $*" >&2; exit 1; }

# complete_line WORDS...: the last word is the one being completed ("" for
# a new one); COMP_WORDS split at blanks.
complete_line() {
        COMP_WORDS=("$@")
        COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        replies
}

# complete_split LINE WORDS...: COMP_WORDS as bash splits LINE with its
# default COMP_WORDBREAKS ("=" and ":" are words of their own).
complete_split() {
        COMP_LINE=$1
        COMP_POINT=${#COMP_LINE}
        shift
        COMP_WORDS=("$@")
        COMP_CWORD=$(($# - 1))
        replies
}

replies() {
        COMPREPLY=()
        _raftctl
        if [ ${#COMPREPLY[@]} -gt 0 ]; then
                printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
        fi
}

expect() { [ "$1" = "$2" ] || fail "completing '$3': expected '$2', got '$1'"; }

expect "$(complete_line raftctl "")" \
        "backup cas del get keygen list lock members put snapshot status transfer-leader watch " "raftctl "
expect "$(complete_line raftctl s)" "snapshot status " "raftctl s"
expect "$(complete_line raftctl --json tr)" "transfer-leader " "raftctl --json tr"
expect "$(complete_line raftctl --bus-address unix:path=/x g)" "get " "raftctl --bus-address ADDR g"
expect "$(complete_line raftctl --v)" "--version " "raftctl --v"
expect "$(complete_line raftctl get --)" "--bus-address= --help --json --local --raw --system --user " "raftctl get --"
expect "$(complete_line raftctl cas --a)" "--absent " "raftctl cas --a"
expect "$(complete_line raftctl lock --t)" "--timeout= " "raftctl lock --t"
expect "$(complete_line raftctl keygen --f)" "--force " "raftctl keygen --f"
expect "$(complete_line raftctl members "")" "add promote remove " "raftctl members "
expect "$(complete_line raftctl members add "")" "" "raftctl members add "
expect "$(complete_line raftctl status --l)" "" "raftctl status --l"
# Files where a command takes a path.
tmp=$(mktemp -d /tmp/raftctl-completion-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/backup-one"
expect "$(complete_line raftctl backup "$tmp/backup-")" "$tmp/backup-one " "raftctl backup PATH"
expect "$(complete_line raftctl put --file="$tmp/ba")" "--file=$tmp/backup-one " "raftctl put --file=PATH"
expect "$(complete_split "raftctl put --file=$tmp/ba" raftctl put --file = "$tmp/ba")" "$tmp/backup-one " \
        "raftctl put --file=PATH, split at ="
expect "$(complete_split "raftctl --bus-address=unix:path=/x l" raftctl --bus-address = unix : path = /x l)" \
        "list lock " "raftctl --bus-address=ADDR l, split at = and :"
expect "$(complete_split "raftctl --bus-address unix:path=/x st" raftctl --bus-address unix : path = /x st)" \
        "status " "raftctl --bus-address ADDR st, split at = and :"
# After "lock NAME --" a command is completed.
expect "$(complete_line raftctl lock /l -- bas | grep -o 'bash ' | head -1)" "bash " "raftctl lock NAME -- bas"
echo ok
