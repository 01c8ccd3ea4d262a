#!/usr/bin/env bash
# Runs the raftctl lines of README.md exactly as written (between the
# raftctl-lines markers), on a fresh directory and port, with the built
# raftctl first in PATH: every line must succeed, and what they print must
# be what the README says.
set -euo pipefail
top=$1
export RAFTD=$2
ctl_dir=$(dirname "$3")
dir=$(mktemp -d /tmp/raftctl-readme-XXXXXX)
export RAFTD_DEV_PORT=$((20000 + RANDOM % 11000))
export PATH="$ctl_dir:$PATH"
trap '"$top/demo/local-cluster.sh" stop "$dir"; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

lines=$(sed -n '/^<!-- raftctl-lines -->$/,/^<!-- \/raftctl-lines -->$/p' "$top/README.md" | sed -n 's/^    //p')
[ "$(echo "$lines" | grep -c '^raftctl ')" -ge 4 ] || fail "README.md has no raftctl lines between the markers"
grep -q 'demo/local-cluster.sh stop' <<<"$lines" || fail "the README's lines do not stop the cluster"
cd "$top"
# In the README's own directory, the README's lines, one by one, each
# output ended with a newline (get writes the bare value to a pipe).
{
        echo 'set -euo pipefail'
        echo "$lines" | sed "s#/tmp/raftd-dev#$dir#g" | while IFS= read -r line; do
                printf '%s\necho\n' "$line"
        done
} > "$dir/readme-lines.sh"
out=$(bash -x "$dir/readme-lines.sh" 2>"$dir/trace") || {
        cat "$dir/trace" >&2
        fail "a README line failed"
}
echo "$out"
# What the README says these lines print, in this order; numbers may differ.
expected=$(sed -n '/^<!-- raftctl-output -->$/,/^<!-- \/raftctl-output -->$/p' "$top/README.md" | sed -n 's/^    //p')
[ -n "$expected" ] || fail "README.md shows no output between the raftctl-output markers"
pattern=$(sed 's/[0-9][0-9]*/[0-9]+/g' <<<"$expected")
got=$(grep -x -E -f <(echo "$pattern") <<<"$out" || true)
[ "$(wc -l <<<"$got")" = "$(wc -l <<<"$expected")" ] || fail "the README shows output lines that did not appear:"$'\n'"$expected"
paste -d '\n' <(echo "$pattern") <(echo "$got") | while IFS= read -r want && IFS= read -r line; do
        grep -q -x -E "$want" <<<"$line" || fail "output out of the README's order: '$line' where '$want' belongs"
done
grep -q -E '^[123] +leader ' <<<"$out" || fail "raftctl status showed no leader"
echo ok
