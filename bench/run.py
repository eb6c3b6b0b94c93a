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
from bench.baseline import MODE_LABELS, MODES
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
from bench.wrk import WrkResult, ensure_wrk, run_wrk, write_scripts

SCENARIOS = (
    "get", "create", "list", "watch", "endpoints", "storage", "proxy", "iptables", "nftables",
    "workloads", "secure", "limits", "webhooks", "crd", "exec", "portforward", "metrics", "dns",
    "scale",
)
#: ``storage`` (SQLite vs etcd, bench/storage.py) only on request: it adds about 2 minutes.
DEFAULT_SCENARIOS = ("get", "create", "list", "watch", "endpoints")
CRD_CREATE_TARGET = 0.5
HTTP_SCENARIOS = ("get", "list", "create")  # the order they run in (create writes last)

GET_NAMESPACE = "default"
GET_POD = "bench-pod"
LIST_NAMESPACE = "bench"
CREATE_NAMESPACE = "bench-create"
WATCH_NAMESPACE = "bench-watch"
WATCH_CONFIGMAP = "fan-out"

#: The issue's targets: kubemu's throughput as a share of the bare endpoint's.
GET_TARGET = 0.50
CREATE_TARGET = 0.25
WATCH_P99_TARGET_MS = 250.0
ENDPOINTS_P99_TARGET_MS = 100.0
PROXY_P99_TARGET_MS = 100.0
IPTABLES_FULL_TARGET_S = 3.0
IPTABLES_PARTIAL_TARGET_MS = 200.0
NFTABLES_FULL_TARGET_S = 3.0
NFTABLES_PARTIAL_TARGET_MS = 100.0


def _int_csv(text: str) -> list[int]:
    try:
        items = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        items = []
    if not items or min(items) < 1:
        raise argparse.ArgumentTypeError(f"comma-separated positive integers; got {text!r}")
    return items


