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
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from controllers.client.store import NAMESPACE_INDEX, Store, meta_namespace_index
from controllers.console.hub import Hub
from controllers.console.snapshot import CacheView, build_snapshot


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


def main() -> None:
    """Run and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.console")
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10)
    parser.add_argument("--changes", type=int, default=50)
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


if __name__ == "__main__":
    main()
