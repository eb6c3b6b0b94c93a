"""The console's event stream at work in a real headless Chromium: a change in one
namespace is sent, and redrawn, as that namespace alone; a stream resumed with
``Last-Event-ID`` continues with a delta, or starts over with a snapshot; a page whose
console restarted reconnects and gets a snapshot.

Processes as in :mod:`tests.integration.test_console` (its ``console`` fixture).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
from selenium.webdriver.remote.webdriver import WebDriver

from tests.integration import test_console
from tests.integration.test_console import Api, Consoles, attr, sse, wait
from tests.support.apiserver import ApiServerProcess
from tests.support.browser import chromium

console = test_console.console


def _serve_web(api: Api, ip: str) -> None:
    api.service("web", selector={"app": "web"}, ports=[{"port": 80, "targetPort": 8080}])
    api.pod("web-1", ip, "node-a")


def _section(ns: str) -> str:
    return f'.namespace[data-namespace="{ns}"]'


def _tag(driver: WebDriver, ns: str) -> None:
    """Mark ``ns``'s section element: a section drawn anew has no mark."""
    driver.execute_script("document.querySelector(arguments[0]).dataset.probe = 'kept';",
                          _section(ns))


def test_a_change_in_one_namespace_sends_and_redraws_only_that_namespace(
    fresh_apiserver: ApiServerProcess, console: Consoles, tmp_path: Path
) -> None:
    one, two = Api(fresh_apiserver), Api(fresh_apiserver)
    _serve_web(one, "10.244.9.11")
    _serve_web(two, "10.244.9.21")
    url = console()
    ready_set = f'{_section("%s")} .svc-row[data-service="web"] .ready-set'
    with chromium(tmp_path) as driver, httpx.Client(base_url=url, timeout=30) as http:
        driver.get(url)
        wait(driver, lambda d: attr(d, ready_set % one.ns, "data-ready-set") == "10.244.9.11"
             and attr(d, ready_set % two.ns, "data-ready-set") == "10.244.9.21")
        for api in (one, two):
            _tag(driver, api.ns)
        with http.stream("GET", "/api/events") as stream:
            events = sse(stream.iter_lines())
            first = next(events)
            assert first["event"] == "snapshot"
            assert {one.ns, two.ns} <= {ns["name"] for ns in
                                        orjson.loads(first["data"])["namespaces"]}
            one.set_ready("web-1", False)
            carried: list[list[str]] = []
            while True:
                event = next(events)
                assert event["event"] == "delta"
                delta = orjson.loads(event["data"])
                carried.append([ns["name"] for ns in delta["namespaces"]])
                if any(ns["name"] == one.ns and not ns["pods"][0]["ready"]
                       for ns in delta["namespaces"]):
                    break
            assert all(names == [one.ns] for names in carried), carried
        pod = f'{_section(one.ns)} .pod[data-pod="web-1"]'
        wait(driver, lambda d: attr(d, pod, "data-ready") == "false"
             and attr(d, ready_set % one.ns, "data-ready-set") == "")
        # the changed namespace was drawn anew, the other one kept its elements
        assert attr(driver, _section(one.ns), "data-probe") is None
        assert attr(driver, _section(two.ns), "data-probe") == "kept"
        assert attr(driver, "#status", "data-snapshots") == "1"
        assert int(attr(driver, "#status", "data-deltas") or 0) >= 1

        # a stream resumed at an id of this console continues with a delta …
        last_id = attr(driver, "#status", "data-event-id")
        assert last_id
        two.set_ready("web-1", False)
        with http.stream("GET", "/api/events", headers={"Last-Event-ID": last_id}) as stream:
            event = next(sse(stream.iter_lines()))
            assert event["event"] == "delta", event
            assert [ns["name"] for ns in orjson.loads(event["data"])["namespaces"]] == [two.ns]
        # … one from elsewhere starts over with a snapshot
        for stale in ("0-1", "x"):
            with http.stream("GET", "/api/events", headers={"Last-Event-ID": stale}) \
                    as stream:
                assert next(sse(stream.iter_lines()))["event"] == "snapshot"
        wait(driver, lambda d: attr(d, f'{_section(two.ns)} .pod[data-pod="web-1"]',
                                    "data-ready") == "false")
        assert attr(driver, _section(one.ns), "data-probe") is None


def test_the_page_reconnects_to_a_restarted_console_and_gets_a_snapshot(
    fresh_apiserver: ApiServerProcess, console: Consoles, tmp_path: Path
) -> None:
    api = Api(fresh_apiserver)
    _serve_web(api, "10.244.10.11")
    url = console()
    port = url.rstrip("/").rsplit(":", 1)[1]
    pod = f'{_section(api.ns)} .pod[data-pod="web-1"]'
    with chromium(tmp_path) as driver:
        driver.get(url)
        wait(driver, lambda d: attr(d, pod, "data-ready") == "true")
        assert attr(driver, "#status", "data-snapshots") == "1"
        console.processes[-1].stop()
        wait(driver, lambda d: "disconnected" in (attr(d, "#status", "class") or ""))
        api.set_ready("web-1", False)  # while nobody watches
        assert console("--port", port) == url
        # the browser reconnects with the old console's Last-Event-ID: a snapshot
        wait(driver, lambda d: attr(d, "#status", "data-snapshots") == "2"
             and attr(d, pod, "data-ready") == "false")
        assert "disconnected" not in (attr(driver, "#status", "class") or "")
        api.set_ready("web-1", True)
        wait(driver, lambda d: attr(d, pod, "data-ready") == "true")
        assert attr(driver, "#status", "data-snapshots") == "2"
