"""The web console's cost of one pod change at scale (``python -m bench.console``).

Synthetic informer state (real :class:`~controllers.client.store.Store` s, as the console's
informers fill them): ``--namespaces`` namespaces, each with a Namespace object, one
Service, its EndpointSlice of ``--pods`` ready endpoints and those pods. Then
``--changes`` times one pod of another namespace flips its readiness and the console's
document is brought up to date, measured two ways in this process:

* **full**: what every change cost before the hub kept the document per namespace: the
  whole document built from the caches and encoded (:func:`build_snapshot`,
  ``orjson.dumps``); every page is sent all of it;
* **delta**: :meth:`Hub.rebuild` of the one marked namespace and the delta event's body
  (:meth:`Hub.delta`), which is what every page is sent.

Printed: CPU milliseconds per change (``time.process_time``: the machine is shared, wall
time is not the point) and bytes sent per page per change; and a new page's snapshot.

``--page`` also times the page itself in headless Chromium (``chromium`` and
``chromedriver`` on PATH): the console's ``static/console.js`` applies the snapshot, then
ten deltas of one pod change each (``performance.now()`` around its ``apply``; the page's
layout included, as the arrows are measured from it).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from controllers.client.store import NAMESPACE_INDEX, Store, meta_namespace_index
from controllers.console.hub import Hub
from controllers.console.server import STATIC
from controllers.console.snapshot import CacheView, build_snapshot

_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="{static}/console.css"></head><body>
<header><span id="status" class="status"></span></header>
<section id="nodes"></section><main id="namespaces"></main>
<aside id="panel" hidden><span id="yaml-title"></span><button id="panel-close"></button>
<pre id="yaml"></pre></aside>
<script src="data.js"></script><script src="{static}/console.js"></script></body></html>"""

_TIME = """let t = performance.now(); apply('snapshot', '', SNAPSHOT);
const first = performance.now() - t, deltas = [];
for (const m of DELTAS) { t = performance.now(); apply('delta', '', m);
                          deltas.push(performance.now() - t); }
return [first, deltas];"""


def _pod(ns: str, i: int, ready: bool) -> dict[str, Any]:
    return {"metadata": {"name": f"web-{i}", "namespace": ns, "labels": {"app": "web"}},
            "spec": {"nodeName": f"node-{i % 10}", "containers": [{"name": "c"}]},
            "status": {"phase": "Running", "podIP": f"10.{i}.0.1",
                       "conditions": [{"type": "Ready", "status": str(ready)}],
                       "containerStatuses": [{"name": "c", "ready": ready,
                                              "restartCount": 0}]}}


def cluster(namespaces: int, pods: int) -> list[Store]:
    """Namespace, Service, EndpointSlice, Pod and Node stores (10 nodes)."""
    stores = [Store({NAMESPACE_INDEX: meta_namespace_index}) for _ in range(5)]
    for n in range(namespaces):
        ns = f"ns-{n:05d}"
        stores[0].add({"metadata": {"name": ns}, "status": {"phase": "Active"}})
        stores[1].add({"metadata": {"name": "web", "namespace": ns},
                       "spec": {"type": "ClusterIP", "clusterIP": f"10.96.{n // 250}.{n % 250}",
                                "selector": {"app": "web"},
                                "ports": [{"name": "http", "port": 80, "targetPort": 8080,
                                           "protocol": "TCP"}]}})
        stores[2].add({"metadata": {"name": "web-abc", "namespace": ns,
                                    "labels": {"kubernetes.io/service-name": "web"}},
                       "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                       "endpoints": [{"addresses": [f"10.{i}.0.1"], "nodeName": f"node-{i % 10}",
                                      "conditions": {"ready": True, "serving": True,
                                                     "terminating": False},
                                      "targetRef": {"kind": "Pod", "name": f"web-{i}",
                                                    "namespace": ns}}
                                     for i in range(pods)]})
        for i in range(pods):
            stores[3].add(_pod(ns, i, True))
    for i in range(10):
        stores[4].add({"metadata": {"name": f"node-{i}"},
                       "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    return stores


def _measure(changes: int, namespaces: int, change: Callable[[str], int]) -> tuple[float, int]:
    """Mean CPU ms and mean bytes of ``change(namespace)`` over ``changes`` namespaces."""
    cpu, sizes = [], []
    for k in range(changes):
        ns = f"ns-{k * namespaces // changes:05d}"
        started = time.process_time()
        sizes.append(change(ns))
        cpu.append(time.process_time() - started)
    return statistics.mean(cpu) * 1000, int(statistics.mean(sizes))


def page(snapshot: bytes, deltas: list[bytes]) -> tuple[float, list[float]]:
    """Milliseconds the page takes to apply ``snapshot``, then each of ``deltas``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if browser is None or driver_path is None:
        raise SystemExit("--page needs chromium and chromedriver on PATH")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data.js").write_bytes(b"window.SNAPSHOT=" + snapshot + b";window.DELTAS=["
                                       + b",".join(deltas) + b"];")
        (root / "page.html").write_text(_PAGE.format(static=STATIC.as_uri()))
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", f"--user-data-dir={root / 'profile'}",
                    "--window-size=1400,900"):
            options.add_argument(arg)
        driver = webdriver.Chrome(options=options, service=Service(driver_path))
        try:
            driver.set_script_timeout(600)
            driver.get((root / "page.html").as_uri())
            first, times = driver.execute_script(_TIME)
        finally:
            driver.quit()
    return float(first), [float(t) for t in times]


def main() -> None:
    """Run and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.console")
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--page", action="store_true", help="also time the page in Chromium")
    args = parser.parse_args()
    stores = cluster(args.namespaces, args.pods)
    ready = {"flag": False}

    def flip(ns: str) -> None:
        stores[3].update(_pod(ns, 0, ready["flag"]))

    def full(ns: str) -> int:
        flip(ns)
        ns_, svc, slc, pod, node = (s.list() for s in stores)
        return len(orjson.dumps(build_snapshot(ns_, svc, slc, pod, node)))

    full_cpu, full_bytes = _measure(args.changes, args.namespaces, full)
    namespaces, services, slices, pods, nodes = stores
    hub = Hub(CacheView(namespaces, services, slices, pods, nodes, dict))
    hub.rebuild()

    def delta(ns: str) -> int:
        flip(ns)
        base = hub.version
        hub.mark([ns])
        assert hub.rebuild()
        return len(hub.delta(base))

    ready["flag"] = True
    delta_cpu, delta_bytes = _measure(args.changes, args.namespaces, delta)
    started = time.process_time()
    snapshot = len(hub.snapshot())
    snapshot_cpu = (time.process_time() - started) * 1000
    print(f"{args.namespaces} namespaces x {args.pods} pods, {args.changes} one-pod changes")
    print("| per change | CPU ms | bytes sent per page |\n|---|---:|---:|")
    print(f"| full snapshot (before) | {full_cpu:.1f} | {full_bytes:,} |")
    print(f"| delta (after) | {delta_cpu:.2f} | {delta_bytes:,} |")
    print(f"| a new page's snapshot (after) | {snapshot_cpu:.1f} | {snapshot:,} |")
    if args.page:
        first = hub.snapshot()
        deltas = []
        ready["flag"] = False
        for k in range(10):
            base = hub.version
            delta(f"ns-{k * args.namespaces // 10:05d}")
            deltas.append(hub.delta(base))
        applied, times = page(first, deltas)
        print(f"page: the snapshot {applied:.0f} ms, each delta (ms): "
              + ", ".join(f"{t:.1f}" for t in times))


if __name__ == "__main__":
    main()
