"""kube-proxy in iptables mode, as root, inside network namespaces we create.

Topology: a "node" namespace (a veth "uplink" to the host carrying the node
address 192.168.77.1 and a default route, so service IPs are routable and the
proxy reaches the apiserver) and one namespace per pod joined to
the node by a veth pair with a /32 route per pod. The apiserver and endpoints
controller run on the host; ``python -m controllers.proxy --proxy-mode
iptables`` runs inside the node namespace and programs its tables; clients
connect from the node namespace, and real backends in the pod namespaces
answer with their pod name.

Skipped only when not root and ``CI`` is unset; under CI a missing tool fails.
"""

from __future__ import annotations

import collections
import os
import random
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from controllers.proxy.iptables import port_proto_hash
from tests.conftest import ApiServerFactory
from tests.support.apiserver import ApiServerProcess
from tests.support.proxy import Api, Process, eventually, unique

TOOLS = ("ip", "iptables", "iptables-restore", "iptables-save")


def _require_root_and_tools() -> None:
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if os.geteuid() != 0:
        if ci:
            pytest.fail("network-namespace proxy tests need root under CI")
        pytest.skip("needs root (network namespaces, iptables)")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        msg = f"missing tools: {', '.join(missing)} (scripts/bootstrap installs them)"
        if ci:
            pytest.fail(msg)
        pytest.skip(msg)


def sh(*argv: str, ns: str | None = None, check: bool = True) -> str:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed: {r.stdout}{r.stderr}")
    return r.stdout


SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2]))); s.listen(128)
while True:
    c, _ = s.accept()
    c.sendall(sys.argv[1].encode() + b"\\n"); c.close()
"""

CLIENT = """
import socket, sys
for _ in range(int(sys.argv[3])):
    try:
        with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2) as s:
            data = b""
            while chunk := s.recv(100):
                data += chunk
        print(data.decode().strip() or "EMPTY")
    except OSError as e:
        print("ERR", type(e).__name__)
