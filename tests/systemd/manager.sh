# SPDX-License-Identifier: LGPL-2.1-or-later
# A real systemd user manager for one test, without systemd as PID 1
# (/work/shared/testing.md, docs/daemon.md "Tests under a real manager").
#
# A test script sources this file and calls `manager_enter "$@"` first: the
# script then runs again as PID 1 of private PID and mount namespaces, in a
# cgroup of its own (named with the outer PID, in both hierarchies), where
# `manager_start` boots journald and `systemd --user` on a private /run.
# Teardown runs from traps, also when a test fails or is killed: the
# manager is stopped, the namespaces end (the kernel kills what is left),
# and the outer process removes the cgroups.
#
# Inside, systemctl/busctl/journalctl reach the manager with --user, units
# go into $MANAGER_UNIT_DIR, and $HOME is $MANAGER_HOME on the private /run.

MANAGER_CGROUP_NAME=${MANAGER_CGROUP_NAME:-}
MANAGER_HOME=/run/raftd-test-home
MANAGER_UNIT_DIR=/run/systemd/user
MANAGER_PID=
MANAGER_JOURNALD_PID=

manager_die() {
        echo "manager.sh: $*" >&2
        exit 1
}

# Polls "$@" until it succeeds or $1 seconds pass; returns 1 on timeout.
manager_wait_for() {
        local deadline=$((SECONDS + $1))
        shift
        until "$@"; do
                [ "$SECONDS" -lt "$deadline" ] || return 1
                sleep 0.05
        done
}

# Hybrid hierarchy (systemd tracks processes in both) or pure cgroup v2.
manager_cgroup_dirs() {
        if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
                echo "/sys/fs/cgroup/$MANAGER_CGROUP_NAME"
                return 0
        fi
        echo "/sys/fs/cgroup/unified/$MANAGER_CGROUP_NAME"
        [ -d /sys/fs/cgroup/systemd ] && echo "/sys/fs/cgroup/systemd/$MANAGER_CGROUP_NAME"
        return 0
}

# cgroup directories go with rmdir only, children first; a process that is
# still exiting keeps its cgroup busy for a moment.
manager_remove_cgroups() {
        local dir deadline=$((SECONDS + 10))

        for dir in $(manager_cgroup_dirs); do
                [ -d "$dir" ] || continue
                until find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null; [ ! -d "$dir" ]; do
                        if [ "$SECONDS" -ge "$deadline" ]; then
                                echo "manager.sh: cannot remove $dir" >&2
                                break
                        fi
                        sleep 0.05
                done
        done
}

# Outside, on SIGTERM/SIGINT: $1 is unshare.
manager_abort() {
        local inner

        # The inner script stops the manager and prints the journal from
        # its TERM trap; leaving the namespaces then ends the rest.
        inner=$(pgrep -P "$1") || true
        if [ -n "$inner" ]; then
                kill -TERM "$inner" 2>/dev/null || true
        else
                kill -TERM "$1" 2>/dev/null || true
        fi
        wait "$1" 2>/dev/null || true
        manager_remove_cgroups
}

# Outside: make the cgroups, run this script again inside the namespaces,
# clean up after it.  Inside (MANAGER_CGROUP_NAME set): return at once.
manager_enter() {
        local status=0 child

        if [ -n "$MANAGER_CGROUP_NAME" ]; then
                return 0
        fi
        [ "$(id -u)" = 0 ] || { echo "SKIP: needs root (namespaces, cgroups)"; exit 77; }
        [ -x /lib/systemd/systemd ] && [ -x /lib/systemd/systemd-journald ] ||
                { echo "SKIP: no systemd installed"; exit 77; }
        [ -d /sys/fs/cgroup/unified ] || [ -f /sys/fs/cgroup/cgroup.controllers ] ||
                { echo "SKIP: no cgroup v2 hierarchy"; exit 77; }
        MANAGER_CGROUP_NAME=raftd-test-$$
        export MANAGER_CGROUP_NAME
        local dir
        for dir in $(manager_cgroup_dirs); do
                mkdir -p "$dir/init.scope" || manager_die "cannot create the cgroup $dir"
        done
        # Killed (meson's timeout): the inner script prints the journal and
        # stops the manager first, then the namespaces go.
        trap 'manager_abort "$child"; exit 1' INT TERM
        # A session of its own: meson's timeout signals the test's process
        # group, and unshare would die of it and SIGKILL the inner script
        # before it could stop the manager; the trap above forwards it.
        setsid unshare --pid --fork --kill-child --mount-proc --propagation private -- bash "$0" "$@" &
        child=$!
        wait "$child" || status=$?
        trap - INT TERM
        manager_remove_cgroups
        exit "$status"
}

