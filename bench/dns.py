"""The ``dns`` scenario: cluster DNS queries/s against dnspython's own round trip, and p99.

Processes, all real: an apiserver (``--storage sqlite``), ``python -m controllers.dns``
fed by it over HTTP (informers on Namespaces, Services, EndpointSlices), and the baseline
``python -m bench.dns_responder`` (one blocking UDP socket that parses each query with
dnspython and answers a fixed A record: the least a dnspython server does). Both DNS
servers run on the server CPU; the apiserver too (it is idle while DNS is measured).

Data: ``services`` Services in ``bench-dns`` (default 1,000); every tenth is headless with
an EndpointSlice of three ready endpoints with hostnames, the others are ClusterIP. The
queries cycle through, per Service, its A record (one address, or the three endpoints),
plus, for every tenth Service, the SRV of its ``_http._tcp`` port and the A record of a
Service that does not exist (NXDOMAIN with the SOA, as a resolver's search path
produces). Each answer's rcode and answer count are checked; the baseline gets the same
query wires.

Load: the driver (on the load CPU) runs ``clients`` closed-loop UDP clients
(:mod:`bench.dnsload`, default 8): each has one query in flight and sends its next on
the answer, so the server always has work queued; the generator only patches the query
id and reads the answer's header, a small fraction of what either server spends per
query, and its own CPU share is reported (well below 100%: it is not the limit). Each
server gets a warm-up, then ``repeat`` loaded runs of ``duration`` seconds (the best
kept), then one run with a single client for unloaded latency.

* **kubemu ÷ baseline** = cluster DNS queries/s ÷ the responder's queries/s;
* **CPU ratio** = the responder's CPU time per query ÷ the cluster DNS's: the same ratio
  on a core of its own, which the queries/s ratio only is when nothing else runs on the
  server CPU (shared machines: read both);
* **p99** = answer latency at that load (queueing behind the other clients included) and
  with one client (one query at a time).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rcode
import httpx
import orjson

from bench import procs
from bench.dnsload import Query, run_load
from bench.procs import HOST, BenchError, ServerProcess, free_port, python_module

NAMESPACE = "bench-dns"
ZONE = "cluster.local"
HEADLESS_EVERY = 10
ENDPOINTS_PER_HEADLESS = 3
CONCURRENCY = 16
KUBEMU = "kubemu-dns"
RESPONDER = "dnspython-responder"


def _name(i: int) -> str:
    return f"svc-{i:04d}"


def _objects(services: int) -> list[tuple[str, dict[str, Any]]]:
    """(collection path, body) of every Service and EndpointSlice."""
    out: list[tuple[str, dict[str, Any]]] = []
    port = {"name": "http", "port": 80, "protocol": "TCP"}
    for i in range(services):
        headless = i % HEADLESS_EVERY == 0
        spec: dict[str, Any] = {"ports": [port]}
        if headless:
            spec["clusterIP"] = "None"
        out.append((f"/api/v1/namespaces/{NAMESPACE}/services",
                    {"metadata": {"name": _name(i)}, "spec": spec}))
        if headless:
            out.append((f"/apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}/endpointslices", {
                "metadata": {"name": f"{_name(i)}-a",
                             "labels": {"kubernetes.io/service-name": _name(i)}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": [f"10.{200 + i // 250}.{i % 250}.{k + 1}"],
                               "hostname": f"web-{k}", "conditions": {"ready": True}}
                              for k in range(ENDPOINTS_PER_HEADLESS)],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}))
    return out


async def _create_all(url: str, objects: list[tuple[str, dict[str, Any]]]) -> None:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:
        r = await client.post("/api/v1/namespaces", json={"metadata": {"name": NAMESPACE}})
        if r.status_code not in (201, 409):
            raise BenchError(f"create namespace: HTTP {r.status_code}: {r.text[:300]}")
        pending = iter(objects)

        async def worker() -> None:
            for path, body in pending:
                r = await client.post(path, content=orjson.dumps(body), headers=headers)
                if r.status_code != 201:
                    raise BenchError(f"POST {path}: HTTP {r.status_code}: {r.text[:300]}")

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def queries(services: int) -> list[Query]:
    """The scenario's query mix against the cluster DNS (see the module docstring)."""
    out: list[Query] = []
    for i in range(services):
        name = f"{_name(i)}.{NAMESPACE}.svc.{ZONE}."
        headless = i % HEADLESS_EVERY == 0
        out.append(Query.make(name, "A", min_answers=ENDPOINTS_PER_HEADLESS if headless else 1))
        if i % HEADLESS_EVERY == HEADLESS_EVERY // 2:
            out.append(Query.make(f"_http._tcp.{name}", "SRV"))
            out.append(Query.make(f"missing-{i:04d}.{NAMESPACE}.svc.{ZONE}.", "A",
                                  rcode=dns.rcode.NXDOMAIN, min_answers=0))
    return out


