"""Two endpoints-controller replicas against one apiserver: one leads, one waits.

Both replicas are real ``python -m controllers.endpoints`` processes with
``--leader-elect`` (short durations). Who leads is read from the Lease's
``holderIdentity`` (each replica logs its identity) and from each replica's
``/metrics`` (``leader_election_master_status`` and ``controller_writes_total``):
the standby must not have written anything.
"""

from __future__ import annotations

import re
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.test_endpoints_controller import PORTS, Api, Controller, ips, unique
from tests.support.apiserver import ApiServerProcess
from tests.support.process import controller_argv

LEASE_DURATION = 2.0
RENEW_DEADLINE = 1.5
RETRY_PERIOD = 0.5
MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Replica(Controller):
    """A controller replica with leader election and a /metrics port."""

    def __init__(self, server: ApiServerProcess, log_path: Path, lease: str) -> None:
        self.port = free_port()
        super().__init__(controller_argv(
            "controllers.endpoints", server,
            "--leader-elect", "--leader-elect-resource-name", lease,
            "--leader-elect-lease-duration", f"{LEASE_DURATION}s",
            "--leader-elect-renew-deadline", f"{RENEW_DEADLINE}s",
            "--leader-elect-retry-period", f"{RETRY_PERIOD}s",
            "--port", str(self.port),
        ), log_path)

    def identity(self) -> str | None:
        m = re.search(r"leader election identity (\S+), lease", self.logs())
        return m.group(1) if m else None

    def metrics(self) -> dict[str, float]:
        """Samples of the /metrics page, keyed ``name{labels}``."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return {}
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                out[key] = float(value)
        return out

    def leading(self) -> bool:
        return any(k.startswith("leader_election_master_status") and v == 1
                   for k, v in self.metrics().items())

    def writes(self) -> float:
        return sum(v for k, v in self.metrics().items()
                   if k.startswith("controller_writes_total"))


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Callable[[ApiServerProcess, str], Replica]]:
    started: list[Replica] = []

    def start(server: ApiServerProcess, lease: str) -> Replica:
        r = Replica(server, tmp_path / f"replica-{len(started)}.log", lease)
        r.start()
        started.append(r)
        return r

    try:
        yield start
    finally:
        for r in started:
            r.stop()


def eventually(check: Callable[[], object], timeout: float = 10.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: last={last!r}")


def test_one_leader_writes_and_the_standby_takes_over_after_kill(
    fresh_apiserver: ApiServerProcess,
    replicas: Callable[[ApiServerProcess, str], Replica],
) -> None:
    server = fresh_apiserver
    api = Api(server, unique("le"))
    lease_name = unique("kcm")
    lease_path = f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{lease_name}"
    api.service("web", {"app": "web"}, PORTS)
    for i in range(3):
        api.pod(f"p{i}", f"10.20.0.{i + 1}", {"app": "web"})

    a = replicas(server, lease_name)
    b = replicas(server, lease_name)
    eventually(lambda: a.identity() and b.identity(), what="identities logged")
    assert a.identity() != b.identity()
    lease = eventually(lambda: (r := api.http.get(lease_path)).status_code == 200
                       and r.json()["spec"].get("holderIdentity") and r.json(), what="lease")
    assert isinstance(lease, dict)
    holder = lease["spec"]["holderIdentity"]
    leader, standby = (a, b) if holder == a.identity() else (b, a)
    assert holder == leader.identity()
    assert re.match(r"^.+_[0-9a-f-]{36}$", holder), holder  # <hostname>_<uuid>
    spec = lease["spec"]
    assert spec["leaseDurationSeconds"] == 2
    assert MICRO.match(spec["acquireTime"]) and MICRO.match(spec["renewTime"])
    assert spec["leaseTransitions"] == 0

    # The leader maintains Endpoints; readiness churn follows.
    eventually(lambda: ips(api.endpoints("web")) == (["10.20.0.1", "10.20.0.2", "10.20.0.3"],
                                                     []), what="endpoints")
    api.set_ready("p0", False)
    api.set_ready("p1", False)
    eventually(lambda: ips(api.endpoints("web")) == (["10.20.0.3"], ["10.20.0.1", "10.20.0.2"]),
               what="readiness churn")
    eventually(lambda: leader.leading() and leader.writes() >= 2, what="leader metrics")
    # The standby is synced and ready, but neither leads nor writes.
    assert httpx.get(f"http://127.0.0.1:{standby.port}/readyz").status_code == 200
    assert not standby.leading()
    assert standby.writes() == 0, standby.metrics()
    renewed = eventually(lambda: (s := api.http.get(lease_path).json()["spec"])["renewTime"]
                         > spec["renewTime"] and s, timeout=3, what="the leader renews")
    assert isinstance(renewed, dict)
    assert renewed["holderIdentity"] == holder
    assert renewed["acquireTime"] == spec["acquireTime"]
    assert standby.writes() == 0

    # kill -9 the leader, change things, and the standby takes over and converges.
    leader.kill()
    killed = time.monotonic()
    api.set_ready("p0", True)
    api.pod("p3", "10.20.0.4", {"app": "web"})
    api.delete("pods", "p2")
    eventually(lambda: api.http.get(lease_path).json()["spec"]["holderIdentity"]
               == standby.identity(), timeout=LEASE_DURATION + 3 * RETRY_PERIOD + 5,
               what="takeover")
    took = time.monotonic() - killed
    # Within the lease duration plus one (jittered) retry period, plus slack.
    assert took < LEASE_DURATION + 2.2 * RETRY_PERIOD + 1.0, took
    eventually(lambda: ips(api.endpoints("web")) == (["10.20.0.1", "10.20.0.4"],
                                                     ["10.20.0.2"]), what="convergence")
    after = api.http.get(lease_path).json()["spec"]
    assert after["leaseTransitions"] == 1
    assert after["acquireTime"] != spec["acquireTime"]
    assert standby.leading() and standby.writes() > 0
    assert "successfully acquired lease" in standby.logs()

    # A graceful stop releases the Lease at once.
    standby.stop()
    released = api.http.get(lease_path).json()["spec"]
    assert released["holderIdentity"] == ""
    assert released["leaseTransitions"] == 1


def test_leader_that_loses_its_lease_stops_and_exits(
    fresh_apiserver: ApiServerProcess,
    replicas: Callable[[ApiServerProcess, str], Replica],
) -> None:
    server = fresh_apiserver
    api = Api(server, unique("lost"))
    lease_name = unique("kcm")
    lease_path = f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{lease_name}"
    api.service("web", {"app": "web"}, PORTS)
    api.pod("p0", "10.21.0.1", {"app": "web"})
    leader = replicas(server, lease_name)
    eventually(lambda: ips(api.endpoints("web")) == (["10.21.0.1"], []), what="endpoints")
    eventually(leader.leading, what="leading")

    # Freeze the leader past its renew deadline and let someone else take the Lease.
    leader.signal(signal.SIGSTOP)
    try:
        time.sleep(LEASE_DURATION + 0.2)
        lease = api.http.get(lease_path).json()
        lease["spec"]["holderIdentity"] = "usurper"
        lease["spec"]["leaseDurationSeconds"] = 60
        lease["spec"]["renewTime"] = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        assert api.http.put(lease_path, json=lease).status_code == 200
        api.set_ready("p0", False)  # a change the old leader must no longer write
    finally:
        leader.signal(signal.SIGCONT)
    assert leader.process is not None
    code = leader.process.wait(timeout=RENEW_DEADLINE + 2 * RETRY_PERIOD + 5)
    assert code == 1
    assert "leaderelection lost" in leader.logs()
    time.sleep(0.3)
    assert ips(api.endpoints("web")) == (["10.21.0.1"], []), "the deposed leader wrote"
