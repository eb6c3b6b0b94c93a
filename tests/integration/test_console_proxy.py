"""The console's connection counts from a real userspace kube-proxy.

The apiserver, endpoints controller and kube-proxy of
:mod:`tests.integration.test_proxy_userspace` (its ``cluster`` fixture) with real
backends; the console reads the proxy's ``/metrics`` and its snapshot (what the page
renders) carries, per endpoint, the connections the proxy relayed: round-robin spreads the
totals, open connections are active until the client closes them.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import httpx

from tests.integration import test_proxy_userspace as userspace
from tests.integration.test_console import console_url
from tests.integration.test_proxy_userspace import Cluster
from tests.support.process import Process
from tests.support.proxy import eventually

cluster = userspace.cluster


def endpoints(url: str, ns: str, service: str) -> dict[str, dict[str, Any]]:
    """``address -> endpoint`` of ``service`` in the console's snapshot."""
    snapshot = httpx.get(url + "api/snapshot", timeout=5).json()
    for namespace in snapshot.get("namespaces", []):
        for svc in namespace["services"] if namespace["name"] == ns else []:
            if svc["name"] == service:
                return {e["address"]: e for e in svc["endpoints"]}
    return {}


def counts(url: str, ns: str, service: str) -> dict[str, tuple[int, int]]:
    """``IP:PORT -> (active, total)`` of ``service``'s endpoints in the snapshot."""
    return {key: (c["active"], c["total"])
            for e in endpoints(url, ns, service).values()
            for key, c in e["connections"].items()}


def open_connection(ip: str, port: int) -> socket.socket:
    """A connection through the proxy, once the backend answered on it."""
    sock = socket.create_connection((ip, port), timeout=3)
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(100)
        assert chunk, "closed before the backend answered"
        data += chunk
    return sock


def test_console_shows_the_proxy_connection_counts(
    cluster: Cluster, procs: Callable[..., Process]
) -> None:
    c = cluster
    pods = {}
    for i in range(3):
        ip = f"{c.prefix}.{len(c.backends._closers) + 10}"
        c.backends.tcp(f"hold-{i}", ip, 8090, hold=True)
        c.api.pod(f"hold-{i}", ip, {"app": "hold"}, 8090)
        pods[f"{ip}:8090"] = f"hold-{i}"
    svc = c.api.service("hold", {"app": "hold"}, [{"name": "web", "port": 8090,
                                                   "targetPort": 8090}])
    cluster_ip = svc["spec"]["clusterIP"]
    metrics = f"http://{c.node_ip}:{c.healthz}/metrics"
    url = console_url(procs(c.server, "controllers.console", "--port", "0",
                            "--proxy-metrics-url", metrics,
                            "--metrics-poll-interval", "200ms"))
    # the proxy exports a series per endpoint once it balances over all three
    eventually(lambda: set(counts(url, c.api.ns, "hold")) == set(pods), timeout=20,
               what=f"a count per endpoint\n{c.logs()}")
    before = counts(url, c.api.ns, "hold")
    assert all(active == 0 for active, _ in before.values()), before

    held = [open_connection(cluster_ip, 8090) for _ in range(6)]
    try:
        # round-robin: six connections, two to each endpoint, all still open
        eventually(lambda: {k: (a, t - before[k][1])
                            for k, (a, t) in counts(url, c.api.ns, "hold").items()}
                   == {k: (2, 2) for k in pods}, timeout=10, what="6 open connections")
        snapshot = endpoints(url, c.api.ns, "hold")
        assert {f"{a}:8090": e["pod"] for a, e in snapshot.items()} == pods
    finally:
        for sock in held:
            sock.close()
    eventually(lambda: {k: a for k, (a, _) in counts(url, c.api.ns, "hold").items()}
               == dict.fromkeys(pods, 0), timeout=10, what="connections closed")
