"""The ``scale`` scenario: 150,000 pods in 1,000 namespaces and 10,000 Services.

What it measures (Kubernetes' documented limits are 150,000 pods and 10,000 Services):

* **populate** (see :mod:`bench.scalepop`): namespaces and one template of each kind over
  HTTP, every other Service, pod, Endpoints and EndpointSlice written offline through the
  storage layer, a first start that repairs the ClusterIP map — each timed;
* per backend (SQLite, then etcd holding a copy of the same keys):
  - **cold start to ready**: ``python -m apiserver`` started on the populated store →
    ``/readyz`` answers 200 (the watch cache loaded every object);
  - **RSS** of the apiserver once ready, and its peak (VmHWM) after the reads below;
  - **list-all**: ``GET /api/v1/pods`` (JSON, every namespace) until the last byte, and
    the same list in pages of 500 (``limit=500`` + ``continue``, as kubectl pages);
  - **watch from resourceVersion=0**: ``GET /api/v1/pods?watch=1&resourceVersion=0``
    until the last of the initial ADDED events has arrived;
* **kube-proxy sync** at 10,000 Services (:func:`bench.scaleproxy.run_proxy`): the
  userspace proxier binding every ClusterIP, and the nftables proxier (render + ``nft -f``)
  in a scratch network namespace.

The apiserver (and etcd) run on the server CPU; the driver runs where ``bench.run`` pinned it
(the load CPU).
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from apiserver.storage.sqlite import SQLiteStorage
from bench import scalepop
from bench.procs import HOST, BenchError, ServerProcess, apiserver_module, free_port
from bench.scalepop import Shape
from bench.scaleproxy import run_proxy
from bench.storage import start_etcd
from kubemu.blocks import acquire

#: Done-when floors of the scenario (SQLite).
RSS_TARGET_BYTES = 2 << 30
LIST_TARGET_S = 10.0
COLD_START_TARGET_S = 60.0
READY_TIMEOUT_S = 600.0


def _log(message: str) -> None:
    print(f"bench: scale  {message}", file=sys.stderr)


def proc_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of ``pid`` in bytes."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(rest.split()[0]) * 1024
    return out


def _apiserver(workdir: Path, name: str, data: Path, cpu: int | None, service_range: str,
               *extra: str) -> ServerProcess:
    port = free_port()
    argv = apiserver_module("--bind-address", HOST, "--port", str(port),
                            "--data-dir", str(data), "--service-cluster-ip-range",
                            service_range, *extra)
    return ServerProcess(name, argv, port, workdir / f"{name}.log", cpu)


def _list_all(client: httpx.Client) -> tuple[float, int, int]:
    """(seconds, bytes, items) of one unpaged list of every pod."""
    t0 = time.perf_counter()
    resp = client.get("/api/v1/pods", headers={"accept": "application/json"})
    took = time.perf_counter() - t0
    if resp.status_code != 200:
        raise BenchError(f"list pods: HTTP {resp.status_code}: {resp.text[:300]}")
    return took, len(resp.content), len(orjson.loads(resp.content)["items"])


def _list_chunked(client: httpx.Client, limit: int) -> tuple[float, int, int]:
    """(seconds, pages, items) of the list in pages of ``limit`` (``continue`` tokens)."""
    t0 = time.perf_counter()
    pages = items = 0
    token = ""
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if token:
            params["continue"] = token
        resp = client.get("/api/v1/pods", params=params,
                          headers={"accept": "application/json"})
        if resp.status_code != 200:
            raise BenchError(f"list pods page {pages}: HTTP {resp.status_code}: "
                             f"{resp.text[:300]}")
        doc = orjson.loads(resp.content)
        pages += 1
        items += len(doc["items"])
        token = doc["metadata"].get("continue") or ""
        if not token:
            return time.perf_counter() - t0, pages, items


def _watch_initial(url: str, expected: int) -> tuple[float, int]:
    """(seconds to the last initial event, events) of a pod watch from resourceVersion 0."""
    t0 = time.perf_counter()
    events = 0
    with httpx.Client(base_url=url, timeout=httpx.Timeout(60.0, read=120.0)) as client, \
            client.stream("GET", "/api/v1/pods",
                          params={"watch": "1", "resourceVersion": "0"}) as resp:
        if resp.status_code != 200:
            raise BenchError(f"watch pods: HTTP {resp.status_code}")
        for chunk in resp.iter_raw():
            events += chunk.count(b"\n")
            if events >= expected:
                break
    return time.perf_counter() - t0, events


def _measure_server(server: ServerProcess, pods: int) -> dict[str, Any]:
    """Start ``server`` on its populated store and take every apiserver measurement."""
    t0 = time.perf_counter()
    server.start(timeout=READY_TIMEOUT_S)
    out: dict[str, Any] = {"cold_start_s": time.perf_counter() - t0}
    try:
        out["rss_ready_bytes"] = proc_memory(server.pid)["VmRSS"]
        _log(f"{server.name}: ready in {out['cold_start_s']:.1f} s, RSS "
             f"{out['rss_ready_bytes'] / 2**20:,.0f} MiB; listing…")
        with httpx.Client(base_url=server.url, timeout=300.0) as client:
            runs = [_list_all(client) for _ in range(2)]
            out["list_all_s"] = [r[0] for r in runs]
            out["list_bytes"] = runs[0][1]
            if runs[0][2] != pods:
                raise BenchError(f"{server.name}: list returned {runs[0][2]} pods, not {pods}")
            secs, pages, items = _list_chunked(client, 500)
            out["list_chunked_s"], out["list_chunked_pages"] = secs, pages
            if items != pods:
                raise BenchError(f"{server.name}: paged list returned {items} pods")
        out["watch_initial_s"], events = _watch_initial(server.url, pods)
        if events < pods:
            raise BenchError(f"{server.name}: the watch delivered {events} of {pods} pods")
        mem = proc_memory(server.pid)
        out["rss_after_bytes"], out["rss_peak_bytes"] = mem["VmRSS"], mem["VmHWM"]
    finally:
        server.stop(timeout=30)
    _log(f"{server.name}: list-all {min(out['list_all_s']):.2f} s "
         f"({out['list_bytes'] / 2**20:,.0f} MiB), paged {out['list_chunked_s']:.2f} s, "
         f"watch rv=0 {out['watch_initial_s']:.2f} s, peak RSS "
         f"{out['rss_peak_bytes'] / 2**20:,.0f} MiB")
    return out


async def _offline_sqlite(db: Path, shape: Shape, service_range: str) -> tuple[float, int]:
    storage = SQLiteStorage(db)
    await storage.start()
    try:
        return await scalepop.populate_storage(storage, shape,
                                               ipaddress.IPv4Network(service_range))
    finally:
        await storage.close()


async def _copy_to_etcd(db: Path, etcd_url: str) -> tuple[float, int]:
    source = SQLiteStorage(db)
    await source.start()
    try:
        return await scalepop.copy_to_etcd(source, etcd_url)
    finally:
        await source.close()


def run_scenario(workdir: Path, server_cpu: int | None, shape: Shape, etcd: bool,
                 proxy_endpoints: int) -> dict[str, Any]:
    """Populate, then measure on SQLite (and on etcd when ``etcd``), then kube-proxy."""
    lease = acquire(f"kubemu bench scale ({workdir})")
    try:
        service_range = lease.addresses.service_range
        out = _run(workdir, server_cpu, shape, str(service_range), etcd)
        out["proxy"] = run_proxy(workdir, shape.services, proxy_endpoints,
                                 str(service_range.network_address + 16))
    finally:
        lease.release()
    return out


def _run(workdir: Path, server_cpu: int | None, shape: Shape, service_range: str,
         etcd: bool) -> dict[str, Any]:
    data = workdir / "scale-sqlite"
    out: dict[str, Any] = {"namespaces": shape.namespaces, "services": shape.services,
                           "pods": shape.pods, "backends": {}}
    _log(f"creating {shape.namespaces:,} namespaces and the templates over HTTP…")
    api = _apiserver(workdir, "scale-populate", data, server_cpu, service_range).start(60.0)
    try:
        out["populate_http_s"] = asyncio.run(scalepop.populate_http(api.url, shape))
    finally:
        api.stop(timeout=30)
    _log(f"… {out['populate_http_s']:.1f} s; writing {shape.services:,} Services, "
         f"{shape.pods:,} pods and their Endpoints/EndpointSlices through the storage "
         "layer…")
    out["populate_storage_s"], out["populate_storage_objects"] = asyncio.run(
        _offline_sqlite(data / "kubemu.db", shape, service_range))
    _log(f"… {out['populate_storage_s']:.1f} s ({out['populate_storage_objects']:,} objects); "
         "a first start repairs the ClusterIP allocation map…")
    t0 = time.perf_counter()
    first = _apiserver(workdir, "scale-repair", data, server_cpu, service_range).start(
        READY_TIMEOUT_S)
    out["repair_start_s"] = time.perf_counter() - t0
    out["repair_start_cpu_s"] = first.cpu_seconds()
    first.stop(timeout=30)
    _log(f"… {out['repair_start_s']:.1f} s ({out['repair_start_cpu_s']:.1f} s CPU)")
    out["db_bytes"] = sum(p.stat().st_size for p in data.glob("kubemu.db*"))
    server = _apiserver(workdir, "scale-kubemu-sqlite", data, server_cpu, service_range,
                        "--storage", "sqlite")
    out["backends"]["sqlite"] = _measure_server(server, shape.pods)
    if etcd:
        etcd_proc = start_etcd(workdir, server_cpu)
        try:
            _log("copying every key into etcd (128 puts per gRPC transaction)…")
            secs, keys = asyncio.run(_copy_to_etcd(data / "kubemu.db", etcd_proc.url))
            _log(f"… {secs:.1f} s ({keys:,} keys)")
            server = _apiserver(workdir, "scale-kubemu-etcd", workdir / "scale-etcd-data",
                                server_cpu, service_range, "--storage", "etcd",
                                "--etcd-servers", etcd_proc.url)
            result = _measure_server(server, shape.pods)
            result.update(copy_s=secs, copy_keys=keys)
            out["backends"]["etcd"] = result
        finally:
            etcd_proc.stop()
    return out


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's floors, judged on the SQLite-backed apiserver."""
    s = results["scale"]
    run = s["backends"].get("sqlite")
    if not run:
        return []
    size = f"{s['pods']:,} pods"
    rss = run["rss_peak_bytes"]
    listing = min(run["list_all_s"])
    return [
        {"name": f"apiserver RSS with {size} (SQLite, peak)",
         "required": f"< {RSS_TARGET_BYTES / 2**30:g} GiB",
         "measured": f"{rss / 2**30:.2f} GiB", "pass": rss < RSS_TARGET_BYTES},
        {"name": f"list of all {size} (JSON, SQLite)", "required": f"< {LIST_TARGET_S:g} s",
         "measured": f"{listing:.2f} s", "pass": listing < LIST_TARGET_S},
        {"name": f"cold start to ready with {size} (SQLite)",
         "required": f"< {COLD_START_TARGET_S:g} s",
         "measured": f"{run['cold_start_s']:.1f} s",
         "pass": run["cold_start_s"] < COLD_START_TARGET_S},
    ]


