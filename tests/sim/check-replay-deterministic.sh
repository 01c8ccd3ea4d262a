#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# One seed, one run: replaying a seed must print the very same story, byte
# for byte (that is what makes a failure's replay command useful), and
# another seed must tell another story.
#
# usage: check-replay-deterministic.sh RAFT-SIM
set -eu

sim=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$sim" --seed 42 --steps 3000 --verbose > "$dir/a"
"$sim" --seed 42 --steps 3000 --verbose > "$dir/b"
"$sim" --seed 43 --steps 3000 --verbose > "$dir/c"

if ! cmp -s "$dir/a" "$dir/b"; then
        echo "seed 42 replayed differently:" >&2
        diff "$dir/a" "$dir/b" | head -20 >&2
        exit 1
fi
if cmp -s "$dir/a" "$dir/c"; then
        echo "seeds 42 and 43 told the same story" >&2
        exit 1
fi
echo "seed 42 replays identically ($(wc -l < "$dir/a") lines); seed 43 differs"
