"""Helpers for the kube-proxy tests: processes, API writes and real backend servers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx

from controllers.proxy.types import Endpoint, ServicePort, ServicePortName
from kubemu.addresses import Addresses
from tests.support.apiserver import ApiServerProcess
from tests.support.process import Process


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "",
               interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, AssertionError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or check}: last={last!r}")


class Api:
    """Small httpx helpers for one namespace."""

    def __init__(self, server: ApiServerProcess, ns: str) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=10)
        self.ns = ns
        r = self.http.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
        assert r.status_code == 201, r.text

    def core(self, plural: str, name: str = "") -> str:
        return f"/api/v1/namespaces/{self.ns}/{plural}" + (f"/{name}" if name else "")

    def service(self, name: str, selector: dict[str, str] | None,
                ports: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"metadata": {"name": name}, "spec": {"ports": ports, **spec}}
        if selector is not None:
            body["spec"]["selector"] = selector
        r = self.http.post(self.core("services"), json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def pod(self, name: str, ip: str, labels: dict[str, str], port: int,
            ready: bool = True, node: str | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {"containers": [{"name": "c", "image": "img", "ports": [
            {"name": "app", "containerPort": port}]}]}
        if node:
            spec["nodeName"] = node
        r = self.http.post(self.core("pods"), json={
            "metadata": {"name": name, "labels": labels}, "spec": spec})
        assert r.status_code == 201, r.text
        return self.set_ready(name, ready, ip)

    def set_ready(self, name: str, ready: bool, ip: str | None = None) -> dict[str, Any]:
        current = self.http.get(self.core("pods", name)).json()
        ip = ip or current["status"].get("podIP")
        current["status"] = {
            "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                            "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                time.gmtime())}],
        }
        r = self.http.put(self.core("pods", name) + "/status", json=current)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def delete(self, plural: str, name: str) -> None:
        r = self.http.request("DELETE", self.core(plural, name),
                              json={"gracePeriodSeconds": 0})
        assert r.status_code in (200, 202), r.text

    def ready_ips(self, service: str) -> list[str]:
        r = self.http.get(f"/apis/discovery.k8s.io/v1/namespaces/{self.ns}/endpointslices",
                          params={"labelSelector": f"kubernetes.io/service-name={service}"})
        assert r.status_code == 200, r.text
        return sorted(a for s in r.json()["items"] for e in s.get("endpoints") or []
                      if (e.get("conditions") or {}).get("ready") is not False
                      for a in e["addresses"])


def random_pod_prefix(addresses: Addresses) -> str:
    """A ``127.B.N`` prefix (a random /24 of the block's cluster CIDR) for this test's
    pod IPs (loopback: always local)."""
    return addresses.pod_cidr(random.randint(1, addresses.max_nodes)).rsplit(".", 1)[0]


class Backends:
    """Real asyncio TCP/UDP servers answering their name, on a private event loop thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._closers: list[Callable[[], None]] = []

    def _run(self, coro: Any) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(10)

    def tcp(self, name: str, ip: str, port: int, hold: bool = False) -> None:
        """Accept connections on ip:port and answer ``name\\n``, then close (with
        ``hold``: once the client closed its side)."""

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(f"{name}\n".encode())
            await writer.drain()
            if hold:
                await reader.read()
            writer.close()

        async def start() -> asyncio.Server:
            return await asyncio.start_server(handle, ip, port, reuse_address=True)

        server: asyncio.Server = self._run(start())
        self._closers.append(server.close)

    def udp(self, name: str, ip: str, port: int) -> None:
        """Answer every datagram with ``name:<datagram>``."""

        class Echo(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = cast(asyncio.DatagramTransport, transport)

            def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
                self.transport.sendto(f"{name}:".encode() + data, addr)

        async def start() -> asyncio.DatagramTransport:
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                Echo, local_addr=(ip, port))
            return transport

        transport: asyncio.DatagramTransport = self._run(start())
        self._closers.append(transport.close)

    def close(self) -> None:
        for close in self._closers:
            self.loop.call_soon_threadsafe(close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def ask(ip: str, port: int, timeout: float = 3.0, source: str | None = None) -> str:
    """Connect, read until EOF; the answer (``""`` when reset/refused/closed empty)."""
    with socket.create_connection((ip, port), timeout=timeout,
                                  source_address=(source, 0) if source else None) as s:
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return data.decode().strip()


def ask_udp(ip: str, port: int, payload: bytes = b"ping", timeout: float = 2.0) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, (ip, port))
        data, _ = s.recvfrom(4096)
    return data.decode()


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


# -- network namespaces (iptables / nftables tests, as root) ----------------------------------
#
# Topology: a "node" namespace (a veth "uplink" to the host carrying the node
# address 192.168.77.1 and a default route, so service IPs are routable and the
# proxy reaches the apiserver) and one namespace per pod joined to the node by a
# veth pair with a /32 route per pod. Backends in the pod namespaces answer with
# their pod name; clients connect from the node namespace.


def require_root_and_tools(tools: Sequence[str]) -> None:
    """Skip when not root (or a tool is missing) and ``CI`` is unset; fail under CI."""
    import pytest

    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if os.geteuid() != 0:
        if ci:
            pytest.fail("network-namespace proxy tests need root under CI")
        pytest.skip("needs root (network namespaces, packet filters)")
    missing = [t for t in tools if shutil.which(t) is None]
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


NETNS_SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2]))); s.listen(128)
while True:
    c, _ = s.accept()
    c.sendall(sys.argv[1].encode() + b"\\n"); c.close()