manager_journald_up() {
        [ -S /run/systemd/journal/socket ] && [ -S /run/systemd/journal/stdout ]
}

manager_on_user_bus() {
        busctl --user status org.freedesktop.systemd1 >/dev/null 2>&1
}

manager_running() {
        local state
        state=$(systemctl --user is-system-running 2>/dev/null) || true
        [ "$state" = running ]
}

# Inside: a private /run, journald, the user manager and its bus.
manager_start() {
        local dir

        for dir in $(manager_cgroup_dirs); do
                echo 0 > "$dir/init.scope/cgroup.procs" || manager_die "cannot move into $dir/init.scope"
        done
        mount -t tmpfs -o mode=0755 tmpfs /run || manager_die "cannot mount a tmpfs on /run"
        # The manager refuses to start without /run/systemd/system.
        mkdir -p /run/systemd/system "$MANAGER_UNIT_DIR" /run/user/0 /run/systemd/journald.conf.d "$MANAGER_HOME"
        chmod 0700 /run/user/0
        # What PID 1 makes at boot and sandboxing (ProtectHome=,
        # InaccessiblePaths=) mounts over hidden paths.
        mkdir -p /run/systemd/inaccessible
        (
                cd /run/systemd/inaccessible
                mkdir -m 0000 dir
                install -m 0000 /dev/null reg
                mkfifo -m 0000 fifo
                mknod -m 0000 chr c 0 0
                mknod -m 0000 blk b 0 0
        ) || manager_die "cannot create /run/systemd/inaccessible"
        # The host's enabled user units must not start here.
        if [ -d /etc/systemd/user ]; then
                mount -t tmpfs tmpfs /etc/systemd/user || manager_die "cannot hide /etc/systemd/user"
        fi
        printf '[Journal]\nStorage=volatile\nReadKMsg=no\nRateLimitBurst=0\n' > /run/systemd/journald.conf.d/raftd-test.conf
        /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 &
        MANAGER_JOURNALD_PID=$!
        trap manager_stop EXIT
        trap 'echo "manager.sh: killed" >&2; exit 1' TERM INT
        manager_wait_for 30 manager_journald_up || manager_die "journald did not start"

        export HOME=$MANAGER_HOME XDG_RUNTIME_DIR=/run/user/0
        export DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/0/bus
        # Never an empty XDG_CONFIG_HOME: the manager would write under /.
        unset XDG_CONFIG_HOME XDG_DATA_HOME XDG_STATE_HOME XDG_CACHE_HOME NOTIFY_SOCKET
        /lib/systemd/systemd --user --log-target=journal --log-level="${MANAGER_LOG_LEVEL:-info}" \
                </dev/null >/dev/null 2>&1 &
        MANAGER_PID=$!
        if ! manager_wait_for 60 manager_running; then
                systemctl --user --no-pager list-units --failed >&2 || true
                manager_die "the user manager did not reach 'running'"
        fi
        # Socket-activates the user bus (dbus.socket) at /run/user/0/bus;
        # the manager takes its name there a moment later.
        manager_wait_for 30 manager_on_user_bus || manager_die "the manager did not appear on the user bus"
}

manager_stop() {
        local status=$?

        if [ -n "$MANAGER_PID" ]; then
                # A sanitizer's report from any process fails the test.
                if journalctl --no-pager -o cat 2>/dev/null |
                        grep -E "ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|: runtime error: " >&2; then
                        status=1
                fi
                if [ "$status" != 0 ] || [ -n "${RAFTD_TEST_VERBOSE:-}" ]; then
                        echo "---- journal (exit status $status) ----" >&2
                        journalctl --no-pager -o short-monotonic 2>/dev/null | tail -n 400 >&2 || true
                fi
                kill -TERM "$MANAGER_PID" 2>/dev/null || true
                manager_wait_for 20 manager_gone || kill -KILL "$MANAGER_PID" 2>/dev/null || true
                MANAGER_PID=
        fi
        if [ -n "$MANAGER_JOURNALD_PID" ]; then
                kill -TERM "$MANAGER_JOURNALD_PID" 2>/dev/null || true
                wait "$MANAGER_JOURNALD_PID" 2>/dev/null || true
                MANAGER_JOURNALD_PID=
        fi
        exit "$status"
}

manager_gone() {
        ! kill -0 "$MANAGER_PID" 2>/dev/null
}
