"""Resource metrics points and their two-point store, as metrics-server keeps them.

A scrape of a kubelet's ``/metrics/resource`` (Prometheus text) is decoded into a
:class:`Batch`: per node and per container, the cumulative CPU time, the memory working
set, the sample's timestamp and (containers) the start time. :class:`PointStore` keeps
the last and the previous point of every node and container across scrapes and turns two
points into a usage rate over a window, with metrics-server's rules:

* the previous point is the last one of an earlier scrape with an older timestamp (a
  repeated timestamp keeps the older previous point);
* a container that started within the last resolution (but at least 10 s ago) has an
  implied previous point of zero CPU at its start time, so new pods get metrics at once;
* a container whose start time moved (restarted) starts over;
* a pod has metrics only when every container reported in its last scrape has two
  points; its timestamp and window are those of its earliest container.

Unlike metrics-server, a container whose cumulative CPU or working set is still zero is
kept: kubemu's built-in containers legitimately have used nothing yet.

What a kubelet sends is not trusted: a sample that is negative, not finite, or timed more
than a day away from the apiserver's clock is dropped, and a pod's points count only when
they come from the node the pod is bound to (the first node to report a pod wins a
cycle's merge, as in metrics-server).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from prometheus_client.parser import text_string_to_metric_families

from apiserver.api.quantity import BINARY_SI, format_quantity

__all__ = [
    "FRESH_CONTAINER_MIN_AGE",
    "Batch",
    "PodUsage",
    "Point",
    "PointStore",
    "Usage",
    "decode_batch",
]

#: A container younger than this gets no implied previous point (metrics-server's
#: ``freshContainerMinMetricsResolution``).
FRESH_CONTAINER_MIN_AGE = 10.0
#: How far a sample's timestamp may be from the scraper's clock (ms).
_MAX_SKEW_MS = 86_400_000
#: The largest value taken from a sample (CPU seconds, bytes, epoch seconds).
_MAX_VALUE = 1e15

_NODE_CPU = "node_cpu_usage_seconds_total"
_NODE_MEMORY = "node_memory_working_set_bytes"
_CONTAINER_CPU = "container_cpu_usage_seconds_total"
_CONTAINER_MEMORY = "container_memory_working_set_bytes"
_CONTAINER_START = "container_start_time_seconds"

PodKey = tuple[str, str]


@dataclass(slots=True)
class Point:
    """One sample: cumulative CPU (ns), working set (bytes), its time and the start time
    (ms since the epoch; 0 when unknown)."""

    cpu_ns: int = 0
    memory: int = 0
    timestamp_ms: int = 0
    start_ms: int = 0


@dataclass
class Batch:
    """What one or more scrapes found: node points by node name, container points by
    ``(namespace, pod)`` then container name (in the order they were reported)."""

    nodes: dict[str, Point] = field(default_factory=dict)
    pods: dict[PodKey, dict[str, Point]] = field(default_factory=dict)
    #: The node whose scrape reported each pod.
    pod_nodes: dict[PodKey, str] = field(default_factory=dict)

    def merge(self, other: Batch) -> None:
        """Add ``other``'s points (another node's scrape); a pod already reported by an
        earlier node keeps that node's points."""
        self.nodes.update(other.nodes)
        for key, containers in other.pods.items():
            if key not in self.pods:
                self.pods[key] = containers
                self.pod_nodes[key] = other.pod_nodes.get(key, "")


@dataclass(frozen=True, slots=True)
class Usage:
    """A usage rate: CPU in nanocores, memory in bytes, over ``window_ns`` ending at
    ``timestamp_ms``."""

    nanocores: int
    memory: int
    timestamp_ms: int
    window_ns: int

    def resources(self) -> dict[str, str]:
        """``{"cpu": …, "memory": …}`` as canonical quantities (``1548473n``, ``12Mi``)."""
        return {"cpu": format_quantity(Decimal(self.nanocores).scaleb(-9)),
                "memory": format_quantity(Decimal(self.memory), BINARY_SI)}


def _ms(timestamp: object, default_ms: int) -> int | None:
    """A sample's timestamp in ms (the parser gives seconds as a float); ``default_ms``
    when it has none; None when it is not within a day of ``default_ms``."""
    if not isinstance(timestamp, float | int):
        return default_ms
    if not math.isfinite(timestamp) or abs(timestamp * 1000 - default_ms) > _MAX_SKEW_MS:
        return None
    return round(timestamp * 1000)


def _samples(text: str) -> list[tuple[str, dict[str, str], float, object]]:
    """(name, labels, value, timestamp) of every sample; ValueError when it does not
    parse."""
    try:
        return [(sample.name, sample.labels, sample.value, sample.timestamp)
                for family in text_string_to_metric_families(text)
                for sample in family.samples]
    except (OverflowError, TypeError, IndexError) as exc:  # the parser's other failures
        raise ValueError(str(exc)) from exc


