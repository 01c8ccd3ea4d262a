#!/bin/sh
# Runs the libFuzzer target for a bounded time from the seed corpus.
# usage: run-fuzz.sh FUZZER SEED_WRITER WORKDIR SECONDS
set -eu
fuzzer=$(realpath "$1") seeds=$(realpath "$2") work=$3 seconds=$4
mkdir -p "$work/corpus" "$work/seeds"
"$seeds" "$work/seeds"
cd "$work"
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 corpus seeds
