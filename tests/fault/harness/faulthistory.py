# SPDX-License-Identifier: LGPL-2.1-or-later
"""Merging the clients' history files into one history (format v1,
docs/fault-testing.md), and a sanity check of the format for runs where the
real checker (tests/fault/check, raftd-check) is not built."""

import re


def merge(parts, nemesis_log, out_path, seed):
    """Every line of every part, ordered by time (a stable sort keeps each
    client's own order); nemesis actions become comments at their time."""
    events = []
    for part in parts:
        try:
            with open(part) as f:
                pending = []
                for line in f:
                    line = line.rstrip("\n")
                    if not line:
                        continue
                    if line.startswith("#"):
                        # A comment belongs before the client's next event.
                        pending.append(line)
                        continue
                    t = int(line.split(" ", 1)[0])
                    events += [(t, c) for c in pending]
                    pending = []
                    events.append((t, line))
                # Trailing comments (a watcher's last gap) go at the end.
                events += [(float("inf"), c) for c in pending]
        except FileNotFoundError:
            pass
    try:
        with open(nemesis_log) as f:
            for line in f:
                t, text = line.rstrip("\n").split(" ", 1)
                events.append((int(t), f"# {text} at {t}"))
    except FileNotFoundError:
        pass
    events.sort(key=lambda e: e[0])
    with open(out_path, "w") as f:
        f.write(f"# raftd-history 1 seed={seed}\n")
        for _, line in events:
            f.write(line + "\n")


LINE = re.compile(r"^(\d+) (\d+) (invoke|ok|fail|unknown) (\S+)( .*)?$")


def sanity_check(path, expect_lost_updates=False):
    """Problems found in the history: malformed lines, broken invoke and
    completion pairing, reused process ids, and the two checks that need
    no model: set membership and fenced-resource lost updates."""
    problems = []
    outstanding = {}
    retired = set()
    acked_adds, invoked_adds, final_sets = {}, {}, {}
    lost_updates = 0
    with open(path) as f:
        first = f.readline()
        if not first.startswith("# raftd-history 1 seed="):
            problems.append("line 1: not a raftd-history 1 header")
        for no, line in enumerate(f, start=2):
            line = line.rstrip("\n")
            if line.startswith("#"):
                continue
            m = LINE.match(line)
            if not m:
                problems.append(f"line {no}: malformed: {line}")
                continue
            process, kind, fn, rest = int(m[2]), m[3], m[4], (m[5] or "").split()
            if fn == "write-fenced":
                r, fence, base, current, new = rest[:5]
                if kind == "ok" and base != current:
                    lost_updates += 1
                continue
            if fn == "applied":
                continue
            if process in retired:
                problems.append(f"line {no}: process {process} used after an unknown completion")
            if kind == "invoke":
                if process in outstanding:
                    problems.append(f"line {no}: process {process} invokes with an operation outstanding")
                outstanding[process] = fn
                if fn == "add":
                    invoked_adds.setdefault(rest[0], set()).add(rest[1])
                continue
            if outstanding.pop(process, None) != fn:
                problems.append(f"line {no}: completion without a matching invoke")
            if kind == "unknown":
                retired.add(process)
            if kind == "ok" and fn == "add":
                acked_adds.setdefault(rest[0], set()).add(rest[1])
            if kind == "ok" and fn == "read-set":
                final_sets[rest[0]] = [] if rest[1] == "-" else rest[1].split(",")
    for s, acked in acked_adds.items():
        read = final_sets.get(s)
        if read is None:
            problems.append(f"set {s}: no final read")
            continue
        if len(read) != len(set(read)):
            problems.append(f"set {s}: an element appears twice in the final read")
        lost = acked - set(read)
        if lost:
            problems.append(f"set {s}: {len(lost)} acknowledged adds missing from the final read, e.g. {sorted(lost)[:5]}")
        never = set(read) - invoked_adds.get(s, set())
        if never:
            problems.append(f"set {s}: elements never added: {sorted(never)[:5]}")
    if lost_updates and not expect_lost_updates:
        problems.append(f"fenced resource: {lost_updates} lost updates (BASE != CURRENT)")
    if expect_lost_updates and not lost_updates:
        problems.append("fenced resource without fence checks: no lost update found, the counter-example did not show")
    return problems
