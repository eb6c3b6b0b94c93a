"""The web console (``python -m controllers.console``) in a real headless Chromium.

A private apiserver, the endpoints controller and the console run as processes; objects
are made over HTTP (pods get their status through ``/status``, as a node agent writes
it, so the test decides readiness) and the page is read through selenium. Connection
counts come from a real ``prometheus_client`` exposition served over HTTP with the
userspace kube-proxy's series.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.apiserver import ApiServerProcess, free_port
from tests.support.browser import chromium
from tests.support.namespaced import NamespacedApi
from tests.support.process import Process

START_TIMEOUT = 30.0
#: Issue 16: a readiness change shows on the page within 2 s.
UPDATE_DEADLINE = 2.0
LABELS = ("namespace", "service", "port", "protocol", "endpoint")


def console_url(process: Process) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = re.search(r"serving the console on (http://\S+/)", process.logs())
        if found:
            return found.group(1)
        assert process.running(), process.logs()
        time.sleep(0.05)
    raise AssertionError(f"the console did not start:\n{process.logs()}")


class Api(NamespacedApi):
    """httpx helpers for one fresh namespace."""

    def __init__(self, server: ApiServerProcess) -> None:
        super().__init__(server.url, "console")

    def pod(self, name: str, ip: str, node: str) -> None:
        self.post(f"/api/v1/namespaces/{self.ns}/pods", {
            "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"nodeName": node, "containers": [
                {"name": "c", "image": "img", "ports": [{"containerPort": 8080}]}]}})
        self.set_ready(name, True, ip)

    def set_ready(self, name: str, ready: bool, ip: str | None = None) -> None:
        path = f"/api/v1/namespaces/{self.ns}/pods/{name}"
        current = self.http.get(path).json()
        ip = ip or current["status"]["podIP"]
        flag = "True" if ready else "False"
        current["status"] = {
            "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": flag}],
            "containerStatuses": [{"name": "c", "ready": ready, "restartCount": 0,
                                   "image": "img", "imageID": "", "started": True,
                                   "state": {"running": {}}}]}
        r = self.http.put(path + "/status", json=current)
        assert r.status_code == 200, r.text


class Consoles:
    """``consoles(*flags)`` starts a console on a free port of 127.0.0.1 (or the
    ``--port`` among ``flags``) and returns the page's URL; ``processes`` are those
    started, last last."""

    def __init__(self, server: ApiServerProcess, procs: Callable[..., Process]) -> None:
        self.server = server
        self.procs = procs
        self.processes: list[Process] = []

    def __call__(self, *flags: str) -> str:
        process = self.procs(self.server, "controllers.console", "--port", "0", *flags)
        self.processes.append(process)
        return console_url(process)


@pytest.fixture
def console(fresh_apiserver: ApiServerProcess, procs: Callable[..., Process]) \
        -> Iterator[Consoles]:
    """Starts the endpoints controller (once), then consoles on demand."""
    procs(fresh_apiserver, "controllers.endpoints", "--workers", "2")
    yield Consoles(fresh_apiserver, procs)


def wait(driver: WebDriver, check: Callable[[WebDriver], Any],
         timeout: float = START_TIMEOUT) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(check)


# The page replaces a namespace's boxes when it changes: read and click through one
# script call each, so no element reference outlives a render.
def attr(driver: WebDriver, css: str, name: str) -> str | None:
    value = driver.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "return e ? e.getAttribute(arguments[1]) : null;", css, name)
    return None if value is None else str(value)


def text(driver: WebDriver, css: str) -> str:
    value = driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", css)
    assert value is not None, f"nothing matches {css}"
    return str(value)


def click(driver: WebDriver, css: str) -> None:
    driver.execute_script("document.querySelector(arguments[0]).click();", css)


def sse(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """The events (``{"id", "event", "data"}``) of a Server-Sent Events stream's lines;
    comments and the ``retry`` field are left out."""
    event: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in event:
                yield event
            event = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            event[field] = value.removeprefix(" ")


def test_page_shows_service_endpoints_pods_and_follows_readiness(
    fresh_apiserver: ApiServerProcess, console: Consoles, tmp_path: Path
) -> None:
    api = Api(fresh_apiserver)
    svc = api.service("web", selector={"app": "web"}, type="NodePort",
                      ports=[{"name": "http", "port": 80, "targetPort": 8080}])
    api.pod("web-1", "10.244.7.11", "node-a")
    api.pod("web-2", "10.244.7.12", "node-b")
    url = console()
    row = f'.namespace[data-namespace="{api.ns}"] .svc-row[data-service="web"]'
    with chromium(tmp_path) as driver:
        driver.get(url)
        wait(driver, lambda d: attr(d, f"{row} .ready-set", "data-ready-set")
             == "10.244.7.11 10.244.7.12")
        service = text(driver, f"{row} .service")
        assert f"ClusterIP {svc['spec']['clusterIP']}" in service
        node_port = svc["spec"]["ports"][0]["nodePort"]
        assert f"http 80→8080/TCP node:{node_port}" in service
        assert "NodePort" in service and "ready 2/2" in service
        for name, ip, node in (("web-1", "10.244.7.11", "node-a"),
                               ("web-2", "10.244.7.12", "node-b")):
            pod = f'{row} .pod[data-pod="{name}"]'
            assert attr(driver, pod, "data-ready") == "true"
            assert f"{ip} · {node}" in text(driver, pod)
            assert attr(driver, f'{row} .endpoint[data-address="{ip}"]', "data-state") \
                == "ready"
        # one arrow client → Service, one per endpoint, one per endpoint's pod
        assert driver.execute_script("return document.querySelectorAll(arguments[0]).length;",
                                     f"{row} svg.arrows > path") == 5

        api.set_ready("web-1", False)
        flipped = time.monotonic()
        wait(driver, lambda d: attr(d, f'{row} .pod[data-pod="web-1"]', "data-ready")
             == "false" and attr(d, f"{row} .ready-set", "data-ready-set") == "10.244.7.12"
             and attr(d, f'{row} .endpoint[data-address="10.244.7.11"]', "data-state")
             == "not-ready", timeout=UPDATE_DEADLINE)
        print(f"page followed NotReady in {time.monotonic() - flipped:.3f}s")
        assert "NotReady" in text(driver, f'{row} .pod[data-pod="web-1"]')
        # endpoints carry the pods' badges: NotReady, as the slice's conditions say
        badge = f"{row} .endpoint[data-address=\"%s\"] .label .badge"
        assert text(driver, badge % "10.244.7.11") == "NotReady"
        assert text(driver, badge % "10.244.7.12") == "Ready"
        assert attr(driver, f'{row} .endpoint[data-address="10.244.7.11"]',
                    "data-serving") == "false"

        api.set_ready("web-1", True)
        wait(driver, lambda d: attr(d, f"{row} .ready-set", "data-ready-set")
             == "10.244.7.11 10.244.7.12", timeout=UPDATE_DEADLINE)

        # object YAML on click, read by the console from the apiserver
        panel = "return getComputedStyle(document.getElementById('panel')).display;"
        assert driver.execute_script(panel) == "none"
        click(driver, f'{row} .pod[data-pod="web-2"]')
        wait(driver, lambda d: attr(d, "#yaml", "data-loaded") == f"pods/{api.ns}/web-2")
        assert driver.execute_script(panel) == "flex"
        doc = yaml.safe_load(text(driver, "#yaml"))
        assert (doc["kind"], doc["metadata"]["name"], doc["status"]["podIP"]) == (
            "Pod", "web-2", "10.244.7.12")
        assert "managedFields" not in doc["metadata"]
        click(driver, f"{row} .service")
        wait(driver, lambda d: attr(d, "#yaml", "data-loaded") == f"services/{api.ns}/web")
        assert yaml.safe_load(text(driver, "#yaml"))["spec"]["ports"][0][
            "nodePort"] == node_port

        # a pod being deleted gracefully (no node agent confirms it) is terminating
        r = api.http.request("DELETE", f"/api/v1/namespaces/{api.ns}/pods/web-2",
                             json={"gracePeriodSeconds": 300})
        assert r.status_code in (200, 202), r.text
        wait(driver, lambda d: attr(d, f'{row} .pod[data-pod="web-2"]', "data-state")
             == "terminating" and attr(d, f'{row} .endpoint[data-address="10.244.7.12"]',
                                       "data-state") == "terminating"
             and attr(d, f"{row} .ready-set", "data-ready-set") == "10.244.7.11")
        assert "Terminating" in text(driver, f'{row} .pod[data-pod="web-2"]')
        # still ready when it began terminating: the slice says serving, so does the page
        assert attr(driver, f'{row} .endpoint[data-address="10.244.7.12"]',
                    "data-serving") == "true"
        assert driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText);",
            f'{row} .endpoint[data-address="10.244.7.12"] .label .badge') == [
                "Terminating", "serving"]


def test_connection_counts_from_the_proxies_show_per_endpoint(
    fresh_apiserver: ApiServerProcess, console: Consoles, tmp_path: Path
) -> None:
    api = Api(fresh_apiserver)
    api.service("web", selector={"app": "web"}, ports=[{"name": "http", "port": 80,
                                                        "targetPort": 8080}])
    api.pod("web-1", "10.244.8.11", "node-a")
    api.pod("web-2", "10.244.8.12", "node-a")
    registries = []
    urls = []
    for _ in range(2):  # two nodes' proxies: the console adds their counts
        registry = CollectorRegistry()
        active = Gauge("kubemu_userspace_proxy_endpoint_connections_active",
                       "Open connections relayed to the endpoint.", LABELS, registry=registry)
        total = Counter("kubemu_userspace_proxy_endpoint_connections",
                        "Connections relayed to the endpoint.", LABELS, registry=registry)
        port = free_port()
        server, thread = start_http_server(port, "127.0.0.1", registry=registry)
        registries.append((server, thread, active, total))
        urls += ["--proxy-metrics-url", f"http://127.0.0.1:{port}/metrics"]
    labels = (api.ns, "web", "http", "TCP", "10.244.8.11:8080")
    registries[0][2].labels(*labels).set(1)
    registries[0][3].labels(*labels).inc(3)
    registries[1][3].labels(*labels).inc(4)
    url = console(*urls, "--metrics-poll-interval", "200ms")
    row = f'.namespace[data-namespace="{api.ns}"] .svc-row[data-service="web"]'
    endpoint = f'{row} .endpoint[data-address="10.244.8.11"]'
    try:
        with chromium(tmp_path) as driver:
            driver.get(url)
            wait(driver, lambda d: attr(d, endpoint, "data-total") == "7")
            assert attr(driver, endpoint, "data-active") == "1"
            assert "1 open · 7 total" in text(driver, endpoint)
            assert attr(driver, f'{row} .endpoint[data-address="10.244.8.12"]',
                        "data-total") == "0"
            registries[1][3].labels(*labels).inc(5)
            registries[0][2].labels(*labels).set(0)
            wait(driver, lambda d: (attr(d, endpoint, "data-active"),
                                    attr(d, endpoint, "data-total")) == ("0", "12"))
    finally:
        for server, thread, *_ in registries:
            server.shutdown()
            thread.join()


def test_object_endpoint_answers_bad_queries_with_4xx(
    fresh_apiserver: ApiServerProcess, console: Consoles
) -> None:
    api = Api(fresh_apiserver)
    url = console()
    with httpx.Client(base_url=url, timeout=10) as http:
        assert http.get("/healthz").text == "ok"
        deadline = time.monotonic() + START_TIMEOUT
        while http.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        r = http.get("/api/object", params={"resource": "secrets", "namespace": api.ns,
                                            "name": "x"})
        assert r.status_code == 400 and "unknown resource 'secrets'" in r.text
        assert http.get("/api/object", params={"resource": "pods"}).status_code == 400
        assert http.get("/api/object", params={"resource": "pods", "name": "x"}) \
            .status_code == 400
        assert http.get("/api/object", params={"resource": "pods", "namespace": api.ns,
                                               "name": ".."}).status_code == 400
        r = http.get("/api/object", params={"resource": "pods", "namespace": api.ns,
                                            "name": "nope"})
        assert (r.status_code, r.text) == (404, 'pods "nope" not found')
        r = http.get("/api/object", params={"resource": "namespaces", "name": api.ns})
        assert r.status_code == 200 and yaml.safe_load(r.text)["metadata"]["name"] == api.ns
        metrics = http.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "kubemu_console_subscribers 0.0" in metrics.text
        snapshot = http.get("/api/snapshot").json()
        assert api.ns in [ns["name"] for ns in snapshot["namespaces"]]
        with http.stream("GET", "/api/events") as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            event = next(sse(events.iter_lines()))
            assert event["event"] == "snapshot" and event["id"].endswith(
                f"-{snapshot['version']}")
            assert orjson.loads(event["data"])["version"] == snapshot["version"]


def test_refuses_an_unauthenticated_non_loopback_address(
    fresh_apiserver: ApiServerProcess, tmp_path: Path
) -> None:
    process = Process(["-m", "controllers.console", "--kubeconfig",
                       str(fresh_apiserver.kubeconfig), "--bind-address", "0.0.0.0"],
                      tmp_path / "console.log").start()
    assert process.process is not None and process.process.wait(30) == 2
    assert "refusing to serve the console on 0.0.0.0 without authentication" \
        in process.logs()
