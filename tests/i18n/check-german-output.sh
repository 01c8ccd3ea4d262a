#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# raftd speaks German under a German locale: its --help on stdout and its
# log lines on stderr come from the compiled catalog, and without the
# locale the same calls print English (so the catalog, nothing else, made
# the difference).
#
#   check-german-output.sh RAFTD
#
# RAFTD is raftd built with LOCALEDIR pointing at the build tree's catalogs
# (tests/i18n/meson.build; docs/translations.md says why).  The locale is
# C.UTF-8 with LANGUAGE=de: glibc honours LANGUAGE for any locale but "C"
# itself, and C.UTF-8 is built into glibc 2.35+, so no locale has to be
# generated.  The expected German phrases are those of po/de.po: change
# them here when the translation changes.
set -euo pipefail

raftd=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/raftd-i18n-$$.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0

expect() {
        local what=$1 file=$2 text=$3
        if ! grep -qF -- "$text" "$file"; then
                echo "$what: expected \"$text\" in:" >&2
                cat "$file" >&2
                fail=1
        fi
}

german() { env -u LC_MESSAGES -u LANG LC_ALL=C.UTF-8 LANGUAGE=de "$@"; }
english() { env -u LC_MESSAGES -u LANG -u LANGUAGE LC_ALL=C.UTF-8 "$@"; }

# --help: translated, and it still lists every option the English one does.
german "$raftd" --help >"$tmp/help.de"
english "$raftd" --help >"$tmp/help.en"
expect "German --help" "$tmp/help.de" "Diese Hilfe anzeigen"
expect "German --help" "$tmp/help.de" "Betreibt einen raftd-Knoten"
expect "English --help" "$tmp/help.en" "Show this help"
for opt in $(grep -oE -- '(^|[[:space:]])--?[a-z][a-z-]*' "$tmp/help.en" | tr -d ' ' | sort -u); do
        grep -qE -- "(^|[[:space:]])$opt([^a-z-]|$)" "$tmp/help.de" || {
                echo "German --help lacks $opt" >&2
                fail=1
        }
done

# A log line, and exit status 1.
rc=0
german "$raftd" --config="$tmp" 2>"$tmp/dir.de" || rc=$?
[ "$rc" -eq 1 ] || { echo "raftd with a directory as --config exited $rc, expected 1" >&2; fail=1; }
expect "German log line" "$tmp/dir.de" "Konfigurationsdatei $tmp ist keine reguläre Datei"

# A parser error: the frame (file:line: [Section] Key=:) stays, the text is German.
printf '[Node]\nId=1\nListen=127.0.0.1:1\nColour=blue\n' >"$tmp/bad.conf"
rc=0
german "$raftd" --config="$tmp/bad.conf" 2>"$tmp/bad.de" || rc=$?
[ "$rc" -eq 1 ] || { echo "raftd with an unknown key exited $rc, expected 1" >&2; fail=1; }
expect "German parser error" "$tmp/bad.de" "$tmp/bad.conf:4: [Node] Colour=: unbekannter Schlüssel"
english "$raftd" --config="$tmp/bad.conf" 2>"$tmp/bad.en" || true
expect "English parser error" "$tmp/bad.en" "$tmp/bad.conf:4: [Node] Colour=: unknown key"

[ "$fail" -eq 0 ] && echo "raftd prints German under LC_ALL=C.UTF-8 LANGUAGE=de"
exit $fail
