"""kube-proxy scenarios: network programming latency (``proxy``) and iptables sync cost
(``iptables``).

``proxy``: a fresh apiserver (CPU 0), the endpoints controller and ``python -m
controllers.proxy --proxy-mode userspace --min-sync-period 0`` (CPU 1, beside the
mostly idle driver) as real processes; ``services`` Services (loopback ClusterIPs
in 127.96.0.0/16, so the userspace proxy binds them unprivileged) with
``pods_per_service`` ready pods each. Then ``changes`` pods (each of another
Service) are flipped not ready one at a time with ``PATCH …/pods/NAME/status``;
each flip is timed until the proxy has completed the sync that carries it, read
from its ``/metrics`` (``kubeproxy_sync_proxy_rules_duration_seconds_count``
grows; the proxy watches only Services and EndpointSlices and its periodic
resync is set to an hour, so the first sync after the write is the one the flip
triggered). In userspace mode the sync installs the new endpoint list in the
round-robin balancer, so from then on new connections use it.

``iptables``: in a scratch network namespace (root needed), render the ruleset
for ``services`` Services x ``endpoints`` endpoints and apply it with one
``iptables-restore --noflush --counters`` (the first full sync, then a second
full sync over the existing rules), then change one endpoint of one Service and
time the partial sync (render the changed Service's chains + restore).
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
from bench.procs import HOST, BenchError, ServerProcess, cpu_seconds, free_port, python_module

SERVICE_RANGE = "127.96.0.0/16"
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
    port = free_port()
    api = ServerProcess(
        "kubemu-proxy",
        python_module("apiserver", "--bind-address", HOST, "--port", str(port),
                      "--data-dir", str(workdir / "data-proxy"), "--storage", "sqlite",
                      "--service-cluster-ip-range", SERVICE_RANGE),
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


def restore_binary() -> str:
    """``iptables-legacy-restore`` when installed: the nf_tables backend of iptables 1.8.9
    took 442 s for the 10,000-Service restore here (legacy: under 3 s)."""
    return "iptables-legacy-restore" if shutil.which("iptables-legacy-restore") else (
        "iptables-restore")


def _restore(ns: str, text: str) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(["ip", "netns", "exec", ns, restore_binary(), "-w", "--noflush",
                           "--counters"], input=text.encode(), capture_output=True, check=False)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise BenchError(f"iptables-restore failed: {done.stderr.decode()[:500]}")
    return took


def run_iptables(services: int, per_service: int) -> dict[str, Any]:
    """The ``iptables`` scenario (root: a scratch network namespace)."""
    from controllers.proxy.iptables import IPTablesConfig, render
    from controllers.proxy.types import Endpoint, ServicePort, ServicePortName

    if os.geteuid() != 0 or shutil.which("iptables-restore") is None:
        raise BenchError("the iptables scenario needs root and iptables-restore")
    ns = f"kubemu-bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        cfg = IPTablesConfig(cluster_cidr="10.0.0.0/8")
        ports: dict[ServicePortName, ServicePort] = {}
        eps: dict[ServicePortName, tuple[Endpoint, ...]] = {}
        for i in range(services):
            spn = ServicePortName("bench", f"svc-{i:05d}", "http", "TCP")
            ports[spn] = ServicePort(spn, f"172.30.{i // 250}.{i % 250 + 1}", 80)
            eps[spn] = tuple(Endpoint(f"10.{i // 250}.{i % 250}.{j + 1}", 8080)
                             for j in range(per_service))
        runs = []
        chains: set[str] | None = None
        for _ in range(2):
            t0 = time.perf_counter()
            rendered = render(ports, eps, cfg, previous_chains=chains or set())
            render_s = time.perf_counter() - t0
            restore_s = _restore(ns, rendered.text)
            chains = rendered.nat_chains
            runs.append({"render_s": render_s, "restore_s": restore_s,
                         "total_s": render_s + restore_s})
        lines = rendered.text.count("\n")
        nat_rules = rendered.rules
        # One endpoint of one Service changes: a partial sync.
        spn = next(iter(ports))
        eps[spn] = (Endpoint("10.250.0.1", 8080), *eps[spn][1:])
        t0 = time.perf_counter()
        partial = render(ports, eps, cfg, previous_chains=chains,
                         changed={spn.service_key})
        render_s = time.perf_counter() - t0
        restore_s = _restore(ns, partial.text)
        save = restore_binary().replace("-restore", "-save")
        check = subprocess.run(["ip", "netns", "exec", ns, save, "-t", "nat"],
                               capture_output=True, text=True, check=False).stdout
        if "10.250.0.1:8080" not in check:
            raise BenchError("the partial sync did not program the new endpoint")
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    result = {"services": services, "endpoints_per_service": per_service,
              "restore": restore_binary(),
              "restore_lines": lines, "rules": nat_rules, "full": runs,
              "partial": {"render_s": render_s, "restore_s": restore_s,
                          "total_s": render_s + restore_s,
                          "lines": partial.text.count("\n")}}
    print(f"bench: iptables full sync {runs[0]['total_s']:.2f} s (again "
          f"{runs[1]['total_s']:.2f} s), partial {result['partial']['total_s'] * 1000:.0f} ms",
          file=sys.stderr)
    return result


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
    first, again, part = r["full"][0], r["full"][1], r["partial"]
    return [
        f"#### iptables sync: {r['services']:,} Services x {r['endpoints_per_service']} "
        f"endpoints ({r['restore_lines']:,} restore lines, {r['rules']:,} rules), "
        f"scratch network namespace, `{r['restore']}`",
        "",
        "| sync | render | iptables-restore | total |",
        "|---|---:|---:|---:|",
        f"| full (first) | {first['render_s']:.2f} s | {first['restore_s']:.2f} s "
        f"| {first['total_s']:.2f} s |",
        f"| full (over existing rules) | {again['render_s']:.2f} s | {again['restore_s']:.2f} s "
        f"| {again['total_s']:.2f} s |",
        f"| partial (one endpoint changed, {part['lines']:,} lines) "
        f"| {part['render_s'] * 1000:.0f} ms | {part['restore_s'] * 1000:.0f} ms "
        f"| {part['total_s'] * 1000:.0f} ms |",
    ]
