"""The apiserver's metric stores: plain counters and histograms kept per process.

Recording sits on the request path, so it is a dict update and a bisect — no locks (the
server is one event loop), no label objects. The stores are read at scrape time by
:mod:`apiserver.handlers.metrics`, which turns them into Prometheus families with
upstream's names, help texts and labels. Like upstream's ``legacyregistry`` they are
process-wide: one apiserver per process.

* :data:`REQUEST_COUNTS` — ``apiserver_request_total`` (verb, dry_run, group, version,
  resource, subresource, scope, component, then code: kept per code under the others);
* :data:`REQUEST_DURATIONS` — ``apiserver_request_duration_seconds`` (the same labels
  without code; buckets :data:`REQUEST_BUCKETS`);
* :data:`LONG_RUNNING` — ``apiserver_longrunning_requests`` (verb, group, version,
  resource, subresource, scope, component);
* :data:`WATCH_EVENTS` — ``apiserver_watch_events_total`` and
  ``apiserver_watch_events_sizes`` (group, version, kind; buckets
  :data:`WATCH_EVENT_SIZE_BUCKETS`);
* :data:`ETCD_REQUESTS` — ``etcd_request_duration_seconds`` (operation, group, resource),
  recorded by the etcd backend.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict

#: Upstream's ``apiserver_request_duration_seconds`` and ``etcd_request_duration_seconds``
#: buckets.
REQUEST_BUCKETS: tuple[float, ...] = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25,
                                      1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60)
#: Upstream's ``ExponentialBuckets(1024, 2.0, 8)``: 1 KiB … 128 KiB.
WATCH_EVENT_SIZE_BUCKETS: tuple[float, ...] = tuple(1024.0 * 2**i for i in range(8))

Labels = tuple[str, ...]


class Histogram:
    """Observations per label tuple: per-bucket counts (not cumulative; the last slot is
    +Inf), their sum and count. :meth:`observe` is the hot path."""

    __slots__ = ("buckets", "series")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        #: labels → [bucket counts…, +Inf count, sum].
        self.series: dict[Labels, list[float]] = {}

    def row(self, labels: Labels) -> list[float]:
        """The (live) row of ``labels``, made on first use."""
        row = self.series.get(labels)
        if row is None:
            row = self.series[labels] = [0.0] * (len(self.buckets) + 2)
        return row

    def observe(self, labels: Labels, value: float) -> None:
        """Count ``value`` under ``labels`` (a bucket's bound is inclusive, as upstream)."""
        row = self.row(labels)
        row[bisect_left(self.buckets, value)] += 1
        row[-1] += value

    def cumulative(self, labels: Labels) -> tuple[list[tuple[str, float]], float, float]:
        """``(le, cumulative count)`` pairs ending with ``+Inf``, the sum and the count."""
        row = self.series[labels]
        out: list[tuple[str, float]] = []
        total = 0.0
        for bound, count in zip(self.buckets, row, strict=False):
            total += count
            out.append((_bound(bound), total))
        total += row[len(self.buckets)]
        out.append(("+Inf", total))
        return out, row[-1], total

    def clear(self) -> None:
        """Forget every observation."""
        self.series.clear()


def _bound(value: float) -> str:
    """A bucket bound as Prometheus' Go client prints it (``1``, ``0.005``, ``1024``)."""
    return repr(float(value)) if value != int(value) else f"{int(value)}"


class WatchEventStore:
    """Events written to watch clients and their sizes, per (group, version, kind)."""

    __slots__ = ("counts", "sizes")

    def __init__(self) -> None:
        self.counts: defaultdict[Labels, int] = defaultdict(int)
        self.sizes = Histogram(WATCH_EVENT_SIZE_BUCKETS)

    def record(self, labels: Labels, frames: list[bytes]) -> None:
        """Count the frames written in one go."""
        self.counts[labels] += len(frames)
        observe = self.sizes.observe
        for frame in frames:
            observe(labels, len(frame))


#: labels (without code) → HTTP status code → requests.
REQUEST_COUNTS: defaultdict[Labels, dict[int, int]] = defaultdict(dict)
REQUEST_DURATIONS = Histogram(REQUEST_BUCKETS)
LONG_RUNNING: defaultdict[Labels, int] = defaultdict(int)
WATCH_EVENTS = WatchEventStore()
ETCD_REQUESTS = Histogram(REQUEST_BUCKETS)
