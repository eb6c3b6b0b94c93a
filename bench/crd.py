"""The ``crd`` scenario: a custom resource's create and GET throughput, as a ratio to a
ConfigMap of the same size in the same run.

One kubemu apiserver (``--storage sqlite``, own data dir, pinned to the server CPU) serves
a CustomResourceDefinition ``benchwidgets.bench.kubemu.io`` whose ``spec`` has 20 string
fields (maxLength 64 each) and 3 ``x-kubernetes-validations`` rules on ``spec``, and a
ConfigMap of the same 20 keys and values. wrk measures, for each kind:

* ``create``: POSTs of the object with a name unique per run, thread and request (the
  whole custom-resource write path: decoding, pruning, defaulting, schema validation, the
  CEL rules, admission, the durable commit);
* ``get``: GETs of one stored object (served from the watch cache).

Runs go ConfigMap, custom resource, custom resource, ConfigMap (a drift of the machine's
load hits both alike), each kind's best kept; **CR ÷ ConfigMap** is the custom resource's
req/s as a share of the ConfigMap's. The target (issue 15) is ≥ 50% for create.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench import populate, report
from bench.procs import (
    HOST,
    BenchError,
    ServerProcess,
    apiserver_module,
    cpu_busy_seconds,
    free_port,
)
from bench.wrk import WrkResult, post_script, run_wrk

if TYPE_CHECKING:
    from bench.run import Context

GROUP = "bench.kubemu.io"
NAMESPACE = "bench-crd"
FIELDS = 20
CONFIGMAP = "ConfigMap"
CUSTOM = "custom resource"
RULES = ("self.f00.startsWith('value-')", "size(self.f01) <= 64 && size(self.f02) > 0",
         "self.f03 != self.f04")
_PATHS = {CONFIGMAP: f"/api/v1/namespaces/{NAMESPACE}/configmaps",
          CUSTOM: f"/apis/{GROUP}/v1/namespaces/{NAMESPACE}/benchwidgets"}
def _values() -> dict[str, str]:
    return {f"f{i:02d}": f"value-{i:02d}-abcdefghijklmnop" for i in range(FIELDS)}


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition of the scenario."""
    props = {name: {"type": "string", "maxLength": 64} for name in _values()}
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"benchwidgets.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Namespaced",
                 "names": {"plural": "benchwidgets", "kind": "BenchWidget"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                     "openAPIV3Schema": {"type": "object", "properties": {"spec": {
                         "type": "object", "properties": props,
                         "x-kubernetes-validations": [{"rule": r} for r in RULES]}}}}}]}}


def body(kind: str, name: str) -> dict[str, Any]:
    """An object of ``kind`` (the same 20 keys and values either way)."""
    if kind == CONFIGMAP:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                "data": _values()}
    return {"apiVersion": f"{GROUP}/v1", "kind": "BenchWidget", "metadata": {"name": name},
            "spec": _values()}


def _create_script(ctx: Context, kind: str) -> Path:
    template = json.dumps(body(kind, "%s-%d-%d"), separators=(",", ":"))
    path = ctx.workdir / f"crd-create-{'cm' if kind == CONFIGMAP else 'cr'}.lua"
    path.write_text(post_script(template, _PATHS[kind]))
    return path


def _prepare(client: httpx.Client) -> dict[str, int]:
    populate.ensure_namespace(client, NAMESPACE)
    answer = client.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd())
    if answer.status_code != 201:
        raise BenchError(f"crd scenario: creating the CRD failed: {answer.text}")
    deadline = time.monotonic() + 30
    while client.get(_PATHS[CUSTOM]).status_code != 200:
        if time.monotonic() > deadline:
            raise BenchError("crd scenario: the custom resource was not served in 30 s")
        time.sleep(0.1)
    sizes = {}
    for kind in (CONFIGMAP, CUSTOM):
        created = client.post(_PATHS[kind], json=body(kind, "bench-get"))
        if created.status_code != 201:
            raise BenchError(f"crd scenario: creating a {kind} failed: {created.text}")
        sizes[kind] = len(populate.fetch(client, _PATHS[kind] + "/bench-get"))
    return sizes


