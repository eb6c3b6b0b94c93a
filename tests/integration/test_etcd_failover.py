"""An apiserver on a three-member etcd cluster survives losing the member it talks to.

The cluster is local to this module (three ``/usr/bin/etcd`` processes on loopback,
:func:`tests.support.etcd.start_etcd_cluster`); the apiserver gets every member in
``--etcd-servers`` and talks to the first. That member is killed with SIGKILL while
a watch is open: writes go on through the other members, the watch cache's feed
resumes from its last revision (the open watch sees every event once, in order),
and no request is answered with a 500, not even once every member is gone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import ApiServerFactory
from tests.support.apiserver import ApiServerProcess
from tests.support.deps import missing_dependency
from tests.support.etcd import (
    MISSING_MESSAGE,
    EtcdProcess,
    find_etcd,
    start_etcd_cluster,
    unique_prefix,
)

pytestmark = pytest.mark.slow

NAMESPACE = "etcd-members"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[EtcdProcess]]:
    binary = find_etcd()
    if binary is None:
        missing_dependency(MISSING_MESSAGE)
    members = start_etcd_cluster(binary, tmp_path / "etcd", 3)
    try:
        yield members
    finally:
        for member in members:
            member.stop()


class Watch:
    """A configmap watch from ``rv`` read in a thread until ``want`` events arrived."""

    def __init__(self, server: ApiServerProcess, rv: int, want: int) -> None:
        self.url = (f"{server.url}/api/v1/namespaces/{NAMESPACE}/configmaps"
                    f"?watch=1&resourceVersion={rv}&timeoutSeconds=60")
        self.want = want
        self.events: list[tuple[str, str, int]] = []
        self.status = 0
        self.done = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            with httpx.stream("GET", self.url, timeout=httpx.Timeout(10, read=70)) as resp:
                self.status = resp.status_code
                for line in resp.iter_lines():
                    if line:
                        frame = orjson.loads(line)
                        md = frame["object"]["metadata"]
                        self.events.append((frame["type"], md["name"],
                                            int(md["resourceVersion"])))
                        if len(self.events) >= self.want:
                            return
        finally:
            self.done.set()


def create(client: httpx.Client, name: str, statuses: list[int]) -> None:
    """Create configmap ``name`` as a client does: 503/504 (the write's outcome unknown
    while etcd fails over) are retried; AlreadyExists after such a retry means the
    first attempt went through."""
    body = {"metadata": {"name": name}, "data": {"k": name}}
    retried = False
    for _ in range(100):
        resp = client.post(f"/api/v1/namespaces/{NAMESPACE}/configmaps", json=body)
        statuses.append(resp.status_code)
        if resp.status_code == 201 or (resp.status_code == 409 and retried):
            return
        assert resp.status_code in (503, 504), resp.text
        retried = True
        threading.Event().wait(0.1)
    raise AssertionError(f"{name} was never acknowledged: {statuses[-5:]}")


def test_writes_and_watches_go_on_when_the_member_in_use_dies(
    cluster: list[EtcdProcess], apiserver_factory: ApiServerFactory
) -> None:
    servers = ",".join(member.url for member in cluster)
    server = apiserver_factory("etcd", ["--etcd-servers", servers,
                                        "--etcd-prefix", unique_prefix()])
    statuses: list[int] = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        made = client.post("/api/v1/namespaces", json={"metadata": {"name": NAMESPACE}})
        assert made.status_code == 201, made.text
        rv = int(made.json()["metadata"]["resourceVersion"])
        names = [f"before-{i}" for i in range(5)] + [f"after-{i}" for i in range(10)]
        watch = Watch(server, rv, len(names))
        for name in names[:5]:
            create(client, name, statuses)
        # The apiserver talks to the first member of --etcd-servers: kill it.
        cluster[0].kill()
        for name in names[5:]:
            create(client, name, statuses)
        listed = client.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps")
        assert listed.status_code == 200, listed.text
        assert sorted(i["metadata"]["name"] for i in listed.json()["items"]) == sorted(names)
        got = client.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps/after-9")
        assert got.status_code == 200 and got.json()["data"] == {"k": "after-9"}
        # With no member left, writes and consistent reads fail as unavailable (never
        # 500), and resourceVersion=0 reads are still served from the watch cache.
        for member in cluster[1:]:
            member.kill()
        refused = client.post(f"/api/v1/namespaces/{NAMESPACE}/configmaps",
                              json={"metadata": {"name": "nowhere"}})
        assert refused.status_code in (503, 504), refused.text
        assert refused.json()["kind"] == "Status"
        stale = client.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps/after-9",
                           params={"resourceVersion": "0"})
        assert stale.status_code == 200
        fresh = client.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps/after-9")
        assert fresh.status_code in (503, 504), fresh.text
    watch.done.wait(60)
    assert watch.status == 200
    assert [name for _, name, _ in watch.events] == names
    assert {kind for kind, _, _ in watch.events} == {"ADDED"}
    revisions = [rv for _, _, rv in watch.events]
    assert revisions == sorted(set(revisions)), "an event was repeated or reordered"
    assert 500 not in statuses
