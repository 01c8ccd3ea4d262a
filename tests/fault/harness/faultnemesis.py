# SPDX-License-Identifier: LGPL-2.1-or-later
"""The nemesis: faults drawn from a seeded random stream, each applied for a
while and then healed.  Every action is logged with its CLOCK_MONOTONIC
time so that it can be read next to the history."""

import os
import shutil
import signal
import time

# Every fault the nemesis knows; a run enables a subset.
KINDS = ("partition-majority", "isolate-leader", "bridge", "one-way", "loss",
         "kill-one", "kill-leader", "kill-majority", "kill-all", "pause-leader",
         "membership", "pause-holder", "stray-exit")


class Nemesis:
    def __init__(self, cluster, rng, kinds, log, protected=(), lock_name=None, pause_client=None):
        self.cluster = cluster
        self.net = cluster.net
        self.rng = rng
        self.kinds = list(kinds)
        self.log_file = log
        # Nodes never killed or paused (the exactly-once watcher's node).
        self.protected = set(protected)
        self.lock_name = lock_name
        self.pause_client = pause_client
        self.spare = [i for i in cluster.nodes if i not in cluster.voters]
        self.problems = []
        self.last_catch_up = None

    def log(self, text):
        line = f"{time.monotonic_ns()} nemesis {text}"
        print(line, flush=True)
        self.log_file.write(line + "\n")
        self.log_file.flush()

    def members(self):
        return [n.id for n in self.cluster.members()]

    def killable(self, ids):
        return [i for i in ids if i not in self.protected]

    def leader(self):
        return self.cluster.leader()

    # --- faults: each returns a function that heals it, or None ---

    def partition_majority(self):
        ids = self.members()
        self.rng.shuffle(ids)
        minority = ids[:(len(ids) - 1) // 2]
        majority = ids[len(minority):]
        self.log(f"partition majority {majority} minority {minority}")
        self.net.partition([majority, minority])
        return self.heal_network

    def isolate_leader(self):
        leader = self.leader()
        if not leader:
            return None
        rest = [i for i in self.members() if i != leader]
        self.log(f"isolate leader {leader} from {rest}")
        self.net.partition([[leader], rest])
        return self.heal_network

    def bridge(self):
        ids = self.members()
        if len(ids) < 3:
            return None
        self.rng.shuffle(ids)
        half = (len(ids) - 1) // 2
        a, middle, b = ids[:half], ids[half], ids[half + 1:]
        self.log(f"bridge {a} <-> {middle} <-> {b}")
        for i in a:
            self.net.block(i, b)
        for i in b:
            self.net.block(i, a)
        return self.heal_network

    def one_way(self):
        ids = self.members()
        deaf = self.rng.choice(ids)
        self.log(f"one-way: node {deaf} receives nothing from {[i for i in ids if i != deaf]} but can send")
        self.net.block(deaf, [i for i in ids if i != deaf])
        return self.heal_network

    def loss(self):
        percent = self.rng.randint(10, 40)
        self.log(f"loss {percent}% of incoming packets on every node")
        for i in self.members():
            self.net.loss(i, percent)
        return self.heal_network

    def heal_network(self):
        self.log("heal network")
        self.net.heal_all()

    def kill(self, ids, what):
        ids = self.killable(ids)
        if not ids:
            return None
        self.log(f"kill {what} {ids}")
        for i in ids:
            self.cluster.nodes[i].kill()

        def restart():
            self.log(f"restart {ids}")
            for i in ids:
                self.cluster.nodes[i].start()
        return restart

    def kill_one(self):
        return self.kill([self.rng.choice(self.members())], "one")

    def kill_leader(self):
        leader = self.leader()
        return self.kill([leader], "leader") if leader else None

    def kill_majority(self):
        ids = self.killable(self.members())
        self.rng.shuffle(ids)
        return self.kill(ids[:len(self.members()) // 2 + 1], "majority")

    def kill_all(self):
        return self.kill(self.members(), "all")

    def pause_leader(self):
        leader = self.leader()
        if not leader or leader in self.protected:
            return None
        self.log(f"pause leader {leader} (SIGSTOP)")
        self.cluster.nodes[leader].pause()

        def resume():
            self.log(f"resume {leader} (SIGCONT)")
            self.cluster.nodes[leader].resume()
        return resume

    def stray_exit(self):
        """The harness's self-test: a node stops although nobody killed it
        (SIGTERM, exit status 0), which the run must report."""
        victim = self.rng.choice(self.killable(self.members()))
        self.log(f"stray exit: SIGTERM to node {victim}, not counted as a kill")
        self.cluster.nodes[victim].signal(signal.SIGTERM)
        return None

    def pause_holder(self):
        """Pause the lock's holder and its node until the node's session
        expires and the lock goes to someone else; then let both go on."""
        for n in self.cluster.live():
            locks = n.call("Lock", "List", "t", 0)
            if locks is None:
                continue
            for name, held, node_id, _bus, _uid, pid, *_rest in locks[0]:
                if name == self.lock_name and held and node_id in self.cluster.nodes:
                    holder_node = self.cluster.nodes[node_id]
                    if node_id in self.protected or not holder_node.running():
                        return None
                    self.log(f"pause lock holder pid {pid} and its node {node_id}")
                    try:
                        os.kill(pid, signal.SIGSTOP)
                    except ProcessLookupError:
                        return None
                    holder_node.pause()
                    # The lock moves only once the node's session expired.
                    time.sleep(self.cluster.session_ttl_sec + 1)

                    def resume():
                        self.log(f"resume lock holder pid {pid} and node {node_id}")
                        holder_node.resume()
                        try:
                            os.kill(pid, signal.SIGCONT)
                        except ProcessLookupError:
                            pass
                    return resume
            return None
        return None

    def membership(self):
        """Under a network fault: add a spare node as a learner, wait until
        it caught up, promote it, remove another voter; every step through
        org.raftd1.Cluster.  A step that never succeeds is a problem."""
        if not self.spare:
            return None
        heal = self.rng.choice([self.loss, self.partition_majority, self.one_way])()
        try:
            self.change_membership(self.spare.pop(0))
        finally:
            heal()
        return None

    def change_membership(self, new):
        node = self.cluster.nodes[new]
        node.write_config([], join=True)
        node.start()
        address = f"{self.net.address(new)}:7000"
        self.log(f"membership: start node {new} (Join=yes), AddMember {new} {address}")
        if not self.admin("AddMember", "tst", new, address, 0, done_if="already a member"):
            self.problems.append(f"membership: AddMember {new} did not succeed")
            node.kill()
            return
        if not self.caught_up(node, 20):
            self.problems.append(f"membership: learner {new} did not catch up within 20 s "
                                 f"(last seen: leader's commit index, learner's applied index {self.last_catch_up})")
            self.admin("RemoveMember", "tt", new, 0)
            node.kill()
            return
        if not self.admin("PromoteMember", "tt", new, 0, done_if="already a voter"):
            self.problems.append(f"membership: PromoteMember {new} did not succeed")
            return
        self.cluster.voters.append(new)
        victim = self.rng.choice([i for i in self.killable(self.members()) if i != new])
        self.log(f"membership: promoted {new}; RemoveMember {victim}")
        if not self.admin("RemoveMember", "tt", victim, 0, done_if="No such member"):
            self.problems.append(f"membership: RemoveMember {victim} did not succeed")
            return
        self.cluster.nodes[victim].kill()
        self.recycle(victim)

    def recycle(self, victim):
        """A removed node comes back later as a new, empty member with the
        same id (and address): a long run keeps changing membership instead
        of using up its one spare, and a re-added id must not meet anything
        the cluster kept from its last life."""
        self.cluster.voters.remove(victim)
        shutil.rmtree(self.cluster.nodes[victim].dir, ignore_errors=True)
        self.spare.append(victim)
        self.log(f"membership: removed, stopped and wiped {victim}; it may join again")

    def admin(self, method, signature, *args, tries=20, done_if=None):
        """A Cluster method through whichever node answers, retried while
        the cluster is busy or without a leader.  A call that failed may
        still have been applied (its answer was lost): a retry then meets
        done_if (e.g. NoSuchMember for a removal), which means done."""
        error = ""
        failed_before = False
        for _ in range(tries):
            for n in self.cluster.members():
                if n.call("Cluster", method, signature, *args) is not None:
                    return True
                error = n.last_error
                if failed_before and done_if and done_if in error:
                    self.log(f"membership: {method} {args[0]}: applied by an earlier unanswered call")
                    return True
                failed_before = True
            self.log(f"membership: {method} {args[0]}: {error}; retrying")
            time.sleep(0.5)
        return False

    def caught_up(self, node, deadline_s):
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            leader = self.leader()
            commit = self.cluster.nodes[leader].prop("CommitIndex") if leader else None
            applied = node.prop("AppliedIndex")
            self.last_catch_up = (commit, applied)
            if commit is not None and applied is not None and applied >= commit:
                return True
            time.sleep(0.3)
        return False

    def step(self, hold_s, quiet_s):
        kind = self.rng.choice(self.kinds)
        heal = getattr(self, kind.replace("-", "_"))()
        if heal is None:
            time.sleep(quiet_s)
            return
        time.sleep(hold_s)
        heal()
        time.sleep(quiet_s)