def _measure(ctx: Context, server: ServerProcess, scenario: str, kind: str) -> WrkResult:
    args = ctx.args
    extra: tuple[str, ...] = ()
    if scenario == "get":
        url, script = f"{server.url}{_PATHS[kind]}/bench-get", ctx.report_lua
    else:
        url, script = server.url, _create_script(ctx, kind)

    def once(seconds: float) -> WrkResult:
        nonlocal extra
        if scenario == "create":
            ctx.run_counter += 1
            extra = (f"c{ctx.run_counter}",)
        return run_wrk(ctx.wrk, url, script, seconds, args.connections, ctx.load_cpu, extra)

    if args.warmup > 0:
        once(args.warmup)
    cpu0 = server.cpu_seconds()
    core0 = cpu_busy_seconds(ctx.server_cpu) if ctx.server_cpu is not None else None
    result = once(args.duration)
    own = server.cpu_seconds() - cpu0
    if result.errors:
        raise BenchError(f"crd scenario: {result.errors} failed requests ({scenario} of "
                         f"{kind}); see {server.log_path}")
    secs = result.seconds or 1.0
    other = None
    if core0 is not None and ctx.server_cpu is not None:
        other = max(0.0, cpu_busy_seconds(ctx.server_cpu) - core0 - own) / secs
    return replace(result, server_cpu=own / secs, other_cpu=other)


def run_scenario(ctx: Context) -> dict[str, Any]:
    """Create and GET of both kinds; returns the JSON-able results with the ratios."""
    port = free_port()
    argv = apiserver_module("--bind-address", HOST, "--port", str(port), "--data-dir",
                            str(ctx.workdir / "crd"), "--storage", "sqlite")
    server = ServerProcess("kubemu-crd", argv, port, ctx.workdir / "crd.log",
                           ctx.server_cpu).start(60.0)
    out: dict[str, Any] = {"http": {"create": {}, "get": {}}, "ratio": {}, "rules": RULES}
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            out["object_bytes"] = _prepare(client)
        for scenario in ("create", "get"):
            for _ in range(ctx.args.repeat):
                for kind in (CONFIGMAP, CUSTOM, CUSTOM, CONFIGMAP):
                    result = _measure(ctx, server, scenario, kind).as_dict()
                    best = out["http"][scenario].get(kind)
                    if best is None or result["rps"] > best["rps"]:
                        out["http"][scenario][kind] = result
            base = out["http"][scenario][CONFIGMAP]["rps"]
            out["ratio"][scenario] = out["http"][scenario][CUSTOM]["rps"] / base if base else None
    finally:
        server.stop()
    return out


def _rows(scenario: str, runs: dict[str, Any], sizes: dict[str, int]) -> list[str]:
    base = runs.get(CONFIGMAP, {}).get("rps")
    rows = []
    for index, (kind, run) in enumerate(runs.items()):
        share = f"**{run['rps'] / base * 100:,.0f}%**" if kind == CUSTOM and base else "—"
        label = "" if index else ("create (POST)" if scenario == "create" else "GET")
        rows.append(report.wrk_row(label, f"{kind} ({report.size_label(sizes.get(kind, 0))})",
                                   run, share, run.get("other_cpu") or 0.0))
    return rows


def table(results: dict[str, Any]) -> list[str]:
    """The Markdown of the comparison."""
    s, cfg = results["crd"], results["config"]
    title = (f"#### Custom resource ({FIELDS} string fields, {len(RULES)} CEL rules) vs a "
             f"ConfigMap of the same {FIELDS} keys (one server on CPU {cfg['server_cpu']}); "
             + report.wrk_settings(cfg))
    rows = [row for scenario, runs in s["http"].items()
            for row in _rows(scenario, runs, s.get("object_bytes", {}))]
    notes = []
    for scenario, runs in s["http"].items():
        per = {kind: run["server_cpu"] / run["rps"] * 1e6 for kind, run in runs.items()
               if run.get("server_cpu") and run.get("rps")}
        if len(per) == 2:
            notes.append(f"{scenario}: {per[CONFIGMAP]:,.0f} µs (ConfigMap) vs "
                         f"{per[CUSTOM]:,.0f} µs (custom resource), "
                         f"ConfigMap ÷ CR {per[CONFIGMAP] / per[CUSTOM] * 100:,.0f}%")
    tail = ["", "Server CPU per request (less sensitive to a busy machine than req/s): "
            + "; ".join(notes) + "."] if notes else []
    return [title, "", *report.wrk_header("CR ÷ ConfigMap"), *rows, *tail]
