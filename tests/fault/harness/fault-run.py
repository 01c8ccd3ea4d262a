#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs one fault-suite scenario (docs/fault-testing.md): a raftd cluster
with every node in its own network namespace and on its own private bus,
client processes writing a history, a nemesis injecting faults, then heal,
final reads, a clean stop, and the checker on the merged history.

  fault-run.py --workload register --out DIR --raftd RAFTD --client CLIENT ...

The seed is printed; replay with --seed or RAFTD_FAULT_SEED.  The length of
the fault phase: --seconds, overridden by RAFTD_FAULT_SECONDS.  Exit status
0 (the history checks out), 1 (a problem; the output says which), 77 (not
root or no network namespaces: skipped)."""

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultcluster import Cluster  # noqa: E402
from faulthistory import merge, sanity_check  # noqa: E402
from faultnemesis import KINDS, Nemesis  # noqa: E402
from faultnet import Network  # noqa: E402

SKIP = 77
# A client process continues as process + STRIDE after an unknown outcome.
STRIDE = 1000
# The fenced resource's lines in the history carry this process id.
RESOURCE_PROCESS = 0
# How much longer the counter-example may run to show a lost update.
COUNTER_EXAMPLE_EXTRA_S = 30
# How much of each node's log a failed run prints.
FAILED_LOG_LINES = 40

PARTITIONS = ["partition-majority", "isolate-leader", "bridge", "one-way", "loss"]
KILLS = ["kill-one", "kill-leader", "kill-majority", "kill-all", "pause-leader"]
SCENARIOS = {
    "register": dict(nodes=5, clients=5, nemesis=PARTITIONS + KILLS),
    # Membership changes (a spare joins, is promoted, a voter is removed,
    # wiped and may join again) under partitions, loss and kills.
    "set": dict(nodes=3, clients=3, nemesis=PARTITIONS + KILLS + ["membership"]),
    # No snapshots: a snapshot install on the watcher's node would hide
    # changes from it (docs/fault-testing.md).
    "eo": dict(nodes=3, clients=4, nemesis=PARTITIONS + ["kill-one", "kill-leader", "pause-leader"],
               snapshot_entries=1000000),
    "lock": dict(nodes=3, clients=3, nemesis=["pause-holder", "isolate-leader", "kill-leader", "pause-leader"]),
    "lock-nofence": dict(nodes=3, clients=3, nemesis=["pause-holder"]),
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", choices=sorted(SCENARIOS), required=True)
    p.add_argument("--nodes", type=int, choices=[3, 5])
    p.add_argument("--clients", type=int)
    p.add_argument("--seconds", type=int, default=20, help="length of the fault phase")
    p.add_argument("--seed", type=int)
    p.add_argument("--nemesis", help="comma-separated faults, from: " + ", ".join(KINDS))
    p.add_argument("--snapshot-entries", type=int,
                   help="SnapshotEntries= of every node: low, so snapshots are taken and sent under faults")
    p.add_argument("--out", required=True, help="directory for the run's history, logs and data")
    p.add_argument("--raftd", required=True)
    p.add_argument("--client", required=True)
    p.add_argument("--resource", required=True)
    p.add_argument("--checker", help="raftd-check; without it (or if absent) a sanity check of the format")
    p.add_argument("--expect-problem", metavar="TEXT",
                   help="the harness's self-test: pass only if a problem containing TEXT is reported")
    p.add_argument("--keep", action="store_true", help="keep the nodes' data directories")
    p.add_argument("--verbose", action="store_true", help="nodes log at debug level")
    return p.parse_args()


def enter_namespaces():
    """Re-run inside private PID and mount namespaces: /run/netns is then the
    run's own, and whatever happens to this script, the kernel kills every
    process it started when it ends."""
    if os.environ.get("RAFTD_FAULT_INNER"):
        return int(os.environ["RAFTD_FAULT_INNER"])
    if os.geteuid() != 0:
        print("fault: needs root for network namespaces; skipped")
        sys.exit(SKIP)
    for tool in ("ip", "nft", "dbus-daemon", "busctl", "unshare"):
        if not shutil.which(tool):
            print(f"fault: {tool} is not installed (see .ci/install-deps); skipped")
            sys.exit(SKIP)
    if subprocess.run(["unshare", "--pid", "--fork", "--mount", "true"], capture_output=True).returncode != 0:
        print("fault: cannot make PID and mount namespaces here; skipped")
        sys.exit(SKIP)
    env = dict(os.environ, RAFTD_FAULT_INNER=str(os.getpid()))
    cmd = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "--mount", "--propagation", "private",
           "--", sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
    sys.exit(subprocess.run(cmd, env=env).returncode)


class Run:
    def __init__(self, args, tag):
        self.args = args
        self.tag = tag
        scenario = SCENARIOS[args.workload]
        self.workload = args.workload
        self.n = args.nodes or scenario["nodes"]
        self.n_clients = args.clients or scenario["clients"]
        self.kinds = args.nemesis.split(",") if args.nemesis else scenario["nemesis"]
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            sys.exit(f"fault: unknown nemesis {unknown}; known: {', '.join(KINDS)}")
        env_seconds = os.environ.get("RAFTD_FAULT_SECONDS")
        # The self-test keeps its own short length.
        self.seconds = int(env_seconds) if env_seconds and not args.expect_problem else args.seconds
        env_seed = os.environ.get("RAFTD_FAULT_SEED")
        self.seed = args.seed if args.seed is not None else int(env_seed) if env_seed else \
            int.from_bytes(os.urandom(4), "little")
        self.rng = random.Random(self.seed)
        self.dir = os.path.join(os.path.abspath(args.out), f"{self.workload}-{tag}")
        os.makedirs(self.dir, exist_ok=True)
        self.problems = []
        self.clients = []
        self.parts = []
        self.next_index = 1
        self.resource = None
        self.watcher = None
        ids = range(1, self.n + 1)
        spare = [self.n + 1] if "membership" in self.kinds else []
        self.net = Network(tag, tag % 250 + 1, list(ids) + spare)
        snapshot_entries = args.snapshot_entries or 100
        if snapshot_entries < scenario.get("snapshot_entries", 0):
            snapshot_entries = scenario["snapshot_entries"]
        self.cluster = Cluster(self.net, self.dir, args.raftd, ids, spare, snapshot_entries=snapshot_entries,
                               verbose=args.verbose)

    def say(self, text):
        print(f"fault: {text}", flush=True)

    def problem(self, text):
        self.say("PROBLEM: " + text)
        self.problems.append(text)

    # --- clients ---

    def spawn(self, workload, node, seconds, *extra, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL):
        index = self.next_index
        self.next_index += 1
        history = os.path.join(self.dir, f"client{index}.history")
        self.parts.append(history)
        err = open(os.path.join(self.dir, f"client{index}.log"), "w")
        cmd = [self.args.client, workload, "--bus", node.address, "--history", history, "--index", str(index),
               "--process", str(index), "--stride", str(STRIDE), "--seed", str(self.seed), "--seconds",
               str(seconds), "--timeout-ms", str((self.cluster.request_sec + 2) * 1000), *extra]
        p = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=err, text=True)
        err.close()
        p.fault_name = f"{workload} client {index} on node {node.id}"
        return p

    def client_nodes(self):
        """Clients spread over the nodes; the exactly-once watcher's node
        (the last) gets none, so its writes always come from elsewhere."""
        ids = sorted(self.cluster.voters)
        if self.workload == "eo":
            ids = ids[:-1]
        return [self.cluster.nodes[ids[k % len(ids)]] for k in range(self.n_clients)]

    def lost_update_seen(self):
        """The resource accepted a write based on an overtaken read."""
        try:
            with open(os.path.join(self.dir, "resource.history")) as f:
                for line in f:
                    fields = line.split()
                    if fields[2:4] == ["ok", "write-fenced"] and fields[6] != fields[7]:
                        return True
        except FileNotFoundError:
            pass
        return False

    def start_workload(self):
        seconds = self.seconds
        if self.workload == "lock-nofence":
            # The counter-example must show: the faults go on (and the
            # clients with them) until a lost update happened.
            seconds += COUNTER_EXAMPLE_EXTRA_S
        if self.workload == "eo":
            watch_node = self.cluster.nodes[max(self.cluster.voters)]
            self.watcher = self.spawn("eo-watcher", watch_node, 24 * 3600, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE)
            if self.watcher.stdout.readline().strip() != "ready":
                raise RuntimeError("the exactly-once watcher did not subscribe")
        if self.workload.startswith("lock"):
            history = os.path.join(self.dir, "resource.history")
            self.parts.append(history)
            cmd = [self.args.resource, "--socket", os.path.join(self.dir, "resource.sock"), "--history", history,
                   "--process", str(RESOURCE_PROCESS)]
            if self.workload == "lock-nofence":
                cmd.append("--no-fence-check")
            self.resource = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            if self.resource.stdout.readline().strip() != "ready":
                raise RuntimeError("the fenced resource did not start")
        kind = {"register": "register", "set": "set", "eo": "eo-writer"}.get(self.workload, "lock")
        extra = []
        if kind == "lock":
            extra = ["--resource", os.path.join(self.dir, "resource.sock"), "--name", "c0", "--work-ms", "500"]
        for node in self.client_nodes():
            self.clients.append(self.spawn(kind, node, seconds, *extra))
        self.say(f"{len(self.clients)} {kind} clients for {seconds} s")

    def wait_clients(self, clients, deadline_s):
        end = time.monotonic() + deadline_s
        for p in clients:
            try:
                status = p.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self.problem(f"{p.fault_name} did not finish in time")
                continue
            if status != 0 and not (getattr(p, "fault_stopped", False) and status == -signal.SIGTERM):
                self.problem(f"{p.fault_name} failed (exit status {status}); see its .log in {self.dir}")

    # --- phases ---

    def check_crashes(self):
        for i, status in self.cluster.crashes():
            self.problem(f"node {i} ended on its own (exit status {status}); log {self.cluster.nodes[i].log}")
            self.cluster.nodes[i].proc = None
            self.cluster.nodes[i].start()

    def faults(self):
        with open(os.path.join(self.dir, "nemesis.log"), "w") as log:
            nemesis = Nemesis(self.cluster, self.rng, self.kinds, log,
                              protected=[max(self.cluster.voters)] if self.workload == "eo" else [],
                              lock_name="/fault/lock/c0")
            end = time.monotonic() + self.seconds
            extra_end = end + (COUNTER_EXAMPLE_EXTRA_S if self.workload == "lock-nofence" else 0)
            while time.monotonic() < end or (time.monotonic() < extra_end and not self.lost_update_seen()):
                nemesis.step(hold_s=self.rng.uniform(1, 4), quiet_s=self.rng.uniform(0.5, 2))
                self.check_crashes()
            for text in nemesis.problems:
                self.problem(text)
            nemesis.log("end of faults: heal everything")
            self.net.heal_all()
            for node in self.cluster.nodes.values():
                if node.paused:
                    node.resume()
        if self.workload == "lock-nofence":
            # Their deadline is later; an increment cut short is an
            # invoke without completion, which the history allows.
            for p in self.clients:
                p.terminate()
                p.fault_stopped = True

    def final(self):
        if not self.cluster.await_caught_up(90):
            self.problem("no leader with every node caught up within 90 s after healing")
            for line in self.cluster.describe():
                self.say(line)
            return
        node = self.cluster.nodes[self.cluster.voters[0]]
        if self.workload == "register":
            p = self.spawn("register-final", node, 60)
            self.wait_clients([p], 90)
        elif self.workload == "set":
            p = self.spawn("set-final", node, 60)
            self.wait_clients([p], 90)
        elif self.workload == "eo":
            self.watcher.stdin.close()
            self.wait_clients([self.watcher], 30)

    def note_unexpected_errors(self):
        """Daemon errors outside the API's list: logged as unknown outcomes
        in the history, and reported here so that they are not missed."""
        counts = {}
        for name in os.listdir(self.dir):
            if name.startswith("client") and name.endswith(".log"):
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    for line in f:
                        if line.startswith("unexpected error "):
                            counts[line.strip()] = counts.get(line.strip(), 0) + 1
        for line, count in sorted(counts.items()):
            self.say(f"NOTE: {count} x {line}")

    def check(self):
        self.note_unexpected_errors()
        history = os.path.join(self.dir, "history")
        merge(self.parts, os.path.join(self.dir, "nemesis.log"), history, self.seed)
        self.say(f"history: {history}")
        expect_anomaly = self.workload == "lock-nofence"
        checker = self.args.checker
        if checker and os.access(checker, os.X_OK):
            p = subprocess.run([checker, history], capture_output=True, text=True)
            print(p.stdout + p.stderr, end="", flush=True)
            if expect_anomaly:
                if p.returncode == 0 or "lost" not in (p.stdout + p.stderr).lower():
                    self.problem("the checker found no lost update in the run without fence checks")
            elif p.returncode == 3:
                self.problem("the checker could not decide (its search budget ran out, or no final read succeeded; see its output)")
            elif p.returncode != 0:
                self.problem(f"the checker rejected the history (exit status {p.returncode})")
            return
        self.say("raftd-check is not built: checking the history's format, sets and fences only")
        for text in sanity_check(history, expect_lost_updates=expect_anomaly):
            self.problem(text)

    def execute(self):
        self.say(f"workload {self.workload}, {self.n} nodes, seed {self.seed} "
                 f"(replay: RAFTD_FAULT_SEED={self.seed}), {self.seconds} s of faults: {', '.join(self.kinds)}")
        self.say(f"run directory {self.dir}")
        try:
            self.net.create()
        except RuntimeError as e:
            self.say(f"cannot set up network namespaces here ({e}); skipped")
            return SKIP
        try:
            self.cluster.start()
            if not self.cluster.await_leader(60):
                self.problem("no leader within 60 s of the start")
            else:
                self.start_workload()
                self.faults()
                self.wait_clients(self.clients, 30 + self.cluster.request_sec * 3)
                self.check_crashes()
                self.final()
                self.check_crashes()
        finally:
            for p in self.clients + ([self.watcher] if self.watcher else []):
                if p.poll() is None:
                    p.kill()
                    p.wait()
            if self.resource:
                self.resource.stdin.close()
                self.resource.wait()
            self.problems += self.cluster.stop()
            self.net.destroy()
        self.check()
        if not self.problems and not self.args.keep:
            for node in self.cluster.nodes.values():
                shutil.rmtree(node.dir, ignore_errors=True)
        if self.args.expect_problem:
            if any(self.args.expect_problem in p for p in self.problems):
                self.say(f"the expected problem was reported (seed {self.seed})")
                return 0
            self.say(f"FAILED (seed {self.seed}): no problem containing \"{self.args.expect_problem}\"")
            return 1
        if self.problems:
            # CI keeps only what was printed: the end of each node's log.
            for node in self.cluster.nodes.values():
                self.say(f"the last {FAILED_LOG_LINES} lines of {node.log}:")
                try:
                    with open(node.log, errors="replace") as f:
                        tail = f.readlines()[-FAILED_LOG_LINES:]
                except OSError:
                    tail = []
                for line in tail:
                    print(f"  {line.rstrip()}")
            self.say(f"FAILED (seed {self.seed}): {len(self.problems)} problems; everything is in {self.dir}")
            return 1
        self.say(f"passed (seed {self.seed})")
        return 0


def main():
    args = parse_args()
    tag = enter_namespaces()
    os.makedirs("/run/netns", exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run/netns"], check=True)
    sys.exit(Run(args, tag).execute())


if __name__ == "__main__":
    main()