class _Responder(ServerProcess):
    """The baseline responder process (no HTTP: ready when it prints ``ready``)."""

    def __init__(self, workdir: Path, cpu: int | None) -> None:
        port = free_port()
        super().__init__(RESPONDER, python_module("bench.dns_responder", "--port", str(port)),
                         port, workdir / "dns-responder.log", cpu)

    def start(self, timeout: float = 30.0) -> _Responder:
        """Start it and wait for its ``ready`` line."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, stdout=subprocess.PIPE, stderr=log, cwd=procs.REPO_ROOT,
                env=dict(os.environ, PYTHONUNBUFFERED="1"), preexec_fn=procs.child_setup(self.cpu))
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":
            self.stop()
            raise BenchError(f"the DNS responder did not start; see {self.log_path}")
        return self


def _measured(port: int, pid: int, mix: list[Query], clients: int, seconds: float,
              server_cpu: int | None) -> dict[str, Any]:
    """One load run, with the server's CPU share and the rest of its core's load."""
    own0 = procs.cpu_seconds(pid)
    core0 = procs.cpu_busy_seconds(server_cpu) if server_cpu is not None else 0.0
    result = run_load(port, mix, clients, seconds)
    own = procs.cpu_seconds(pid) - own0
    result["server_cpu"] = own / result["seconds"]
    result["cpu_us_per_query"] = own * 1e6 / result["answered"] if result["answered"] else None
    if server_cpu is not None:
        other = procs.cpu_busy_seconds(server_cpu) - core0 - own
        result["other_cpu"] = max(0.0, other) / result["seconds"]
    return result


def _bench(targets: dict[str, tuple[int, int, list[Query]]], clients: int, duration: float,
           warmup: float, repeat: int, server_cpu: int | None) -> dict[str, Any]:
    """Warm-up, best of ``repeat`` loaded runs (servers alternating), one single-client
    run, per server."""
    for port, _pid, mix in targets.values():
        if warmup > 0:
            run_load(port, mix, clients, warmup)
    loaded: dict[str, dict[str, Any]] = {}
    for _ in range(repeat):
        for name, (port, pid, mix) in targets.items():
            run = _measured(port, pid, mix, clients, duration, server_cpu)
            print(f"bench: dns    {name:<20} {run['qps']:>8,.0f} q/s  p99 "
                  f"{run['latency'].get('p99_ms', 0):.2f} ms  wrong {run['wrong']} lost "
                  f"{run['lost']}  load CPU {run['load_cpu']:.0%}", file=sys.stderr)
            if name not in loaded or run["qps"] > loaded[name]["qps"]:
                loaded[name] = run
    single = {name: _measured(port, pid, mix, 1, duration, server_cpu)
              for name, (port, pid, mix) in targets.items()}
    return {"loaded": loaded, "single": single}


def _check_answers(port: int, services: int) -> None:
    """A ClusterIP and a headless Service answer as expected before measuring."""
    for i, want in ((1, 1), (0, ENDPOINTS_PER_HEADLESS), (services - 1, 1)):
        q = dns.message.make_query(f"{_name(i)}.{NAMESPACE}.svc.{ZONE}.", "A")
        resp = dns.query.udp(q, HOST, timeout=5, port=port)
        got = sum(len(r) for r in resp.answer)
        if resp.rcode() != dns.rcode.NOERROR or got != want:
            raise BenchError(f"cluster DNS answered {_name(i)} with {resp}")


def run_scenario(workdir: Path, server_cpu: int | None, args: Any) -> dict[str, Any]:
    """Start the processes, load the Services, measure both servers; stop everything."""
    services, clients = args.dns_services, args.dns_clients
    port = free_port()
    api = ServerProcess(
        "kubemu-dns-api",
        procs.apiserver_module("--bind-address", HOST, "--port", str(port), "--data-dir",
                               str(workdir / "data-dns"), "--storage", "sqlite",
                               "--service-cluster-ip-range", "10.96.0.0/16"),
        port, workdir / "kubemu-dns-api.log", server_cpu).start()
    dns_server: ServerProcess | None = None
    responder: _Responder | None = None
    try:
        objects = _objects(services)
        print(f"bench: dns    creating {services:,} Services…", file=sys.stderr)
        t0 = time.perf_counter()
        asyncio.run(_create_all(api.url, objects))
        populate_s = time.perf_counter() - t0
        dns_port, metrics_port = free_port(), free_port()
        dns_server = ServerProcess(
            KUBEMU,
            python_module("controllers.dns", "--server", api.url, "--dns-address", HOST,
                          "--dns-port", str(dns_port), "--forward=false",
                          "--metrics-bind-address", f"{HOST}:{metrics_port}"),
            metrics_port, workdir / "dns.log", server_cpu)
        t0 = time.perf_counter()
        dns_server.start(timeout=120)
        sync_s = time.perf_counter() - t0
        _check_answers(dns_port, services)
        responder = _Responder(workdir, server_cpu).start()
        mix = queries(services)
        baseline_mix = [Query(q.wire) for q in mix]
        result = _bench({RESPONDER: (responder.port, responder.pid, baseline_mix),
                         KUBEMU: (dns_port, dns_server.pid, mix)},
                        clients, args.duration, args.warmup, args.repeat, server_cpu)
    finally:
        if responder is not None:
            responder.stop()
        if dns_server is not None:
            dns_server.stop()
        api.stop()
    loaded = result["loaded"]
    result.update(services=services, headless=len(range(0, services, HEADLESS_EVERY)),
                  queries=len(mix), clients=clients, populate_seconds=populate_s,
                  start_seconds=sync_s, duration=args.duration,
                  ratio=loaded[KUBEMU]["qps"] / loaded[RESPONDER]["qps"]
                  if loaded[RESPONDER]["qps"] else None,
                  loadavg=os.getloadavg())
    return result


def table(results: dict[str, Any]) -> list[str]:
    """The Markdown of the scenario."""
    d = results["dns"]
    cfg = results["config"]
    lines = [
        f"#### Cluster DNS: {d['services']:,} Services ({d['headless']} headless with "
        f"{ENDPOINTS_PER_HEADLESS} endpoints), {d['queries']:,} distinct queries cycled; "
        f"{d['clients']} closed-loop UDP clients, {d['duration']:g} s per run; servers on "
        f"CPU {cfg['server_cpu']}, clients on CPU {cfg['load_cpu']}",
        "",
        "| server | clients | queries/s | p50 ms | p99 ms | p99.9 ms | wrong / lost "
        "| server CPU | CPU µs / query | others on server CPU | client CPU | kubemu ÷ this "
        "| CPU ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in ("loaded", "single"):
        runs = d[kind]
        for name, run in runs.items():
            lat = run["latency"]
            ratio = (f"{runs[KUBEMU]['qps'] / run['qps']:.0%}"
                     if name != KUBEMU and run["qps"] else "—")
            mine, theirs = runs[KUBEMU].get("cpu_us_per_query"), run.get("cpu_us_per_query")
            cpu_ratio = f"{theirs / mine:.0%}" if name != KUBEMU and mine and theirs else "—"
            other = run.get("other_cpu")
            lines.append(
                f"| {'**cluster DNS**' if name == KUBEMU else 'dnspython responder'} "
                f"| {run['clients']} | {run['qps']:,.0f} | {lat.get('p50_ms', 0):.2f} "
                f"| {lat.get('p99_ms', 0):.2f} | {lat.get('p999_ms', 0):.2f} "
                f"| {run['wrong']} / {run['lost']} | {run['server_cpu']:.0%} "
                f"| {run.get('cpu_us_per_query') or 0:.0f} "
                f"| {'—' if other is None else f'{other:.0%}'} | {run['load_cpu']:.0%} "
                f"| {ratio} | {cpu_ratio} |")
    lines += [
        "",
        "Latency = answer received - query sent, per query, on the client. Server CPU = "
        "the DNS process's CPU time over the run (CPU µs / query: that time ÷ queries "
        "answered; CPU ratio: the responder's ÷ the cluster DNS's); client CPU = the load "
        "generator's. "
        f"Creating the objects took {d['populate_seconds']:.1f} s; the DNS process was "
        f"answering (caches synced) {d['start_seconds']:.1f} s after its start. Load "
        f"average at the end: {', '.join(f'{x:.2f}' for x in d['loadavg'])}.",
    ]
    return lines
