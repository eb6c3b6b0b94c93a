"""kube-proxy's Prometheus metrics (``pkg/proxy/metrics/metrics.go``) and health state.

Besides upstream's families, the userspace proxier counts connections per endpoint
(:class:`EndpointConnections`, registered in :attr:`ProxyMetrics.registry`):

* ``kubemu_userspace_proxy_endpoint_connections_active`` (gauge): TCP connections being
  proxied to the endpoint now, or live UDP sessions;
* ``kubemu_userspace_proxy_endpoint_connections_total`` (counter): connections (UDP
  sessions) proxied to it since it became an endpoint of the port,

both labelled ``namespace``, ``service``, ``port`` (the Service port's name, ``""`` when
unnamed), ``protocol`` and ``endpoint`` (``IP:PORT``), one series per endpoint the proxier
balances over; an endpoint's series go away with it.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from controllers.proxy.types import ServicePortName

__all__ = ["ConnectionCounts", "EndpointConnections", "Histogram", "ProxyMetrics"]

CONNECTIONS_ACTIVE = "kubemu_userspace_proxy_endpoint_connections_active"
#: The counter family (samples carry the ``_total`` suffix).
CONNECTIONS = "kubemu_userspace_proxy_endpoint_connections"
CONNECTION_LABELS = ("namespace", "service", "port", "protocol", "endpoint")


def _exponential(start: float, factor: float, count: int) -> list[float]:
    return [start * factor**i for i in range(count)]


#: ``ExponentialBuckets(0.001, 2, 15)``.
SYNC_BUCKETS = _exponential(0.001, 2, 15)
#: 0.25, 0.5, 1..59 by 1, 60..115 by 5, 120..300 by 30 (seconds).
PROGRAMMING_BUCKETS = (
    [0.25, 0.5] + [float(i) for i in range(1, 60)] + [float(i) for i in range(60, 120, 5)]
    + [float(i) for i in range(120, 301, 30)]
)


@dataclass
class Histogram:
    """A Prometheus histogram (cumulative buckets, sum, count)."""

    name: str
    help: str
    buckets: list[float]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0
    samples: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        """Record one sample."""
        self.total += value
        self.count += 1
        idx = bisect.bisect_left(self.buckets, value)
        for i in range(idx, len(self.buckets)):
            self.counts[i] += 1
        self.samples.append(value)
        if len(self.samples) > 10000:
            del self.samples[:5000]

    def render(self) -> list[str]:
        """Exposition-format lines."""
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for bound, n in zip(self.buckets, self.counts, strict=True):
            out.append(f'{self.name}_bucket{{le="{bound:g}"}} {n}')
        out.append(f'{self.name}_bucket{{le="+Inf"}} {self.count}')
        out.append(f"{self.name}_sum {self.total}")
        out.append(f"{self.name}_count {self.count}")
        return out


class ConnectionCounts:
    """One endpoint's connections: ``active`` now and ``total`` opened."""

    __slots__ = ("active", "total")

    def __init__(self) -> None:
        self.active = 0
        self.total = 0

    def opened(self) -> None:
        """A connection (UDP session) to the endpoint was established."""
        self.active += 1
        self.total += 1

    def closed(self) -> None:
        """One of them ended."""
        self.active -= 1


