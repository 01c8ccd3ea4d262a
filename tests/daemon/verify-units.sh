#!/usr/bin/env bash
# `systemd-analyze verify` of every unit file in systemd/, with ExecStart=
# pointing at the built raftd (the installed path does not exist here).  It
# exits 0 on warnings, so any output at all fails the test.  A template is
# verified through an instance of it.  --man=no: the manual pages are
# written later (issue 6); drop it once they are installed.
set -euo pipefail
top=$1
raftd=$2
tmp=$(mktemp -d /tmp/raftd-units-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
units=()
for path in "$top"/systemd/*.service "$top"/systemd/*.socket "$top"/systemd/*.timer "$top"/systemd/*.target; do
        [ -e "$path" ] || continue
        unit=$(basename "$path")
        sed "s|/usr/sbin/raftd|$raftd|" "$path" > "$tmp/$unit"
        case "$unit" in
        *@.*)
                cp "$tmp/$unit" "$tmp/${unit/@./@test.}"
                units+=("./${unit/@./@test.}")
                ;;
        *)
                units+=("./$unit")
                ;;
        esac
done
[ "${#units[@]}" -gt 0 ] || { echo "no unit files in $top/systemd" >&2; exit 1; }
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$tmp}
out=$(cd "$tmp" && systemd-analyze verify --man=no "${units[@]}" 2>&1) || {
        echo "$out" >&2
        exit 1
}
if [ -n "$out" ]; then
        echo "systemd-analyze verify printed:" >&2
        echo "$out" >&2
        exit 1
fi
echo "units verified: ${units[*]}"