def table(results: dict[str, Any]) -> list[str]:
    """Markdown for the ``scale`` scenario."""
    s = results["scale"]
    mib = 2**20
    out = [
        f"#### Scale: {s['pods']:,} pods in {s['namespaces']:,} namespaces, "
        f"{s['services']:,} Services with their Endpoints and EndpointSlices "
        f"({s['db_bytes'] / mib:,.0f} MiB SQLite file); populate: {s['populate_http_s']:.0f} s "
        f"over HTTP (namespaces, templates) + {s['populate_storage_s']:.0f} s through the "
        f"storage layer ({s['populate_storage_objects']:,} objects) + "
        f"{s['repair_start_s']:.0f} s to ready ({s.get('repair_start_cpu_s', 0):.0f} s CPU) "
        "for a first start (a cold start that also repairs the ClusterIP map)",
        "",
        "| backend | cold start → ready | RSS ready | RSS peak | list-all (JSON) "
        "| list in pages of 500 | watch rv=0, last initial event |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for backend, run in s["backends"].items():
        label = backend
        if backend == "etcd":
            label += f" (copy in {run['copy_s']:.0f} s)"
        out.append(
            f"| {label} | {run['cold_start_s']:.1f} s | {run['rss_ready_bytes'] / mib:,.0f} MiB "
            f"| {run['rss_peak_bytes'] / mib:,.0f} MiB | {min(run['list_all_s']):.2f} s "
            f"({run['list_bytes'] / mib:,.0f} MiB) | {run['list_chunked_s']:.2f} s "
            f"({run['list_chunked_pages']} pages) | {run['watch_initial_s']:.2f} s |")
    px = s.get("proxy")
    if px:
        out += ["", f"kube-proxy at {px['services']:,} Services x "
                f"{px['endpoints_per_service']} endpoints (the proxier's sync, in process):", "",
                "| proxier | full sync | partial sync (one endpoint changed) |",
                "|---|---:|---:|"]
        for mode in ("userspace", "nftables"):
            r = px.get(mode)
            if r:
                out.append(f"| {mode} | {r['full_s']:.2f} s | {r['partial_s'] * 1000:.1f} ms |")
        if (px.get("userspace") or {}).get("resync_s") is not None:
            out += ["", f"userspace: a partial sync's CPU time "
                    f"{px['userspace']['partial_cpu_s'] * 1000:.1f} ms, the periodic full "
                    f"resync (nothing to change) {px['userspace']['resync_s'] * 1000:.0f} ms."]
    out += ["", "list-all: the best of two; RSS peak is VmHWM after the lists and the watch."]
    return out