"""


@dataclass
class Netns:
    tag: str
    node: str
    host_ip: str
    node_ip: str = "192.168.77.1"
    pods: dict[str, str] = field(default_factory=dict)  # pod name -> ip
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def add_pod(self, name: str, index: int, port: int) -> str:
        ns, veth, ip = f"kpp{self.tag}{index}", f"kpv{self.tag}{index}", f"10.244.1.{10 + index}"
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns,
           ns=self.node)
        sh("ip", "link", "set", veth, "up", ns=self.node)
        sh("ip", "addr", "add", "10.244.0.1/32", "dev", veth, ns=self.node)
        sh("ip", "route", "add", f"{ip}/32", "dev", veth, ns=self.node)
        for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "link", "set", "eth0", "up"],
                    ["ip", "addr", "add", f"{ip}/32", "dev", "eth0"],
                    ["ip", "route", "add", "10.244.0.1", "dev", "eth0"],
                    ["ip", "route", "add", "default", "via", "10.244.0.1"]):
            sh(*cmd, ns=ns)
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", SERVER, name, str(port)]))
        self.pods[name] = ip
        return ip

    def ask(self, ip: str, port: int, n: int = 1) -> list[str]:
        out = sh(sys.executable, "-c", CLIENT, ip, str(port), str(n), ns=self.node)
        return out.split("\n")[:-1]

    def nat(self) -> str:
        return sh("iptables-save", "-t", "nat", ns=self.node)


@pytest.fixture
def netns() -> Iterator[Netns]:
    _require_root_and_tools()
    tag = uuid.uuid4().hex[:4]
    octet = random.randint(1, 250)
    n = Netns(tag, f"kpn{tag}", f"169.254.{octet}.1")
    host_veth = f"kph{tag}"
    try:
        sh("ip", "netns", "add", n.node)
        sh("ip", "link", "set", "lo", "up", ns=n.node)
        sh("ip", "link", "add", host_veth, "type", "veth", "peer", "name", "uplink", "netns",
           n.node)
        sh("ip", "addr", "add", f"{n.host_ip}/30", "dev", host_veth)
        sh("ip", "link", "set", host_veth, "up")
        sh("ip", "addr", "add", f"169.254.{octet}.2/30", "dev", "uplink", ns=n.node)
        sh("ip", "addr", "add", f"{n.node_ip}/24", "dev", "uplink", ns=n.node)
        sh("ip", "link", "set", "uplink", "up", ns=n.node)
        sh("ip", "route", "add", "default", "via", n.host_ip, ns=n.node)
        yield n
    finally:
        for p in n.procs:
            p.kill()
            p.wait()
        for i in range(len(n.pods)):
            sh("ip", "netns", "del", f"kpp{tag}{i}", check=False)
        sh("ip", "link", "del", host_veth, check=False)
        sh("ip", "netns", "del", n.node, check=False)


def start_cluster(apiserver_factory: ApiServerFactory, tmp_path: Path, net: Netns,
                  mode: str) -> tuple[ApiServerProcess, list[Process]]:
    server = apiserver_factory("sqlite", ["--service-cluster-ip-range", "10.96.0.0/16",
                                          "--bind-address", "0.0.0.0",
                                          "--allow-unauthenticated-bind"])
    port = server.url.rsplit(":", 1)[1]
    controller = Process(["-m", "controllers.endpoints", "--kubeconfig", str(server.kubeconfig)],
                         tmp_path / "endpoints.log").start()
    proxy = Process(["-m", "controllers.proxy", "--proxy-mode", mode, "--master",
                     f"http://{net.host_ip}:{port}", "--hostname-override", "node-a",
                     "--cluster-cidr", "10.244.0.0/16", "--min-sync-period", "0",
                     "--healthz-bind-address", "", "--metrics-bind-address", ""],
                    tmp_path / "proxy.log", prefix=["ip", "netns", "exec", net.node]).start()
    return server, [controller, proxy]


def test_iptables_cluster_ip_node_port_affinity_and_removal(
    netns: Netns, apiserver_factory: ApiServerFactory, tmp_path: Path
) -> None:
    server, procs = start_cluster(apiserver_factory, tmp_path, netns, "iptables")
    try:
        api = Api(server, unique("ipt"))
        for i in range(3):
            ip = netns.add_pod(f"web-{i}", i, 8080)
            api.pod(f"web-{i}", ip, {"app": "web"}, 8080)
        svc = api.service("web", {"app": "web"}, [{"name": "http", "port": 80,
                                                   "targetPort": 8080}], type="NodePort")
        cip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
        chain = "KUBE-SVC-" + port_proto_hash(f"{api.ns}/web:http", "TCP")
        eventually(lambda: netns.nat().count(f"-A {chain} ") >= 4, timeout=15,
                   what=f"{chain} programmed\n{procs[1].logs()[-3000:]}")
        nat = netns.nat()
        # iptables-save prints the probabilities with 11 decimals.
        assert "--probability 0.33333333349" in nat and "--probability 0.50000000000" in nat

        counts = collections.Counter(netns.ask(cip, 80, 90))
        assert set(counts) == {"web-0", "web-1", "web-2"}, counts
        counts = collections.Counter(netns.ask(netns.node_ip, node_port, 30))
        assert set(counts) <= {"web-0", "web-1", "web-2"} and len(counts) >= 2, counts

        # ClientIP affinity: every connection of this client lands on one pod.
        sticky = api.service("sticky", {"app": "web"}, [{"port": 81, "targetPort": 8080}],
                             sessionAffinity="ClientIP")
        eventually(lambda: "--rcheck --seconds 10800 --reap" in netns.nat(), timeout=15,
                   what="affinity rules")
        answers = set(netns.ask(sticky["spec"]["clusterIP"], 81, 20))
        assert len(answers) == 1 and answers <= {"web-0", "web-1", "web-2"}, answers

        # Deleting the Service removes its rules.
        api.delete("services", "web")
        eventually(lambda: chain not in netns.nat(), timeout=15, what="rules removed")
        assert f"KUBE-EXT-{chain[9:]}" not in netns.nat()
    finally:
        for p in procs:
            p.stop()