"""

NETNS_CLIENT = """
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
    pod_ns: dict[str, str] = field(default_factory=dict)  # pod name -> its namespace
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
            ["ip", "netns", "exec", ns, sys.executable, "-c", NETNS_SERVER, name, str(port)]))
        self.pods[name] = ip
        self.pod_ns[name] = ns
        return ip

    def ask(self, ip: str, port: int, n: int = 1, pod: str = "") -> list[str]:
        """``n`` connections to ``ip:port`` from the node namespace (or from ``pod``'s)."""
        ns = self.pod_ns[pod] if pod else self.node
        out = sh(sys.executable, "-c", NETNS_CLIENT, ip, str(port), str(n), ns=ns)
        return out.split("\n")[:-1]

    def nat(self) -> str:
        return sh("iptables-save", "-t", "nat", ns=self.node)

    def nft(self) -> str:
        """``nft list table ip kube-proxy`` in the node namespace ("" when absent)."""
        return sh("nft", "list", "table", "ip", "kube-proxy", ns=self.node, check=False)


def _unused_link_local_octet() -> int:
    """X such that no host interface has an address in 169.254.X.0/24: the uplink /30 of a
    node namespace made while another test (another xdist worker, another checkout) has
    its own up does not shadow that one's route."""
    used = set(re.findall(r"inet 169\.254\.(\d+)\.", sh("ip", "-o", "-4", "addr", "show")))
    free = [octet for octet in range(1, 251) if str(octet) not in used]
    return random.choice(free)


@contextlib.contextmanager
def make_netns() -> Iterator[Netns]:
    """A node namespace with its uplink; removes it and every pod namespace afterwards."""
    tag = uuid.uuid4().hex[:4]
    octet = _unused_link_local_octet()
    n = Netns(tag, f"kpn{tag}", f"169.254.{octet}.1")
    host_veth = f"kph{tag}"
    try:
        sh("ip", "netns", "add", n.node)
        sh("ip", "link", "set", "lo", "up", ns=n.node)
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=n.node)  # pod to pod through the node
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


def start_netns_cluster(apiserver_factory: Callable[..., ApiServerProcess], tmp_path: Path,
                        net: Netns, mode: str) -> tuple[ApiServerProcess, list[Process]]:
    """An apiserver and endpoints controller on the host, the proxy in the node namespace."""
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


NETNS_HTTP = """
import json, sys, urllib.error, urllib.request
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=2)
    code, headers, body = r.status, dict(r.headers), r.read().decode()
except urllib.error.HTTPError as e:
    code, headers, body = e.code, dict(e.headers), e.read().decode()
except OSError as e:
    code, headers, body = 0, {}, type(e).__name__
print(json.dumps({"code": code, "headers": headers, "body": body}))
"""


def netns_http(net: Netns, url: str) -> dict[str, Any]:
    """GET ``url`` from the node namespace: ``{"code", "headers", "body"}`` (code 0 when
    the connection failed)."""
    import json

    out = sh(sys.executable, "-c", NETNS_HTTP, url, ns=net.node)
    return cast(dict[str, Any], json.loads(out))


@contextlib.contextmanager
def netns_cluster(apiserver_factory: Callable[..., ApiServerProcess], tmp_path: Path,
                  net: Netns, mode: str) -> Iterator[tuple[Api, Process]]:
    """:func:`start_netns_cluster` with a fresh namespace's :class:`Api` and the proxy
    process; every process stopped afterwards."""
    server, procs = start_netns_cluster(apiserver_factory, tmp_path, net, mode)
    try:
        yield Api(server, unique(mode)), procs[1]
    finally:
        for p in procs:
            p.stop()


