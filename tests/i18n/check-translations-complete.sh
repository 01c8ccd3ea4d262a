#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every catalog in po/LINGUAS translates every string the sources mark
# today, with matching format specifiers: the catalog is merged with a POT
# made fresh from po/POTFILES (not with the committed state of po/), so a
# string added to the code fails this test until it is translated.
#
#   check-translations-complete.sh SOURCE_ROOT
set -euo pipefail

top=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/raftd-i18n-$$.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The keywords of meson's "glib" xgettext preset (po/meson.build uses it).
(cd "$top" && xgettext --from-code=UTF-8 --add-comments \
        --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 --flag=N_:1:pass-c-format \
        --package-name=raftd --files-from=po/POTFILES --output="$tmp/raftd.pot")
total=$(msgattrib --no-obsolete "$tmp/raftd.pot" | grep -c '^msgid ' || true)
# Minus the header entry.
total=$((total - 1))
[ "$total" -gt 0 ] || { echo "xgettext found no strings in po/POTFILES" >&2; exit 1; }

fail=0
languages=$(sed 's/#.*//' "$top/po/LINGUAS")
[ -n "${languages//[[:space:]]/}" ] || { echo "po/LINGUAS lists no language" >&2; exit 1; }
for lang in $languages; do
        po=$top/po/$lang.po
        if [ ! -f "$po" ]; then
                echo "$lang: po/LINGUAS lists it, but $po does not exist" >&2
                fail=1
                continue
        fi
        # The catalog as committed: well-formed, format specifiers match.
        if ! msgfmt --check -o /dev/null "$po"; then
                echo "$lang: msgfmt --check fails on $po" >&2
                fail=1
                continue
        fi
        msgmerge --quiet --previous "$po" "$tmp/raftd.pot" -o "$tmp/$lang.po"
        stats=$(LC_ALL=C msgfmt --check --statistics -o /dev/null "$tmp/$lang.po" 2>&1)
        echo "$lang: $stats (of $total strings in the sources)"
        if grep -qE 'untranslated|fuzzy' <<<"$stats"; then
                echo "$lang: not every string is translated; these need work (run meson compile -C build raftd-update-po, see docs/translations.md):" >&2
                # (sed drops the header entry msgattrib always prints.)
                msgattrib --untranslated --no-obsolete --no-wrap "$tmp/$lang.po" | sed '1,/^$/d' | grep '^msgid ' >&2 || true
                msgattrib --only-fuzzy --no-obsolete --no-wrap "$tmp/$lang.po" | sed '1,/^$/d' | grep '^msgid ' >&2 || true
                fail=1
        fi
done
exit $fail
