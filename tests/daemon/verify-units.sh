#!/usr/bin/env bash
# `systemd-analyze verify` of the units, with ExecStart= pointing at the
# built raftd (the installed path does not exist here).  It exits 0 on
# warnings, so any output at all fails the test.  --man=no: the manual
# pages are written later (issue 6); drop it once they are installed.
set -euo pipefail
top=$1
raftd=$2
tmp=$(mktemp -d /tmp/raftd-units-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for unit in raftd.service raftd@.service; do
        sed "s|/usr/sbin/raftd|$raftd|" "$top/systemd/$unit" > "$tmp/$unit"
done
# A template is verified through an instance of it.
cp "$tmp/raftd@.service" "$tmp/raftd@test.service"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$tmp}
out=$(cd "$tmp" && systemd-analyze verify --man=no ./raftd.service ./raftd@test.service 2>&1) || {
        echo "$out" >&2
        exit 1
}
if [ -n "$out" ]; then
        echo "systemd-analyze verify printed:" >&2
        echo "$out" >&2
        exit 1
fi
echo "units verified"
