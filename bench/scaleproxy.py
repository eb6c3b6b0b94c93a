"""kube-proxy sync time at the ``scale`` scenario's size (10,000 Services).

Both proxiers are driven in this process with the service-port and endpoints maps their
change trackers would build (one TCP port per Service, ``endpoints`` ready endpoints each):

* **userspace**: :class:`controllers.proxy.userspace.UserspaceProxier` opens a listener on
  every ClusterIP (loopback addresses of a leased service range, so no privilege is needed)
  — the first full sync — then one endpoint of one Service changes, :data:`PARTIAL_SYNCS`
  times, each of another Service (partial syncs: their mean wall and CPU time), then a full
  resync finds nothing to change (the periodic one);
* **nftables**: :class:`controllers.proxy.rules.NFTablesProxier` renders and applies its
  ruleset with ``nft -f`` in a scratch network namespace (root), a first full sync into an
  empty namespace and then a partial sync of one changed endpoint.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.procs import BenchError
from controllers.proxy.nftables import NFTablesConfig
from controllers.proxy.rules import NFTablesProxier
from controllers.proxy.types import Endpoint, ServicePort, ServicePortName
from controllers.proxy.userspace import UserspaceProxier

Ports = dict[ServicePortName, ServicePort]
Eps = dict[ServicePortName, tuple[Endpoint, ...]]


def maps(services: int, per_service: int, first_ip: str) -> tuple[Ports, Eps]:
    """``services`` Services with ClusterIPs counted up from ``first_ip``."""
    base = int(ipaddress.IPv4Address(first_ip))
    ports: Ports = {}
    eps: Eps = {}
    for i in range(services):
        spn = ServicePortName(f"scale-{i // 10:04d}", f"svc-{i % 10}", "http", "TCP")
        ports[spn] = ServicePort(spn, str(ipaddress.IPv4Address(base + i)), 80)
        eps[spn] = tuple(Endpoint(f"10.{i >> 8 & 255}.{i & 255}.{j + 1}", 8080)
                         for j in range(per_service))
    return ports, eps


#: One-endpoint partial syncs of the userspace proxier, each of another Service.
PARTIAL_SYNCS = 5


def _changed(ports: Ports, eps: Eps, index: int = 0) -> tuple[Eps, set[str]]:
    """``eps`` with the first endpoint of the ``index``-th Service replaced (10.250.0.N)."""
    spn = list(ports)[index * 997 % len(ports)] if index else next(iter(ports))
    return ({**eps, spn: (Endpoint(f"10.250.0.{index + 1}", 8080), *eps[spn][1:])},
            {spn.service_key})


async def _timed(proxier: Any, ports: Ports, eps: Eps, changed: set[str],
                 full: bool) -> float:
    t0 = time.perf_counter()
    await proxier.sync(ports, eps, changed, full)
    return time.perf_counter() - t0


async def _userspace(ports: Ports, eps: Eps) -> dict[str, Any]:
    proxier = UserspaceProxier(nodeport_addresses=[])
    try:
        full = await _timed(proxier, ports, eps, set(), True)
        if len(proxier.listening) != len(ports):
            raise BenchError(f"userspace proxier listens on {len(proxier.listening)} of "
                             f"{len(ports)} ClusterIPs")
        partial = cpu = 0.0
        for index in range(PARTIAL_SYNCS):
            eps, changed = _changed(ports, eps, index)
            started = time.process_time()
            partial += await _timed(proxier, ports, eps, changed, False)
            cpu += time.process_time() - started
        resync = await _timed(proxier, ports, eps, set(), True)
        if len(proxier.listening) != len(ports):
            raise BenchError("the userspace proxier's resync changed its listeners")
    finally:
        await proxier.cleanup()
    return {"full_s": full, "partial_s": partial / PARTIAL_SYNCS,
            "partial_cpu_s": cpu / PARTIAL_SYNCS, "resync_s": resync}


async def _nftables(ports: Ports, eps: Eps, nft: str) -> dict[str, Any]:
    proxier = NFTablesProxier(NFTablesConfig(cluster_cidr="10.0.0.0/8"), nft=nft)
    full = await _timed(proxier, ports, eps, set(), True)
    new_eps, changed = _changed(ports, eps)
    partial = await _timed(proxier, ports, new_eps, changed, False)
    return {"full_s": full, "partial_s": partial}


def run_proxy(workdir: Path, services: int, per_service: int,
              first_cluster_ip: str) -> dict[str, Any]:
    """Both proxiers' syncs; nftables only as root with ``nft`` installed."""
    ports, eps = maps(services, per_service, first_cluster_ip)
    out: dict[str, Any] = {"services": services, "endpoints_per_service": per_service}
    print(f"bench: scale  kube-proxy userspace sync, {services:,} Services…", file=sys.stderr)
    out["userspace"] = asyncio.run(_userspace(ports, eps))
    nft = shutil.which("nft")
    if os.geteuid() != 0 or nft is None:
        print("bench: scale  nftables sync skipped (needs root and nft)", file=sys.stderr)
        out["nftables"] = None
        return out
    print(f"bench: scale  kube-proxy nftables sync, {services:,} Services…", file=sys.stderr)
    ns = f"kubemu-scale-{uuid.uuid4().hex[:6]}"
    wrapper = workdir / "nft-in-netns"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {ns} {nft} "$@"\n')
    wrapper.chmod(0o755)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        out["nftables"] = asyncio.run(_nftables(ports, eps, str(wrapper)))
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    return out
