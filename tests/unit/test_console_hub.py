"""The console hub's per-namespace document over real informer stores: a snapshot first,
then deltas carrying only the namespaces (or nodes) that changed, resumable by event id."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from controllers.client.store import NAMESPACE_INDEX, Store, meta_namespace_index
from controllers.console.hub import Event, Hub
from controllers.console.metrics import ConsoleMetrics
from controllers.console.proxymetrics import TOTAL, MetricsPoller
from controllers.console.snapshot import CacheView, ConnectionCounts, build_snapshot
from tests.support.apiserver import free_port


def _store(*objs: dict[str, Any]) -> Store:
    store = Store({NAMESPACE_INDEX: meta_namespace_index})
    for obj in objs:
        store.add(obj)
    return store


def _pod(ns: str, name: str, ready: bool = True) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": {"app": "web"}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "c"}]},
            "status": {"phase": "Running", "podIP": "127.1.128.2",
                       "conditions": [{"type": "Ready", "status": str(ready)}]}}


def _service(ns: str) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": ns},
            "spec": {"clusterIP": "127.1.64.20", "selector": {"app": "web"},
                     "ports": [{"port": 80}]}}


def _node(name: str, ready: bool) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": str(ready)}]}}


class Cluster:
    """Stores as informers fill them, for namespaces a, b, c with a Service and a pod."""

    def __init__(self) -> None:
        self.counts: ConnectionCounts = {}
        self.stores = [
            _store(*({"metadata": {"name": ns}} for ns in "abc")),
            _store(*(_service(ns) for ns in "abc")), _store(),
            _store(*(_pod(ns, "p") for ns in "abc")), _store(_node("node-1", True))]
        ns, svc, slices, pods, nodes = self.stores
        self.view = CacheView(ns, svc, slices, pods, nodes, lambda: self.counts)

    def pods(self) -> Store:
        return self.stores[3]


def _decode(event: Event | None) -> tuple[str, dict[str, Any]]:
    assert event is not None
    return event.kind, orjson.loads(event.data)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    yield Cluster()


def test_snapshot_first_then_only_the_changed_namespaces(cluster: Cluster) -> None:
    async def scenario() -> None:
        hub = Hub(cluster.view)
        assert hub.rebuild() and hub.version == 1
        stream = hub.updates()
        kind, snap = _decode(await anext(stream))
        assert kind == "snapshot"
        # the same document build_snapshot makes from the whole caches
        ns, svc, slices, pods, nodes = (s.list() for s in cluster.stores)
        assert snap == {"version": 1, **build_snapshot(ns, svc, slices, pods, nodes)}

        cluster.pods().update(_pod("b", "p", ready=False))
        hub.mark(["b"])
        await hub.refresh()
        kind, delta = _decode(await anext(stream))
        assert (kind, delta["version"], delta["removed"], "nodes" in delta) == (
            "delta", 2, [], False)
        [b] = delta["namespaces"]
        assert b["name"] == "b" and b["pods"][0]["ready"] is False

        hub.mark(["a", "b"])  # nothing changed: no version
        assert not hub.rebuild() and hub.version == 2

        for store in cluster.stores[:4]:  # namespace c goes, and the node turns NotReady
            for obj in [o for o in store.list()
                        if "c" in (o["metadata"].get("namespace"), o["metadata"]["name"])]:
                store.delete(obj)
        cluster.stores[4].update(_node("node-1", False))
        hub.mark(["c"], nodes=True)
        await hub.refresh()
        kind, delta = _decode(await anext(stream))
        assert (kind, delta["namespaces"], delta["removed"]) == ("delta", [], ["c"])
        assert delta["nodes"] == [{"name": "node-1", "ready": False, "addresses": [],
                                   "podCIDR": "", "unschedulable": False}]
        assert [ns["name"] for ns in orjson.loads(hub.snapshot())["namespaces"]] == ["a", "b"]

    asyncio.run(scenario())


def test_a_slow_reader_gets_one_delta_for_several_versions(cluster: Cluster) -> None:
    async def scenario() -> None:
        hub = Hub(cluster.view)
        hub.rebuild()
        stream = hub.updates()
        assert _decode(await anext(stream))[0] == "snapshot"
        for ns in "ab":
            cluster.pods().add(_pod(ns, "q"))
            hub.mark([ns])
            assert hub.rebuild()
        kind, delta = _decode(await anext(stream))
        assert (kind, delta["version"]) == ("delta", 3)
        assert [ns["name"] for ns in delta["namespaces"]] == ["a", "b"]

    asyncio.run(scenario())


def test_a_resumed_stream_continues_with_a_delta_or_starts_over(cluster: Cluster) -> None:
    async def scenario() -> None:
        hub = Hub(cluster.view, history=2)
        hub.rebuild()
        first = hub.event_id(1)
        assert first.startswith(hub.epoch + "-")
        cluster.pods().add(_pod("a", "q"))
        hub.mark(["a"])
        hub.rebuild()
        kind, delta = _decode(await anext(hub.updates(first)))
        assert kind == "delta" and [ns["name"] for ns in delta["namespaces"]] == ["a"]
        for bad in (None, "", "nonsense", f"{hub.epoch}-x", f"{hub.epoch}-9",
                    "0badcafe-1"):
            assert hub.resume_version(bad) is None, bad
            assert (await anext(hub.updates(bad)) or Event("", "", b"")).kind == "snapshot"
        # up to date: nothing until the next change
        assert hub.resume_version(hub.event_id(2)) == 2
        for ns in "bc":
            cluster.pods().add(_pod(ns, "q"))
            hub.mark([ns])
            hub.rebuild()
        # three versions behind with two kept: a snapshot
        assert hub.resume_version(first) is None
        kind, snap = _decode(await anext(hub.updates(first)))
        assert (kind, snap["version"]) == ("snapshot", 4)
        assert hub.resume_version(hub.event_id(2)) == 2

    asyncio.run(scenario())


def test_metrics_count_events_bytes_and_rebuilds(cluster: Cluster) -> None:
    hub = Hub(cluster.view)
    metrics = ConsoleMetrics(hub)
    hub.rebuild()
    metrics.sent(Event("snapshot", hub.event_id(1), hub.snapshot()))
    text = metrics.text().decode()
    assert 'kubemu_console_events_sent_total{type="snapshot"} 1.0' in text
    assert f'kubemu_console_event_bytes_sent_total{{type="snapshot"}} ' \
           f'{float(len(hub.snapshot()))}' in text
    assert "kubemu_console_rebuild_duration_seconds_count 1.0" in text
    assert "kubemu_console_namespaces_rebuilt_total 3.0" in text
    assert "kubemu_console_document_version 1.0" in text


def test_the_poller_reports_the_namespaces_whose_counts_changed() -> None:
    registry = CollectorRegistry()
    total = Counter(TOTAL.removesuffix("_total"), "relayed",
                    ("namespace", "service", "port", "protocol", "endpoint"), registry=registry)
    total.labels("a", "web", "http", "TCP", "127.1.128.2:8080").inc()
    port = free_port()
    server, thread = start_http_server(port, "127.0.0.1", registry=registry)
    changes: list[set[str]] = []
    poller = MetricsPoller([f"http://127.0.0.1:{port}/metrics"], 1.0, changes.append)

    async def poll() -> None:
        async with httpx.AsyncClient() as http:
            await poller.poll_once(http)

    try:
        asyncio.run(poll())
        total.labels("b", "db", "pg", "TCP", "127.1.128.7:5432").inc()
        asyncio.run(poll())
        asyncio.run(poll())  # unchanged: no call
        total.labels("a", "web", "http", "TCP", "127.1.128.2:8080").inc()
        asyncio.run(poll())
    finally:
        server.shutdown()
        thread.join()
    assert changes == [{"a"}, {"b"}, {"a"}]
