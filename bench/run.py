"""``python -m bench``: kubemu against a bare-endpoint baseline, measured in one run.

See ``bench/README.md`` for what each scenario measures and how to read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

from bench import (
    crd,
    dns,
    endpoints,
    execlatency,
    limits,
    metrics,
    nftables,
    populate,
    portforward,
    proxy,
    report,
    secure,
    storage,
    webhooks,
    workloads,
)
from bench.cli import parse_args
from bench.procs import (
    HOST,
    LOAD_CPU,
    SERVER_CPU,
    BenchError,
    ServerProcess,
    apiserver_module,
    child_setup,
    cpu_busy_seconds,
    free_port,
    pin_self,
    pinning_available,
    python_module,
)
from bench.targets import targets
from bench.wrk import WrkResult, ensure_wrk, run_wrk, write_scripts

HTTP_SCENARIOS = ("get", "list", "create")  # the order they run in (create writes last)

GET_NAMESPACE = "default"
GET_POD = "bench-pod"
LIST_NAMESPACE = "bench"
CREATE_NAMESPACE = "bench-create"
WATCH_NAMESPACE = "bench-watch"
WATCH_CONFIGMAP = "fan-out"

@dataclass
class Context:
    """What the scenarios share."""

    args: argparse.Namespace
    workdir: Path
    wrk: str
    report_lua: Path
    create_lua: Path
    server_cpu: int | None
    load_cpu: int | None
    run_counter: int = 0


def _measure(ctx: Context, server: ServerProcess, scenario: str) -> WrkResult:
    """Warm up, then measure ``scenario`` against ``server`` with wrk."""
    args = ctx.args
    extra: tuple[str, ...] = ()
    if scenario in ("get", "get-rv0"):
        url = f"{server.url}/api/v1/namespaces/{GET_NAMESPACE}/pods/{GET_POD}"
        if scenario == "get-rv0":  # served from the watch cache as it is, no freshness check
            url += "?resourceVersion=0"
        script = ctx.report_lua
    elif scenario == "list":
        url = f"{server.url}/api/v1/namespaces/{LIST_NAMESPACE}/pods"
        script = ctx.report_lua
    else:
        url = server.url
        script = ctx.create_lua

    def once(seconds: float) -> WrkResult:
        nonlocal extra
        if scenario == "create":
            ctx.run_counter += 1
            extra = (f"r{ctx.run_counter}", f"/api/v1/namespaces/{CREATE_NAMESPACE}/pods")
        return run_wrk(ctx.wrk, url, script, seconds, args.connections, ctx.load_cpu, extra)

    if args.warmup > 0:
        once(args.warmup)
    best: WrkResult | None = None
    pinned = ctx.server_cpu is not None and ctx.load_cpu is not None
    for _ in range(args.repeat):
        cpu0 = server.cpu_seconds()
        core0 = cpu_busy_seconds(ctx.server_cpu) if ctx.server_cpu is not None else 0.0
        load0 = cpu_busy_seconds(ctx.load_cpu) if ctx.load_cpu is not None else 0.0
        result = once(args.duration)
        own = server.cpu_seconds() - cpu0
        secs = result.seconds
        busy = own / secs if secs else None
        other = other_load = None
        if pinned and secs:
            assert ctx.server_cpu is not None and ctx.load_cpu is not None
            other = max(0.0, cpu_busy_seconds(ctx.server_cpu) - core0 - own) / secs
            load = (cpu_busy_seconds(ctx.load_cpu) - load0) / secs
            other_load = max(0.0, load - (result.wrk_cpu or 0.0))
        result = replace(result, server_cpu=busy, other_cpu=other, other_load_cpu=other_load)
        if best is None or result.rps > best.rps:
            best = result
    assert best is not None
    result = best
    print(
        f"bench: {scenario:<6} {server.name:<8} {result.rps:>10,.0f} req/s "
        f"{result.mbps:>8.1f} MB/s  p99 {result.p99_ms:.2f} ms  errors {result.errors}",
        file=sys.stderr,
    )
    return result


def _start_kubemu(ctx: Context) -> ServerProcess:
    port = free_port()
    argv = apiserver_module(
        "--bind-address", HOST,
        "--port", str(port),
        "--data-dir", str(ctx.workdir / "data"),
        "--storage", "sqlite",
    )
    return ServerProcess("kubemu", argv, port, ctx.workdir / "kubemu.log", ctx.server_cpu).start()


def _start_baseline(ctx: Context, mode: str, obj: Path, listing: Path) -> ServerProcess:
    port = free_port()
    argv = python_module(
        "bench.baseline", "--mode", mode, "--port", str(port),
        "--object", str(obj), "--list", str(listing),
    )
    log = ctx.workdir / f"baseline-{mode}.log"
    return ServerProcess(mode, argv, port, log, ctx.server_cpu).start()


def _run_watch(ctx: Context, kubemu: ServerProcess, name: str = WATCH_CONFIGMAP) -> dict[str, Any]:
    """One fan-out run against ``kubemu``, updating ConfigMaps named after ``name`` (a
    fresh name per run on the same server: the load creates them)."""
    args = ctx.args
    argv = python_module(
        "bench.watchload",
        "--url", kubemu.url,
        "--namespace", WATCH_NAMESPACE,
        "--name", name,
        "--watchers", str(args.watchers),
        "--updates", str(args.updates),
        "--interval", str(args.update_interval),
        "--concurrency", str(args.update_concurrency),
    )
    print(f"bench: watch  {args.watchers} watchers x {args.updates} updates…", file=sys.stderr)
    cpu0 = kubemu.cpu_seconds()
    core0 = cpu_busy_seconds(ctx.server_cpu) if ctx.server_cpu is not None else 0.0
    wall0 = time.perf_counter()
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=child_setup(ctx.load_cpu),
        timeout=1800,
    )
    cpu = kubemu.cpu_seconds() - cpu0
    wall = time.perf_counter() - wall0
    core = cpu_busy_seconds(ctx.server_cpu) - core0 if ctx.server_cpu is not None else None
    if done.returncode != 0:
        raise BenchError(f"watch load failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # Over the whole load process (start-up, connects, writes, drain).
    result["wall_seconds"] = wall
    result["server_cpu_seconds"] = cpu
    result["server_cpu"] = cpu / wall if wall > 0 else None
    result["server_core_busy_seconds"] = core
    lat = result["latency_from_send"]
    print(
        f"bench: watch  delivered {result['delivered']:,}/{result['expected']:,} "
        f"p50 {lat.get('p50_ms', 0):.1f} ms p99 {lat.get('p99_ms', 0):.1f} ms "
        f"max {lat.get('max_ms', 0):.1f} ms",
        file=sys.stderr,
    )
    return result


def _machine() -> str:
    cpus = os.cpu_count() or 0
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpus} CPUs{f' ({model})' if model else ''}, {platform.system()} {platform.release()}"


def _wrk_version(wrk: str) -> str:
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).splitlines()
    return first[0].split(" Copyright")[0] if first else "wrk"


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Every selected scenario; returns the JSON-able results."""
    http_scenarios = [s for s in HTTP_SCENARIOS if s in args.scenarios]
    if pinning_available():
        pin_self(LOAD_CPU)
        server_cpu: int | None = SERVER_CPU
        load_cpu: int | None = LOAD_CPU
    else:
        print("bench: warning: CPUs 0 and 1 are not both available; running unpinned",
              file=sys.stderr)
        server_cpu = load_cpu = None
    wrk = (ensure_wrk() if http_scenarios
           or {"storage", "secure", "limits", "crd", "metrics"} & set(args.scenarios)
           else "")
    report_lua, create_lua = write_scripts(workdir)
    ctx = Context(args, workdir, wrk, report_lua, create_lua, server_cpu, load_cpu)
    results: dict[str, Any] = {
        "config": {
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "machine": _machine(),
            "python": platform.python_version(),
            "uvicorn": version("uvicorn"),
            "fastapi": version("fastapi"),
            "wrk": _wrk_version(wrk) if wrk else "no wrk",
            "duration": args.duration,
            "warmup": args.warmup,
            "connections": args.connections,
            "repeat": args.repeat,
            "loadavg_at_start": os.getloadavg(),
            "server_cpu": "any" if server_cpu is None else server_cpu,
            "load_cpu": "any" if load_cpu is None else load_cpu,
            "scenarios": args.scenarios,
            "baselines": args.baselines,
            "target_baseline": args.target_baseline,
        },
        "bodies": {},
        "http": {},
        "watch": None,
        "endpoints": None,
        "proxy": None,
        "iptables": None,
        "nftables": None,
        "storage": None,
        "secure": None,
        "metrics": None,
        "limits": None,
        "crd": None,
        "workloads": None,
        "exec": None,
        "portforward": None,
        "scale": None,
        "dns": None,
        "targets": [],
    }
    kubemu = _start_kubemu(ctx)
    try:
        with httpx.Client(base_url=kubemu.url, timeout=60.0) as client:
            for ns in (LIST_NAMESPACE, CREATE_NAMESPACE, WATCH_NAMESPACE):
                populate.ensure_namespace(client, ns)
            populate.create_pod(client, GET_NAMESPACE, GET_POD)
            obj = populate.fetch(client, f"/api/v1/namespaces/{GET_NAMESPACE}/pods/{GET_POD}")
            listing = b'{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}'
            if "list" in http_scenarios:
                print(f"bench: creating {args.list_size:,} pods in {LIST_NAMESPACE}…",
                      file=sys.stderr)
                t0 = time.perf_counter()
                populate.populate(kubemu.url, LIST_NAMESPACE, args.list_size)
                took = time.perf_counter() - t0
                results["config"]["populate_seconds"] = took
                listing = populate.fetch(client, f"/api/v1/namespaces/{LIST_NAMESPACE}/pods")
                results["bodies"]["list"] = (
                    f"{args.list_size:,} items, {report.size_label(len(listing))}"
                )
            results["bodies"]["get"] = report.size_label(len(obj))
            results["bodies"]["create"] = f"answer {report.size_label(len(obj))}"
            results["config"]["object_bytes"] = len(obj)
            results["config"]["list_bytes"] = len(listing)
            obj_file = workdir / "object.json"
            list_file = workdir / "list.json"
            obj_file.write_bytes(obj)
            list_file.write_bytes(listing)

            # Every baseline runs (idle) during the whole HTTP part, so that each
            # scenario measures kubemu and its baselines back to back: a change of
            # background load on the machine then hits them alike.
            servers = [kubemu]
            try:
                for mode in args.baselines if http_scenarios else ():
                    base = _start_baseline(ctx, mode, obj_file, list_file)
                    servers.append(base)
                    with httpx.Client(base_url=base.url) as probe:
                        served = populate.fetch(
                            probe, f"/api/v1/namespaces/{GET_NAMESPACE}/pods/{GET_POD}"
                        )
                    if served != obj:
                        raise BenchError(f"baseline {mode} does not serve kubemu's bytes")
                http: dict[str, dict[str, Any]] = {s: {} for s in http_scenarios}
                for scenario in http_scenarios:
                    for server in servers:
                        http[scenario][server.name] = _measure(ctx, server, scenario).as_dict()
            finally:
                for server in servers[1:]:
                    server.stop()
            results["http"] = http

            if "watch" in args.scenarios:
                results["watch"] = _run_watch(ctx, kubemu)
    finally:
        kubemu.stop()
    if "endpoints" in args.scenarios:
        results["endpoints"] = endpoints.run_scenario(
            workdir, server_cpu, load_cpu, args.ep_services, args.ep_pods, args.ep_changes)
    if "secure" in args.scenarios:
        def create_path() -> tuple[str, ...]:
            ctx.run_counter += 1
            return (f"s{ctx.run_counter}", f"/api/v1/namespaces/{CREATE_NAMESPACE}/pods")

        results["secure"] = secure.run_scenario(
            ctx, (CREATE_NAMESPACE,), (GET_NAMESPACE, GET_POD), create_path)
    if "metrics" in args.scenarios:
        results["metrics"] = metrics.run_scenario(
            ctx, _measure, (CREATE_NAMESPACE,), (GET_NAMESPACE, GET_POD))
    if "storage" in args.scenarios:
        results["storage"] = storage.run_scenario(
            ctx, _measure, _run_watch, _start_baseline,
            (CREATE_NAMESPACE, WATCH_NAMESPACE), (GET_NAMESPACE, GET_POD))
    if "limits" in args.scenarios:
        results["limits"] = limits.run_scenario(
            ctx, _measure, (CREATE_NAMESPACE,), (GET_NAMESPACE, GET_POD))
    if "webhooks" in args.scenarios:
        results["webhooks"] = webhooks.run_scenario(ctx, args.webhook_creates)
    if "crd" in args.scenarios:
        results["crd"] = crd.run_scenario(ctx)
    if "proxy" in args.scenarios:
        results["proxy"] = proxy.run_latency(
            workdir, server_cpu, load_cpu, args.ep_services, args.ep_pods, args.ep_changes)
    if "iptables" in args.scenarios:
        results["iptables"] = proxy.run_iptables(args.ipt_services, args.ipt_endpoints)
    if "nftables" in args.scenarios:
        results["nftables"] = nftables.run_nftables(args.nft_services, args.nft_endpoints)
    if "workloads" in args.scenarios:
        results["workloads"] = workloads.run_scenario(
            workdir, server_cpu, load_cpu, args.wl_nodes, args.wl_replicas,
            args.wl_rollout_replicas)
    if "exec" in args.scenarios:
        results["exec"] = execlatency.run_scenario(
            workdir, server_cpu, load_cpu, args.exec_sessions, args.exec_kubectl_runs)
    if "portforward" in args.scenarios:
        results["portforward"] = portforward.run_scenario(
            workdir, args.pf_megabytes, max(args.repeat, 3))
    if "scale" in args.scenarios:
        from bench import scale, scalepop

        results["scale"] = scale.run_scenario(
            workdir, server_cpu,
            scalepop.Shape(args.scale_namespaces, args.scale_services, args.scale_pods),
            not args.scale_no_etcd, args.scale_proxy_endpoints)
    if "dns" in args.scenarios:
        results["dns"] = dns.run_scenario(workdir, server_cpu, args)
    results["targets"] = targets(results, args.target_baseline)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the Markdown report on stdout."""
    args = parse_args(argv)
    if args is None:
        return 2
    tmp = tempfile.mkdtemp(prefix="kubemu-bench-")
    workdir = Path(tmp)
    try:
        results = run(args, workdir)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        print(f"bench: logs kept in {workdir}", file=sys.stderr)
        return 1
    if not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"bench: kept {workdir}", file=sys.stderr)
    print(report.markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.check and not all(t["pass"] for t in results["targets"]):
        return 3
    return 0