def _csv(choices: Sequence[str]) -> Any:
    def parse(text: str) -> list[str]:
        items = [s.strip() for s in text.split(",") if s.strip()]
        bad = [s for s in items if s not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"choose from {', '.join(choices)} (comma-separated); got {text!r}"
            )
        return items

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark kubemu against a bare FastAPI endpoint and a raw ASGI "
        "callable serving the same bytes, on this machine, in one run.",
    )
    p.add_argument("--duration", type=float, default=10.0,
                   help="seconds of each measured wrk run (default 10)")
    p.add_argument("--warmup", type=float, default=2.0,
                   help="seconds of the unmeasured wrk run before each measured one "
                   "(default 2; 0 disables)")
    p.add_argument("--repeat", type=int, default=1,
                   help="measured runs per scenario and server, the best one reported "
                   "(default 1; more filters out bursts of other load on the machine)")
    p.add_argument("--connections", type=int, default=32,
                   help="wrk connections (default 32)")
    p.add_argument("--scenarios", type=_csv(SCENARIOS), default=list(DEFAULT_SCENARIOS),
                   help="comma-separated subset of get,create,list,watch,endpoints,storage,"
                   "proxy,iptables,nftables,workloads,secure,limits,webhooks,crd,exec,"
                   "portforward,metrics,dns,scale "
                   "(default get,create,list,watch,endpoints)")
    p.add_argument("--baselines", type=_csv(MODES), default=list(MODES),
                   help="comma-separated subset of fastapi,route,raw (default all)")
    p.add_argument("--target-baseline", choices=MODES, default="fastapi",
                   help="baseline the GET/create targets are judged against "
                   "(default fastapi: the decorated endpoint)")
    p.add_argument("--list-size", type=int, default=10_000,
                   help="pods created for the list scenario (default 10000)")
    p.add_argument("--watchers", type=int, default=1000,
                   help="concurrent watchers of the fan-out scenario (default 1000)")
    p.add_argument("--updates", type=int, default=1000,
                   help="ConfigMap updates of the fan-out scenario (default 1000)")
    p.add_argument("--update-interval", type=float, default=0.0,
                   help="seconds between update starts (default 0: each update is sent as "
                   "soon as the previous one is acknowledged)")
    p.add_argument("--update-concurrency", type=int, default=1,
                   help="updates in flight at once (default 1); with more, the server "
                   "group-commits and watchers receive batches")
    p.add_argument("--ep-services", type=int, default=1000,
                   help="Services of the endpoints scenario (default 1000)")
    p.add_argument("--ep-pods", type=int, default=10,
                   help="pods per Service of the endpoints scenario (default 10)")
    p.add_argument("--ep-changes", type=int, default=200,
                   help="pod readiness flips timed in the endpoints scenario (default 200)")
    p.add_argument("--ipt-services", type=int, default=10000,
                   help="Services of the iptables scenario (default 10000)")
    p.add_argument("--ipt-endpoints", type=int, default=5,
                   help="endpoints per Service of the iptables scenario (default 5)")
    p.add_argument("--nft-services", type=_int_csv, default=[10_000],
                   help="comma-separated Service counts of the nftables scenario, one "
                   "scratch namespace each (default 10000)")
    p.add_argument("--nft-endpoints", type=int, default=5,
                   help="endpoints per Service of the nftables scenario (default 5)")
    p.add_argument("--webhook-creates", type=int, default=1000,
                   help="creates each way of the webhooks scenario (default 1000)")
    p.add_argument("--storage-watchers", type=int, default=200,
                   help="watchers of the storage scenario's fan-out (default 200)")
    p.add_argument("--storage-updates", type=int, default=500,
                   help="updates of the storage scenario's fan-out (default 500)")
    p.add_argument("--wl-nodes", type=int, default=10,
                   help="node agents of the workloads scenario (default 10)")
    p.add_argument("--wl-replicas", type=int, default=1000,
                   help="replicas the workloads scenario scales a Deployment to, and pods "
                   "of its raw-create baseline (default 1000)")
    p.add_argument("--wl-rollout-replicas", type=int, default=100,
                   help="replicas of the workloads scenario's rolled Deployment (default 100)")
    p.add_argument("--exec-sessions", type=int, default=500,
                   help="exec sessions timed per path in the exec scenario (default 500)")
    p.add_argument("--exec-kubectl-runs", type=int, default=30,
                   help="kubectl exec runs timed in the exec scenario (default 30)")
    p.add_argument("--pf-megabytes", type=int, default=64,
                   help="MiB echoed per run of the portforward scenario (default 64)")
    p.add_argument("--scale-namespaces", type=int, default=1000,
                   help="namespaces of the scale scenario (default 1000)")
    p.add_argument("--scale-services", type=int, default=10,
                   help="Services per namespace of the scale scenario (default 10)")
    p.add_argument("--scale-pods", type=int, default=15,
                   help="pods per Service of the scale scenario (default 15: 150,000 pods)")
    p.add_argument("--scale-proxy-endpoints", type=int, default=5,
                   help="endpoints per Service of the scale scenario's kube-proxy syncs "
                   "(default 5)")
    p.add_argument("--scale-no-etcd", action="store_true",
                   help="measure the scale scenario on SQLite only")
    p.add_argument("--dns-services", type=int, default=1000,
                   help="Services of the dns scenario, every tenth headless (default 1000)")
    p.add_argument("--dns-clients", type=int, default=8,
                   help="concurrent closed-loop UDP clients of the dns scenario (default 8)")
    p.add_argument("--json", type=Path, metavar="OUT.json",
                   help="also write every number to this JSON file")
    p.add_argument("--keep", action="store_true",
                   help="keep the temporary directory (data, logs, response bodies)")
    p.add_argument("--check", action="store_true",
                   help="exit with status 3 when a target fails")
    return p


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


