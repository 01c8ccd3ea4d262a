#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Keeps the manual pages in man/ sound and complete.
#
#   check-man-pages.sh lint MANDIR
#       every page in MANDIR formats without a single warning, with groff
#       (all warnings) and with man-db (as `man` would show it).
#   check-man-pages.sh options MANDIR RAFTD
#       every option `raftd --help` prints is described in raftd.8, and
#       every option raftd.8 describes is one raftd knows.
#   check-man-pages.sh config-keys MANDIR CONFIG_C
#       every section and key in the parser's key table (src/daemon/config.c)
#       is described in its section of raftd.conf.5, and the page describes
#       no key the parser rejects.
set -euo pipefail

fail=0
problem() {
        echo "$*" >&2
        fail=1
}

# The body of one section of a page: from its .SH line to the next .SH.
section_text() {
        local page=$1 title=$2
        awk -v t="$title" '
                /^\.SH / { s = substr($0, 5); gsub(/"/, "", s); inside = (s == t); next }
                inside { print }' "$page"
}

lint() {
        local dir=$1 page out n=0

        command -v groff >/dev/null || { echo "groff is not installed (Debian: groff-base)" >&2; exit 1; }
        command -v man >/dev/null || { echo "man is not installed (Debian: man-db)" >&2; exit 1; }
        for page in "$dir"/*.[1-9]; do
                [ -e "$page" ] || continue
                n=$((n + 1))
                out=$(groff -man -ww -z "$page" 2>&1) || problem "$page: groff failed"
                [ -z "$out" ] || problem "$page: groff -man -ww warns:"$'\n'"$out"
                # From stdin: man-db may drop root privileges to its own user,
                # who need not be able to read the checkout; its seccomp
                # sandbox is off for containers whose filter rejects it.
                out=$(LC_ALL=C.UTF-8 MANWIDTH=80 MAN_DISABLE_SECCOMP=1 man --warnings -E UTF-8 -l - <"$page" 2>&1 >/dev/null) ||
                        problem "$page: man -l failed"
                [ -z "$out" ] || problem "$page: man --warnings warns:"$'\n'"$out"
        done
        [ "$n" -gt 0 ] || problem "no manual pages in $dir"
        echo "linted $n pages"
}

# Options in roff are written \-\-name (or \-x); compare them unescaped.
options() {
        local dir=$1 raftd=$2 page=$1/raftd.8 help documented opt

        help=$(LC_ALL=C LANGUAGE= "$raftd" --help | grep -oE -- '(^|[[:space:]])--?[a-z][a-z-]*' | tr -d ' \t' | sort -u)
        documented=$(section_text "$page" OPTIONS | sed -n 's/^\.[A-Z]* *//p' | sed 's/\\-/-/g; s/\\f[BIRP]//g' |
                grep -oE -- '(^|[ ",])--?[a-z][a-z-]*' | tr -d ' ",' | sort -u)
        [ -n "$help" ] || problem "raftd --help printed no options"
        for opt in $help; do
                grep -qxF -- "$opt" <<<"$documented" || problem "raftd.8 does not describe $opt (raftd --help prints it)"
        done
        for opt in $documented; do
                grep -qxF -- "$opt" <<<"$help" || problem "raftd.8 describes $opt, which raftd --help does not print"
        done
        echo "options: $(wc -w <<<"$help") in --help, $(wc -w <<<"$documented") in raftd.8"
}

# The parser's table is the list of keys: KEY("Section", "Name", ...) lines
# and the sections[] array (a section may have no fixed keys: [Peers]).
config_keys() {
        local dir=$1 config_c=$2 page=$1/raftd.conf.5 keys sections sec key body n_keys

        keys=$(sed -nE 's/^[[:space:]]*KEY\("([A-Za-z]+)", *"([A-Za-z]+)".*/\1 \2/p' "$config_c")
        sections=$(sed -nE '/sections\[\] *=/ { s/.*\{(.*)\}.*/\1/; s/[",]/ /g; p }' "$config_c")
        n_keys=$(grep -c . <<<"$keys" || true)
        [ "$n_keys" -gt 0 ] || problem "found no KEY(...) lines in $config_c: has the table's form changed?"
        [ -n "${sections// /}" ] || problem "found no sections[] in $config_c: has its form changed?"
        for sec in $sections; do
                grep -qxF ".SH \"[$sec] SECTION\"" "$page" || problem "raftd.conf.5 has no section \"[$sec] SECTION\""
        done
        while read -r sec key; do
                [ -n "$sec" ] || continue
                grep -qE "^\.BI $key= " <<<"$(section_text "$page" "[$sec] SECTION")" ||
                        problem "raftd.conf.5 does not describe $key= in [$sec] (.BI $key= ...)"
        done <<<"$keys"
        # The other way: a key on the page that the parser does not know.
        for sec in $sections; do
                body=$(section_text "$page" "[$sec] SECTION")
                for key in $(sed -nE 's/^\.BI ([A-Za-z]+)= .*/\1/p' <<<"$body"); do
                        grep -qxF "$sec $key" <<<"$keys" ||
                                problem "raftd.conf.5 describes $key= in [$sec], which the parser does not accept"
                done
        done
        echo "config: $n_keys keys in $(wc -w <<<"$sections") sections"
}

case ${1:-} in
lint) lint "$2" ;;
options) options "$2" "$3" ;;
config-keys) config_keys "$2" "$3" ;;
*)
        echo "usage: $0 lint MANDIR | options MANDIR RAFTD | config-keys MANDIR CONFIG_C" >&2
        exit 2
        ;;
esac
exit $fail
