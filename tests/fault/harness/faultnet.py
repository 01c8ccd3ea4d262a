# SPDX-License-Identifier: LGPL-2.1-or-later
"""The fault suite's network: one network namespace per node, all joined by
veth pairs to a bridge that lives in a namespace of its own, and nftables
rules inside each node's namespace for partitions and packet loss (this
kernel has no netem)."""

import subprocess


def run(*args, stdin=None):
    """Runs a command; a failure raises with its stderr."""
    p = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {p.stderr.strip()}")
    return p.stdout


class Network:
    """Hosts 1..n at 10.99.<subnet>.<id>; names carry the run's PID so that
    parallel runs (and leftovers) never collide."""

    def __init__(self, tag, subnet, ids):
        self.tag = tag
        self.subnet = subnet
        self.bridge_ns = f"rfb-{tag}"
        self.ids = list(ids)
        self.created = []

    def ns(self, i):
        return f"rfn-{self.tag}-{i}"

    def address(self, i):
        return f"10.99.{self.subnet}.{i}"

    def create(self):
        run("ip", "netns", "add", self.bridge_ns)
        self.created.append(self.bridge_ns)
        run("ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", self.bridge_ns, "link", "set", "br0", "up")
        for i in self.ids:
            self.add_host(i)

    def add_host(self, i):
        ns = self.ns(i)
        run("ip", "netns", "add", ns)
        self.created.append(ns)
        # Both ends are created inside their namespaces: nothing ever
        # appears in the host's namespace under a name that could clash.
        run("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", f"p{i}",
            "netns", self.bridge_ns)
        run("ip", "-n", self.bridge_ns, "link", "set", f"p{i}", "master", "br0")
        run("ip", "-n", self.bridge_ns, "link", "set", f"p{i}", "up")
        run("ip", "-n", ns, "addr", "add", f"{self.address(i)}/24", "dev", "eth0")
        run("ip", "-n", ns, "link", "set", "eth0", "up")
        run("ip", "-n", ns, "link", "set", "lo", "up")
        self.nft(i, "add table inet fault\n"
                    "add chain inet fault input { type filter hook input priority 0; policy accept; }\n")

    def destroy(self):
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.created = []

    def nft(self, i, script):
        run("ip", "netns", "exec", self.ns(i), "nft", "-f", "-", stdin=script)

    def block(self, receiver, senders):
        """receiver drops every packet from senders (one direction)."""
        if senders:
            addrs = ", ".join(self.address(s) for s in senders)
            self.nft(receiver, f"add rule inet fault input ip saddr {{ {addrs} }} drop\n")

    def partition(self, groups):
        """No traffic between different groups, in either direction."""
        for g in groups:
            others = [j for h in groups if h is not g for j in h]
            for i in g:
                self.block(i, others)

    def loss(self, i, percent):
        self.nft(i, f"add rule inet fault input numgen random mod 100 < {percent} drop\n")

    def heal(self, i):
        self.nft(i, "flush chain inet fault input\n")

    def heal_all(self):
        for i in self.ids:
            self.heal(i)