def decode_batch(text: str, node_name: str, default_ms: int) -> Batch:
    """The points of one ``/metrics/resource`` scrape of ``node_name`` (samples without a
    timestamp are taken at ``default_ms``, the scraper's clock). ``ValueError`` for text
    that does not parse; samples out of range are dropped."""
    batch = Batch()
    node = Point()
    measured: set[tuple[PodKey, str, str]] = set()  # (pod, container, family) sampled
    for name, labels, value, timestamp in _samples(text):
        ts = _ms(timestamp, default_ms)
        if ts is None or not 0 <= value <= _MAX_VALUE:  # also rejects NaN
            continue
        if name == _NODE_CPU:
            node.cpu_ns, node.timestamp_ms = int(value * 1e9), ts
        elif name == _NODE_MEMORY:
            node.memory, node.timestamp_ms = int(value), ts
        elif name in (_CONTAINER_CPU, _CONTAINER_MEMORY, _CONTAINER_START):
            key = (labels.get("namespace", ""), labels.get("pod", ""))
            container = labels.get("container", "")
            point = batch.pods.setdefault(key, {}).setdefault(container, Point())
            measured.add((key, container, name))
            if name == _CONTAINER_CPU:
                point.cpu_ns, point.timestamp_ms = int(value * 1e9), ts
            elif name == _CONTAINER_MEMORY:
                point.memory, point.timestamp_ms = int(value), ts
            else:
                point.start_ms = int(value * 1000)
    if node.timestamp_ms:
        batch.nodes[node_name] = node
    # A container without a CPU or memory sample is incomplete (metrics-server drops it).
    for key, containers in list(batch.pods.items()):
        if any((key, c, family) not in measured for c in containers
               for family in (_CONTAINER_CPU, _CONTAINER_MEMORY)):
            del batch.pods[key]
    batch.pod_nodes = {key: node_name for key in batch.pods}
    return batch


def _usage(last: Point, prev: Point) -> Usage | None:
    """The rate between two points; None when they do not make one."""
    if last.start_ms < prev.start_ms or last.cpu_ns < prev.cpu_ns:
        return None
    window_ms = last.timestamp_ms - prev.timestamp_ms
    if window_ms <= 0:
        return None
    nanocores = (last.cpu_ns - prev.cpu_ns) * 1000 // window_ms
    return Usage(nanocores, last.memory, last.timestamp_ms, window_ms * 1_000_000)


@dataclass
class PodUsage:
    """A pod's usage: per container, with the pod's timestamp and window."""

    containers: dict[str, Usage]
    timestamp_ms: int
    window_ns: int


class PointStore:
    """The last and previous point of every node and container (see the module
    docstring); ``resolution`` is the scrape interval in seconds."""

    def __init__(self, resolution: float) -> None:
        self.resolution_ms = int(resolution * 1000)
        self._last_nodes: dict[str, Point] = {}
        self._prev_nodes: dict[str, Point] = {}
        self._last_pods: dict[PodKey, dict[str, Point]] = {}
        self._prev_pods: dict[PodKey, dict[str, Point]] = {}
        self._pod_nodes: dict[PodKey, str] = {}

    def store(self, batch: Batch) -> None:
        """Take one scrape cycle's points (of every node); what it lacks is forgotten."""
        prev_nodes: dict[str, Point] = {}
        for name, point in batch.nodes.items():
            chosen = self._previous(point, self._last_nodes.get(name),
                                    self._prev_nodes.get(name))
            if chosen is not None:
                prev_nodes[name] = chosen
        prev_pods: dict[PodKey, dict[str, Point]] = {}
        for key, containers in batch.pods.items():
            last_pod = self._last_pods.get(key, {})
            prev_pod = self._prev_pods.get(key, {})
            chosen_pod: dict[str, Point] = {}
            for container, point in containers.items():
                chosen = self._container_previous(point, last_pod.get(container),
                                                  prev_pod.get(container))
                if chosen is not None:
                    chosen_pod[container] = chosen
            if chosen_pod:
                prev_pods[key] = chosen_pod
        self._last_nodes, self._prev_nodes = dict(batch.nodes), prev_nodes
        self._last_pods, self._prev_pods = dict(batch.pods), prev_pods
        self._pod_nodes = dict(batch.pod_nodes)

    @staticmethod
    def _previous(point: Point, last: Point | None, prev: Point | None) -> Point | None:
        if last is not None and point.timestamp_ms > last.timestamp_ms:
            return last
        if last is not None and prev is not None and prev.timestamp_ms < point.timestamp_ms:
            return prev
        return None

    def _container_previous(self, point: Point, last: Point | None,
                            prev: Point | None) -> Point | None:
        age_ms = point.timestamp_ms - point.start_ms
        if point.start_ms and FRESH_CONTAINER_MIN_AGE * 1000 <= age_ms < self.resolution_ms:
            return Point(0, point.memory, point.start_ms, point.start_ms)
        if last is None or point.start_ms >= last.timestamp_ms:
            return None  # never seen, or started again since
        return self._previous(point, last, prev)

    def node_usage(self, name: str) -> Usage | None:
        """The node's usage over its last two points; None without two."""
        last, prev = self._last_nodes.get(name), self._prev_nodes.get(name)
        if last is None or prev is None:
            return None
        return _usage(last, prev)

    def pod_usage(self, namespace: str, name: str, node: str | None = None) -> PodUsage | None:
        """The pod's usage; None unless every container of its last scrape has two
        points, and (with ``node``) unless they were scraped from ``node``."""
        if node is not None and self._pod_nodes.get((namespace, name)) != node:
            return None
        last_pod = self._last_pods.get((namespace, name))
        prev_pod = self._prev_pods.get((namespace, name))
        if not last_pod or prev_pod is None:
            return None
        containers: dict[str, Usage] = {}
        earliest: Usage | None = None
        for container, last in last_pod.items():
            prev = prev_pod.get(container)
            if prev is None:
                return None
            usage = _usage(last, prev)
            if usage is None:
                continue
            containers[container] = usage
            if earliest is None or usage.timestamp_ms < earliest.timestamp_ms:
                earliest = usage
        if earliest is None:
            return None
        return PodUsage(containers, earliest.timestamp_ms, earliest.window_ns)

    def pods_known(self) -> Mapping[PodKey, dict[str, Point]]:
        """The pods of the last scrape (for tests and diagnostics)."""
        return self._last_pods
