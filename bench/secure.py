"""The ``secure`` scenario: GET and create with TLS, authentication and RBAC on, as a ratio
to the same run's plain-HTTP, AlwaysAllow apiserver.

In one run the bench starts two apiservers on the server CPU, each with its own data:

* ``plain``: plain HTTP on loopback, ``--authorization-mode AlwaysAllow`` (``--insecure``);
* ``secure``: HTTPS with a CA and serving certificate made as ``kubemu up`` makes them,
  a bearer token (``--token-auth-file``) for a user outside ``system:masters`` whose access
  comes from RoleBindings to a ClusterRole on pods, and
  ``--authorization-mode Node,RBAC`` — every request is authenticated, authorized by RBAC
  rule matching and admitted as in ``kubemu up``.

wrk (over keep-alive connections, TLS for the second) measures the single-object GET and
the pod create of the default HTTP scenarios against each, back to back.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import httpx

from bench import populate
from bench.procs import HOST, BenchError, ServerProcess, apiserver_module, free_port
from bench.wrk import WrkResult, run_wrk
from kubemu.pki import ensure_pki

if TYPE_CHECKING:
    from bench.run import Context

#: A throwaway credential of a temporary server.
TOKEN = "bench-secure-token"
USER = "bench"
G = "rbac.authorization.k8s.io"


def _start(ctx: Context, name: str, extra: list[str]) -> ServerProcess:
    port = free_port()
    argv = apiserver_module("--bind-address", HOST, "--port", str(port),
                            "--data-dir", str(ctx.workdir / f"secure-{name}"),
                            "--storage", "sqlite", *extra)
    return ServerProcess(f"kubemu-{name}", argv, port, ctx.workdir / f"secure-{name}.log",
                         ctx.server_cpu).start(60.0)


def _prepare(client: httpx.Client, namespaces: tuple[str, ...], pod: tuple[str, str],
             rbac: bool) -> bytes:
    if rbac:
        # What a namespaced app's controller typically holds (``edit`` itself is aggregated,
        # filled only by the controller manager's clusterrole-aggregation controller).
        client.post(f"/apis/{G}/v1/clusterroles", json={
            "metadata": {"name": "bench-pods"},
            "rules": [{"apiGroups": [""], "resources": ["pods", "configmaps", "services"],
                       "verbs": ["get", "list", "watch", "create", "update", "patch",
                                 "delete"]}],
        }).raise_for_status()
    for ns in namespaces:
        populate.ensure_namespace(client, ns)
        if rbac:
            client.post(f"/apis/{G}/v1/namespaces/{ns}/rolebindings", json={
                "metadata": {"name": "bench-edit"},
                "subjects": [{"kind": "User", "name": USER, "apiGroup": G}],
                "roleRef": {"kind": "ClusterRole", "name": "bench-pods", "apiGroup": G},
            }).raise_for_status()
    populate.create_pod(client, *pod)
    return populate.fetch(client, f"/api/v1/namespaces/{pod[0]}/pods/{pod[1]}")


def run_scenario(ctx: Context, namespaces: tuple[str, ...], pod: tuple[str, str],
                 create_path: Callable[[], tuple[str, ...]]) -> dict[str, Any]:
    """Both servers, GET and create each; the JSON-able results with the ratios."""
    pki = ensure_pki(ctx.workdir / "secure-pki")
    pki.ensure_client("admin", "kubernetes-admin", ("system:masters",))
    tokens = ctx.workdir / "secure-tokens.csv"
    tokens.write_text(f'{TOKEN},{USER},bench-uid,"developers"\n')
    secure_port = free_port()
    servers = {
        "plain": _start(ctx, "plain", []),
        "secure": _start(ctx, "secure", [
            "--secure-port", str(secure_port), "--authorization-mode", "Node,RBAC",
            "--tls-cert-file", str(pki.serving_cert),
            "--tls-private-key-file", str(pki.serving_key),
            "--client-ca-file", str(pki.ca_cert), "--token-auth-file", str(tokens)]),
    }
    urls = {"plain": servers["plain"].url, "secure": f"https://{HOST}:{secure_port}"}
    out: dict[str, Any] = {"http": {"get": {}, "create": {}}, "ratio": {}}
    try:
        namespaces = tuple(dict.fromkeys((pod[0], *namespaces)))
        with httpx.Client(base_url=urls["plain"], timeout=60) as plain:
            _prepare(plain, namespaces, pod, rbac=False)
        admin = ssl.create_default_context(cafile=str(pki.ca_cert))
        admin.load_cert_chain(str(pki.client_cert("admin")), str(pki.client_key("admin")))
        with httpx.Client(base_url=urls["secure"], timeout=60, verify=admin) as secure:
            body = _prepare(secure, namespaces, pod, rbac=True)
        out["object_bytes"] = len(body)
        bearer = (f"Authorization: Bearer {TOKEN}",)
        for scenario in ("get", "create"):
            for name in ("plain", "secure"):
                headers = bearer if name == "secure" else ()
                result = _measure(ctx, servers[name], urls[name], scenario, pod, headers,
                                  create_path)
                if result.errors:
                    raise BenchError(f"secure scenario: {result.errors} failed requests "
                                     f"({scenario} on {name}); see {servers[name].log_path}")
                out["http"][scenario][name] = result.as_dict()
                out["http"][scenario][name]["cpu_us_per_request"] = _cpu_per_request(result)
            plain_rps = out["http"][scenario]["plain"]["rps"]
            out["ratio"][scenario] = (out["http"][scenario]["secure"]["rps"] / plain_rps
                                      if plain_rps else None)
    finally:
        for server in servers.values():
            server.stop()
    return out


def _measure(ctx: Context, server: ServerProcess, url: str, scenario: str,
             pod: tuple[str, str], headers: tuple[str, ...],
             create_path: Callable[[], tuple[str, ...]]) -> WrkResult:
    args = ctx.args
    extra: tuple[str, ...] = ()
    if scenario == "get":
        target, script = f"{url}/api/v1/namespaces/{pod[0]}/pods/{pod[1]}", ctx.report_lua
    else:
        target, script = url, ctx.create_lua

    def once(seconds: float) -> WrkResult:
        nonlocal extra
        if scenario == "create":
            extra = create_path()
        return run_wrk(ctx.wrk, target, script, seconds, args.connections, ctx.load_cpu,
                       extra, headers=headers)

    if args.warmup > 0:
        once(args.warmup)
    best: WrkResult | None = None
    for _ in range(args.repeat):
        cpu0 = server.cpu_seconds()
        result = once(args.duration)
        own = server.cpu_seconds() - cpu0
        result = replace(result, server_cpu=own / result.seconds if result.seconds else None)
        if best is None or result.rps > best.rps:
            best = result
    assert best is not None
    return best


def _cpu_per_request(result: WrkResult) -> float | None:
    """Server CPU microseconds per request of a run (None when not measured)."""
    if result.server_cpu is None or not result.rps:
        return None
    return result.server_cpu * 1e6 / result.rps


def _cell(run: dict[str, Any]) -> str:
    cpu = run.get("cpu_us_per_request")
    per_request = f", {cpu:,.0f} µs CPU/req" if cpu is not None else ""
    return f"{run['rps']:,.0f} req/s (p99 {run['p99_ms']:.1f} ms{per_request})"


def table(results: dict[str, Any]) -> list[str]:
    """The Markdown of the comparison."""
    s = results["secure"]
    cfg = results["config"]
    lines = [
        f"#### TLS + authentication + RBAC vs plain HTTP (wrk, {cfg['connections']} "
        f"keep-alive connections, {cfg['duration']:g} s per run)",
        "",
        "| scenario | plain HTTP, AlwaysAllow | HTTPS, bearer token, Node,RBAC "
        "| **secure ÷ plain** |",
        "|---|---:|---:|---:|",
    ]
    labels = {"get": "single-object GET", "create": "create pod (POST)"}
    for scenario in ("get", "create"):
        plain = s["http"][scenario]["plain"]
        secure = s["http"][scenario]["secure"]
        ratio = s["ratio"][scenario]
        cpu_plain, cpu_secure = plain.get("cpu_us_per_request"), secure.get("cpu_us_per_request")
        by_cpu = (f" (by server CPU per request: {cpu_plain / cpu_secure * 100:,.0f}%)"
                  if cpu_plain and cpu_secure else "")
        lines.append(
            f"| {labels[scenario]} | {_cell(plain)} | {_cell(secure)} | "
            f"**{ratio * 100:,.0f}%**{by_cpu} |" if ratio is not None else
            f"| {labels[scenario]} | — | — | — |")
    return lines
