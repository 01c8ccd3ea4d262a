#!/usr/bin/env bash
# put/get/del/cas/list through raftctl against a 3-node cluster: writes via
# one node are read via another, binary values survive stdin and files,
# every documented exit code of the KV commands, and the JSON shapes.
. "$(dirname "$0")/ctl-test-lib.sh"
start_cluster

rev=$(ctl 1 put /config/color blue)
[ "$rev" -gt 0 ] || fail "put printed '$rev'"
expect "$(ctl 3 get /config/color)" blue
ctl 2 --json get /config/color | json_check "d == {'key': '/config/color', 'revision': $rev, 'value': 'blue'}"
ctl 2 get --local /config/color >/dev/null

# Missing keys: 3, for get and del.
expect_status 3 ctl 3 get /config/missing
expect_status 3 ctl 1 del /config/missing

# CAS: swapped (0), precondition failed (4), from absent, to absent.
rev2=$(ctl 2 cas /config/color blue red)
[ "$rev2" -gt "$rev" ] || fail "cas revision $rev2 not above $rev"
expect_status 4 ctl 3 cas /config/color blue green
expect "$(ctl 1 get /config/color)" red
ctl 3 --json cas --absent /config/owner me | json_check "d['swapped'] is True and d['key'] == '/config/owner'"
out=$(ctl 1 --json cas --absent /config/owner other) && fail "cas --absent on an existing key swapped"
echo "$out" | json_check "d['swapped'] is False"
expect_status 4 ctl 2 cas --delete /config/owner someone-else
ctl 2 cas --delete /config/owner me >/dev/null
expect_status 3 ctl 1 get /config/owner

# Binary values: all 256 byte values, through stdin and through a file,
# read back raw (stdout is not a terminal) and as base64 in JSON.
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)))' > "$dir/bytes"
ctl 1 put /bin/stdin - < "$dir/bytes" >/dev/null
ctl 2 put --file="$dir/bytes" /bin/file >/dev/null
ctl 3 get /bin/stdin > "$dir/out-stdin"
ctl 3 get --raw /bin/file > "$dir/out-file"
cmp "$dir/bytes" "$dir/out-stdin" || fail "binary value via stdin changed"
cmp "$dir/bytes" "$dir/out-file" || fail "binary value via --file changed"
ctl 3 --json get /bin/file |
        json_check "'value' not in d and __import__('base64').b64decode(d['value_base64']) == bytes(range(256))"
# CAS with binary expectations from files.
printf 'new\n' > "$dir/new"
ctl 1 cas --expected-file="$dir/bytes" --file="$dir/new" /bin/file >/dev/null
expect "$(ctl 2 get /bin/file | od -An -c | tr -s ' ')" " n e w \n"

# list: every key under the prefix in order, with revisions; JSON too.
ctl 1 put /list/b 2 >/dev/null
ctl 1 put /list/a 1 >/dev/null
ctl 1 put /list/c "$(printf 'with\ttab')" >/dev/null
ctl 1 put /other x >/dev/null
ctl 3 --json list /list/ |
        json_check "[e['key'] for e in d['entries']] == ['/list/a', '/list/b', '/list/c'] and d['entries'][2]['value'] == 'with\ttab' and all(e['revision'] > 0 for e in d['entries'])"
human=$(ctl 2 list /list/)
expect "$(echo "$human" | head -1 | tr -s ' ')" "KEY REVISION VALUE"
expect "$(echo "$human" | sed -n 4p | awk '{print $1, $3}')" '/list/c with\ttab'
expect "$(ctl 2 list /nothing/ | wc -l)" 0

# More keys than one List page (1000): every one listed once, in order.
seq -w 1 1100 | xargs -P 8 -I{} "$raftctl" --bus-address="unix:path=$dir/bus2" put /page/{} v >/dev/null
ctl 3 --json list /page/ |
        json_check "[e['key'] for e in d['entries']] == ['/page/%04d' % i for i in range(1, 1101)]"
expect "$(ctl 1 list /page/ | wc -l)" 1101 "1100 keys and a header"

# On a terminal (script(1) gives a pty), get escapes control bytes, the
# backslash and bytes that are not UTF-8, keeps UTF-8 text, ends the line.
printf 'a\nb\001\\\377\303\251' | ctl 1 put /esc - >/dev/null
expect "$(script -qec "'$raftctl' --bus-address=unix:path=$dir/bus1 get /esc" /dev/null | tr -d '\r')" \
        "$(printf 'a\\nb\\x01\\\\\\xff\303\251')"
expect "$(script -qec "'$raftctl' --bus-address=unix:path=$dir/bus1 get --raw /esc" /dev/null | tr -d '\r' | od -An -tx1)" \
        "$(printf 'a\nb\001\\\377\303\251' | od -An -tx1)"

# del prints the revision, then the key is gone.
ctl 3 del /list/a >/dev/null
ctl 1 --json list /list/ | json_check "[e['key'] for e in d['entries']] == ['/list/b', '/list/c']"

# Usage errors: 2, before any bus traffic.
expect_status 2 ctl 1 get
expect_status 2 ctl 1 put /k
expect_status 2 ctl 1 get /k extra
expect_status 2 ctl 1 frobnicate
expect_status 2 ctl 1 get --no-such-option /k
expect_status 2 ctl 1 put --raw /k v
expect_status 2 ctl 1 cas /k onlyone
expect_status 2 ctl 1 get ""
expect_status 2 "$raftctl"

# No daemon on the bus: unavailable (5).
dbus-daemon --session --address="unix:path=$dir/empty-bus" --fork --print-pid=1 > "$dir/bus-empty.pid"
expect_status 5 "$raftctl" --bus-address="unix:path=$dir/empty-bus" get /config/color
echo ok
