# SPDX-License-Identifier: LGPL-2.1-or-later
"""raftd nodes for the fault suite: every node is the real daemon in its own
network namespace, serving its own private dbus-daemon whose socket lives in
the run's directory on the host (unix sockets cross namespaces)."""

import json
import os
import signal
import subprocess
import time

PEER_PORT = 7000
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "Assertion ", "SUMMARY: UndefinedBehaviorSanitizer")


class Node:
    def __init__(self, cluster, i):
        self.cluster = cluster
        self.id = i
        self.dir = os.path.join(cluster.dir, f"node{i}")
        self.bus_path = os.path.join(cluster.dir, f"bus{i}")
        self.address = f"unix:path={self.bus_path}"
        self.config = os.path.join(cluster.dir, f"node{i}.conf")
        self.log = os.path.join(cluster.dir, f"node{i}.log")
        self.bus_daemon = None
        self.proc = None
        self.paused = False
        self.starts = 0
        self.last_error = ""

    def write_config(self, peers, join):
        c = self.cluster
        lines = ["[Node]", f"Id={self.id}", f"Listen={c.net.address(self.id)}:{PEER_PORT}",
                 f"DataDirectory={self.dir}", f"ClusterKeyFile={c.key}", "LogLevel=debug" if c.verbose else "LogLevel=info"]
        if join:
            lines.append("Join=yes")
        else:
            lines += ["", "[Peers]"] + [f"{p}={c.net.address(p)}:{PEER_PORT}" for p in peers]
        lines += ["", "[Limits]", f"SnapshotEntries={c.snapshot_entries}",
                  "", "[Timeouts]", "HeartbeatSec=100ms", "ElectionSec=1s",
                  f"RequestSec={c.request_sec}s", f"SessionTTLSec={c.session_ttl_sec}s",
                  "", "[Access]", "ReadUsers=*", "WriteUsers=*", "LockUsers=*", "AdminUsers=*",
                  "", "[Bus]", f"Address={self.address}", ""]
        with open(self.config, "w") as f:
            f.write("\n".join(lines))

    def start_bus(self):
        with open(os.path.join(self.cluster.dir, f"bus{self.id}.log"), "w") as log:
            self.bus_daemon = subprocess.Popen(
                ["dbus-daemon", "--session", f"--address={self.address}", "--nofork", "--print-address=1"],
                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=log, text=True)
        # The address line means it listens.
        if not self.bus_daemon.stdout.readline():
            raise RuntimeError(f"dbus-daemon for node {self.id} did not start")

    def start(self):
        self.starts += 1
        log = open(self.log, "a")
        log.write(f"=== start {self.starts} ===\n")
        log.flush()
        env = dict(os.environ, NOTIFY_SOCKET="")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.cluster.net.ns(self.id), self.cluster.raftd, "--config", self.config],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self.paused = False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.running():
            os.kill(self.proc.pid, sig)

    def kill(self):
        """SIGKILL, reaped: an expected death."""
        if self.running():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        self.paused = False

    def pause(self):
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self.signal(signal.SIGCONT)
        self.paused = False

    def crashed(self):
        """A node we did not kill that is gone: its exit status, else None."""
        if self.proc is not None and self.proc.poll() is not None:
            return self.proc.returncode
        return None

    def busctl(self, *args, timeout=3):
        p = subprocess.run(["busctl", f"--address={self.address}", f"--timeout={timeout}", *args],
                           capture_output=True, text=True, timeout=timeout + 5)
        if p.returncode != 0:
            self.last_error = p.stderr.strip()
            return None
        return p.stdout

    def prop(self, name):
        """A Cluster property as JSON data, None if the node does not answer."""
        if not self.running() or self.paused:
            return None
        out = self.busctl("--json=short", "get-property", "org.raftd1", "/org/raftd1", "org.raftd1.Cluster", name)
        return json.loads(out)["data"] if out else None

    def call(self, iface, method, signature, *args, timeout=10):
        if not self.running() or self.paused:
            return None
        out = self.busctl("--json=short", "call", "org.raftd1", "/org/raftd1", f"org.raftd1.{iface}", method,
                          signature, *[str(a) for a in args], timeout=timeout)
        if out is None:
            return None
        # A method without results prints nothing.
        return json.loads(out)["data"] if out.strip() else []

    def sanitizer_lines(self):
        try:
            with open(self.log, errors="replace") as f:
                return [line.rstrip() for line in f if any(m in line for m in SANITIZER_MARKS)]
        except FileNotFoundError:
            return []


