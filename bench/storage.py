"""The ``storage`` scenario: the same GET, create and watch fan-out on SQLite and on etcd.

In one run the bench starts, each pinned to the server CPU:

* kubemu on ``--storage sqlite`` (its own temporary data dir);
* a real single-member etcd (Debian's ``etcd-server``, ``/usr/bin/etcd`` or ``$KUBEMU_ETCD``)
  on free loopback client and peer ports with a temporary data dir, and kubemu on
  ``--storage etcd --etcd-servers`` that etcd: etcd and its apiserver share the one core;
* the bare FastAPI baseline (serving the bytes kubemu returned), for reference.

Each HTTP scenario (GET without resourceVersion: a consistent read, which on etcd asks etcd
for its revision; GET with ``resourceVersion=0``: served from the watch cache as it is; create)
measures the three servers back to back with wrk (the same settings as the other HTTP
scenarios); then the watch fan-out (``--storage-watchers`` x
``--storage-updates``, smaller than the ``watch`` scenario's default so the whole comparison
stays short) runs against each kubemu in turn, ``--repeat`` times with the backends
alternating, and keeps each backend's best run (as the HTTP rows keep their best). etcd's
own CPU time during each run is recorded beside the apiserver's.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench import populate, report
from bench.procs import HOST, BenchError, ServerProcess, apiserver_module, free_port
from bench.wrk import WrkResult
from kubemu.etcd import find_etcd as find_kubemu_etcd
from kubemu.etcd import member_argv

if TYPE_CHECKING:
    from bench.run import Context

#: The rows of the comparison, in the order they are measured.
BACKENDS = ("sqlite", "etcd")
SERVER_NAMES = {"sqlite": "kubemu-sqlite", "etcd": "kubemu-etcd"}

Measure = Callable[["Context", ServerProcess, str], WrkResult]
#: One fan-out run: (context, server, ConfigMap name) -> the load's results.
RunWatch = Callable[["Context", ServerProcess, str], dict[str, Any]]


def find_etcd() -> str:
    """The etcd binary, looked up as ``kubemu up`` does (:func:`kubemu.etcd.find_etcd`)."""
    found = find_kubemu_etcd()
    if not found:
        raise BenchError("etcd not found: install Debian's etcd-server "
                         "(apt-get install etcd-server) or set KUBEMU_ETCD=/path/to/etcd")
    return found


def start_etcd(workdir: Path, cpu: int | None) -> ServerProcess:
    """A single-member etcd on free loopback ports, data under ``workdir``, pinned to ``cpu``,
    started as ``kubemu up`` starts its own (:func:`kubemu.etcd.member_argv`)."""
    binary = find_etcd()
    last: BenchError | None = None
    for attempt in range(3):
        client_port, peer_port = free_port(), free_port()
        url = f"http://{HOST}:{client_port}"
        peer = f"http://{HOST}:{peer_port}"
        data = workdir / f"etcd-data-{attempt}"
        # As ``kubemu up`` runs it: batch-scheduled (see kubemu.batchsched).
        argv = member_argv(binary, data, url, peer, name="kubemu-bench")
        etcd = ServerProcess("etcd", argv, client_port, workdir / f"etcd-{attempt}.log", cpu,
                             ready_path="/health")
        try:
            return etcd.start()
        except BenchError as err:  # a port taken meanwhile: try other ports
            last = err
            if "address already in use" not in str(err):
                raise
    assert last is not None
    raise last


def _start_kubemu(ctx: Context, backend: str, etcd: ServerProcess | None) -> ServerProcess:
    port = free_port()
    argv = apiserver_module(
        "--bind-address", HOST,
        "--port", str(port),
        "--data-dir", str(ctx.workdir / f"storage-{backend}"),
        "--storage", backend,
    )
    if etcd is not None:
        argv += ["--etcd-servers", etcd.url]
    name = SERVER_NAMES[backend]
    return ServerProcess(name, argv, port, ctx.workdir / f"{name}.log", ctx.server_cpu).start(60.0)


def _prepare(server: ServerProcess, namespaces: tuple[str, ...], pod: tuple[str, str]) -> bytes:
    """Namespaces and the GET pod; returns the pod's bytes."""
    with httpx.Client(base_url=server.url, timeout=60.0) as client:
        for ns in namespaces:
            populate.ensure_namespace(client, ns)
        populate.create_pod(client, *pod)
        return populate.fetch(client, f"/api/v1/namespaces/{pod[0]}/pods/{pod[1]}")


