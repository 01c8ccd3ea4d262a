#!/usr/bin/env bash
# raftd against etcd on the same machine in one run (issue 7):
#
#   bench/compare-etcd.sh [WORKDIR]          (default: a new dir in /var/tmp)
#
# 1. the raw write+fdatasync rate of WORKDIR's disk (raftd-bench-log);
# 2. the D-Bus round-trip ceiling: raftd-bench against an empty method
#    (raftd-bench serve-echo) on a private dbus-daemon, same K;
# 3. a 3-node raftd cluster (demo/local-cluster.sh: real raftd daemons, each
#    on its own private dbus-daemon) on 127.0.0.1: RSS idle and after 100 000
#    keys of 64 bytes, then put / get / get-local / cas / lock with 1 and 64
#    (put: also 256) calls in flight through the leader's bus;
# 4. failover: TRIALS times SIGKILL of the leader and TRIALS times SIGTERM
#    (what `systemctl stop` sends: graceful stop with leadership transfer),
#    each the time from the signal to the first successful Put issued after
#    it through a surviving node; the stopped node is restarted in between;
# 5. a 3-member etcd cluster (Debian's etcd-server) on 127.0.0.1 with its
#    defaults (heartbeat 100 ms, election 1 s, as raftd's): RSS idle and
#    after the same 100 000 keys, then etcd's own load generator
#    (tools/benchmark, built by bench/etcd/build-benchmark) with the same
#    key and value sizes, clients and connections against the leader;
# 6. the fdatasync rate again, and a side-by-side table with ratios.
#
# Environment: BUILD (meson build dir, default build), SECONDS_PER_ROW (5),
# TRIALS (20; 0 skips failover), ETCD_TOOLS (where etcd's benchmark is
# built, /var/tmp/raftd-etcd-tools), SKIP_ETCD=1 (raftd only: for trying a
# change of raftd quickly; the ratios need etcd), RAFTD_CONF_EXTRA (lines
# appended to every node's configuration file before the measurements, e.g.
# $'[Limits]\nSnapshotEntries=100000'; the run then measures raftd off its
# defaults, which the output says).  Needs root only for bench/etcd/install-deps.
# Every process it starts is stopped on exit; WORKDIR is removed unless
# KEEP=1.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
secs=${SECONDS_PER_ROW:-5}
trials=${TRIALS:-20}
tools=${ETCD_TOOLS:-/var/tmp/raftd-etcd-tools}
bench=$build/bench/raftd-bench
bench_log=$build/bench/raftd-bench-log
raftd=$build/src/daemon/raftd
work=${1:-}

die() {
        echo "compare-etcd: $*" >&2
        exit 1
}

for f in "$bench" "$bench_log" "$raftd"; do
        [ -x "$f" ] || die "$f not found: meson setup $build && meson compile -C $build"
done
for f in etcd etcdctl go busctl dbus-daemon; do
        command -v "$f" >/dev/null || die "$f not found: run bench/etcd/install-deps (as root)"
done
etcd_bench=$("$top/bench/etcd/build-benchmark" "$tools" | tail -1)

if [ -z "$work" ]; then
        work=$(mktemp -d /var/tmp/raftd-compare-etcd.XXXXXX)
else
        mkdir -p "$work"
        work=$(cd "$work" && pwd)
fi
rdir=$work/raftd
edir=$work/etcd
results=$work/results
mkdir -p "$rdir" "$edir"
: > "$results"
etcd_pids=()
echo_pid=
echo_bus_pid=