class Cluster:
    def __init__(self, net, dir, raftd, ids, spare_ids=(), snapshot_entries=100, request_sec=2,
                 session_ttl_sec=3, verbose=False):
        self.net = net
        self.dir = dir
        self.raftd = raftd
        self.key = os.path.join(dir, "cluster.key")
        self.snapshot_entries = snapshot_entries
        self.request_sec = request_sec
        self.session_ttl_sec = session_ttl_sec
        self.verbose = verbose
        self.voters = list(ids)
        self.nodes = {i: Node(self, i) for i in list(ids) + list(spare_ids)}

    def start(self):
        with open(os.open(self.key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(os.urandom(32))
        for node in self.nodes.values():
            node.start_bus()
        for i in self.voters:
            self.nodes[i].write_config(self.voters, join=False)
            self.nodes[i].start()

    def members(self):
        return [self.nodes[i] for i in self.voters]

    def live(self):
        return [n for n in self.nodes.values() if n.running() and not n.paused]

    def leader(self, among=None):
        """The leader a majority of the answering nodes name, else 0."""
        votes = {}
        nodes = among if among is not None else self.live()
        for n in nodes:
            v = n.prop("Leader")
            if v:
                votes[v] = votes.get(v, 0) + 1
        if not votes:
            return 0
        best = max(votes, key=votes.get)
        return best if votes[best] * 2 > len(nodes) else 0

    def await_leader(self, deadline_s):
        """Every live node names the same leader; its id, or 0 after the deadline."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            live = self.live()
            named = {n.prop("Leader") for n in live}
            if len(named) == 1:
                leader = named.pop()
                if leader and leader in self.nodes and self.nodes[leader].running():
                    return leader
            time.sleep(0.2)
        return 0

    def await_caught_up(self, deadline_s):
        """Every live node applied what the leader has committed."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            leader = self.await_leader(max(1, end - time.monotonic()))
            if not leader:
                return False
            commit = self.nodes[leader].prop("CommitIndex")
            if commit is not None:
                applied = [n.prop("AppliedIndex") for n in self.live()]
                if all(a is not None and a >= commit for a in applied):
                    return True
            time.sleep(0.2)
        return False

    def describe(self):
        """One line per node: what it says of itself and the cluster, for a
        report of a cluster that did not settle."""
        lines = []
        for n in self.nodes.values():
            if not n.running():
                lines.append(f"node {n.id}: not running")
                continue
            if n.paused:
                lines.append(f"node {n.id}: paused")
                continue
            state = {p: n.prop(p) for p in ("Role", "Term", "Leader", "CommitIndex", "AppliedIndex", "Members")}
            lines.append(f"node {n.id}: " + ", ".join(f"{k} {v}" for k, v in state.items()))
        return lines

    def crashes(self):
        """(node, exit status) of every node that ended without being killed."""
        return [(n.id, n.crashed()) for n in self.nodes.values() if n.crashed() is not None]

    def stop(self):
        """SIGTERM every node (each must exit 0), then the buses.  Returns
        the problems found (unclean exits, sanitizer reports)."""
        problems = []
        for n in self.nodes.values():
            if n.paused:
                n.resume()
        for n in self.nodes.values():
            if n.running():
                n.signal(signal.SIGTERM)
        for n in self.nodes.values():
            if n.proc is None:
                continue
            try:
                status = n.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                n.proc.kill()
                n.proc.wait()
                status = "no exit within 30 s of SIGTERM"
            if status != 0:
                problems.append(f"node {n.id}: exit status {status} after SIGTERM (log: {n.log})")
            n.proc = None
        for n in self.nodes.values():
            problems += [f"node {n.id}: {line}" for line in n.sanitizer_lines()]
            if n.bus_daemon is not None:
                n.bus_daemon.terminate()
                n.bus_daemon.wait()
                n.bus_daemon = None
        return problems