class EndpointConnections(Collector):
    """The :class:`ConnectionCounts` of every (service port, endpoint), collected as the
    two connection families. The proxier keeps the set of keys to its endpoints
    (:meth:`keep`); a connection holds its counts object, so counting costs no lookup of
    labels."""

    def __init__(self) -> None:
        self._counts: dict[tuple[ServicePortName, str], ConnectionCounts] = {}

    def counts(self, spn: ServicePortName, endpoint: str) -> ConnectionCounts:
        """The counts of ``endpoint`` (``IP:PORT``) of ``spn``; for an endpoint not kept
        (one that left while a connection to it was being made), detached counts that no
        series shows."""
        counts = self._counts.get((spn, endpoint))
        return ConnectionCounts() if counts is None else counts

    def keep(self, keys: Iterable[tuple[ServicePortName, str]]) -> None:
        """Have series for exactly ``keys``: new endpoints start at zero, the counts of
        endpoints not in ``keys`` are dropped (connections still open on them end
        uncounted)."""
        wanted = set(keys)
        for key in [k for k in self._counts if k not in wanted]:
            del self._counts[key]
        for key in wanted:
            if key not in self._counts:
                self._counts[key] = ConnectionCounts()

    def replace(self, old: Iterable[tuple[ServicePortName, str]],
                new: Iterable[tuple[ServicePortName, str]]) -> None:
        """:meth:`keep` for one service port whose keys were ``old`` and are now ``new``:
        series of ``new`` keys not kept yet start at zero, those of ``old`` keys not in
        ``new`` are dropped, every other series stays."""
        wanted = set(new)
        for key in old:
            if key not in wanted:
                self._counts.pop(key, None)
        for key in wanted:
            if key not in self._counts:
                self._counts[key] = ConnectionCounts()

    def collect(self) -> Iterator[Metric]:
        active = GaugeMetricFamily(
            CONNECTIONS_ACTIVE, "Connections (UDP sessions) the userspace proxy is "
            "forwarding to the endpoint now", labels=CONNECTION_LABELS)
        total = CounterMetricFamily(
            CONNECTIONS, "Connections (UDP sessions) the userspace proxy forwarded to the "
            "endpoint", labels=CONNECTION_LABELS)
        for (spn, endpoint), counts in sorted(self._counts.items()):
            labels = [spn.namespace, spn.name, spn.port, spn.protocol, endpoint]
            active.add_metric(labels, counts.active)
            total.add_metric(labels, counts.total)
        yield active
        yield total


class ProxyMetrics:
    """Everything ``/metrics`` and ``/healthz`` report; :attr:`registry` holds the
    proxier's own collectors, rendered after upstream's families."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.sync_duration = Histogram(
            "kubeproxy_sync_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds", SYNC_BUCKETS)
        self.programming_duration = Histogram(
            "kubeproxy_network_programming_duration_seconds",
            "In Cluster Network Programming Latency in seconds", PROGRAMMING_BUCKETS)
        self.last_sync_wall: float | None = None
        self.sync_failures = 0
        self.services = 0
        self.endpoints = 0
        self.pending_since: float | None = None

    def record_sync(self, seconds: float) -> None:
        """A successful sync that took ``seconds``."""
        self.sync_duration.observe(seconds)
        self.last_sync_wall = time.time()
        self.pending_since = None

    def render(self) -> str:
        """The ``/metrics`` body."""
        lines = self.sync_duration.render() + self.programming_duration.render()
        lines += [
            "# HELP kubeproxy_sync_proxy_rules_last_timestamp_seconds The last time proxy "
            "rules were successfully synced",
            "# TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge",
            f"kubeproxy_sync_proxy_rules_last_timestamp_seconds {self.last_sync_wall or 0}",
            "# HELP kubeproxy_sync_proxy_rules_failures_total Failed syncs",
            "# TYPE kubeproxy_sync_proxy_rules_failures_total counter",
            f"kubeproxy_sync_proxy_rules_failures_total {self.sync_failures}",
            "# HELP kubeproxy_sync_proxy_rules_service_changes_total Proxied service ports",
            "# TYPE kubeproxy_sync_proxy_rules_services gauge",
            f"kubeproxy_sync_proxy_rules_services {self.services}",
            "# TYPE kubeproxy_sync_proxy_rules_endpoints gauge",
            f"kubeproxy_sync_proxy_rules_endpoints {self.endpoints}",
        ]
        return "\n".join(lines) + "\n" + generate_latest(self.registry).decode()

    def healthy(self, health_timeout: float) -> bool:
        """As upstream's ``isHealthy``: no change has waited longer than ``health_timeout``
        seconds for a sync (so healthy while starting up, as upstream)."""
        return self.pending_since is None or time.time() - self.pending_since < health_timeout
