"""The Markdown report of one benchmark run (from its JSON-able results)."""

from __future__ import annotations

from typing import Any

from bench.baseline import MODE_LABELS

#: Share of the server's core taken by others above which a row is flagged.
NOISY = 0.15

SCENARIO_LABELS = {
    "get": "single-object GET",
    "get-rv0": "single-object GET, resourceVersion=0",
    "create": "create pod (POST)",
    "list": "list pods",
}


def _num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:,.0f}%"


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} MB"
    if n >= 1000:
        return f"{n / 1e3:.1f} kB"
    return f"{n} B"


def http_table(results: dict[str, Any]) -> list[str]:
    """One row per (scenario, server), with kubemu's throughput as a share of each baseline."""
    cfg = results["config"]
    best = f", best of {cfg['repeat']}" if cfg.get("repeat", 1) > 1 else ""
    lines = [
        f"#### HTTP: wrk, {cfg['connections']} connections, {cfg['duration']:g} s per run "
        f"(after {cfg['warmup']:g} s warm-up{best}); servers on CPU {cfg['server_cpu']}, "
        f"wrk on CPU {cfg['load_cpu']}",
        "",
        "| scenario | server | req/s | MB/s | p50 ms | p99 ms | errors | server CPU "
        "| others on CPU 0 / 1 | kubemu ÷ this |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    noisy = False
    for scenario, runs in results["http"].items():
        kube = runs.get("kubemu")
        label = SCENARIO_LABELS.get(scenario, scenario)
        detail = results["bodies"].get(scenario)
        if detail:
            label = f"{label} ({detail})"
        first = True
        for server, run in runs.items():
            name = "**kubemu**" if server == "kubemu" else MODE_LABELS.get(server, server)
            ratio = "—"
            if server != "kubemu" and kube is not None and run["rps"]:
                ratio = _pct(kube["rps"] / run["rps"])
            cpu = run.get("server_cpu")
            other = run.get("other_cpu")
            other_load = run.get("other_load_cpu")
            if max(other or 0.0, other_load or 0.0) > NOISY:
                noisy = True
                name += " ⚠"
            lines.append(
                f"| {label if first else ''} | {name} | {_num(run['rps'])} "
                f"| {_num(run['mbps'], 1)} | {run['p50_ms']:.2f} | {run['p99_ms']:.2f} "
                f"| {run['errors']} | {_pct(cpu)} | {_pct(other)} / {_pct(other_load)} "
                f"| {ratio} |"
            )
            first = False
    lines += [
        "",
        "req/s and MB/s are wrk's (MB = 10^6 bytes, headers included); p50/p99 are wrk's "
        "request latencies; server CPU is the server process's CPU time over the run; "
        "others on CPU 0 / 1 is what the rest of the machine (other processes, interrupts, "
        "the kernel's loopback work) took meanwhile of the server's core / of wrk's core; "
        "kubemu ÷ this is kubemu's req/s as a share of that server's.",
    ]
    if noisy:
        lines.append(
            f"⚠ others took more than {NOISY:.0%} of the server's or wrk's core during this "
            "run: the machine was busy, so that row is pessimistic (rerun, or use --repeat)."
        )
    return lines


def watch_table(results: dict[str, Any]) -> list[str]:
    """The fan-out run: delivery counts and latency percentiles."""
    w = results["watch"]
    inflight = w.get("concurrency", 1)
    pacing = (
        "one write in flight, the next sent on ack"
        if inflight == 1
        else f"{inflight} writes in flight, each writer sending its next on ack"
    )
    if w["interval"]:
        pacing += f", paced to start one every {w['interval'] * 1000:g} ms"
    send = w["latency_from_send"]
    ack = w["latency_from_ack"]
    lines = [
        f"#### Watch fan-out: {w['watchers']:,} watchers x {w['updates']:,} ConfigMap "
        f"merge-PATCHes ({pacing}); apiserver on CPU {results['config']['server_cpu']}, "
        f"watchers + writer on CPU {results['config']['load_cpu']}",
        "",
        "| watchers | updates | writes/s | delivered / expected | lost | dup | "
        "latency p50 | p99 | p99.9 | max | events/s | server CPU |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {w['connected']:,} | {w['writes_ok']:,} | {_num(w['writes_per_second'])} "
        f"| {w['delivered']:,} / {w['watchers'] * w['updates']:,} | {w['lost']:,} "
        f"| {w['duplicates']:,} | {send.get('p50_ms', 0):.1f} ms | {send.get('p99_ms', 0):.1f} ms "
        f"| {send.get('p999_ms', 0):.1f} ms | {send.get('max_ms', 0):.1f} ms "
        f"| {_num(w['events_per_second'])} | {_pct(w.get('server_cpu'))} |",
        "",
        "Latency = time a watcher received the frame - time the PATCH producing it was sent. "
        f"Measured from the PATCH's acknowledgement instead: p50 {ack.get('p50_ms', 0):.1f} ms, "
        f"p99 {ack.get('p99_ms', 0):.1f} ms, max {ack.get('max_ms', 0):.1f} ms. "
        f"Write errors {w['write_errors']}, ERROR frames {w['error_frames']}, "
        f"watch connections lost early {w['disconnected']}. Server CPU: kubemu's CPU time "
        f"over the whole fan-out run ({w.get('wall_seconds', 0):.1f} s: connects, writes, "
        f"drain); load side (watchers + writer) CPU {w['client_cpu_seconds']:.1f} s.",
    ]
    return lines


def endpoints_table(results: dict[str, Any]) -> list[str]:
    """The endpoints-controller scenario: readiness change to Endpoints update."""
    e = results["endpoints"]
    ack = e["latency_from_ack"]
    send = e["latency_from_send"]
    return [
        f"#### Endpoints controller: {e['services']:,} Services x {e['pods_per_service']} pods, "
        f"{e['changes']} pod readiness flips (one at a time, each on another Service); "
        f"apiserver on CPU {results['config']['server_cpu']}, controller and driver on CPU "
        f"{results['config']['load_cpu']}",
        "",
        "| changes | observed | latency p50 | p99 | max | controller CPU / change "
        "| apiserver CPU / change | initial sync |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {e['changes']} | {e['observed']} | {ack.get('p50_ms', 0):.1f} ms "
        f"| {ack.get('p99_ms', 0):.1f} ms | {ack.get('max_ms', 0):.1f} ms "
        f"| {e['controller_cpu_ms_per_change']:.2f} ms | {e['apiserver_cpu_ms_per_change']:.2f} ms "
        f"| {e['initial_sync_seconds']:.1f} s |",
        "",
        "Latency = Endpoints watch event showing the pod in notReadyAddresses received - "
        "answer to the pod's `/status` PATCH received. From the PATCH's send instead: "
        f"p50 {send.get('p50_ms', 0):.1f} ms, p99 {send.get('p99_ms', 0):.1f} ms. CPU per "
        "change = process utime+stime over the flips ÷ flips (the controller maintains "
        "Endpoints and EndpointSlices). Initial sync = controller start to every Endpoints "
        f"complete; populating took {e['populate_seconds']:.0f} s.",
    ]


def targets_table(results: dict[str, Any]) -> list[str]:
    """PASS/FAIL per target of the issue."""
    lines = [
        "#### Targets",
        "",
        "| target | required | measured | result |",
        "|---|---|---|---|",
    ]
    for t in results["targets"]:
        verdict = "**PASS**" if t["pass"] else "**FAIL**"
        lines.append(f"| {t['name']} | {t['required']} | {t['measured']} | {verdict} |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    """The whole report."""
    cfg = results["config"]
    parts: list[str] = [
        f"### kubemu benchmark — {cfg['date']}",
        "",
        f"{cfg['machine']}; Python {cfg['python']}, uvicorn {cfg['uvicorn']} "
        f"(httptools + uvloop, 1 worker, no access log), FastAPI {cfg['fastapi']}, "
        f"{cfg['wrk']}; kubemu on `--storage sqlite` in a temporary data dir. "
        f"Load average at start: {', '.join(f'{x:.2f}' for x in cfg['loadavg_at_start'])}.",
        "",
    ]
    if results["http"]:
        parts += [*http_table(results), ""]
    if results.get("watch"):
        parts += [*watch_table(results), ""]
    if results.get("endpoints"):
        parts += [*endpoints_table(results), ""]
    if results.get("storage"):
        from bench.storage import table as storage_table

        parts += [*storage_table(results), ""]
    if results.get("secure"):
        from bench.secure import table as secure_table

        parts += [*secure_table(results), ""]
    if results.get("metrics"):
        from bench.metrics import table as metrics_table

        parts += [*metrics_table(results), ""]
    if results.get("limits"):
        from bench.limits import table as limits_table

        parts += [*limits_table(results), ""]
    if results.get("crd"):
        from bench.crd import table as crd_table

        parts += [*crd_table(results), ""]
    if results.get("webhooks"):
        from bench.webhooks import table as webhooks_table

        parts += [*webhooks_table(results), ""]
    if results.get("proxy"):
        from bench.proxy import latency_table

        parts += [*latency_table(results), ""]
    if results.get("iptables"):
        from bench.proxy import iptables_table

        parts += [*iptables_table(results), ""]
    if results.get("nftables"):
        from bench.nftables import table as nftables_table

        parts += [*nftables_table(results), ""]
    if results.get("workloads"):
        from bench.workloads import table as workloads_table

        parts += [*workloads_table(results), ""]
    if results.get("exec"):
        from bench.execlatency import table as exec_table

        parts += [*exec_table(results), ""]
    if results.get("portforward"):
        from bench.portforward import table as portforward_table

        parts += [*portforward_table(results), ""]
    if results.get("scale"):
        from bench.scale import table as scale_table

        parts += [*scale_table(results), ""]
    if results.get("dns"):
        from bench.dns import table as dns_table

        parts += [*dns_table(results), ""]
    if results["targets"]:
        parts += [*targets_table(results), ""]
    return "\n".join(parts)


def scenario_label(scenario: str, object_bytes: int) -> str:
    """The first cell of a scenario's rows (the GET's object size added)."""
    label = SCENARIO_LABELS.get(scenario, scenario)
    return f"{label} ({size_label(object_bytes)})" if scenario == "get" else label


def wrk_settings(cfg: dict[str, Any]) -> str:
    """How the wrk runs were made (for a table's title)."""
    best = f", best of {cfg['repeat']}" if cfg.get("repeat", 1) > 1 else ""
    return (f"wrk, {cfg['connections']} connections, {cfg['duration']:g} s per run (after "
            f"{cfg['warmup']:g} s warm-up{best}), wrk on CPU {cfg['load_cpu']}")


def wrk_header(ratio: str) -> list[str]:
    """The header of a table of :func:`wrk_row` rows whose last column is ``ratio``."""
    return ["| scenario | server | req/s | p50 ms | p99 ms | errors | server CPU "
            f"| others on CPU 0 / 1 | {ratio} |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|"]


def wrk_row(label: str, server: str, run: dict[str, Any], ratio: str, other: float) -> str:
    """One wrk run as a table row; ``other`` (the noise on the server's core) flags it ⚠."""
    warn = " ⚠" if max(other, run.get("other_load_cpu") or 0.0) > NOISY else ""
    return (f"| {label} | {server}{warn} | {run['rps']:,.0f} | {run['p50_ms']:.2f} "
            f"| {run['p99_ms']:.2f} | {run['errors']} | {_pct(run.get('server_cpu'))} "
            f"| {_pct(run.get('other_cpu'))} / {_pct(run.get('other_load_cpu'))} | {ratio} |")


def size_label(n: int) -> str:
    """Human-readable size of a response body."""
    return _size(n)