def _targets(results: dict[str, Any], target_mode: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    label = MODE_LABELS[target_mode]
    for scenario, share in (("get", GET_TARGET), ("create", CREATE_TARGET)):
        runs = results["http"].get(scenario, {})
        if "kubemu" not in runs or target_mode not in runs:
            continue
        ratio = runs["kubemu"]["rps"] / runs[target_mode]["rps"]
        out.append({
            "name": f"{report.SCENARIO_LABELS[scenario]} vs {label}",
            "required": f"≥ {share:.0%} of its req/s",
            "measured": f"{ratio:.0%} ({runs['kubemu']['rps']:,.0f} vs "
                        f"{runs[target_mode]['rps']:,.0f} req/s)",
            "ratio": ratio,
            "pass": ratio >= share,
        })
    if results.get("metrics"):
        out += metrics.targets(results)
    if results.get("scale"):
        from bench.scale import targets as scale_targets

        out += scale_targets(results)
    cr = results.get("crd")
    if cr and cr["ratio"].get("create") is not None:
        ratio = cr["ratio"]["create"]
        out.append({
            "name": "create of a custom resource (20 fields, 3 CEL rules) vs a ConfigMap of "
                    "the same size",
            "required": f"≥ {CRD_CREATE_TARGET:.0%} of its req/s",
            "measured": f"{ratio:.0%}", "ratio": ratio, "pass": ratio >= CRD_CREATE_TARGET,
        })
    ep = results.get("endpoints")
    if ep:
        p99 = ep["latency_from_ack"].get("p99_ms", float("inf"))
        out.append({
            "name": f"pod Ready write → Endpoints update ({ep['services']:,} Services x "
                    f"{ep['pods_per_service']} pods)",
            "required": f"p99 < {ENDPOINTS_P99_TARGET_MS:g} ms",
            "measured": f"p99 {p99:.1f} ms; {ep['observed']} of {ep['changes']} observed",
            "pass": p99 < ENDPOINTS_P99_TARGET_MS and ep["observed"] == ep["changes"],
        })
    px = results.get("proxy")
    if px:
        p99 = px["latency_from_ack"].get("p99_ms", float("inf"))
        out.append({
            "name": f"pod Ready write → kube-proxy rules updated ({px['services']:,} Services x "
                    f"{px['pods_per_service']} endpoints, {px['mode']})",
            "required": f"p99 < {PROXY_P99_TARGET_MS:g} ms",
            "measured": f"p99 {p99:.1f} ms; {px['observed']} of {px['changes']} observed",
            "pass": p99 < PROXY_P99_TARGET_MS and px["observed"] == px["changes"],
        })
    ipt = results.get("iptables")
    if ipt:
        size = (f"{ipt['services']:,} Services x {ipt['endpoints_per_service']} endpoints")
        for backend, run in ipt["backends"].items():
            full = run["full"][0]["total_s"]
            out.append({
                "name": f"iptables full sync, {size} (render + restore), {backend}",
                "required": f"< {IPTABLES_FULL_TARGET_S:g} s",
                "measured": f"{full:.2f} s", "pass": full < IPTABLES_FULL_TARGET_S,
            })
            part = run["partial"]["total_s"] * 1000
            out.append({
                "name": f"iptables partial sync, one endpoint changed, {backend}",
                "required": f"< {IPTABLES_PARTIAL_TARGET_MS:g} ms",
                "measured": f"{part:.0f} ms", "pass": part < IPTABLES_PARTIAL_TARGET_MS,
            })
    out += nftables.targets(results, NFTABLES_FULL_TARGET_S, NFTABLES_PARTIAL_TARGET_MS)
    watch = results.get("watch")
    if watch:
        p99 = watch["latency_from_send"].get("p99_ms", float("inf"))
        expected = watch["watchers"] * watch["updates"]
        ok = p99 < WATCH_P99_TARGET_MS and watch["delivered"] == expected and not watch["lost"]
        out.append({
            "name": f"{watch['watchers']:,} watchers receive {watch['updates']:,} updates",
            "required": f"p99 delivery < {WATCH_P99_TARGET_MS:g} ms, no event lost",
            "measured": f"p99 {p99:.1f} ms; {watch['delivered']:,} of {expected:,} delivered",
            "pass": ok,
        })
    return out


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
    results["targets"] = _targets(results, args.target_baseline)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the Markdown report on stdout."""
    args = build_parser().parse_args(argv)
    if min(args.duration, args.connections, args.watchers, args.updates, args.repeat,
           args.update_concurrency, args.ep_services, args.ep_pods, args.ep_changes,
           args.storage_watchers, args.storage_updates, args.wl_nodes, args.wl_replicas,
           args.wl_rollout_replicas, args.webhook_creates, args.exec_sessions,
           args.exec_kubectl_runs, args.pf_megabytes, args.dns_services,
           args.dns_clients, args.scale_namespaces, args.scale_services, args.scale_pods,
           args.scale_proxy_endpoints) <= 0:
        print("bench: error: --duration, --connections, --repeat, --watchers, --updates, "
              "--update-concurrency, --webhook-creates and the --ep-*, --storage-*, --wl-*, "
              "--exec-*, --pf-*, --dns-* and --scale-* counts must be positive", file=sys.stderr)
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
