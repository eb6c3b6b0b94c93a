"""The ``limits`` scenario: what the request limits cost on the hot paths.

Two kubemu apiservers on ``--storage sqlite`` (own temporary data dirs), both pinned to the
server CPU and running during the whole scenario:

* ``kubemu-limits-off``: ``--max-requests-inflight 0 --max-mutating-requests-inflight 0
  --request-timeout 0`` (the max-in-flight and request-timeout stages left out of the chain);
* ``kubemu-limits-on``: the defaults (400 / 200 in flight, 60 s request timeout).

The same wrk GET and create runs as the ``get`` and ``create`` scenarios measure them in
the order off, on, on, off (so a drift of the machine's load hits both alike), keeping each
server's best; **on ÷ off** is the limited server's req/s as a share of the unlimited one's.
The connections stay far below the limits, so no request is refused: the ratio is the
per-request cost of the stages themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from bench import populate, report
from bench.procs import HOST, ServerProcess, apiserver_module, free_port
from bench.wrk import WrkResult

if TYPE_CHECKING:
    from bench.run import Context

Measure = Callable[["Context", ServerProcess, str], WrkResult]
OFF = "kubemu-limits-off"
ON = "kubemu-limits-on"
_FLAGS = {OFF: ("--max-requests-inflight", "0", "--max-mutating-requests-inflight", "0",
                "--request-timeout", "0"),
          ON: ()}


def _start(ctx: Context, name: str, flags: tuple[str, ...]) -> ServerProcess:
    port = free_port()
    argv = apiserver_module("--bind-address", HOST, "--port", str(port),
                         "--data-dir", str(ctx.workdir / name), "--storage", "sqlite",
                         *flags)
    return ServerProcess(name, argv, port, ctx.workdir / f"{name}.log", ctx.server_cpu).start()


def run_on_off(ctx: Context, measure: Measure, namespaces: tuple[str, ...],
               pod: tuple[str, str], flags: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """Get and create on two servers, ``flags`` being (off name → its flags, on name →
    its flags), measured off, on, on, off; returns the JSON-able results."""
    servers: list[ServerProcess] = []
    out: dict[str, Any] = {"http": {"get": {}, "create": {}}}
    try:
        for name, extra in flags.items():
            server = _start(ctx, name, extra)
            servers.append(server)
            with httpx.Client(base_url=server.url, timeout=60.0) as client:
                for ns in namespaces:
                    populate.ensure_namespace(client, ns)
                populate.create_pod(client, *pod)
                body = populate.fetch(client, f"/api/v1/namespaces/{pod[0]}/pods/{pod[1]}")
            out["object_bytes"] = len(body)
        off, on = servers
        for scenario in ("get", "create"):
            # off, on, on, off: a drift of the machine's load over the runs hits both alike;
            # each server's best run is kept.
            for server in (off, on, on, off):
                result = measure(ctx, server, scenario).as_dict()
                best = out["http"][scenario].get(server.name)
                if best is None or result["rps"] > best["rps"]:
                    out["http"][scenario][server.name] = result
    finally:
        for server in reversed(servers):
            server.stop()
    return out


def run_scenario(ctx: Context, measure: Measure, namespaces: tuple[str, ...],
                 pod: tuple[str, str]) -> dict[str, Any]:
    """Both rows of get and create; returns the JSON-able results."""
    return run_on_off(ctx, measure, namespaces, pod, _FLAGS)


def on_off_table(results: dict[str, Any], key: str, title: str,
                 labels: dict[str, str]) -> list[str]:
    """The Markdown of an on/off comparison (``labels``: off name, then on name)."""
    s = results[key]
    cfg = results["config"]
    off_name, on_name = labels
    lines = [f"#### {title} (both servers on CPU {cfg['server_cpu']}); "
             + report.wrk_settings(cfg), "", *report.wrk_header("on ÷ off")]
    for scenario, runs in s["http"].items():
        label = report.scenario_label(scenario, s.get("object_bytes", 0))
        off = runs.get(off_name)
        for name, run in runs.items():
            ratio = "—"
            if name == on_name and off and off["rps"]:
                ratio = f"**{run['rps'] / off['rps'] * 100:,.1f}%**"
            lines.append(report.wrk_row(label, labels[name], run, ratio,
                                        run.get("other_cpu") or 0.0))
            label = ""
    return lines


def table(results: dict[str, Any]) -> list[str]:
    """The Markdown of the comparison."""
    return on_off_table(results, "limits", "Request limits: max-in-flight and "
                        "request-timeout stages on vs off", {
                            OFF: "limits off (`--max-requests-inflight 0 "
                                 "--max-mutating-requests-inflight 0 --request-timeout 0`)",
                            ON: "limits on (defaults: 400 / 200 in flight, 60 s timeout)"})
