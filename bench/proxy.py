"""kube-proxy scenarios: network programming latency (``proxy``) and iptables sync cost
(``iptables``).

``proxy``: a fresh apiserver (CPU 0), the endpoints controller and ``python -m
controllers.proxy --proxy-mode userspace --min-sync-period 0`` (CPU 1, beside the
mostly idle driver) as real processes; ``services`` Services (loopback ClusterIPs
in the service range of an address block of its own, see :mod:`kubemu.addresses`, so
the userspace proxy binds them unprivileged beside any other kubemu cluster) with
``pods_per_service`` ready pods each. Then ``changes`` pods (each of another
Service) are flipped not ready one at a time with ``PATCH …/pods/NAME/status``;
each flip is timed until the proxy has completed the sync that carries it, read
from its ``/metrics`` (``kubeproxy_sync_proxy_rules_duration_seconds_count``
grows; the proxy watches only Services and EndpointSlices and its periodic
resync is set to an hour, so the first sync after the write is the one the flip
triggered). In userspace mode the sync installs the new endpoint list in the
round-robin balancer, so from then on new connections use it.

``iptables``: in a scratch network namespace per iptables backend (root
needed), render the ruleset for ``services`` Services x ``endpoints`` endpoints
with kube-proxy's renderer and apply it as kube-proxy does (``iptables-restore
--noflush --counters``, twice: into empty tables, then over the existing rules),
then change one endpoint of one Service and time the partial sync (render +
restore of the changed chains); see :func:`_backend_run`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.endpoints import NAMESPACE, _ip, _ok, _percentiles, _populate, _ready_count, _status
from bench.procs import (
    HOST,
    BenchError,
    ServerProcess,
    apiserver_module,
    cpu_seconds,
    free_port,
    python_module,
)
from controllers.proxy.iptables import IPTablesConfig, IPTablesRenderer, Rendered
from controllers.proxy.rules import with_whole_table_cache
from controllers.proxy.types import Endpoint, ServicePort, ServicePortName
from kubemu.blocks import acquire

SYNC_COUNT = "kubeproxy_sync_proxy_rules_duration_seconds_count"


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return -1.0


async def _measure(api_url: str, metrics_url: str, services: int, per_service: int,
                   changes: int, proxy_pid: int) -> dict[str, Any]:
    merge = {"content-type": "application/merge-patch+json"}
    from_ack: list[float] = []
    from_send: list[float] = []
    timeouts = 0
    async with httpx.AsyncClient(base_url=api_url, timeout=60.0) as client, \
            httpx.AsyncClient(timeout=5.0) as probe:
        step = max(1, services // changes)
        picks = [(k * step % services, k % per_service) for k in range(changes)]
        cpu0 = cpu_seconds(proxy_pid)
        for i, j in picks:
            before = _metric((await probe.get(metrics_url)).text, SYNC_COUNT)
            sent = time.perf_counter()
            r = await client.patch(
                f"/api/v1/namespaces/{NAMESPACE}/pods/svc-{i:04d}-{j:02d}/status",
                content=orjson.dumps(_status(_ip(i, j), False)), headers=merge)
            acked = time.perf_counter()
            _ok(r, "status patch")
            deadline = acked + 10.0
            while True:
                now_count = _metric((await probe.get(metrics_url)).text, SYNC_COUNT)
                got = time.perf_counter()
                if now_count > before:
                    from_ack.append((got - acked) * 1000)
                    from_send.append((got - sent) * 1000)
                    break
                if got > deadline:
                    timeouts += 1
                    break
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.02)
        cpu = cpu_seconds(proxy_pid) - cpu0
    return {"changes": changes, "observed": len(from_ack), "timeouts": timeouts,
            "latency_from_ack": _percentiles(from_ack),
            "latency_from_send": _percentiles(from_send),
            "proxy_cpu_ms_per_change": cpu * 1000 / max(1, changes)}


def run_latency(workdir: Path, server_cpu: int | None, load_cpu: int | None,
                services: int, per_service: int, changes: int) -> dict[str, Any]:
    """The ``proxy`` scenario."""
    lease = acquire(f"kubemu bench proxy ({workdir})")
    try:
        return _run_latency(workdir, server_cpu, load_cpu, services, per_service, changes,
                            str(lease.addresses.service_range))
    finally:
        lease.release()


def _run_latency(workdir: Path, server_cpu: int | None, load_cpu: int | None,
                 services: int, per_service: int, changes: int,
                 service_range: str) -> dict[str, Any]:
    port = free_port()
    api = ServerProcess(
        "kubemu-proxy",
        apiserver_module("--bind-address", HOST, "--port", str(port),
                         "--data-dir", str(workdir / "data-proxy"), "--storage", "sqlite",
                         "--service-cluster-ip-range", service_range),
        port, workdir / "kubemu-proxy.log", server_cpu,
    ).start()
    procs: list[ServerProcess] = []
    try:
        print(f"bench: proxy creating {services:,} services x {per_service} pods…",
              file=sys.stderr)
        populate_s = asyncio.run(_populate(api.url, services, per_service))
        cport = free_port()
        procs.append(ServerProcess(
            "endpoints-controller",
            python_module("controllers.endpoints", "--server", api.url, "--port", str(cport)),
            cport, workdir / "proxy-endpoints-controller.log", load_cpu,
        ).start(timeout=120))
        with httpx.Client(base_url=api.url, timeout=60) as client:
            deadline = time.monotonic() + 300
            while _ready_count(client) != (services, services * per_service):
                if time.monotonic() > deadline:
                    raise BenchError(f"controller did not converge: {_ready_count(client)}")
                time.sleep(0.25)
        mport = free_port()
        t0 = time.perf_counter()
        proxy = ServerProcess(
            "kube-proxy",
            python_module("controllers.proxy", "--proxy-mode", "userspace", "--master", api.url,
                          "--min-sync-period", "0", "--sync-period", "1h",
                          "--healthz-bind-address", "",
                          "--metrics-bind-address", f"{HOST}:{mport}"),
            mport, workdir / "kube-proxy.log", load_cpu, ready_path="/metrics",
        ).start(timeout=120)
        procs.append(proxy)
        metrics_url = f"{proxy.url}/metrics"
        with httpx.Client(timeout=5) as probe:
            deadline = time.monotonic() + 300
            while True:
                text = probe.get(metrics_url).text
                # >=: the default/kubernetes Service is proxied too.
                if (_metric(text, "kubeproxy_sync_proxy_rules_services") >= services
                        and _metric(text, "kubeproxy_sync_proxy_rules_endpoints")
                        >= services * per_service):
                    break
                if time.monotonic() > deadline:
                    raise BenchError("kube-proxy did not program every service")
                time.sleep(0.1)
        initial_s = time.perf_counter() - t0
        print(f"bench: proxy initial sync {initial_s:.1f} s; {changes} readiness flips…",
              file=sys.stderr)
        result = asyncio.run(_measure(api.url, metrics_url, services, per_service, changes,
                                      proxy.pid))
    finally:
        for p in reversed(procs):
            p.stop()
        api.stop()
    result.update(services=services, pods_per_service=per_service, mode="userspace",
                  populate_seconds=populate_s, initial_sync_seconds=initial_s)
    lat = result["latency_from_ack"]
    print(f"bench: proxy p50 {lat.get('p50_ms', 0):.1f} ms p99 {lat.get('p99_ms', 0):.1f} ms",
          file=sys.stderr)
    return result


#: ``(backend, restore, save)`` of the two iptables 1.8 backends.
BACKENDS = (("legacy", "iptables-legacy-restore", "iptables-legacy-save"),
            ("nf_tables", "iptables-nft-restore", "iptables-nft-save"))


def _restore(ns: str, binary: str, text: str, *flags: str) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(["ip", "netns", "exec", ns, binary, "-w", *flags],
                          input=text.encode(), capture_output=True, check=False)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise BenchError(f"{binary} failed: {done.stderr.decode()[:500]}")
    return took


def _timed_render(renderer: IPTablesRenderer, ports: dict[ServicePortName, ServicePort],
                  eps: dict[ServicePortName, tuple[Endpoint, ...]],
                  full: bool) -> tuple[Rendered, float]:
    t0 = time.perf_counter()
    rendered = renderer.render(ports, eps, full=full)
    return rendered, time.perf_counter() - t0


def _backend_run(backend: str, restore: str, save: str, services: int,
                 per_service: int) -> dict[str, Any]:
    """Two full syncs (into empty tables, then over the existing rules) and a partial
    one of one backend in a scratch network namespace, applied as kube-proxy applies
    them (chain declarations in the backend's preferred order; on nf_tables with the
    whole-table-cache ``-S`` of :func:`controllers.proxy.rules.with_whole_table_cache`)."""
    ports, eps = scale_maps(services, per_service)
    renderer = IPTablesRenderer(IPTablesConfig(cluster_cidr="10.0.0.0/8"),
                                descending_declarations=backend == "legacy")
    ns = f"kubemu-bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    out: dict[str, Any] = {"backend": backend, "restore": restore, "full": []}

    def apply(text: str) -> float:
        if backend == "nf_tables":
            text = with_whole_table_cache(text)
        return _restore(ns, restore, text, "--noflush", "--counters")

    try:
        for _ in range(2):
            rendered, render_s = _timed_render(renderer, ports, eps, True)
            restore_s = apply(rendered.text)
            out["full"].append({"render_s": render_s, "restore_s": restore_s,
                                "total_s": render_s + restore_s})
            renderer.commit(rendered)
        out.update(restore_lines=rendered.text.count("\n"), rules=rendered.rules)
        # One endpoint of one Service changes: a partial sync.
        spn = next(iter(ports))
        eps[spn] = (Endpoint("10.250.0.1", 8080), *eps[spn][1:])
        partial, render_s = _timed_render(renderer, ports, eps, False)
        restore_s = apply(partial.text)
        check = subprocess.run(["ip", "netns", "exec", ns, save, "-t", "nat"],
                               capture_output=True, text=True, check=False).stdout
        if "10.250.0.1:8080" not in check:
            raise BenchError(f"{backend}: the partial sync did not program the new endpoint")
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    out["partial"] = {"render_s": render_s, "restore_s": restore_s,
                      "total_s": render_s + restore_s, "lines": partial.text.count("\n")}
    return out


def scale_maps(services: int, per_service: int) -> tuple[
        dict[ServicePortName, ServicePort], dict[ServicePortName, tuple[Endpoint, ...]]]:
    """``services`` ClusterIP service ports with ``per_service`` endpoints each (the
    ``iptables`` and ``nftables`` scenarios' rulesets)."""
    ports: dict[ServicePortName, ServicePort] = {}
    eps: dict[ServicePortName, tuple[Endpoint, ...]] = {}
    for i in range(services):
        spn = ServicePortName("bench", f"svc-{i:05d}", "http", "TCP")
        ports[spn] = ServicePort(spn, f"172.30.{i // 250}.{i % 250 + 1}", 80)
        eps[spn] = tuple(Endpoint(f"10.{i // 250}.{i % 250}.{j + 1}", 8080)
                         for j in range(per_service))
    return ports, eps


def run_iptables(services: int, per_service: int) -> dict[str, Any]:
    """The ``iptables`` scenario (root: scratch network namespaces), on each installed
    iptables backend."""
    if os.geteuid() != 0:
        raise BenchError("the iptables scenario needs root")
    runs = {}
    for backend, restore, save in BACKENDS:
        if shutil.which(restore) is None:
            print(f"bench: {restore} is not installed; skipping the {backend} backend",
                  file=sys.stderr)
            continue
        r = runs[backend] = _backend_run(backend, restore, save, services, per_service)
        print(f"bench: iptables ({backend}) full sync {r['full'][0]['total_s']:.2f} s, partial "
              f"{r['partial']['total_s'] * 1000:.0f} ms", file=sys.stderr)
    if not runs:
        raise BenchError("the iptables scenario needs iptables-legacy-restore or "
                         "iptables-nft-restore")
    return {"services": services, "endpoints_per_service": per_service, "backends": runs}


def latency_table(results: dict[str, Any]) -> list[str]:
    """Markdown for the ``proxy`` scenario."""
    p = results["proxy"]
    ack, send = p["latency_from_ack"], p["latency_from_send"]
    return [
        f"#### Network programming latency: kube-proxy ({p['mode']}, `--min-sync-period 0`), "
        f"{p['services']:,} Services x {p['pods_per_service']} endpoints, {p['changes']} pod "
        "readiness flips (one at a time)",
        "",
        "| changes | observed | p50 | p99 | max | proxy CPU / change | initial sync |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {p['changes']} | {p['observed']} | {ack.get('p50_ms', 0):.1f} ms "
        f"| {ack.get('p99_ms', 0):.1f} ms | {ack.get('max_ms', 0):.1f} ms "
        f"| {p['proxy_cpu_ms_per_change']:.2f} ms | {p['initial_sync_seconds']:.1f} s |",
        "",
        "Latency = the proxy's sync carrying the flip completed (its /metrics sync count grew) "
        "- answer to the pod's `/status` PATCH received; it spans the apiserver, the endpoints "
        "controller's EndpointSlice write, the proxy's watch and its sync. From the PATCH's "
        f"send: p50 {send.get('p50_ms', 0):.1f} ms, p99 {send.get('p99_ms', 0):.1f} ms.",
    ]


def iptables_table(results: dict[str, Any]) -> list[str]:
    """Markdown for the ``iptables`` scenario."""
    r = results["iptables"]
    any_run = next(iter(r["backends"].values()))
    out = [
        f"#### iptables sync: {r['services']:,} Services x {r['endpoints_per_service']} "
        f"endpoints ({any_run['restore_lines']:,} restore lines, {any_run['rules']:,} "
        "rules), scratch network namespaces",
        "",
        "| backend | sync | render | iptables-restore | total |",
        "|---|---|---:|---:|---:|",
    ]
    for backend, run in r["backends"].items():
        labels = ("full (first)", "full (over existing rules)")
        for label, sync in zip(labels, run["full"], strict=False):
            out.append(f"| {backend} | {label} | {sync['render_s']:.2f} s "
                       f"| {sync['restore_s']:.2f} s | {sync['total_s']:.2f} s |")
        part = run["partial"]
        out.append(f"| {backend} | partial (one endpoint changed, {part['lines']:,} lines) "
                   f"| {part['render_s'] * 1000:.0f} ms | {part['restore_s'] * 1000:.0f} ms "
                   f"| {part['total_s'] * 1000:.0f} ms |")
    return out
