"""The resource metrics API's points, store and tables (metrics-server's rules)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from apiserver.api.gostrings import go_duration
from apiserver.api.resources import NODES
from apiserver.handlers.connect.kubelet import KubeletClientConfig
from apiserver.handlers.metricsapi.points import Batch, Point, PointStore, Usage, decode_batch
from apiserver.handlers.metricsapi.rest import NODE_METRICS, POD_METRICS
from apiserver.handlers.metricsapi.scraper import MetricsScraper
from apiserver.printing.table import build_table
from apiserver.registry.registry import Registry
from apiserver.storage.cache import WatchCache
from apiserver.storage.memory import MemoryStorage

T0 = 1_733_443_200_000  # ms


def scrape(ts: int, node_cpu: float, web_cpu: float, *, start: float = T0 / 1000 - 3600,
           sidecar: bool = True) -> str:
    lines = [
        "# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by "
        "the container in core-seconds",
        "# TYPE container_cpu_usage_seconds_total counter",
        f'container_cpu_usage_seconds_total{{container="web",namespace="default",pod="p"}} '
        f"{web_cpu} {ts}",
    ]
    if sidecar:
        lines.append('container_cpu_usage_seconds_total{container="log",namespace="default",'
                     f'pod="p"}} 0.5 {ts}')
    lines += [
        "# TYPE container_memory_working_set_bytes gauge",
        f'container_memory_working_set_bytes{{container="web",namespace="default",pod="p"}} '
        f"5242880 {ts}",
    ]
    if sidecar:
        lines.append('container_memory_working_set_bytes{container="log",namespace="default",'
                     f'pod="p"}} 1000 {ts}')
    lines += [
        "# TYPE container_start_time_seconds gauge",
        f'container_start_time_seconds{{container="web",namespace="default",pod="p"}} '
        f"{start} {ts}",
        "# TYPE node_cpu_usage_seconds_total counter",
        f"node_cpu_usage_seconds_total {node_cpu} {ts}",
        "# TYPE node_memory_working_set_bytes gauge",
        f"node_memory_working_set_bytes 104857600 {ts}",
        "# TYPE resource_scrape_error gauge",
        "resource_scrape_error 0",
    ]
    return "\n".join(lines) + "\n"


def test_go_duration_prints_as_go() -> None:
    assert [go_duration(n) for n in (0, 1500, 1_500_000, 15_012_000_000, 60_500_000_000,
                                     3_600_000_000_000)] == [
        "0s", "1.5µs", "1.5ms", "15.012s", "1m0.5s", "1h0m0s"]


def test_decode_batch_reads_nodes_and_containers() -> None:
    batch = decode_batch(scrape(T0, 12.5, 0.25), "n1", T0)
    assert batch.nodes == {"n1": Point(12_500_000_000, 104857600, T0, 0)}
    web = batch.pods[("default", "p")]["web"]
    assert (web.cpu_ns, web.memory, web.timestamp_ms) == (250_000_000, 5242880, T0)
    assert web.start_ms == T0 - 3_600_000
    assert list(batch.pods[("default", "p")]) == ["web", "log"]


def test_a_container_missing_a_sample_drops_its_pod() -> None:
    text = ('container_cpu_usage_seconds_total{container="a",namespace="n",pod="p"} 1 1000\n'
            'container_start_time_seconds{container="b",namespace="n",pod="p"} 1 1000\n')
    assert decode_batch(text, "n1", 0).pods == {}


def test_unparseable_text_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        decode_batch("node_cpu_usage_seconds_total{ 12\n", "n1", 0)


def test_two_scrapes_make_a_rate_and_a_window() -> None:
    store = PointStore(15)
    store.store(decode_batch(scrape(T0, 10.0, 1.0), "n1", T0))
    assert store.node_usage("n1") is None and store.pod_usage("default", "p") is None
    store.store(decode_batch(scrape(T0 + 15_000, 13.0, 1.3), "n1", T0))
    node = store.node_usage("n1")
    assert node == Usage(200_000_000, 104857600, T0 + 15_000, 15_000_000_000)
    assert node.resources() == {"cpu": "200m", "memory": "100Mi"}
    pod = store.pod_usage("default", "p")
    assert pod is not None and pod.window_ns == 15_000_000_000
    assert pod.containers["web"].resources() == {"cpu": "20m", "memory": "5Mi"}
    assert pod.containers["log"].resources() == {"cpu": "0", "memory": "1k"}


def test_a_repeated_timestamp_keeps_the_older_previous_point() -> None:
    store = PointStore(15)
    store.store(decode_batch(scrape(T0, 10.0, 1.0), "n1", T0))
    store.store(decode_batch(scrape(T0 + 10_000, 11.0, 1.1), "n1", T0))
    store.store(decode_batch(scrape(T0 + 10_000, 11.0, 1.1), "n1", T0))
    node = store.node_usage("n1")
    assert node is not None and node.window_ns == 10_000_000_000


def test_a_restarted_container_starts_over() -> None:
    store = PointStore(15)
    store.store(decode_batch(scrape(T0, 10.0, 5.0), "n1", T0))
    restarted = (T0 + 8_000) / 1000  # 7 s before the scrape: too young for a start point
    # More CPU than before, so only the start time tells the restart.
    store.store(decode_batch(scrape(T0 + 15_000, 13.0, 5.5, start=restarted,
                                    sidecar=False), "n1", T0))
    assert store.pod_usage("default", "p") is None


def test_a_fresh_container_is_measured_from_its_start() -> None:
    store = PointStore(15)
    started = (T0 - 12_000) / 1000
    store.store(decode_batch(scrape(T0, 10.0, 0.6, start=started, sidecar=False), "n1", T0))
    pod = store.pod_usage("default", "p")
    assert pod is not None
    assert pod.containers["web"].nanocores == 50_000_000  # 0.6 s over 12 s
    assert pod.window_ns == 12_000_000_000


def test_a_node_left_out_of_a_cycle_is_forgotten() -> None:
    store = PointStore(15)
    store.store(decode_batch(scrape(T0, 10.0, 1.0), "n1", T0))
    store.store(decode_batch(scrape(T0 + 15_000, 11.0, 1.1), "n1", T0))
    store.store(Batch())
    assert store.node_usage("n1") is None and store.pod_usage("default", "p") is None


def test_tables_print_usage_and_window_as_metrics_server() -> None:
    now = datetime(2026, 12, 5, tzinfo=UTC)
    pod = {"kind": "PodMetrics", "metadata": {"name": "p", "namespace": "default"},
           "window": "15.012s",
           "containers": [{"name": "web", "usage": {"cpu": "20m", "memory": "5Mi"}},
                          {"name": "log", "usage": {"cpu": "1548473n", "memory": "1Mi"}}]}
    table = build_table(POD_METRICS, [pod], "", now, include_object="None")
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "cpu", "memory",
                                                               "Window"]
    assert table["rows"][0]["cells"] == ["p", "21548473n", "6Mi", "15.012s"]
    node = {"kind": "NodeMetrics", "metadata": {"name": "n1"}, "window": "15s",
            "usage": {"cpu": "200m", "memory": "100Mi"}}
    cells = build_table(NODE_METRICS, [node], "", now)["rows"][0]["cells"]
    assert cells == ["n1", "200m", "100Mi", "15s"]


def test_samples_out_of_range_are_dropped() -> None:
    text = (f"node_cpu_usage_seconds_total +Inf {T0}\n"
            f"node_memory_working_set_bytes -5 {T0}\n"
            'container_cpu_usage_seconds_total{container="a",namespace="n",pod="p"} 1 '
            f"{T0 + 3 * 86_400_000}\n"
            'container_memory_working_set_bytes{container="a",namespace="n",pod="p"} 1 '
            f"{T0}\n")
    batch = decode_batch(text, "n1", T0)
    assert batch.nodes == {} and batch.pods == {}


def test_a_pod_counts_only_from_its_own_node() -> None:
    store = PointStore(15)
    for ts, cpu in ((T0, 1.0), (T0 + 15_000, 1.3)):
        batch = decode_batch(scrape(ts, 10.0, cpu), "n1", ts)
        batch.merge(decode_batch(scrape(ts, 10.0, cpu * 9), "n2", ts))  # claims the pod too
        store.store(batch)
    assert store.pod_usage("default", "p", "n2") is None
    usage = store.pod_usage("default", "p", "n1")
    assert usage is not None and usage.containers["web"].nanocores == 20_000_000


def test_one_bad_kubelet_does_not_stop_the_others() -> None:
    async def scenario() -> tuple[Usage | None, Usage | None]:
        registry = await _registry_with_nodes()
        calls = [0]

        def kubelet(request: httpx.Request) -> httpx.Response:
            calls[0] += 1
            ts = T0 + 15_000 * (calls[0] // 3)
            if request.url.host == "127.0.0.2":
                return httpx.Response(200, text=f"node_cpu_usage_seconds_total 1e400 {ts}\n")
            if request.url.host == "127.0.0.3":
                return httpx.Response(500, text="boom")
            return httpx.Response(200, text=scrape(ts, 10.0 + calls[0], 1.0))

        store = PointStore(15)
        scraper = MetricsScraper(registry, KubeletClientConfig(), store,
                                 clock=lambda: T0 / 1000)
        scraper._client = httpx.AsyncClient(transport=httpx.MockTransport(kubelet))
        for _ in range(2):
            await scraper.scrape_once()
        await scraper._client.aclose()
        await registry.stop()
        return store.node_usage("good"), store.node_usage("bad")

    good, bad = asyncio.run(scenario())
    assert good is not None and bad is None


async def _registry_with_nodes() -> Registry:
    """A started registry holding three Nodes whose kubelets are 127.0.0.1, .2 and .3."""
    storage = MemoryStorage()
    await storage.start()
    registry = Registry(storage, WatchCache(storage), lambda: datetime(2026, 12, 5, tzinfo=UTC))
    await registry.start()
    for index, name in enumerate(("good", "bad", "down"), start=1):
        await registry.store(NODES).create(None, {
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": f"127.0.0.{index}"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}})
    return registry
