"""The HA topology: ``kubemu up --storage etcd --etcd-members 3 --apiservers 3``.

Three etcd members, three apiservers and haproxy in front, all on the cluster's own
block of loopback addresses. Under 8 writers through the balancer, ``kill -9`` of the
etcd leader and then of one apiserver loses no acknowledged write; three watchers through
the balancer (each watch closed after 100 events, so they move between replicas)
resume (or relist on 410) and end up having seen every acknowledged
create exactly once; consistent lists on each replica never go back in time nor miss
a write acknowledged before they started; the killed member and apiserver are
restarted by ``kubemu up`` and rejoin (member list healthy, endpoint back in
``default/kubernetes``). With every etcd member stopped, ``/readyz`` fails on its etcd
check.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kubemu.components import component_names
from kubemu.etcd import find_etcd
from kubemu.haproxy import find_haproxy
from tests.support.deps import missing_dependency
from tests.support.etcd import MISSING_MESSAGE
from tests.support.ha import Acknowledged, Reader, Watcher, Writer, start_all, until
from tests.support.kubemu_up import Kubemu, start_kubemu, stop_kubemu, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

#: Only the control plane: the controllers would only load the machine.
CONTROL_PLANE_ONLY = [arg for name in component_names() if name not in ("apiserver", "etcd")
                      for arg in ("--disable", name)]
#: Acknowledged creates between one event and the next.
WRITES_PER_PHASE = 300


def _pid(k: Kubemu, component: str) -> int:
    """The pid of the newest ``component`` process kubemu up started."""
    found = re.findall(rf"started {re.escape(component)} \(pid (\d+)\)", k.log.read_text())
    assert found, f"{component} was never started"
    return int(found[-1])


def _replicas(k: Kubemu) -> list[str]:
    scheme = k.url.split("://")[0]
    port = k.url.rsplit(":", 1)[1]
    return [f"{scheme}://{k.addresses.apiserver_ip(i)}:{port}" for i in (1, 2, 3)]


def _members(k: Kubemu) -> list[str]:
    return [k.addresses.etcd_member_client_url(i) for i in (1, 2, 3)]


def _etcd_leader(k: Kubemu) -> int:
    """The index (1-3) of the etcd member that is the leader."""
    for index, url in enumerate(_members(k), 1):
        status = httpx.post(f"{url}/v3/maintenance/status", json={}, timeout=5).json()
        if status["leader"] == status["header"]["member_id"]:
            return index
    raise AssertionError("no etcd leader")


def _etcd_healthy(k: Kubemu) -> bool:
    members = httpx.post(f"{_members(k)[0]}/v3/cluster/member/list", json={},
                         timeout=5).json()["members"]
    healthy = all(httpx.get(f"{url}/health", timeout=5).json()["health"] == "true"
                  for url in _members(k))
    return len(members) == 3 and healthy


def _kubernetes_endpoints(k: Kubemu) -> list[str]:
    doc = k.get("/api/v1/namespaces/default/endpoints/kubernetes")
    return [a["ip"] for s in doc.get("subsets") or [] for a in s.get("addresses") or []]


def _kubernetes_slice(k: Kubemu) -> list[str]:
    doc = k.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes")
    return [a for e in doc.get("endpoints") or [] for a in e["addresses"]]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Kubemu]:
    if find_etcd() is None:
        missing_dependency(MISSING_MESSAGE)
    if find_haproxy() is None:
        missing_dependency("haproxy not found (apt-get install haproxy)")
    k = start_kubemu(tmp_path / "data", 0, "--storage", "etcd", "--etcd-members", "3",
                     "--apiservers", "3", "--ready-timeout", "120", *CONTROL_PLANE_ONLY)
    try:
        yield k
    finally:
        stop_kubemu(k)


def test_three_by_three_survives_losing_an_etcd_member_and_an_apiserver(
        cluster: Kubemu) -> None:
    k = cluster
    replicas = _replicas(k)
    ips = [k.addresses.apiserver_ip(i) for i in (1, 2, 3)]
    assert k.url.split("://")[1].startswith(k.addresses.apiserver_balancer_ip + ":")
    assert "(haproxy in front of 3 apiservers)" in k.log.read_text()
    # The topology: a healthy 3-member etcd, every replica ready with its etcd check,
    # and all three in the kubernetes Service's endpoints.
    assert wait_for("a healthy etcd", lambda: _etcd_healthy(k))
    for base in replicas:
        readyz = httpx.get(f"{base}/readyz", params={"verbose": ""}, verify=k.verify,
                           timeout=5)
        assert readyz.status_code == 200 and "[+]etcd ok\n" in readyz.text, readyz.text
        assert "[+]shutdown ok\n" in readyz.text and readyz.text.endswith(
            "readyz check passed\n")
    assert wait_for("three endpoints", lambda: _kubernetes_endpoints(k) == ips, 60)
    assert wait_for("three slice endpoints", lambda: _kubernetes_slice(k) == ips, 60)
    identities = k.get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
                       "?labelSelector=apiserver.kubernetes.io/identity%3Dkube-apiserver")
    assert len({lease["metadata"]["name"] for lease in identities["items"]}) == 3
    created = httpx.post(f"{k.url}/api/v1/namespaces", json={"metadata": {"name": "ha"}},
                         verify=k.verify, timeout=10)
    assert created.status_code == 201, created.text

    stop, stop_writes = threading.Event(), threading.Event()
    acked = Acknowledged()
    writers = [Writer(f"w{i}", stop_writes, k.url, k.verify, acked) for i in range(8)]
    watchers = [Watcher(f"watch{i}", stop, k.url, k.verify) for i in range(3)]
    reader = Reader("reader", stop, replicas, k.verify, acked)
    workers = [*watchers, reader, *writers]
    start_all(workers)
    try:
        until("writes before the etcd kill", lambda: acked.count() >= WRITES_PER_PHASE,
              workers, 120)
        leader = _etcd_leader(k)
        os.kill(_pid(k, f"etcd-{leader}"), signal.SIGKILL)
        mark = acked.count()
        until("writes after the etcd kill",
              lambda: acked.count() >= mark + WRITES_PER_PHASE, workers, 180)
        # kubemu up restarts the member; it rejoins the cluster.
        assert wait_for("the etcd member back", lambda: _etcd_healthy(k), 120)

        os.kill(_pid(k, "apiserver-2"), signal.SIGKILL)
        mark = acked.count()
        until("writes after the apiserver kill",
              lambda: acked.count() >= mark + WRITES_PER_PHASE, workers, 180)
        assert wait_for("apiserver-2 ready again", lambda: httpx.get(
            f"{replicas[1]}/readyz", verify=k.verify, timeout=5).status_code == 200, 120)
        until("writes with apiserver-2 back",
              lambda: acked.count() >= mark + 2 * WRITES_PER_PHASE, workers, 180)
    finally:
        stop_writes.set()
    try:
        _check(k, writers, watchers, reader, acked)
    finally:
        stop.set()
    # The restarted apiserver is back in the kubernetes endpoints.
    assert wait_for("three endpoints again", lambda: _kubernetes_endpoints(k) == ips, 60)
    assert wait_for("etcd still healthy", lambda: _etcd_healthy(k))
    # With no etcd member answering, every replica's /readyz says so (and recovers).
    members = [_pid(k, f"etcd-{i}") for i in (1, 2, 3)]
    for pid in members:
        os.kill(pid, signal.SIGSTOP)
    try:
        readyz = httpx.get(f"{replicas[0]}/readyz", verify=k.verify, timeout=30)
    finally:
        for pid in members:
            os.kill(pid, signal.SIGCONT)
    assert readyz.status_code == 500
    assert "[-]etcd failed: reason withheld\n" in readyz.text
    assert readyz.text.endswith("readyz check failed\n")
    assert wait_for("ready again", lambda: httpx.get(
        f"{replicas[0]}/readyz", verify=k.verify, timeout=5).status_code == 200, 60)


def _check(k: Kubemu, writers: list[Writer], watchers: list[Watcher], reader: Reader,
           acked: Acknowledged) -> None:
    for writer in writers:
        writer.join(60)
        assert not writer.is_alive() and writer.failure is None, writer.failure
    names, _ = acked.snapshot()

    # No acknowledged write is lost.
    listed = k.get("/api/v1/namespaces/ha/configmaps")
    assert {item["metadata"]["name"] for item in listed["items"]} == names
    # Every watcher saw every acknowledged create once, and nothing else.
    for watcher in watchers:
        until(f"{watcher.name} to catch up", lambda w=watcher: names <= w.seen(), [watcher], 120)
        assert watcher.seen() == names
        assert watcher.duplicates == [] and watcher.backwards == [], watcher.name
        assert watcher.failure is None and watcher.resumes > 0
    # Consistent reads on any replica: never older than an acknowledged write before
    # them, never older than the previous read.
    assert reader.reads > 0 and reader.failure is None
    assert reader.stale == [] and reader.backwards == []
    print(f"acknowledged {len(names)} creates; writer retries "
          f"{sum(w.errors for w in writers)}; watcher resumes "
          f"{[w.resumes for w in watchers]}, broken {[w.broken for w in watchers]}, relists "
          f"{[w.relists for w in watchers]}; "
          f"consistent reads {reader.reads}")
