"""The ``metrics`` scenario: GET and create with the apiserver's per-request metrics on, as a
ratio to the same run's apiserver with them off.

In one run the bench starts two plain-HTTP SQLite apiservers on the server CPU, each with
its own data: ``off`` with ``--disabled-metrics`` naming the three families the chain
records per request (so it records nothing per request), and ``on`` as users run it. wrk
measures the single-object GET and the pod create of the default HTTP scenarios against
each, back to back (the ``secure`` scenario's measurement); ``on`` is scraped once at the
end so the report can say how many requests it counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from bench import populate
from bench.procs import HOST, BenchError, ServerProcess, apiserver_module, free_port
from bench.secure import cell, cpu_per_request, measure

if TYPE_CHECKING:
    from bench.run import Context

#: What ``off`` passes to ``--disabled-metrics``.
REQUEST_METRICS = ("apiserver_request_total,apiserver_request_duration_seconds,"
                   "apiserver_longrunning_requests")
TARGET = 0.95


def _start(ctx: Context, name: str, extra: list[str]) -> ServerProcess:
    port = free_port()
    argv = apiserver_module("--bind-address", HOST, "--port", str(port),
                            "--data-dir", str(ctx.workdir / f"metrics-{name}"),
                            "--storage", "sqlite", *extra)
    return ServerProcess(f"kubemu-metrics-{name}", argv, port,
                         ctx.workdir / f"metrics-{name}.log", ctx.server_cpu).start(60.0)


def _counted(text: str) -> int:
    """The sum of ``apiserver_request_total`` in a scrape."""
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
               if line.startswith("apiserver_request_total{"))


def run_scenario(ctx: Context, namespaces: tuple[str, ...], pod: tuple[str, str],
                 create_path: Callable[[], tuple[str, ...]]) -> dict[str, Any]:
    """Both servers, GET and create each; the JSON-able results with the ratios."""
    servers = {"off": _start(ctx, "off", ["--disabled-metrics", REQUEST_METRICS]),
               "on": _start(ctx, "on", [])}
    out: dict[str, Any] = {"http": {"get": {}, "create": {}}, "ratio": {}}
    try:
        for server in servers.values():
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for ns in dict.fromkeys((pod[0], *namespaces)):
                    populate.ensure_namespace(client, ns)
                populate.create_pod(client, *pod)
        for scenario in ("get", "create"):
            for name, server in servers.items():
                result = measure(ctx, server, server.url, scenario, pod, (), create_path)
                if result.errors:
                    raise BenchError(f"metrics scenario: {result.errors} failed requests "
                                     f"({scenario} on {name}); see {server.log_path}")
                out["http"][scenario][name] = result.as_dict()
                out["http"][scenario][name]["cpu_us_per_request"] = cpu_per_request(result)
            off_rps = out["http"][scenario]["off"]["rps"]
            out["ratio"][scenario] = (out["http"][scenario]["on"]["rps"] / off_rps
                                      if off_rps else None)
        with httpx.Client(base_url=servers["on"].url, timeout=60) as client:
            out["counted"] = _counted(client.get("/metrics").text)
    finally:
        for server in servers.values():
            server.stop()
    return out


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """GET and create with metrics on keep at least :data:`TARGET` of the rate without."""
    out: list[dict[str, Any]] = []
    labels = {"get": "single-object GET", "create": "create pod (POST)"}
    for scenario, ratio in results["metrics"]["ratio"].items():
        out.append({
            "name": f"{labels[scenario]} with per-request metrics vs without",
            "required": f"≥ {TARGET:.0%} of its req/s",
            "measured": "—" if ratio is None else f"{ratio:.1%}",
            "ratio": ratio,
            "pass": ratio is not None and ratio >= TARGET,
        })
    return out


def table(results: dict[str, Any]) -> list[str]:
    """The Markdown of the comparison."""
    m = results["metrics"]
    cfg = results["config"]
    lines = [
        f"#### Per-request metrics on vs off (wrk, {cfg['connections']} keep-alive "
        f"connections, {cfg['duration']:g} s per run; {m.get('counted', 0):,} requests "
        "counted by the `on` server)",
        "",
        "| scenario | metrics off | metrics on | **on ÷ off** |",
        "|---|---:|---:|---:|",
    ]
    labels = {"get": "single-object GET", "create": "create pod (POST)"}
    for scenario in ("get", "create"):
        off, on = m["http"][scenario]["off"], m["http"][scenario]["on"]
        ratio = m["ratio"][scenario]
        lines.append(f"| {labels[scenario]} | {cell(off)} | {cell(on)} | "
                     f"**{ratio * 100:,.1f}%** |" if ratio is not None else
                     f"| {labels[scenario]} | — | — | — |")
    return lines
