"""Several apiserver replicas on one real etcd (``--storage etcd``).

Each test starts its own replicas on the session etcd under a fresh
``--etcd-prefix`` and talks to them over HTTP like any client.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import httpx
import orjson

from tests.conftest import ApiServerFactory
from tests.support.apiserver import ApiServerProcess
from tests.support.etcd import EtcdProcess, unique_prefix

Event = tuple[str, str, int]


def replicas(factory: ApiServerFactory, etcd: EtcdProcess, count: int) -> list[ApiServerProcess]:
    prefix = unique_prefix()
    args = ["--etcd-servers", etcd.url, "--etcd-prefix", prefix]
    return [factory("etcd", args) for _ in range(count)]


def create_namespace(server: ApiServerProcess, name: str) -> int:
    resp = httpx.post(f"{server.url}/api/v1/namespaces", json={"metadata": {"name": name}})
    assert resp.status_code == 201, resp.text
    return int(resp.json()["metadata"]["resourceVersion"])


class WatchReader:
    """Reads a configmap watch in a thread; ``events`` are (type, name, rv)."""

    def __init__(self, server: ApiServerProcess, namespace: str, rv: int, want: int) -> None:
        self.url = (f"{server.url}/api/v1/namespaces/{namespace}/configmaps"
                    f"?watch=1&resourceVersion={rv}&timeoutSeconds=20")
        self.want = want
        self.events: list[Event] = []
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            with httpx.stream("GET", self.url, timeout=httpx.Timeout(5, read=25)) as resp:
                assert resp.status_code == 200
                for line in resp.iter_lines():
                    if not line:
                        continue
                    frame = orjson.loads(line)
                    md = frame["object"]["metadata"]
                    self.events.append((frame["type"], md.get("name", ""),
                                        int(md.get("resourceVersion") or 0)))
                    if len(self.events) >= self.want:
                        return
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()

    def wait(self, timeout: float = 20.0) -> list[Event]:
        self.done.wait(timeout)
        return list(self.events)


def writer(server: ApiServerProcess, namespace: str, tag: str, count: int,
           acked: list[int], errors: list[str]) -> Callable[[], None]:
    """Creates, updates and deletes ``count`` configmaps; the rv of every acknowledged
    create and update goes to ``acked`` (a delete answers with a Status, which has none;
    ``-1`` stands for it)."""

    def run() -> None:
        base = f"{server.url}/api/v1/namespaces/{namespace}/configmaps"
        with httpx.Client(timeout=10) as client:
            for i in range(count):
                resp = client.post(base, json={"metadata": {"name": f"{tag}-{i}"},
                                               "data": {"v": "0"}})
                if resp.status_code != 201:
                    errors.append(resp.text)
                    continue
                acked.append(int(resp.json()["metadata"]["resourceVersion"]))
            for i in range(count):
                resp = client.patch(f"{base}/{tag}-{i}", content=b'{"data":{"v":"1"}}',
                                    headers={"content-type": "application/merge-patch+json"})
                if resp.status_code != 200:
                    errors.append(resp.text)
                    continue
                acked.append(int(resp.json()["metadata"]["resourceVersion"]))
            for i in range(0, count, 2):
                resp = client.delete(f"{base}/{tag}-{i}")
                if resp.status_code != 200:
                    errors.append(resp.text)
                    continue
                acked.append(-1)

    return run


def ops(count: int) -> int:
    return count + count + (count + 1) // 2


def test_watchers_on_every_replica_see_identical_event_sequences(
    apiserver_factory: ApiServerFactory, etcd: EtcdProcess
) -> None:
    a, b = replicas(apiserver_factory, etcd, 2)
    rv = create_namespace(a, "etcd-replicas")
    per_writer = 8
    total = 2 * ops(per_writer)
    watchers = [WatchReader(server, "etcd-replicas", rv, total) for server in (a, b, a, b)]
    time.sleep(0.2)
    acked: list[int] = []
    errors: list[str] = []
    threads = [
        threading.Thread(target=writer(a, "etcd-replicas", "wa", per_writer, acked, errors)),
        threading.Thread(target=writer(b, "etcd-replicas", "wb", per_writer, acked, errors)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(acked) == total
    sequences = [w.wait() for w in watchers]
    assert [w.error for w in watchers] == [None] * 4
    first = sequences[0]
    assert len(first) == total
    assert all(seq == first for seq in sequences[1:])
    revisions = [e[2] for e in first]
    assert revisions == sorted(revisions) and len(set(revisions)) == total
    # Every acknowledged write is an event, with the resourceVersion the writer got.
    assert set(acked) - {-1} <= set(revisions)
    kinds = [e[0] for e in first]
    assert kinds.count("ADDED") == 2 * per_writer
    assert kinds.count("MODIFIED") == 2 * per_writer
    assert kinds.count("DELETED") == 2 * ((per_writer + 1) // 2)
    # A consistent list on either replica right after reflects every write.
    for server in (a, b):
        listed = httpx.get(f"{server.url}/api/v1/namespaces/etcd-replicas/configmaps").json()
        assert int(listed["metadata"]["resourceVersion"]) >= max(acked)
        assert len(listed["items"]) == 2 * (per_writer // 2)


def test_read_your_writes_across_replicas(
    apiserver_factory: ApiServerFactory, etcd: EtcdProcess
) -> None:
    a, b = replicas(apiserver_factory, etcd, 2)
    create_namespace(a, "etcd-ryw")
    with httpx.Client(timeout=10) as client:
        for i in range(20):
            writer_url, reader_url = (a.url, b.url) if i % 2 else (b.url, a.url)
            resp = client.post(f"{writer_url}/api/v1/namespaces/etcd-ryw/configmaps",
                               json={"metadata": {"name": f"c{i}"}, "data": {"i": str(i)}})
            assert resp.status_code == 201
            written = resp.json()["metadata"]["resourceVersion"]
            got = client.get(f"{reader_url}/api/v1/namespaces/etcd-ryw/configmaps/c{i}")
            assert got.status_code == 200, got.text
            assert got.json()["metadata"]["resourceVersion"] == written
            deleted = client.delete(f"{writer_url}/api/v1/namespaces/etcd-ryw/configmaps/c{i}")
            assert deleted.status_code == 200
            gone = client.get(f"{reader_url}/api/v1/namespaces/etcd-ryw/configmaps/c{i}")
            assert gone.status_code == 404


def test_killing_a_replica_loses_no_write_and_watch_resumes_on_the_other(
    apiserver_factory: ApiServerFactory, etcd: EtcdProcess
) -> None:
    a, b = replicas(apiserver_factory, etcd, 2)
    rv = create_namespace(a, "etcd-failover")
    per_writer = 10
    total = 2 * ops(per_writer)
    watch_a = WatchReader(a, "etcd-failover", rv, total)
    time.sleep(0.2)
    acked: list[int] = []
    errors: list[str] = []
    wb = threading.Thread(target=writer(b, "etcd-failover", "wb", per_writer, acked, errors))
    wb.start()
    writer(a, "etcd-failover", "wa", per_writer, acked, errors)()
    # Every write through A was acknowledged; now A dies.
    a.kill()
    wb.join(30)
    assert errors == []
    assert len(acked) == total
    seen = watch_a.wait(5)
    last = seen[-1][2] if seen else rv
    # The client fails over to B and resumes from the last resourceVersion it saw.
    watch_b = WatchReader(b, "etcd-failover", last, total - len(seen))
    resumed = watch_b.wait()
    assert watch_b.error is None
    revisions = [e[2] for e in seen + resumed]
    assert revisions == sorted(set(revisions)), "the resumed watch repeats an event"
    assert len(revisions) == total, "the resumed watch has a gap"
    assert set(acked) - {-1} <= set(revisions)
    listed = httpx.get(f"{b.url}/api/v1/namespaces/etcd-failover/configmaps").json()
    names = sorted(item["metadata"]["name"] for item in listed["items"])
    expected = sorted(f"{tag}-{i}" for tag in ("wa", "wb") for i in range(1, per_writer, 2))
    assert names == expected


def test_service_allocations_stay_unique_across_replicas(
    apiserver_factory: ApiServerFactory, etcd: EtcdProcess
) -> None:
    # Each replica groups its concurrent creates' allocations into shared map writes;
    # the two replicas' writes race on the same keys (compare-and-swap).
    args = ["--etcd-servers", etcd.url, "--etcd-prefix", unique_prefix()]
    a, b = (apiserver_factory("etcd", args) for _ in range(2))
    create_namespace(a, "etcd-alloc")

    async def make(server: ApiServerProcess, tag: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(*(client.post(
                f"{server.url}/api/v1/namespaces/etcd-alloc/services",
                json={"metadata": {"name": f"{tag}-{i}"},
                      "spec": {"type": "NodePort", "ports": [{"port": 80}]}})
                for i in range(16)))

    async def both() -> list[list[httpx.Response]]:
        return await asyncio.gather(make(a, "a"), make(b, "b"))

    responses = [r for batch in asyncio.run(both()) for r in batch]
    assert [r.text for r in responses if r.status_code != 201] == []
    results = [r.json() for r in responses]
    ips = [svc["spec"]["clusterIP"] for svc in results]
    ports = [svc["spec"]["ports"][0]["nodePort"] for svc in results]
    assert len(results) == 32
    assert len(set(ips)) == 32, ips
    assert len(set(ports)) == 32, ports
    # The stored maps hold exactly what the Services hold: a replica starting on the
    # same store finds nothing to repair.
    c = apiserver_factory("etcd", args)
    assert "repairing" not in c.logs() and "leaked" not in c.logs(), c.logs()


def test_forced_compaction_expires_old_watches_and_continue_tokens(
    apiserver_factory: ApiServerFactory, etcd: EtcdProcess
) -> None:
    (server,) = replicas(apiserver_factory, etcd, 1)
    create_namespace(server, "etcd-compact")
    base = f"{server.url}/api/v1/namespaces/etcd-compact/configmaps"
    with httpx.Client(timeout=10) as client:
        for i in range(4):
            assert client.post(base, json={"metadata": {"name": f"c{i}"}}).status_code == 201
        page = client.get(base, params={"limit": 2}).json()
        token = page["metadata"]["continue"]
        old_rv = int(page["metadata"]["resourceVersion"])
        # Before compaction both still work.
        assert client.get(base, params={"limit": 2, "continue": token}).status_code == 200
        for i in range(4, 6):
            assert client.post(base, json={"metadata": {"name": f"c{i}"}}).status_code == 201
        etcd.compact(etcd.revision())
        expired = client.get(base, params={"limit": 2, "continue": token})
        assert expired.status_code == 410, expired.text
        assert expired.json()["reason"] == "Expired"
        with client.stream("GET", base, params={"watch": "1", "resourceVersion": str(old_rv),
                                                 "timeoutSeconds": "2"}) as resp:
            assert resp.status_code == 200
            frames = [orjson.loads(line) for line in resp.iter_lines() if line]
        assert len(frames) == 1
        assert frames[0]["type"] == "ERROR"
        assert frames[0]["object"]["code"] == 410
        assert frames[0]["object"]["reason"] == "Expired"
        # A fresh list and a watch from it keep working.
        fresh = client.get(base).json()
        assert len(fresh["items"]) == 6
        rv = fresh["metadata"]["resourceVersion"]
        with client.stream("GET", base, params={"watch": "1", "resourceVersion": rv,
                                                 "timeoutSeconds": "1"}) as resp:
            assert resp.status_code == 200
            assert [line for line in resp.iter_lines() if line] == []


def test_compose_etcd_profile_runs_replicas_on_etcd() -> None:
    import yaml

    from tests.support.apiserver import REPO_ROOT

    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    found = compose["services"]
    assert found["etcd"]["profiles"] == ["etcd"]
    assert "etcd-data" in compose["volumes"]
    replicas_ = {n: s for n, s in found.items() if n.startswith("apiserver-etcd")}
    assert len(replicas_) == 2
    ports = set()
    for svc in replicas_.values():
        argv = [str(a) for a in svc["command"]]
        assert svc["profiles"] == ["etcd"]
        assert argv[argv.index("--storage") + 1] == "etcd"
        assert argv[argv.index("--etcd-servers") + 1] == "http://etcd:2379"
        assert svc["depends_on"]["etcd"]["condition"] == "service_healthy"
        ports.update(svc["ports"])
    assert len(ports) == 2
