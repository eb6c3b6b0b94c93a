"""``GET /metrics``: the apiserver's Prometheus text, with upstream's names, help texts
(stability prefix included), labels and buckets.

The request path records into the plain stores of :mod:`apiserver.api.metrics`;
:class:`ApiServerCollector` turns them into metric families at scrape time, with what is
read only then: ``apiserver_current_inflight_requests{request_kind}`` (the slots taken
in the max-in-flight pools now; upstream reports the highest use in the last second),
``apiserver_storage_objects{resource}`` (objects per resource in the watch cache,
``<plural>.<group>`` as upstream's ``GroupResource.String()``) and
``apiserver_storage_size_bytes{storage_cluster_id}`` (the backend's database size:
etcd's ``dbSize`` as ``etcd-0``, the SQLite files as ``sqlite-0``; absent for the
in-memory backend). :func:`metrics_registry` adds ``prometheus-client``'s process,
platform and garbage-collector collectors (``process_cpu_seconds_total``,
``process_resident_memory_bytes``, ``process_open_fds``, ``process_start_time_seconds``…).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

from apiserver.api import metrics
from apiserver.storage.cache import WatchCache
from apiserver.storage.transformed import group_resource

__all__ = ["CONTENT_TYPE", "REQUEST_METRICS", "ApiServerCollector", "metrics_registry",
           "metrics_text"]

#: What kube-apiserver answers with (the classic text format; every name here is a legacy
#: Prometheus name, so the text is the same in either version).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: The families the chain records per request; disabling all of them stops the recording.
REQUEST_METRICS = frozenset({"apiserver_request_total", "apiserver_request_duration_seconds",
                             "apiserver_longrunning_requests"})

_REQUEST_LABELS = ["verb", "dry_run", "group", "version", "resource", "subresource", "scope",
                   "component"]
_LONG_RUNNING_LABELS = ["verb", "group", "version", "resource", "subresource", "scope",
                        "component"]
_WATCH_LABELS = ["group", "version", "kind"]
_ETCD_LABELS = ["operation", "group", "resource"]


def _histogram(name: str, help_text: str, labels: list[str],
               store: metrics.Histogram) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, help_text, labels=labels)
    for values in sorted(store.series):
        buckets, total, _ = store.cumulative(values)
        family.add_metric(list(values), buckets, total)
    return family


class ApiServerCollector(Collector):
    """The apiserver's own families; ``inflight`` gives the (read-only, mutating) slots in
    use, ``size`` is the (storage cluster id, bytes) read before the scrape (None: not
    reported); the ``disabled`` names (``--disabled-metrics``) are left out."""

    def __init__(self, watch_cache: WatchCache, inflight: Callable[[], tuple[int, int]],
                 disabled: frozenset[str] = frozenset()) -> None:
        self.watch_cache = watch_cache
        self.inflight = inflight
        self.disabled = disabled
        self.size: tuple[str, int] | None = None

    def collect(self) -> Iterator[Metric]:
        for family in self._families():
            if family.name not in self.disabled and \
                    f"{family.name}_total" not in self.disabled:
                yield family

    def _families(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "apiserver_request_total",
            "[STABLE] Counter of apiserver requests broken out for each verb, dry run value, "
            "group, version, resource, scope, component, and HTTP response code.",
            labels=[*_REQUEST_LABELS, "code"])
        for values, codes in sorted(metrics.REQUEST_COUNTS.items()):
            for code, count in sorted(codes.items()):
                requests.add_metric([*values, str(code)], count)
        yield requests
        yield _histogram(
            "apiserver_request_duration_seconds",
            "[STABLE] Response latency distribution in seconds for each verb, dry run value, "
            "group, version, resource, subresource, scope and component.",
            _REQUEST_LABELS, metrics.REQUEST_DURATIONS)
        long_running = GaugeMetricFamily(
            "apiserver_longrunning_requests",
            "[STABLE] Gauge of all active long-running apiserver requests broken out by verb, "
            "group, version, resource, scope and component. Not all requests are tracked "
            "this way.", labels=_LONG_RUNNING_LABELS)
        for values, count in sorted(metrics.LONG_RUNNING.items()):
            long_running.add_metric(list(values), count)
        yield long_running
        read_only, mutating = self.inflight()
        inflight = GaugeMetricFamily(
            "apiserver_current_inflight_requests",
            "[STABLE] Maximal number of currently used inflight request limit of this "
            "apiserver per request kind in last second.", labels=["request_kind"])
        inflight.add_metric(["mutating"], mutating)
        inflight.add_metric(["readOnly"], read_only)
        yield inflight
        events = CounterMetricFamily("apiserver_watch_events_total",
                                     "[ALPHA] Number of events sent in watch clients",
                                     labels=_WATCH_LABELS)
        for values, count in sorted(metrics.WATCH_EVENTS.counts.items()):
            events.add_metric(list(values), count)
        yield events
        yield _histogram("apiserver_watch_events_sizes",
                         "[ALPHA] Watch event size distribution in bytes", _WATCH_LABELS,
                         metrics.WATCH_EVENTS.sizes)
        yield self._objects()
        size = GaugeMetricFamily(
            "apiserver_storage_size_bytes",
            "[STABLE] Size of the storage database file physically allocated in bytes.",
            labels=["storage_cluster_id"])
        if self.size is not None:
            size.add_metric([self.size[0]], self.size[1])
        yield size
        yield _histogram(
            "etcd_request_duration_seconds",
            "[ALPHA] Etcd request latency in seconds for each operation and object type.",
            _ETCD_LABELS, metrics.ETCD_REQUESTS)

    def _objects(self) -> GaugeMetricFamily:
        counts: dict[str, int] = {}
        for prefix, cache in list(self.watch_cache.resources.items()):
            group, plural = group_resource(prefix)
            name = f"{plural}.{group}" if group else plural
            counts[name] = counts.get(name, 0) + len(cache.store)
        family = GaugeMetricFamily(
            "apiserver_storage_objects",
            "[STABLE] Number of stored objects at the time of last check split by kind. In "
            "case of a fetching error, the value will be -1.", labels=["resource"])
        for name, count in sorted(counts.items()):
            family.add_metric([name], count)
        return family


def metrics_registry(collector: ApiServerCollector) -> CollectorRegistry:
    """A registry of ``collector`` and the process, platform and GC collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def metrics_text(registry: CollectorRegistry) -> bytes:
    """The registry in the Prometheus text format (``CONTENT_TYPE``)."""
    return generate_latest(registry)