def run_scenario(ctx: Context, measure: Measure, run_watch: RunWatch,
                 start_baseline: Callable[[Context, str, Path, Path], ServerProcess],
                 namespaces: tuple[str, ...], pod: tuple[str, str]) -> dict[str, Any]:
    """Every row of the comparison; returns the JSON-able results."""
    args = ctx.args
    out: dict[str, Any] = {
        "watchers": args.storage_watchers,
        "runs": args.repeat,
        "updates": args.storage_updates,
        "http": {"get": {}, "get-rv0": {}, "create": {}},
        "etcd_cpu": {"get": None, "get-rv0": None, "create": None, "watch": None},
        "watch": {},
    }
    etcd = start_etcd(ctx.workdir, ctx.server_cpu)
    servers: list[ServerProcess] = []
    try:
        done = subprocess.run([find_etcd(), "--version"], capture_output=True, text=True,
                              check=False).stdout.splitlines()
        out["etcd_version"] = done[0].replace("etcd Version: ", "etcd ") if done else "etcd"
        kubemus = {
            "sqlite": _start_kubemu(ctx, "sqlite", None),
            "etcd": _start_kubemu(ctx, "etcd", etcd),
        }
        servers += kubemus.values()
        bodies = {b: _prepare(s, namespaces, pod) for b, s in kubemus.items()}
        obj_file = ctx.workdir / "storage-object.json"
        list_file = ctx.workdir / "storage-list.json"
        obj_file.write_bytes(bodies["sqlite"])
        list_file.write_bytes(b'{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}')
        base = start_baseline(ctx, "fastapi", obj_file, list_file)
        servers.append(base)
        out["object_bytes"] = len(bodies["sqlite"])
        for scenario in ("get", "get-rv0", "create"):
            for server in (kubemus["sqlite"], kubemus["etcd"], base):
                etcd0, wall0 = etcd.cpu_seconds(), time.perf_counter()
                result = measure(ctx, server, scenario).as_dict()
                if server is kubemus["etcd"]:
                    # Over warm-up + measured runs: etcd's share of its (shared) core.
                    spent = etcd.cpu_seconds() - etcd0
                    out["etcd_cpu"][scenario] = {
                        "seconds": spent, "share": spent / (time.perf_counter() - wall0)}
                out["http"][scenario][server.name] = result
        # The fan-out runs against each kubemu alone: stop the baseline first.
        base.stop()
        wctx = replace(ctx, args=_with(args, watchers=args.storage_watchers,
                                       updates=args.storage_updates))
        # Best of --repeat, as the HTTP rows; the backends alternate, so a slow spell of
        # the machine does not fall on one backend's runs only.
        for attempt in range(args.repeat):
            for backend, server in kubemus.items():
                etcd0 = etcd.cpu_seconds()
                result = run_watch(wctx, server, f"fan-out-{attempt + 1}")
                best = out["watch"].get(backend)
                if best is not None and best["writes_per_second"] >= result["writes_per_second"]:
                    continue
                if backend == "etcd":
                    spent = etcd.cpu_seconds() - etcd0
                    wall = result.get("wall_seconds") or 0.0
                    out["etcd_cpu"]["watch"] = {"seconds": spent,
                                                "share": spent / wall if wall else None}
                out["watch"][backend] = result
    finally:
        for server in reversed(servers):
            server.stop()
        etcd.stop()
    return out


def _with(args: Any, **changes: Any) -> Any:
    """A copy of an ``argparse.Namespace`` with some attributes changed."""
    copy = type(args)(**vars(args))
    for key, value in changes.items():
        setattr(copy, key, value)
    return copy


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:,.0f}%"


def table(results: dict[str, Any]) -> list[str]:
    """The Markdown of the comparison."""
    s = results["storage"]
    cfg = results["config"]
    labels = {"kubemu-sqlite": "kubemu, `--storage sqlite`",
              "kubemu-etcd": "kubemu, `--storage etcd`",
              "fastapi": "FastAPI decorated endpoint"}
    lines = [
        f"#### Storage: SQLite vs etcd ({s.get('etcd_version', 'etcd')}, single member on "
        f"loopback, temporary data dir, pinned with its apiserver to CPU {cfg['server_cpu']}); "
        + report.wrk_settings(cfg),
        "",
        *report.wrk_header("etcd ÷ sqlite"),
    ]
    for scenario, runs in s["http"].items():
        label = report.scenario_label(scenario, s.get("object_bytes", 0))
        sqlite = runs.get("kubemu-sqlite")
        for name, run in runs.items():
            ratio = "—"
            if name == "kubemu-etcd" and sqlite and sqlite["rps"]:
                ratio = f"**{_pct(run['rps'] / sqlite['rps'])}**"
            other = run.get("other_cpu") or 0.0
            own_etcd = s["etcd_cpu"].get(scenario) if name == "kubemu-etcd" else None
            if own_etcd:  # etcd on the server's core is part of this row, not noise
                other = max(0.0, other - (own_etcd.get("share") or 0.0))
            lines.append(report.wrk_row(label, labels.get(name, name), run, ratio, other))
            label = ""
    w = s["watch"]
    lines += [
        "",
        f"Watch fan-out: {s['watchers']:,} watchers x {s['updates']:,} ConfigMap merge-PATCHes "
        "(one write in flight, the next sent on ack; best of "
        f"{s.get('runs', 1)}, the backends alternating); "
        "latency = watcher receive - PATCH send.",
        "",
        "| backend | writes/s | delivered / expected | lost | latency p50 | p99 | max "
        "| apiserver CPU | etcd ÷ sqlite writes/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    sq = w.get("sqlite")
    for backend, r in w.items():
        lat = r["latency_from_send"]
        ratio = "—"
        if backend == "etcd" and sq and sq["writes_per_second"]:
            ratio = f"**{_pct(r['writes_per_second'] / sq['writes_per_second'])}**"
        lines.append(
            f"| {backend} | {r['writes_per_second']:,.0f} "
            f"| {r['delivered']:,} / {r['watchers'] * r['updates']:,} | {r['lost']:,} "
            f"| {lat.get('p50_ms', 0):.1f} ms | {lat.get('p99_ms', 0):.1f} ms "
            f"| {lat.get('max_ms', 0):.1f} ms | {_pct(r.get('server_cpu'))} | {ratio} |"
        )
    ecpu = s["etcd_cpu"]
    notes = []
    for scenario in ("get", "get-rv0", "create", "watch"):
        c = ecpu.get(scenario)
        if c and c.get("share") is not None:
            notes.append(f"{scenario} {_pct(c['share'])}")
    lines += [
        "",
        "etcd ÷ sqlite is kubemu-on-etcd's req/s (writes/s) as a share of kubemu-on-SQLite's. "
        "Server CPU is the apiserver process only; with etcd, etcd's own CPU (on the same core) "
        "shows in *others on CPU 0*. etcd's own CPU time as a share of the runs' wall time "
        "(warm-up included): " + (", ".join(notes) or "—") + ".",
    ]
    return lines

