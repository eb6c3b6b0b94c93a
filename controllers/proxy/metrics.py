"""kube-proxy's Prometheus metrics (``pkg/proxy/metrics/metrics.go``) and health state."""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field

__all__ = ["Histogram", "ProxyMetrics"]


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


class ProxyMetrics:
    """Everything ``/metrics`` and ``/healthz`` report."""

    def __init__(self) -> None:
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
        return "\n".join(lines) + "\n"

    def healthy(self, health_timeout: float) -> bool:
        """As upstream's ``isHealthy``: no change has waited longer than ``health_timeout``
        seconds for a sync (so healthy while starting up, as upstream)."""
        return self.pending_since is None or time.time() - self.pending_since < health_timeout
