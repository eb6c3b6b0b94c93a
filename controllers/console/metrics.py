"""The console's own ``/metrics`` (Prometheus text, a private registry per server).

==============================================  ======================================
``kubemu_console_subscribers``                  gauge: open event streams
``kubemu_console_events_sent_total{type}``      events sent (``snapshot``, ``delta``)
``kubemu_console_event_bytes_sent_total{type}`` bytes of those events' ``data``
``kubemu_console_rebuild_duration_seconds``     histogram: one rebuild of the marked
                                                parts (wall clock)
``kubemu_console_namespaces_rebuilt_total``     namespace parts rebuilt
``kubemu_console_document_version``             gauge: the document's version
==============================================  ======================================

The process's CPU, memory and file descriptors come with them (``process_*``), as every
``prometheus_client`` exposition has them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

from controllers.console.hub import Event, Hub

__all__ = ["CONTENT_TYPE", "ConsoleMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ConsoleMetrics:
    """The series of the module docstring, fed by the server and by ``hub``'s rebuilds."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.subscribers = Gauge("kubemu_console_subscribers", "Open event streams.",
                                 registry=self.registry)
        self.events = Counter("kubemu_console_events_sent", "Events sent to the pages.",
                              ["type"], registry=self.registry)
        self.bytes = Counter("kubemu_console_event_bytes_sent",
                             "Bytes of the data of the events sent to the pages.", ["type"],
                             registry=self.registry)
        self.rebuild = Histogram("kubemu_console_rebuild_duration_seconds",
                                 "Seconds one rebuild of the changed parts took.",
                                 buckets=_BUCKETS, registry=self.registry)
        self.rebuilt = Counter("kubemu_console_namespaces_rebuilt",
                               "Namespace parts of the document rebuilt.",
                               registry=self.registry)
        Gauge("kubemu_console_document_version", "The version of the document.",
              registry=self.registry).set_function(lambda: hub.version)
        for kind in ("snapshot", "delta"):
            self.events.labels(kind)
            self.bytes.labels(kind)
        hub.on_rebuild = self.rebuilt_parts

    def rebuilt_parts(self, seconds: float, namespaces: int) -> None:
        """One rebuild took ``seconds`` and read ``namespaces`` namespaces."""
        self.rebuild.observe(seconds)
        self.rebuilt.inc(namespaces)

    def sent(self, event: Event) -> None:
        """``event`` went to a page."""
        self.events.labels(event.kind).inc()
        self.bytes.labels(event.kind).inc(len(event.data))

    def text(self) -> bytes:
        """The exposition."""
        return generate_latest(self.registry)
