"""The ``nftables`` scenario: kube-proxy's nftables sync cost at scale (root needed).

For each size in ``--nft-services`` (Services x ``--nft-endpoints`` endpoints), in a
scratch network namespace of its own: render the ruleset with kube-proxy's
:class:`controllers.proxy.nftables.NFTablesRenderer` and apply it as kube-proxy
does (one ``nft -f -`` transaction): a full sync into an empty namespace (``add
table`` + ``delete table`` first), a second full sync over the existing table
(every chain flushed and rewritten, every map refilled), then one endpoint of one
Service changes and the partial sync (render + ``nft -f`` of the changed chains
and elements) is timed. Besides wall time, the CPU time of the render (this
process) and of ``nft`` (user + system, its kernel work included) is recorded: on
a loaded machine it is the steadier number. The partial sync is checked in the
kernel (``nft list chain``).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from typing import Any

from bench.procs import BenchError
from bench.proxy import scale_maps
from controllers.proxy.nftables import NFTablesConfig, NFTablesRenderer, Rendered
from controllers.proxy.nftables_service import chain_base
from controllers.proxy.types import Endpoint, ServicePort, ServicePortName

__all__ = ["run_nftables", "table", "targets"]

Ports = dict[ServicePortName, ServicePort]
Eps = dict[ServicePortName, tuple[Endpoint, ...]]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _apply(ns: str, text: str) -> tuple[float, float]:
    """Wall and CPU seconds of ``nft -f -`` of ``text`` inside ``ns``."""
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    done = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"],
                          input=text.encode(), capture_output=True, check=False)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise BenchError(f"nft -f failed: {done.stderr.decode()[:500]}")
    return took, _children_cpu() - cpu0


def _sync(renderer: NFTablesRenderer, ns: str, ports: Ports, eps: Eps,
          full: bool) -> tuple[Rendered, dict[str, Any]]:
    t0, cpu0 = time.perf_counter(), time.process_time()
    rendered = renderer.render(ports, eps, full=full)
    render_s, render_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    nft_s, nft_cpu = _apply(ns, rendered.text)
    renderer.commit(rendered)
    return rendered, {"render_s": render_s, "render_cpu_s": render_cpu, "nft_s": nft_s,
                      "nft_cpu_s": nft_cpu, "total_s": render_s + nft_s,
                      "cpu_s": render_cpu + nft_cpu, "lines": rendered.text.count("\n")}


def _size_run(services: int, per_service: int) -> dict[str, Any]:
    ports, eps = scale_maps(services, per_service)
    renderer = NFTablesRenderer(NFTablesConfig(cluster_cidr="10.0.0.0/8"))
    ns = f"kubemu-nft-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    out: dict[str, Any] = {"services": services, "endpoints_per_service": per_service,
                           "full": []}
    try:
        for _ in range(2):
            rendered, sync = _sync(renderer, ns, ports, eps, True)
            out["full"].append(sync)
        out["rules"] = rendered.rules
        spn = next(iter(ports))
        eps[spn] = (Endpoint("10.250.0.1", 8080), *eps[spn][1:])
        _, out["partial"] = _sync(renderer, ns, ports, eps, False)
        chain = "service-" + chain_base(spn, "TCP")
        listing = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "chain", "ip",
                                  "kube-proxy", chain], capture_output=True, text=True,
                                 check=False).stdout
        if "dnat to 10.250.0.1:8080" not in listing:
            raise BenchError("the partial nftables sync did not program the new endpoint")
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    return out


def run_nftables(sizes: list[int], per_service: int) -> dict[str, Any]:
    """The ``nftables`` scenario, one scratch namespace per size."""
    if os.geteuid() != 0:
        raise BenchError("the nftables scenario needs root")
    if shutil.which("nft") is None:
        raise BenchError("the nftables scenario needs nft (Debian package nftables)")
    version = subprocess.run(["nft", "--version"], capture_output=True, text=True,
                             check=False).stdout.strip()
    runs = []
    for services in sizes:
        r = _size_run(services, per_service)
        runs.append(r)
        print(f"bench: nftables {services:,} Services full sync {r['full'][0]['total_s']:.2f} s,"
              f" partial {r['partial']['total_s'] * 1000:.0f} ms", file=sys.stderr)
    return {"nft": version, "kernel": os.uname().release, "runs": runs}


def _s(wall: float, cpu: float) -> str:
    return f"{wall:.2f} s ({cpu:.2f} s)"


def _ms(wall: float, cpu: float) -> str:
    return f"{wall * 1000:.0f} ms ({cpu * 1000:.0f} ms)"


def table(results: dict[str, Any]) -> list[str]:
    """Markdown for the ``nftables`` scenario."""
    r = results["nftables"]
    out = [
        f"#### nftables sync ({r['nft']}, Linux {r['kernel']}), scratch network namespaces",
        "",
        "| Services x endpoints | rules | sync | lines | render (CPU) | nft -f (CPU) "
        "| total (CPU) |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for run in r["runs"]:
        size = f"{run['services']:,} x {run['endpoints_per_service']}"
        labels = ("full (first)", "full (over existing)")
        for label, sync in zip(labels, run["full"], strict=False):
            out.append(f"| {size} | {run['rules']:,} | {label} | {sync['lines']:,} "
                       f"| {_s(sync['render_s'], sync['render_cpu_s'])} "
                       f"| {_s(sync['nft_s'], sync['nft_cpu_s'])} "
                       f"| {_s(sync['total_s'], sync['cpu_s'])} |")
        p = run["partial"]
        out.append(f"| {size} | {run['rules']:,} | partial (one endpoint changed) "
                   f"| {p['lines']:,} | {_ms(p['render_s'], p['render_cpu_s'])} "
                   f"| {_ms(p['nft_s'], p['nft_cpu_s'])} | {_ms(p['total_s'], p['cpu_s'])} |")
    return out


def targets(results: dict[str, Any], full_s: float, partial_ms: float) -> list[dict[str, Any]]:
    """Target rows (full sync < ``full_s``, partial < ``partial_ms``) of the largest size."""
    r = results.get("nftables")
    if not r:
        return []
    run = max(r["runs"], key=lambda x: x["services"])
    size = f"{run['services']:,} Services x {run['endpoints_per_service']} endpoints"
    full = run["full"][0]
    part = run["partial"]
    return [
        {"name": f"nftables full sync, {size} (render + nft -f)",
         "required": f"< {full_s:g} s",
         "measured": f"{full['total_s']:.2f} s (CPU {full['cpu_s']:.2f} s)",
         "pass": full["total_s"] < full_s},
        {"name": "nftables partial sync, one endpoint changed",
         "required": f"< {partial_ms:g} ms",
         "measured": f"{part['total_s'] * 1000:.0f} ms (CPU {part['cpu_s'] * 1000:.0f} ms)",
         "pass": part["total_s"] * 1000 < partial_ms},
    ]
