# SPDX-License-Identifier: LGPL-2.1-or-later
# raftd instances under the test's user manager (manager.sh): the project's
# own units, adapted only through drop-ins, one private dbus-daemon per node
# (as each machine has its own system bus), configs in the units'
# ConfigurationDirectory= and state in their StateDirectory=, both under
# the manager's $XDG_CONFIG_HOME ($HOME/.config) in a user manager.
#
# A test sources this file with its command line (meson passes the source
# tree, the built raftd, free-ports and raftd-writer), calls
# `manager_enter "$@"`, then `nodes_begin`.

TOP=$1
RAFTD=$2
FREE_PORTS=$3
WRITER=${4:-}
. "$TOP/tests/systemd/manager.sh"

NODES_CONF_DIR=
NODES_BUS_DIR=/run/raftd-test
declare -a NODES_PORT=()
declare -a NODES_BUS_PID=()

nodes_fail() {
        echo "FAIL: $*" >&2
        exit 1
}

# nodes_write_test_dropin UNIT ARGS: see nodes_install_units.
nodes_write_test_dropin() {
        local private_tmp=

        # A build under /tmp or /var/tmp (a CI clone, say) is hidden by the
        # unit's PrivateTmp=yes: the binary must stay visible.
        case "$RAFTD" in
        /tmp/*|/var/tmp/*) private_tmp="PrivateTmp=no" ;;
        esac
        cat > "$MANAGER_UNIT_DIR/$1.d/50-test.conf" <<UNIT
[Unit]
StartLimitBurst=100

[Service]
User=
Group=
ProtectHome=read-only
$private_tmp
ExecStart=
ExecStart=$RAFTD $2
UNIT
}

# Inside the namespaces: the manager, with the units installed.
nodes_begin() {
        manager_start
        nodes_install_units
}

# The unit files themselves, unchanged, and the drop-in that fits them to a
# user manager and to this build.
nodes_install_units() {
        local unit

        for unit in raftd.service raftd@.service; do
                ln -sf "$TOP/systemd/$unit" "$MANAGER_UNIT_DIR/$unit"
                mkdir -p "$MANAGER_UNIT_DIR/$unit.d"
        done
        # User=: a user manager cannot switch users (it runs everything as
        # itself).  ExecStart=: the build's binary; the configuration from
        # ConfigurationDirectory= (%E is $XDG_CONFIG_HOME here, /etc in the
        # system manager).  ProtectHome=read-only instead of yes: a user
        # manager's notify socket and bus are in /run/user/0, which "yes"
        # hides (the system manager's are in /run/systemd and /run/dbus).
        # StartLimitBurst=: tests restart on purpose.
        nodes_write_test_dropin raftd@.service "--instance=%i --config=%E/raftd/%i.conf"
        nodes_write_test_dropin raftd.service "--config=%E/raftd/raftd.conf"
        # A sanitizer build: LeakSanitizer stops the world with ptrace, which
        # the unit's system call filter refuses; the options reach raftd
        # through the unit's environment (units do not inherit the test's).
        if [ "${RAFTD_SANITIZE:-none}" != none ]; then
                for unit in raftd.service raftd@.service; do
                        printf '[Service]\nSystemCallFilter=@debug\nEnvironment="ASAN_OPTIONS=%s" "UBSAN_OPTIONS=%s"\n' \
                                "${ASAN_OPTIONS:-}" "${UBSAN_OPTIONS:-}" > "$MANAGER_UNIT_DIR/$unit.d/60-sanitizer.conf"
                done
        fi
        systemctl --user daemon-reload
}

# An extra drop-in for every instance: nodes_dropin NAME TEXT.
nodes_dropin() {
        printf '%s\n' "$2" > "$MANAGER_UNIT_DIR/raftd@.service.d/$1.conf"
        systemctl --user daemon-reload
}

nodes_bus_address() {
        echo "unix:path=$NODES_BUS_DIR/bus$1"
}

nodes_bus_up() {
        busctl --address="$(nodes_bus_address "$1")" status org.freedesktop.DBus >/dev/null 2>&1
}

# Configs, a cluster key and a bus for nodes 1..N (instances n1..nN).
# Optional: the bus address of node N in NODES_BUS_OVERRIDE[N].
declare -a NODES_BUS_OVERRIDE=()
nodes_setup() {
        local n=$1 i ports

        NODES_CONF_DIR=$HOME/.config/raftd
        mkdir -p "$NODES_CONF_DIR" "$NODES_BUS_DIR"
        mapfile -t ports < <("$FREE_PORTS" "$n") || nodes_fail "no free ports"
        [ "${#ports[@]}" = "$n" ] || nodes_fail "no free ports"
        (umask 077 && head -c 32 /dev/urandom > "$NODES_CONF_DIR/cluster.key")
        for i in $(seq 1 "$n"); do
                NODES_PORT[$i]=${ports[$((i - 1))]}
        done
        for i in $(seq 1 "$n"); do
                local address=${NODES_BUS_OVERRIDE[$i]:-}
                if [ -z "$address" ]; then
                        address=$(nodes_bus_address "$i")
                        dbus-daemon --session --address="$address" --nofork --nopidfile </dev/null >/dev/null 2>&1 &
                        NODES_BUS_PID[$i]=$!
                        manager_wait_for 30 nodes_bus_up "$i" || nodes_fail "the bus of node $i did not start"
                fi
                {
                        printf '[Node]\nId=%s\nListen=127.0.0.1:%s\nClusterKeyFile=%s/cluster.key\n\n[Peers]\n' \
                                "$i" "${NODES_PORT[$i]}" "$NODES_CONF_DIR"
                        local j
                        for j in $(seq 1 "$n"); do
                                printf '%s=127.0.0.1:%s\n' "$j" "${NODES_PORT[$j]}"
                        done
                        printf '\n[Limits]\n%s\n' "${NODES_LIMITS:-}"
                        printf '\n[Access]\nReadUsers=*\nWriteUsers=*\nLockUsers=*\n\n[Bus]\nAddress=%s\n' "$address"
                } > "$NODES_CONF_DIR/n$i.conf"
        done
}

# systemctl --user start, bounded: the units wait for a leader with
# TimeoutStartSec=infinity, a test must not.
nodes_start() {
        timeout "${NODES_START_TIMEOUT:-60}" systemctl --user start $(nodes_units "$@") ||
                nodes_fail "systemctl --user start $(nodes_units "$@") failed or timed out"
}

nodes_units() {
        local i
        for i in "$@"; do
                printf 'raftd@n%s.service ' "$i"
        done
}

# busctl against node I's bus: nodes_busctl I ARGS...
nodes_busctl() {
        local i=$1
        shift
        busctl --address="$(nodes_bus_address "$i")" "$@"
}

# A Put of the bytes of VALUE; prints the revision.
nodes_put() {
        local i=$1 key=$2 value=$3 bytes=() c
        for ((c = 0; c < ${#value}; c++)); do
                bytes+=("$(printf '%d' "'${value:c:1}")")
        done
        nodes_busctl "$i" call org.raftd1 /org/raftd1 org.raftd1.KV Put saytt "$key" "${#bytes[@]}" "${bytes[@]}" 0 0 |
                awk '{print $2}'
}

nodes_property() {
        nodes_busctl "$1" get-property org.raftd1 /org/raftd1 org.raftd1.Cluster "$2" | awk '{print $2}'
}

nodes_show() {
        systemctl --user show -P "$2" "raftd@n$1.service"
}

# The node that leads, as node 1 sees it (0: none yet).
nodes_leader() {
        nodes_property "$1" Leader 2>/dev/null || echo 0
}

nodes_all_see_leader() {
        local i l first=
        for i in "$@"; do
                l=$(nodes_leader "$i")
                [ -n "$l" ] && [ "$l" != 0 ] || return 1
                [ -z "$first" ] && first=$l
                [ "$l" = "$first" ] || return 1
        done
}

nodes_active() {
        local i
        for i in "$@"; do
                [ "$(nodes_show "$i" ActiveState)" = active ] || return 1
        done
}

# Journal lines of instance I, its own output and the manager's about it.
nodes_journal() {
        journalctl --no-pager -o cat -u "raftd@n$1.service" --user-unit "raftd@n$1.service" 2>/dev/null
}

# Microseconds since the epoch, now.
nodes_now_usec() {
        local t=$EPOCHREALTIME
        echo "${t/./}"
}

# A unit timestamp property in microseconds since the epoch.
nodes_timestamp_usec() {
        local text
        text=$(systemctl --user show -P "$2" --timestamp=us+utc "raftd@n$1.service")
        [ -n "$text" ] || return 1
        # "Sat 2026-12-05 21:18:21.123456 UTC": date takes it without the weekday.
        date -d "${text#* }" +%s%6N
}

# Starts WRITER through node I's bus, writing KEY; the count of successful
# writes so far is in $NODES_WRITER_PROGRESS.  nodes_writer_stop leaves
# "writes N failures F longest_gap_ms G" in $NODES_WRITER_SUMMARY (not
# printed: in a $(...) subshell the writer would not be a child to wait for).
NODES_WRITER_PID=
NODES_WRITER_PROGRESS=
nodes_writer_start() {
        NODES_WRITER_PROGRESS=$NODES_BUS_DIR/writer-progress
        NODES_WRITER_OUT=$NODES_BUS_DIR/writer-out
        : > "$NODES_WRITER_PROGRESS"
        "$WRITER" "$(nodes_bus_address "$1")" "$2" "$NODES_WRITER_PROGRESS" > "$NODES_WRITER_OUT" 2>&1 &
        NODES_WRITER_PID=$!
        nodes_writer_wait_for 1 || nodes_fail "the writer made no progress through node $1"
}

nodes_writer_count() {
        local n
        read -r n < "$NODES_WRITER_PROGRESS" 2>/dev/null || n=0
        echo "${n:-0}"
}

nodes_writer_reached() {
        [ "$(nodes_writer_count)" -ge "$1" ]
}

nodes_writer_wait_for() {
        manager_wait_for "${2:-30}" nodes_writer_reached "$1"
}

nodes_writer_stop() {
        kill -TERM "$NODES_WRITER_PID"
        wait "$NODES_WRITER_PID" || nodes_fail "the writer failed: $(cat "$NODES_WRITER_OUT")"
        NODES_WRITER_PID=
        NODES_WRITER_SUMMARY=$(tail -n 1 "$NODES_WRITER_OUT")
}

# Field NAME of a writer summary line.
nodes_summary_field() {
        awk -v f="$2" '{ for (i = 1; i < NF; i++) if ($i == f) print $(i + 1) }' <<<"$1"
}
