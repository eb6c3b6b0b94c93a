"""The userspace proxier's per-endpoint connection counts as kube-proxy's ``/metrics`` shows
them (controllers.proxy.metrics), parsed with ``prometheus-client``'s text parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from controllers.proxy.metrics import EndpointConnections, ProxyMetrics
from controllers.proxy.types import ServicePortName

WEB = ServicePortName("default", "web", "http", "TCP")
DNS = ServicePortName("kube-system", "kube-dns", "", "UDP")


def samples(metrics: ProxyMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(metrics.render())
            for s in family.samples if s.name.startswith("kubemu_")}


def labels(spn: ServicePortName, endpoint: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"namespace": spn.namespace, "service": spn.name, "port": spn.port,
                         "protocol": spn.protocol, "endpoint": endpoint}.items()))


def test_series_per_endpoint_follow_counts_and_go_away_with_the_endpoint() -> None:
    metrics = ProxyMetrics()
    connections = EndpointConnections()
    metrics.registry.register(connections)
    assert samples(metrics) == {}

    connections.keep([(WEB, "10.0.0.1:80"), (WEB, "10.0.0.2:80"), (DNS, "10.0.0.3:53")])
    first = connections.counts(WEB, "10.0.0.1:80")
    first.opened()
    first.opened()
    first.closed()
    connections.counts(DNS, "10.0.0.3:53").opened()
    active, total = ("kubemu_userspace_proxy_endpoint_connections_active",
                     "kubemu_userspace_proxy_endpoint_connections_total")
    assert samples(metrics) == {
        (active, labels(WEB, "10.0.0.1:80")): 1.0, (total, labels(WEB, "10.0.0.1:80")): 2.0,
        (active, labels(WEB, "10.0.0.2:80")): 0.0, (total, labels(WEB, "10.0.0.2:80")): 0.0,
        (active, labels(DNS, "10.0.0.3:53")): 1.0, (total, labels(DNS, "10.0.0.3:53")): 1.0,
    }
    text = metrics.render()
    assert "# TYPE kubemu_userspace_proxy_endpoint_connections_active gauge" in text
    assert "# TYPE kubemu_userspace_proxy_endpoint_connections_total counter" in text
    assert "kubeproxy_sync_proxy_rules_duration_seconds_count" in text

    # The endpoint leaves: its series go; a connection still open on it counts nowhere.
    connections.keep([(WEB, "10.0.0.2:80"), (DNS, "10.0.0.3:53")])
    first.closed()
    assert {name_labels[1] for name_labels in samples(metrics)} == {
        labels(WEB, "10.0.0.2:80"), labels(DNS, "10.0.0.3:53")}
    # Counting on an endpoint that is not kept shows nowhere.
    connections.counts(WEB, "10.0.0.9:80").opened()
    assert "10.0.0.9:80" not in metrics.render()
    # Back again: it starts from zero.
    connections.keep([(WEB, "10.0.0.1:80")])
    assert samples(metrics) == {(active, labels(WEB, "10.0.0.1:80")): 0.0,
                                (total, labels(WEB, "10.0.0.1:80")): 0.0}


def test_replace_changes_the_series_of_one_service_port_only() -> None:
    connections = EndpointConnections()
    connections.keep([(WEB, "10.0.0.1:80"), (WEB, "10.0.0.2:80"), (DNS, "10.0.0.3:53")])
    connections.counts(WEB, "10.0.0.2:80").opened()
    connections.counts(DNS, "10.0.0.3:53").opened()
    connections.replace([(WEB, "10.0.0.1:80"), (WEB, "10.0.0.2:80")],
                        [(WEB, "10.0.0.2:80"), (WEB, "10.0.0.4:80")])
    kept = {(spn.name, endpoint): counts.total
            for (spn, endpoint), counts in connections._counts.items()}
    assert kept == {("web", "10.0.0.2:80"): 1, ("web", "10.0.0.4:80"): 0,
                    ("kube-dns", "10.0.0.3:53"): 1}
    connections.replace([(DNS, "10.0.0.3:53")], [])
    assert connections.counts(DNS, "10.0.0.3:53").total == 0, "detached counts"
