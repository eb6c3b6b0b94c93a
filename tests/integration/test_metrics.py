"""``/metrics`` on the real apiserver process (issue 16, Done-when 3): ``kubectl get --raw
/metrics``, counters that move with requests, upstream's buckets, and upstream's labels for
known requests (GET of a pod, LIST, WATCH, a 404, a create, a dry-run create); the
``system:monitoring`` bootstrap role on a secured server.

Scrapes are parsed with ``prometheus-client``'s own text parser.
"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ApiServerFactory, suite_storage
from tests.support.apiserver import ApiServerProcess
from tests.support.etcd import EtcdProcess
from tests.support.kubectl import Kubectl
from tests.support.secure import SecureApiServer

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]

#: Upstream's ``apiserver_request_duration_seconds`` buckets, as its Go client prints them.
UPSTREAM_BUCKETS = ["0.005", "0.025", "0.05", "0.1", "0.2", "0.4", "0.6", "0.8", "1", "1.25",
                    "1.5", "2", "3", "4", "5", "6", "8", "10", "15", "20", "30", "45", "60",
                    "+Inf"]
#: Upstream's ``apiserver_watch_events_sizes`` buckets (``ExponentialBuckets(1024, 2, 8)``).
WATCH_SIZE_BUCKETS = ["1024", "2048", "4096", "8192", "16384", "32768", "65536", "131072",
                      "+Inf"]


def parse(text: str) -> Series:
    """Every sample of a scrape, by (name, labels)."""
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def scrape(server: ApiServerProcess) -> Series:
    response = httpx.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


def request_labels(verb: str, resource: str, scope: str, *, code: str | None = None,
                   group: str = "", version: str = "v1", subresource: str = "",
                   dry_run: str = "") -> frozenset[tuple[str, str]]:
    labels = {"verb": verb, "dry_run": dry_run, "group": group, "version": version,
              "resource": resource, "subresource": subresource, "scope": scope,
              "component": "apiserver"}
    if code is not None:
        labels["code"] = code
    return frozenset(labels.items())


def count(series: Series, labels: frozenset[tuple[str, str]]) -> float:
    return series.get(("apiserver_request_total", labels), 0.0)


def _namespace(server: ApiServerProcess, name: str) -> None:
    r = httpx.post(f"{server.url}/api/v1/namespaces", json={"metadata": {"name": name}})
    assert r.status_code == 201, r.text


def _pod(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def test_kubectl_get_raw_metrics(fresh_apiserver: ApiServerProcess, kubectl: Kubectl) -> None:
    result = kubectl("get", "--raw", "/metrics", kubeconfig=fresh_apiserver.kubeconfig)
    assert result.returncode == 0, result.stderr
    names = {family.name for family in text_string_to_metric_families(result.stdout)}
    for name in ("apiserver_request", "apiserver_request_duration_seconds",
                 "apiserver_current_inflight_requests", "apiserver_longrunning_requests",
                 "apiserver_watch_events", "apiserver_watch_events_sizes",
                 "apiserver_storage_objects", "apiserver_storage_size_bytes",
                 "etcd_request_duration_seconds", "process_resident_memory_bytes",
                 "process_cpu_seconds", "process_start_time_seconds"):
        assert name in names, name
    assert "# HELP apiserver_request_total [STABLE] Counter of apiserver requests" \
        in result.stdout
    assert "# TYPE apiserver_request_duration_seconds histogram" in result.stdout


def test_known_requests_count_with_upstream_labels(fresh_apiserver: ApiServerProcess) -> None:
    server = fresh_apiserver
    _namespace(server, "m1")
    pods = f"{server.url}/api/v1/namespaces/m1/pods"
    before = scrape(server)
    with httpx.Client(timeout=10) as http:
        assert http.post(pods, json=_pod("a")).status_code == 201
        assert http.post(pods, json=_pod("b")).status_code == 201
        assert http.post(f"{pods}?dryRun=All", json=_pod("c")).status_code == 201
        assert http.get(f"{pods}/a").status_code == 200
        assert http.get(f"{pods}/missing").status_code == 404
        assert http.get(pods).status_code == 200
        assert http.get(f"{server.url}/api/v1/pods").status_code == 200
        assert http.get(f"{server.url}/apis/apps/v1/namespaces/m1/deployments"
                        ).status_code == 200
        with http.stream("GET", f"{pods}?watch=true&timeoutSeconds=1") as watch:
            assert watch.status_code == 200
            frames = [line for line in watch.iter_lines() if line]
        assert len(frames) == 2  # ADDED a and b, then the server ends the watch
    after = scrape(server)
    expected = {
        request_labels("POST", "pods", "resource", code="201"): 2,
        request_labels("POST", "pods", "resource", code="201", dry_run="All"): 1,
        request_labels("GET", "pods", "resource", code="200"): 1,
        request_labels("GET", "pods", "resource", code="404"): 1,
        request_labels("LIST", "pods", "namespace", code="200"): 1,
        request_labels("LIST", "pods", "cluster", code="200"): 1,
        request_labels("LIST", "deployments", "namespace", code="200", group="apps"): 1,
        request_labels("WATCH", "pods", "namespace", code="200"): 1,
    }
    for labels, moved in expected.items():
        assert count(after, labels) - count(before, labels) == moved, sorted(labels)
    # Histograms have the same labels without the code, and upstream's buckets.
    get = request_labels("GET", "pods", "resource")
    buckets = sorted(((dict(labels)["le"], value) for (name, labels), value in after.items()
                      if name == "apiserver_request_duration_seconds_bucket"
                      and labels - {("le", dict(labels)["le"])} == get),
                     key=lambda pair: float(pair[0]))
    assert [le for le, _ in buckets] == UPSTREAM_BUCKETS
    assert buckets[-1][1] == after[("apiserver_request_duration_seconds_count", get)] == 2
    assert [value for _, value in buckets] == sorted(value for _, value in buckets)
    # The watch's two events, with upstream's size buckets.
    kind = frozenset({("group", ""), ("version", "v1"), ("kind", "Pod")})
    assert after[("apiserver_watch_events_total", kind)] \
        - before.get(("apiserver_watch_events_total", kind), 0.0) == 2
    sizes = sorted((dict(labels)["le"] for (name, labels), _ in after.items()
                    if name == "apiserver_watch_events_sizes_bucket"
                    and labels - {("le", dict(labels)["le"])} == kind),
                   key=float)
    assert sizes == WATCH_SIZE_BUCKETS
    # The stored objects: the two pods (the dry run stored nothing).
    assert after[("apiserver_storage_objects", frozenset({("resource", "pods")}))] == 2
    assert after[("apiserver_storage_objects",
                  frozenset({("resource", "deployments.apps")}))] == 0


def test_gauges_storage_and_process(fresh_apiserver: ApiServerProcess) -> None:
    server = fresh_apiserver
    _namespace(server, "m2")
    pods = f"{server.url}/api/v1/namespaces/m2/pods"
    assert httpx.post(pods, json=_pod("a")).status_code == 201
    with httpx.Client(timeout=10) as http, \
            http.stream("GET", f"{pods}?watch=true&timeoutSeconds=60") as watch:
        events = watch.iter_lines()  # kept: dropping the iterator closes the stream
        next(events)  # the ADDED event: the watch is being served
        series = scrape(server)
    long_running = frozenset({("verb", "WATCH"), ("group", ""), ("version", "v1"),
                              ("resource", "pods"), ("subresource", ""),
                              ("scope", "namespace"), ("component", "apiserver")})
    assert series[("apiserver_longrunning_requests", long_running)] == 1
    # The scrape itself holds a read-only slot.
    readonly = frozenset({("request_kind", "readOnly")})
    assert series[("apiserver_current_inflight_requests", readonly)] >= 1
    assert ("apiserver_current_inflight_requests",
            frozenset({("request_kind", "mutating")})) in series
    cluster = "etcd-0" if suite_storage() == "etcd" else "sqlite-0"
    assert series[("apiserver_storage_size_bytes",
                   frozenset({("storage_cluster_id", cluster)}))] > 0
    assert series[("process_resident_memory_bytes", frozenset())] > 0
    assert series[("process_start_time_seconds", frozenset())] > 0
    if suite_storage() == "etcd":
        create = frozenset({("operation", "create"), ("group", ""), ("resource", "pods")})
        assert series[("etcd_request_duration_seconds_count", create)] >= 1


def test_etcd_request_durations(apiserver_factory: ApiServerFactory,
                                etcd: EtcdProcess) -> None:
    """The etcd backend times its requests per operation and resource."""
    server = apiserver_factory("etcd")
    _namespace(server, "m3")
    pods = f"{server.url}/api/v1/namespaces/m3/pods"
    assert httpx.post(pods, json=_pod("a")).status_code == 201
    assert httpx.delete(f"{pods}/a").status_code == 200
    series = scrape(server)
    for operation in ("create", "delete"):
        labels = frozenset({("operation", operation), ("group", ""), ("resource", "pods")})
        assert series[("etcd_request_duration_seconds_count", labels)] >= 1, operation
        assert series[("etcd_request_duration_seconds_bucket",
                       labels | {("le", "60")})] >= 1
    assert series[("apiserver_storage_size_bytes",
                   frozenset({("storage_cluster_id", "etcd-0")}))] > 0


def test_disabled_metrics_are_left_out(apiserver_factory: ApiServerFactory) -> None:
    """``--disabled-metrics`` (upstream's escape hatch) leaves the named families out;
    naming the three per-request families stops the counting altogether."""
    server = apiserver_factory(None, ["--disabled-metrics",
                                      "apiserver_request_total,apiserver_storage_objects"])
    series = scrape(server)
    names = {name for name, _ in series}
    assert "apiserver_request_total" not in names
    assert "apiserver_storage_objects" not in names
    assert "apiserver_request_duration_seconds_count" in names
    quiet = apiserver_factory(None, [
        "--disabled-metrics", "apiserver_request_total,apiserver_request_duration_seconds,"
        "apiserver_longrunning_requests"])
    assert httpx.get(f"{quiet.url}/api/v1/namespaces").status_code == 200
    names = {name for name, _ in scrape(quiet)}
    assert not any(name.startswith(("apiserver_request_", "apiserver_longrunning"))
                   for name in names)
    assert "apiserver_current_inflight_requests" in names


def test_metrics_needs_monitoring_rights(secure_apiserver: SecureApiServer,
                                         kubectl: Kubectl) -> None:
    """``/metrics`` is a non-resource URL: the ``system:monitoring`` ClusterRole (and
    cluster-admin) may get it, a ServiceAccount without rights may not."""
    namespace = secure_apiserver.create_namespace("metrics-rbac")
    nobody = secure_apiserver.service_account(namespace, "nobody")
    monitor = secure_apiserver.service_account(namespace, "monitor",
                                               cluster_wide=["system:monitoring"])
    with secure_apiserver.client(identity=None, token=nobody.token) as http:
        refused = http.get("/metrics")
    assert refused.status_code == 403
    assert refused.json()["message"].startswith(
        f'forbidden: User "{nobody.user}" cannot get path "/metrics"')
    with secure_apiserver.client(identity=None, token=monitor.token) as http:
        assert http.get("/metrics").status_code == 200
    result = kubectl("get", "--raw", "/metrics", kubeconfig=secure_apiserver.kubeconfig)
    assert result.returncode == 0, result.stderr
    series = parse(result.stdout)
    forbidden = frozenset({("verb", "GET"), ("dry_run", ""), ("group", ""), ("version", ""),
                           ("resource", ""), ("subresource", ""), ("scope", ""),
                           ("component", "apiserver"), ("code", "403")})
    assert series[("apiserver_request_total", forbidden)] >= 1