cleanup() {
        set +e
        [ -n "$echo_pid" ] && kill "$echo_pid" 2>/dev/null
        [ -n "$echo_bus_pid" ] && kill "$echo_bus_pid" 2>/dev/null
        for p in "${etcd_pids[@]}"; do kill "$p" 2>/dev/null; done
        "$top/demo/local-cluster.sh" stop "$rdir" >/dev/null 2>&1
        wait 2>/dev/null
        if [ "${KEEP:-0}" != 1 ]; then
                rm -rf "$work"
        else
                echo "kept $work"
        fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# name=value pairs of one RESULT line.
field() {
        sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"
}

record() { # KEY VALUE
        echo "$1 $2" >> "$results"
}

get() {
        awk -v k="$1" '$1 == k { print $2 }' "$results" | tail -1
}

# Ports below the ephemeral range, as src/shared/free-port.c picks them:
# N consecutive free ones from a random base.
free_ports() {
        local n=$1 base ok i
        for _ in $(seq 1 50); do
                base=$((20000 + RANDOM % 12000))
                ok=1
                for i in $(seq 0 $((n - 1))); do
                        if ss -Htln "sport = :$((base + i))" | grep -q .; then
                                ok=0
                                break
                        fi
                done
                [ "$ok" = 1 ] && { echo "$base"; return 0; }
        done
        die "no free ports"
}

# CPU time (user + system, in clock ticks) of the cluster's processes.
cpu_ticks() { # PID...
        local t=0 p
        for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
        echo "$t"
}

# CPU ms the cluster spent per 1000 operations of a row.
cpu_per_kop() { # TICKS OPS/S SECONDS
        awk -v t="$1" -v r="$2" -v s="$3" -v hz="$(getconf CLK_TCK)" \
                'BEGIN { if (r * s > 0) printf "%.0f", t * 1000 / hz * 1000 / (r * s); else print "-" }'
}

rss_kib() {
        awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# Prints each process's RSS (to stderr) and the largest (to stdout).
max_rss() { # LABEL PID...
        local label=$1 max=0 r n=1
        shift
        for p in "$@"; do
                r=$(rss_kib "$p")
                echo "$label$n RSS after 100 000 keys: $r KiB" >&2
                if [ "$r" -gt "$max" ]; then max=$r; fi
                n=$((n + 1))
        done
        echo "$max"
}

raw_fsync() { # LABEL
        local line
        line=$("$bench_log" "$work" 2 | grep '^raw write+fdatasync')
        echo "$line"
        record "fsync_$1" "$(awk '{ print $5 }' <<<"$line")"
}

# ---- machine ----
echo "== raftd vs etcd, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "command: $0 $*  (SECONDS_PER_ROW=$secs TRIALS=$trials${SKIP_ETCD:+ SKIP_ETCD=$SKIP_ETCD})"
if [ -n "${RAFTD_CONF_EXTRA:-}" ]; then
        echo "raftd NOT on its defaults: every node's configuration ends with:"
        sed 's/^/    /' <<<"$RAFTD_CONF_EXTRA"
fi
echo "raftd: $(git -C "$top" describe --always --dirty 2>/dev/null || echo '?'); etcd: $(etcd --version | head -1)"
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr)"
echo "disk: $(df -hT "$work" | awk 'NR == 2 { print $1, $2 }'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo

echo "== raw write+fdatasync of $work's disk (raftd-bench-log: 128-byte write + fdatasync, 2 s)"
raw_fsync before

# ---- D-Bus ceiling ----
echo
echo "== D-Bus round-trip ceiling: an empty method on a private dbus-daemon"
echo_bus_pid=$(dbus-daemon --session --address="unix:path=$work/bus-echo" --fork --print-pid=1)
"$bench" --address="unix:path=$work/bus-echo" serve-echo > "$work/echo.log" 2>&1 &
echo_pid=$!
for _ in $(seq 1 100); do grep -q serving "$work/echo.log" && break; sleep 0.05; done
for kc in 1:1 64:8; do
        k=${kc%%:*} c=${kc##*:}
        out=$("$bench" --address="unix:path=$work/bus-echo" -k "$k" -c "$c" -d "$secs" echo | tail -1)
        echo "$out"
        record "echo_${k}_ops" "$(field "$out" ops_per_s)"
        record "echo_${k}_p50" "$(field "$out" p50_ms)"
        record "echo_${k}_p99" "$(field "$out" p99_ms)"
done
kill "$echo_pid" "$echo_bus_pid"
wait "$echo_pid" 2>/dev/null || true
echo_pid= echo_bus_pid=

# ---- raftd ----
echo
port=$(free_ports 4)
echo "== raftd: 3 nodes (demo/local-cluster.sh), RAFTD_DEV_PORT=$port"
RAFTD="$raftd" RAFTD_DEV_PORT=$port "$top/demo/local-cluster.sh" start "$rdir" >/dev/null

raftd_pid() { cat "$rdir/raftd$1.pid"; }
raftd_bus() { echo "unix:path=$rdir/bus$1"; }
raftd_prop() { # NODE PROPERTY
        busctl --address="$(raftd_bus "$1")" get-property org.raftd1 /org/raftd1 org.raftd1.Cluster "$2" \
                2>/dev/null | awk '{ gsub(/"/, "", $2); print $2 }'
}
# The node that says it leads and that every node names as leader.
raftd_leader() {
        local i l agree
        for _ in $(seq 1 300); do
                # A node restarted by the last trial may not own its bus
                # name yet: no answer is "not agreed yet", not a failure.
                l=$(raftd_prop 1 Leader) || l=
                agree=1
                for i in 2 3; do [ "$(raftd_prop "$i" Leader)" = "$l" ] || agree=0; done
                if [ "$agree" = 1 ] && [ -n "$l" ] && [ "$l" != 0 ] && [ "$(raftd_prop "$l" Role)" = leader ]; then
                        echo "$l"
                        return 0
                fi
                sleep 0.1
        done
        die "raftd: no agreed leader within 30 s"
}
# In a subshell, so that this shell does not report it when a later trial
# kills it; the pid file is how the trials and cleanup find it.
raftd_start_node() {
        (
                NOTIFY_SOCKET= "$raftd" --config "$rdir/node$1.conf" </dev/null >>"$rdir/node$1.log" 2>&1 &
                echo $! > "$rdir/raftd$1.pid"
        )
}
# Every node has applied what the leader committed: a restarted node
# caught up before the next trial.
raftd_caught_up() {
        local l=$1 c i
        for _ in $(seq 1 600); do
                c=$(raftd_prop "$l" CommitIndex) || c=
                ok=1
                for i in 1 2 3; do
                        a=$(raftd_prop "$i" AppliedIndex) || a=
                        [ -n "$a" ] && [ -n "$c" ] && [ "$a" -ge "$c" ] || ok=0
                done
                [ "$ok" = 1 ] && return 0
                sleep 0.1
        done
        die "raftd: nodes did not catch up within 60 s"
}

if [ -n "${RAFTD_CONF_EXTRA:-}" ]; then
        for i in 1 2 3; do
                pid=$(raftd_pid "$i")
                kill "$pid"
                for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
                printf '\n%s\n' "$RAFTD_CONF_EXTRA" >> "$rdir/node$i.conf"
        done
        for i in 1 2 3; do raftd_start_node "$i"; done
fi
leader=$(raftd_leader)
bus=$(raftd_bus "$leader")
echo "leader: node $leader"
for i in 1 2 3; do echo "node $i RSS idle: $(rss_kib "$(raftd_pid $i)") KiB"; done
record raftd_rss_idle "$(rss_kib "$(raftd_pid "$leader")")"
out=$("$bench" --address="$bus" -k 64 -c 8 --total=100000 --first-key=0 put | tail -1)
echo "load: $out"
record raftd_rss_100k "$(max_rss "node " "$(raftd_pid 1)" "$(raftd_pid 2)" "$(raftd_pid 3)")"

raftd_procs() { local i; for i in 1 2 3; do raftd_pid "$i"; cat "$rdir/bus$i.pid"; done; }
run_raftd() { # NAME OP K CONNS [ARGS]
        local name=$1 op=$2 k=$3 c=$4 out t0 t1
        shift 4
        # shellcheck disable=SC2046
        t0=$(cpu_ticks $(raftd_procs))
        out=$("$bench" --address="$bus" -k "$k" -c "$c" -d "$secs" "$@" "$op" | tail -1)
        # shellcheck disable=SC2046
        t1=$(cpu_ticks $(raftd_procs))
        echo "$out"
        # Warm-up included: the ticks cover the whole run of the generator.
        record "raftd_${name}_cpu" "$(cpu_per_kop $((t1 - t0)) "$(field "$out" ops_per_s)" "$(awk -v s="$secs" 'BEGIN { print s + 1 }')")"
        record "raftd_${name}_ops" "$(field "$out" ops_per_s)"
        record "raftd_${name}_p50" "$(field "$out" p50_ms)"
        record "raftd_${name}_p99" "$(field "$out" p99_ms)"
        record "raftd_${name}_p999" "$(field "$out" p999_ms)"
}
run_raftd put_1 put 1 1 --first-key=1000000
run_raftd put_64 put 64 8 --first-key=2000000
run_raftd put_256 put 256 16 --first-key=3000000
run_raftd get_1 get 1 1
run_raftd get_64 get 64 8
run_raftd getlocal_64 get-local 64 8
run_raftd cas_1 cas 1 1
run_raftd cas_64 cas 64 8
run_raftd lock_1 lock 1 1
run_raftd lock_64 lock 64 8

echo
echo "== raftd failover: $trials x SIGKILL, $trials x SIGTERM of the leader"
[ "$trials" -gt 0 ] || echo "(skipped: TRIALS=0)"
for sig in KILL TERM; do
        [ "$trials" -gt 0 ] || break
        gaps=()
        for t in $(seq 1 "$trials"); do
                leader=$(raftd_leader)
                raftd_caught_up "$leader"
                via=$((leader % 3 + 1))
                pid=$(raftd_pid "$leader")
                out=$("$bench" --address="$(raftd_bus "$via")" --kill-pid="$pid" --signal=$sig --kill-after=0.5 \
                        --first-key=$((4000000 + t * 10000)) failover | tail -1)
                gap=$(field "$out" gap_ms)
                gaps+=("$gap")
                # The stopped node's process is gone before it is restarted.
                for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
                raftd_start_node "$leader"
                printf '%s trial %2d: leader node %s, written through node %s: %s ms\n' "$sig" "$t" "$leader" "$via" "$gap"
        done
        sorted=$(printf '%s\n' "${gaps[@]}" | sort -g)
        med=$(awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }' <<<"$sorted")
        echo "SIG$sig: median $med ms, min $(head -1 <<<"$sorted"), max $(tail -1 <<<"$sorted") ms"
        record "failover_$sig" "$med"
done
raftd_leader >/dev/null
"$top/demo/local-cluster.sh" stop "$rdir" >/dev/null

# ---- etcd ----
etcd_side() {
echo
eport=$(free_ports 6)
echo "== etcd: 3 members ($(etcd --version | head -1)), ports $eport-$((eport + 5))"
cluster=""
for i in 1 2 3; do cluster+="${cluster:+,}m$i=http://127.0.0.1:$((eport + 2 * i - 1))"; done
for i in 1 2 3; do
        etcd --name "m$i" --data-dir "$edir/m$i" \
                --listen-client-urls "http://127.0.0.1:$((eport + 2 * i - 2))" \
                --advertise-client-urls "http://127.0.0.1:$((eport + 2 * i - 2))" \
                --listen-peer-urls "http://127.0.0.1:$((eport + 2 * i - 1))" \
                --initial-advertise-peer-urls "http://127.0.0.1:$((eport + 2 * i - 1))" \
                --initial-cluster "$cluster" --initial-cluster-state new \
                --initial-cluster-token "raftd-compare-$$" >"$edir/m$i.log" 2>&1 &
        etcd_pids+=($!)
done
endpoints="127.0.0.1:$eport,127.0.0.1:$((eport + 2)),127.0.0.1:$((eport + 4))"
export ETCDCTL_API=3
for _ in $(seq 1 300); do
        etcdctl --endpoints="$endpoints" endpoint health >/dev/null 2>&1 && break
        sleep 0.1
done
etcdctl --endpoints="$endpoints" endpoint health >/dev/null 2>&1 || die "etcd did not come up; logs in $edir"
eleader=
for _ in $(seq 1 100); do
        eleader=$(etcdctl --endpoints="$endpoints" endpoint status -w simple 2>/dev/null |
                awk -F', ' '$5 == "true" { print $1 }')
        [ -n "$eleader" ] && break
        sleep 0.1
done
[ -n "$eleader" ] || die "etcd: no leader"
echo "leader: $eleader"
eleader_pid=${etcd_pids[$(( ($(cut -d: -f2 <<<"$eleader") - eport) / 2 ))]}
sleep 1 # let the members settle to their idle footprint, as raftd's had while it started
record etcd_rss_idle "$(rss_kib "$eleader_pid")"
for i in 0 1 2; do echo "member m$((i + 1)) RSS idle: $(rss_kib "${etcd_pids[$i]}") KiB"; done

# etcd's benchmark runs a fixed number of requests: a first run of about
# 1 s at the rate of the scale figures doubles as warm-up and measures the
# rate, the second runs SECONDS_PER_ROW at that rate.
parse_etcd() { # OUTPUT -> "ops p50 p99 p999" (ms)
        awk '/Requests\/sec:/ { rps = $2 }
             /^ *50% in/ { p50 = $3 * 1000 } /^ *99% in/ { p99 = $3 * 1000 } /^ *99.9% in/ { p999 = $3 * 1000 }
             END { printf "%.1f %.3f %.3f %.3f\n", rps, p50, p99, p999 }' <<<"$1"
}
run_etcd() { # NAME FIRST-TOTAL CLIENTS CONNS ARGS...
        local name=$1 total=$2 k=$3 c=$4 out vals rate t0 t1
        shift 4
        out=$("$etcd_bench" --precise --endpoints="$eleader" --clients="$k" --conns="$c" "$@" --total="$total" 2>&1)
        rate=$(parse_etcd "$out" | awk '{ printf "%d", $1 }')
        total=$(( rate * secs > k * 10 ? rate * secs : k * 10 ))
        t0=$(cpu_ticks "${etcd_pids[@]}")
        out=$("$etcd_bench" --precise --endpoints="$eleader" --clients="$k" --conns="$c" "$@" --total="$total" 2>&1)
        t1=$(cpu_ticks "${etcd_pids[@]}")
        record "etcd_${name}_cpu" "$(cpu_per_kop $((t1 - t0)) "$total" 1)"
        vals=$(parse_etcd "$out")
        read -r o p50 p99 p999 <<<"$vals"
        printf 'etcd %-12s clients=%-3s conns=%-2s total=%-6s ops/s=%s p50_ms=%s p99_ms=%s p99.9_ms=%s\n' \
                "$name" "$k" "$c" "$total" "$o" "$p50" "$p99" "$p999"
        record "etcd_${name}_ops" "$o"
        record "etcd_${name}_p50" "$p50"
        record "etcd_${name}_p99" "$p99"
        record "etcd_${name}_p999" "$p999"
}

out=$("$etcd_bench" --endpoints="$eleader" --clients=64 --conns=8 put --key-size=8 --val-size=64 \
        --sequential-keys --total=100000 2>&1)
echo "load: 100 000 keys: $(parse_etcd "$out" | awk '{ print $1 }') puts/s"
sleep 1
record etcd_rss_100k "$(max_rss "member m" "${etcd_pids[@]}")"

etcdctl --endpoints="$eleader" put getkey "$(head -c 64 /dev/zero | tr '\0' v)" >/dev/null
run_etcd put_1 400 1 1 put --key-size=8 --val-size=64 --sequential-keys
run_etcd put_64 4000 64 8 put --key-size=8 --val-size=64 --sequential-keys
run_etcd put_256 6000 256 16 put --key-size=8 --val-size=64 --sequential-keys
run_etcd get_1 2000 1 1 range getkey --consistency=l
run_etcd get_64 7000 64 8 range getkey --consistency=l
run_etcd getlocal_64 16000 64 8 range getkey --consistency=s
# The nearest etcd has to a CAS: an STM transaction on one key of many
# (read, then a Txn that writes if the key's revision did not change).
run_etcd cas_1 400 1 1 stm --keys=100000 --keys-per-txn=1 --txn-wr-percent=100 --val-size=64
run_etcd cas_64 4000 64 8 stm --keys=100000 --keys-per-txn=1 --txn-wr-percent=100 --val-size=64
# Lock and unlock with etcd's lock RPC around an empty STM transaction
# (all clients share one lock, so only 1 client compares with raftd's
# uncontended per-slot locks).
run_etcd lock_1 200 1 1 stm --stm-locker=lock-rpc --keys-per-txn=0
for p in "${etcd_pids[@]}"; do kill "$p"; done
wait "${etcd_pids[@]}" 2>/dev/null || true
etcd_pids=()
}
if [ "${SKIP_ETCD:-0}" = 1 ]; then
        echo
        echo "== etcd: skipped (SKIP_ETCD=1)"
else
        etcd_side
fi

echo
raw_fsync after

echo "finished $(date -u "+%H:%M UTC")"

# ---- table ----
ratio() { # A B -> A/B
        awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}
echo
echo "== side by side (ops/s; latencies in ms; CPU: ms of the cluster's processes (raftd: 3 daemons + 3 dbus-daemons; etcd: 3 members) per 1000 ops, warm-up included; ratio raftd/etcd: >1 is better for raftd on ops/s, <1 on latency, CPU and RSS)"
printf '%-28s %12s %12s %9s %12s\n' "workload" "raftd" "etcd" "ratio" "echo ceiling"
row() { # LABEL KEY [ECHO-KEY]
        local r e c=""
        r=$(get "raftd_$2") e=$(get "etcd_$2")
        [ -n "${3:-}" ] && c=$(get "$3")
        printf '%-28s %12s %12s %9s %12s\n' "$1" "${r:--}" "${e:--}" "$(ratio "$r" "$e")" "${c:--}"
}
row "put K=1 ops/s" put_1_ops echo_1_ops
row "put K=1 p50" put_1_p50 echo_1_p50
row "put K=1 p99" put_1_p99 echo_1_p99
row "put K=64 ops/s" put_64_ops echo_64_ops
row "put K=64 p50" put_64_p50 echo_64_p50
row "put K=64 p99" put_64_p99 echo_64_p99
row "put K=64 p99.9" put_64_p999
row "put K=64 CPU ms/1000 ops" put_64_cpu
row "put K=256 ops/s" put_256_ops
row "put K=256 p99" put_256_p99
row "get lin. K=1 ops/s" get_1_ops echo_1_ops
row "get lin. K=1 p50" get_1_p50 echo_1_p50
row "get lin. K=64 ops/s" get_64_ops echo_64_ops
row "get lin. K=64 p99" get_64_p99 echo_64_p99
row "get lin. K=64 CPU ms/1000" get_64_cpu
row "get local/serial. K=64 ops/s" getlocal_64_ops echo_64_ops
row "get local/serial. K=64 p99" getlocal_64_p99
row "cas/stm K=1 ops/s" cas_1_ops
row "cas/stm K=1 p50" cas_1_p50
row "cas/stm K=64 ops/s" cas_64_ops
row "cas/stm K=64 p99" cas_64_p99
row "lock+unlock K=1 ops/s" lock_1_ops
row "lock+unlock K=1 p50" lock_1_p50
row "lock+unlock K=64 ops/s" lock_64_ops
row "RSS idle KiB" rss_idle
row "RSS 100k keys KiB" rss_100k
echo
if [ "$trials" -gt 0 ]; then
        echo "failover (raftd): SIGKILL median $(get failover_KILL) ms, SIGTERM median $(get failover_TERM) ms ($trials trials each)"
fi
echo "raw write+fdatasync/s of the disk: $(get fsync_before) before, $(get fsync_after) after"
echo "put K=64 vs D-Bus echo ceiling K=64: $(ratio "$(get raftd_put_64_ops)" "$(get echo_64_ops)")"

echo
echo "== targets (issue 7)"
target() { # LABEL MET?
        printf '%-58s %s\n' "$1" "$2"
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || a == "-") ? "not measured" : (a + 0 >= b + 0) ? "met" : "missed" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || a == "-") ? "not measured" : (a + 0 <= b + 0) ? "met" : "missed" }'; }
v=$(ratio "$(get raftd_put_64_ops)" "$(get etcd_put_64_ops)"); target "put K=64 >= 4x etcd's ops/s ($v x)" "$(ge "$v" 4)"
v=$(ratio "$(get raftd_put_64_p99)" "$(get etcd_put_64_p99)"); target "put K=64 p99 <= 1/4 of etcd's ($v x)" "$(le "$v" 0.25)"
v=$(ratio "$(get raftd_get_64_ops)" "$(get etcd_get_64_ops)"); target "linearizable get K=64 >= 4x etcd's ($v x)" "$(ge "$v" 4)"
v=$(ratio "$(get raftd_put_1_p50)" "$(get etcd_put_1_p50)"); target "put K=1 p50 <= 1/3 of etcd's ($v x)" "$(le "$v" 0.3334)"
v=$(ratio "$(get raftd_put_64_ops)" "$(get echo_64_ops)"); target "put K=64 >= 40 % of the D-Bus echo ceiling ($v x)" "$(ge "$v" 0.4)"
v=$(get failover_KILL); target "failover after SIGKILL <= 1500 ms median ($v ms)" "$(le "$v" 1500)"
v=$(get failover_TERM); target "graceful stop (SIGTERM) write gap <= 100 ms median ($v ms)" "$(le "$v" 100)"
v=$(ratio "$(get raftd_rss_100k)" "$(get etcd_rss_100k)"); target "RSS with 100k keys <= 1/4 of etcd's ($v x)" "$(le "$v" 0.25)"
