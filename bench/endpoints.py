"""The ``endpoints`` scenario: pod readiness change → Endpoints update, through the controller.

A fresh apiserver (CPU 0) and ``python -m controllers.endpoints`` (CPU 1, beside
this driver, which is mostly idle) run as real processes. The driver creates
``services`` Services with ``pods_per_service`` ready pods each (concurrent
httpx), waits for the controller to publish every Endpoints, then flips
``changes`` pods (each of a different Service, one at a time) to not ready with a
``PATCH .../pods/NAME/status`` and times, on a watch of the namespace's
Endpoints, the event where that pod's IP moved to ``notReadyAddresses``:

* latency = event received - status PATCH answered (also reported from the send);
* controller CPU per change = its utime+stime over the changes ÷ changes (it
  maintains Endpoints *and* EndpointSlices, so both writes are in it).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.procs import (
    HOST,
    BenchError,
    ServerProcess,
    apiserver_module,
    cpu_seconds,
    free_port,
    python_module,
)

NAMESPACE = "bench-endpoints"
CONCURRENCY = 32


def _service(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": f"svc-{i:04d}", "namespace": NAMESPACE},
        "spec": {"selector": {"app": f"svc-{i:04d}"},
                 "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }


def _pod(i: int, j: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"svc-{i:04d}-{j:02d}", "namespace": NAMESPACE,
                     "labels": {"app": f"svc-{i:04d}", "tier": "web"}},
        "spec": {"nodeName": f"node-{j}", "containers": [{
            "name": "app", "image": "nginx:1.27",
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
    }


def _ip(i: int, j: int) -> str:
    return f"10.{100 + i // 250}.{i % 250}.{j + 1}"


def _status(ip: str, ready: bool) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    flag = "True" if ready else "False"
    return {"status": {
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": flag, "lastTransitionTime": now},
                       {"type": "ContainersReady", "status": flag, "lastTransitionTime": now}],
    }}


def _ok(resp: httpx.Response, what: str) -> None:
    if resp.status_code not in (200, 201):
        raise BenchError(f"{what}: HTTP {resp.status_code}: {resp.text[:300]}")


async def _populate(url: str, services: int, per_service: int) -> float:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    merge = {"content-type": "application/merge-patch+json"}
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:
        resp = await client.post("/api/v1/namespaces", json={"metadata": {"name": NAMESPACE}})
        if resp.status_code not in (201, 409):
            _ok(resp, "create namespace")
        jobs: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        for i in range(services):
            jobs.put_nowait((i, -1))
            for j in range(per_service):
                jobs.put_nowait((i, j))

        async def worker() -> None:
            while not jobs.empty():
                i, j = jobs.get_nowait()
                if j < 0:
                    r = await client.post(f"/api/v1/namespaces/{NAMESPACE}/services",
                                          content=orjson.dumps(_service(i)),
                                          headers={"content-type": "application/json"})
                    _ok(r, f"create service {i}")
                    continue
                body = _pod(i, j)
                r = await client.post(f"/api/v1/namespaces/{NAMESPACE}/pods",
                                      content=orjson.dumps(body),
                                      headers={"content-type": "application/json"})
                _ok(r, f"create pod {i}/{j}")
                name = body["metadata"]["name"]
                r = await client.patch(f"/api/v1/namespaces/{NAMESPACE}/pods/{name}/status",
                                       content=orjson.dumps(_status(_ip(i, j), True)),
                                       headers=merge)
                _ok(r, f"pod {name} status")

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


def _ready_count(client: httpx.Client) -> tuple[int, int]:
    """(Endpoints objects, ready addresses) in the namespace."""
    items = client.get(f"/api/v1/namespaces/{NAMESPACE}/endpoints").json().get("items") or []
    ready = sum(len(s.get("addresses") or []) for e in items for s in e.get("subsets") or [])
    return len(items), ready


async def _measure(url: str, services: int, per_service: int, changes: int,
                   controller_pid: int, apiserver_pid: int) -> dict[str, Any]:
    """Flip ``changes`` pods to not ready, one at a time; time each Endpoints update."""
    merge = {"content-type": "application/merge-patch+json"}
    timeout = httpx.Timeout(60.0, read=None)
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
        listing = (await client.get(f"/api/v1/namespaces/{NAMESPACE}/endpoints",
                                    params={"limit": "1"})).json()
        rv = listing["metadata"]["resourceVersion"]
        # service name -> (ip, future resolved with the receive time of the event)
        waiting: dict[str, tuple[str, asyncio.Future[float]]] = {}
        events = 0
        connected = asyncio.Event()

        async def watch() -> None:
            nonlocal events
            params = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "false",
                      "timeoutSeconds": "3600"}
            async with client.stream("GET", f"/api/v1/namespaces/{NAMESPACE}/endpoints",
                                     params=params) as resp:
                connected.set()
                async for line in resp.aiter_lines():
                    got = time.perf_counter()
                    if not line:
                        continue
                    ev = orjson.loads(line)
                    events += 1
                    obj = ev.get("object") or {}
                    name = (obj.get("metadata") or {}).get("name")
                    entry = waiting.get(name) if isinstance(name, str) else None
                    if entry is None or entry[1].done():
                        continue
                    ip, fut = entry
                    if any(a.get("ip") == ip for s in obj.get("subsets") or []
                           for a in s.get("notReadyAddresses") or []):
                        fut.set_result(got)

        watcher = asyncio.create_task(watch())
        await asyncio.wait_for(connected.wait(), 10)
        await asyncio.sleep(0.2)
        step = max(1, services // changes)
        picks = [(k * step % services, k % per_service) for k in range(changes)]
        from_ack: list[float] = []
        from_send: list[float] = []
        timeouts = 0
        cpu0, api0 = cpu_seconds(controller_pid), cpu_seconds(apiserver_pid)
        wall0 = time.perf_counter()
        for i, j in picks:
            svc = f"svc-{i:04d}"
            fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            waiting[svc] = (_ip(i, j), fut)
            sent = time.perf_counter()
            r = await client.patch(
                f"/api/v1/namespaces/{NAMESPACE}/pods/{svc}-{j:02d}/status",
                content=orjson.dumps(_status(_ip(i, j), False)), headers=merge)
            acked = time.perf_counter()
            _ok(r, "status patch")
            try:
                got = await asyncio.wait_for(fut, 10.0)
            except TimeoutError:
                timeouts += 1
                continue
            from_ack.append((got - acked) * 1000)
            from_send.append((got - sent) * 1000)
            await asyncio.sleep(0.01)
        wall = time.perf_counter() - wall0
        cpu = cpu_seconds(controller_pid) - cpu0
        api_cpu = cpu_seconds(apiserver_pid) - api0
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await watcher
    return {
        "changes": changes, "observed": len(from_ack), "timeouts": timeouts,
        "latency_from_ack": _percentiles(from_ack),
        "latency_from_send": _percentiles(from_send),
        "controller_cpu_seconds": cpu, "apiserver_cpu_seconds": api_cpu,
        "controller_cpu_ms_per_change": cpu * 1000 / max(1, changes),
        "apiserver_cpu_ms_per_change": api_cpu * 1000 / max(1, changes),
        "wall_seconds": wall, "watch_events": events,
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return {"p50_ms": statistics.median(ordered), "p99_ms": pct(0.99),
            "max_ms": ordered[-1], "mean_ms": statistics.fmean(ordered)}


def run_scenario(workdir: Path, server_cpu: int | None, controller_cpu: int | None,
                 services: int, per_service: int, changes: int) -> dict[str, Any]:
    """Start the apiserver and the controller, populate, measure; stop both."""
    port = free_port()
    api = ServerProcess(
        "kubemu-ep",
        apiserver_module("--bind-address", HOST, "--port", str(port),
                         "--data-dir", str(workdir / "data-endpoints"), "--storage", "sqlite",
                         "--service-cluster-ip-range", "10.96.0.0/16"),
        port, workdir / "kubemu-endpoints.log", server_cpu,
    ).start()
    controller: ServerProcess | None = None
    try:
        print(f"bench: endpoints creating {services:,} services x {per_service} pods…",
              file=sys.stderr)
        populate_s = asyncio.run(_populate(api.url, services, per_service))
        cport = free_port()
        controller = ServerProcess(
            "endpoints-controller",
            python_module("controllers.endpoints", "--server", api.url, "--port", str(cport)),
            cport, workdir / "endpoints-controller.log", controller_cpu,
        )
        t0 = time.perf_counter()
        controller.start(timeout=120)
        with httpx.Client(base_url=api.url, timeout=60) as client:
            deadline = time.monotonic() + 300
            while _ready_count(client) != (services, services * per_service):
                if time.monotonic() > deadline:
                    raise BenchError(f"controller did not converge: {_ready_count(client)}")
                time.sleep(0.25)
        initial_s = time.perf_counter() - t0
        print(f"bench: endpoints initial sync {initial_s:.1f} s; {changes} readiness flips…",
              file=sys.stderr)
        result = asyncio.run(_measure(api.url, services, per_service, changes,
                                      controller.pid, api.pid))
    finally:
        if controller is not None:
            controller.stop()
        api.stop()
    result.update(services=services, pods_per_service=per_service,
                  populate_seconds=populate_s, initial_sync_seconds=initial_s)
    lat = result["latency_from_ack"]
    print(f"bench: endpoints p50 {lat.get('p50_ms', 0):.1f} ms p99 {lat.get('p99_ms', 0):.1f} ms "
          f"max {lat.get('max_ms', 0):.1f} ms; controller CPU "
          f"{result['controller_cpu_ms_per_change']:.2f} ms/change", file=sys.stderr)
    return result