def check_health_check_node_port_and_external_ips(
    net: Netns, api: Api, rules: Callable[[], str], logs: Callable[[], str]
) -> None:
    """An ``externalTrafficPolicy: Local`` LoadBalancer in a rule mode: its health-check
    node port answers as upstream's (503 and 0 local endpoints, then 200 with the two on
    this node), the node's own address as an external IP is programmed, and an address
    that is not the node's is not (a ``KubeProxyNonLocalIP`` Event instead)."""
    foreign = "203.0.113.7"
    svc = api.service("hc", {"app": "hc"}, [{"port": 80, "targetPort": 8080}],
                      type="LoadBalancer", externalTrafficPolicy="Local",
                      externalIPs=[net.node_ip, foreign])
    url = f"http://{net.node_ip}:{svc['spec']['healthCheckNodePort']}/"
    first = eventually(lambda: (a := netns_http(net, url))["code"] == 503 and a, timeout=15,
                       what=f"503 from the health check port\n{logs()[-3000:]}")
    assert first["headers"]["Content-Type"] == "application/json"
    assert first["headers"]["X-Content-Type-Options"] == "nosniff"
    assert first["headers"]["X-Load-Balancing-Endpoint-Weight"] == "0"
    assert '"localEndpoints": 0' in first["body"]
    for i, node in enumerate(("node-a", "node-a", "node-b")):
        ip = net.add_pod(f"hc-{i}", len(net.pods), 8080)
        api.pod(f"hc-{i}", ip, {"app": "hc"}, 8080, node=node)
    ok = eventually(lambda: (a := netns_http(net, url))["code"] == 200 and a, timeout=15,
                    what=f"200 from the health check port\n{logs()[-3000:]}")
    import json

    assert json.loads(ok["body"]) == {"service": {"namespace": api.ns, "name": "hc"},
                                      "localEndpoints": 2, "serviceProxyHealthy": True}
    assert ok["headers"]["X-Load-Balancing-Endpoint-Weight"] == "2"
    eventually(lambda: net.node_ip in rules(), what="the node's external IP programmed")
    assert foreign not in rules()

    def skipped() -> list[str]:
        items = api.http.get(api.core("events"), params={
            "fieldSelector": "involvedObject.name=hc,reason=KubeProxyNonLocalIP"}).json()
        return [e["message"] for e in items["items"]]

    messages = eventually(skipped, what="KubeProxyNonLocalIP event")
    assert messages == [f"{foreign} in spec.externalIPs is not an address of this node "
                        "(neither loopback nor inside --nodeport-addresses): not proxied"]


def check_hairpin(net: Netns, api: Api, logs: Callable[[], str]) -> None:
    """A pod reaching a Service whose only endpoint is itself (a hairpin connection),
    with and without ClientIP affinity, is answered: the proxy masquerades the
    connection, so the pod's answer goes back through the node to be un-NATed
    (unmasqueraded, the pod would see a packet from its own address and answer itself)."""
    ip = net.add_pod("loop", len(net.pods), 8080)
    api.pod("loop", ip, {"app": "loop"}, 8080)
    plain = api.service("loop", {"app": "loop"}, [{"port": 83, "targetPort": 8080}])
    sticky = api.service("loop-sticky", {"app": "loop"}, [{"port": 84, "targetPort": 8080}],
                         sessionAffinity="ClientIP")
    for svc, port in ((plain, 83), (sticky, 84)):
        cip = svc["spec"]["clusterIP"]
        eventually(lambda c=cip, p=port: net.ask(c, p) == ["loop"], timeout=15,
                   what=f"{svc['metadata']['name']} programmed\n{logs()[-3000:]}")
        assert net.ask(cip, port, 5, pod="loop") == ["loop"] * 5


def partial_sync_port(name: str) -> ServicePortName:
    """Port ``http`` of Service ``ns/NAME`` (the partial-sync tests' service ports)."""
    return ServicePortName("ns", name, "http", "TCP")


def partial_sync_maps() -> tuple[dict[ServicePortName, ServicePort],
                                 dict[ServicePortName, tuple[Endpoint, ...]]]:
    """Six ClusterIP service ports ``s0``…``s5`` (``s2`` with ClientIP affinity) with three
    endpoints each: the starting point of the partial-sync convergence tests."""
    ports: dict[ServicePortName, ServicePort] = {}
    eps: dict[ServicePortName, tuple[Endpoint, ...]] = {}
    for i in range(6):
        p = partial_sync_port(f"s{i}")
        ports[p] = ServicePort(p, f"10.96.0.{i + 1}", 80,
                               affinity_seconds=60 if i == 2 else None)
        eps[p] = tuple(Endpoint(f"10.244.{i}.{j}", 8080) for j in range(1, 4))
    return ports, eps


@contextlib.contextmanager
def scratch_namespaces(*prefixes: str) -> Iterator[tuple[str, ...]]:
    """Empty network namespaces named PREFIX + 6 random hex digits, deleted on exit."""
    names = tuple(f"{p}{uuid.uuid4().hex[:6]}" for p in prefixes)
    created: list[str] = []
    try:
        for ns in names:
            sh("ip", "netns", "add", ns)
            created.append(ns)
        yield names
    finally:
        for ns in created:
            sh("ip", "netns", "del", ns, check=False)
