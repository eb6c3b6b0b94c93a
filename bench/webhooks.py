"""The ``webhooks`` scenario (opt-in): what a validating webhook adds to a create.

One kubemu apiserver (``--storage sqlite``, pinned to the server CPU) and a no-op HTTPS
validating webhook (:mod:`bench.noop_webhook`, pinned to the load CPU, its certificate
from :mod:`kubemu.pki`) registered by URL with its ``caBundle`` and a
``namespaceSelector`` that matches only the ``bench-webhook`` namespace. One client makes
sequential ConfigMap creates, alternating rounds of :data:`ROUND` in ``bench-nohook`` (no
webhook applies) and in ``bench-webhook`` (the webhook is called), so a drift of the
machine's load hits both alike. It reports p50/p99 of each and their difference: the
webhook round trip (review encoding, TLS call on a kept-alive connection, answer checks),
and the apiserver's CPU time per create each way (less sensitive to other load than the
latencies).
"""

from __future__ import annotations

import base64
import subprocess
import time
from typing import TYPE_CHECKING, Any

import httpx

from bench import populate
from bench.endpoints import _percentiles
from bench.procs import (
    HOST,
    REPO_ROOT,
    BenchError,
    ServerProcess,
    apiserver_module,
    child_setup,
    free_port,
    python_module,
)
from kubemu.pki import Pki

if TYPE_CHECKING:
    from bench.run import Context

PLAIN, HOOKED = "bench-nohook", "bench-webhook"
ROUND = 50


def _start_webhook(ctx: Context, pki: Pki) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = python_module("bench.noop_webhook", "--port", str(port),
                         "--cert", str(pki.serving_cert), "--key", str(pki.serving_key))
    with (ctx.workdir / "noop-webhook.log").open("ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, cwd=REPO_ROOT,
                                preexec_fn=child_setup(ctx.load_cpu))
    deadline = time.monotonic() + 30
    with httpx.Client(verify=str(pki.ca_cert), timeout=2.0) as client:
        while True:
            try:
                if client.get(f"https://{HOST}:{port}/readyz").status_code == 200:
                    return proc, port
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise BenchError("the no-op webhook did not start; see noop-webhook.log")
            time.sleep(0.05)


def _create(client: httpx.Client, ns: str, name: str) -> float:
    started = time.perf_counter()
    answer = client.post(f"/api/v1/namespaces/{ns}/configmaps",
                         json={"metadata": {"name": name}, "data": {"k": "v"}})
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 201:
        raise BenchError(f"create in {ns} answered {answer.status_code}: {answer.text[:200]}")
    return elapsed


def run_scenario(ctx: Context, creates: int) -> dict[str, Any]:
    """``creates`` creates each way; returns the JSON-able results."""
    pki = Pki(ctx.workdir / "webhook-pki")
    pki.directory.mkdir(parents=True, exist_ok=True)
    pki.ensure_serving()
    port = free_port()
    api = ServerProcess("kubemu-webhooks", apiserver_module(
        "--bind-address", HOST, "--port", str(port), "--data-dir",
        str(ctx.workdir / "kubemu-webhooks"), "--storage", "sqlite"), port,
        ctx.workdir / "kubemu-webhooks.log", ctx.server_cpu).start()
    hook, hook_port = _start_webhook(ctx, pki)
    times: dict[str, list[float]] = {PLAIN: [], HOOKED: []}
    cpu = {PLAIN: 0.0, HOOKED: 0.0}
    try:
        with httpx.Client(base_url=api.url, timeout=60.0) as client:
            for ns in (PLAIN, HOOKED):
                populate.ensure_namespace(client, ns)
            client.patch(f"/api/v1/namespaces/{HOOKED}", json={
                "metadata": {"labels": {"bench-webhook": "yes"}}},
                headers={"content-type": "application/merge-patch+json"})
            made = client.post(
                "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
                json={"metadata": {"name": "noop"}, "webhooks": [{
                    "name": "noop.bench.kubemu.dev",
                    "clientConfig": {"url": f"https://{HOST}:{hook_port}/validate",
                                     "caBundle": base64.b64encode(
                                         pki.ca_cert.read_bytes()).decode()},
                    "rules": [{"operations": ["CREATE"], "apiGroups": [""],
                               "apiVersions": ["v1"], "resources": ["configmaps"]}],
                    "namespaceSelector": {"matchLabels": {"bench-webhook": "yes"}},
                    "sideEffects": "None", "admissionReviewVersions": ["v1"]}]})
            if made.status_code != 201:
                raise BenchError(f"webhook configuration refused: {made.text[:200]}")
            for i in range(ROUND):  # warm-up: connections, caches
                _create(client, PLAIN, f"warm-{i}")
                _create(client, HOOKED, f"warm-{i}")
            done = 0
            while done < creates:
                n = min(ROUND, creates - done)
                for ns in (PLAIN, HOOKED):
                    before = api.cpu_seconds()
                    times[ns] += [_create(client, ns, f"c-{done + i}") for i in range(n)]
                    cpu[ns] += api.cpu_seconds() - before
                done += n
    finally:
        hook.terminate()
        hook.wait(10)
        api.stop()
    plain, hooked = _percentiles(times[PLAIN]), _percentiles(times[HOOKED])
    plain["server_cpu_ms"] = cpu[PLAIN] * 1000 / creates
    hooked["server_cpu_ms"] = cpu[HOOKED] * 1000 / creates
    out = {"creates": creates, "without": plain, "with": hooked,
           "overhead_p50_ms": hooked["p50_ms"] - plain["p50_ms"],
           "overhead_p99_ms": hooked["p99_ms"] - plain["p99_ms"]}
    print(f"bench: webhooks create p50 {plain['p50_ms']:.2f} -> {hooked['p50_ms']:.2f} ms, "
          f"p99 {plain['p99_ms']:.2f} -> {hooked['p99_ms']:.2f} ms", flush=True)
    return out


def table(results: dict[str, Any]) -> list[str]:
    """The Markdown of the comparison."""
    w = results["webhooks"]
    lines = [
        f"#### Admission webhook round trip: {w['creates']} sequential ConfigMap creates "
        "without and with a no-op validating webhook (HTTPS, same server, same run)",
        "",
        "| creates | p50 ms | p99 ms | max ms | apiserver CPU ms / create |",
        "|---|---|---|---|---|",
    ]
    for label, key in (("no webhook applies", "without"), ("no-op validating webhook", "with")):
        run = w[key]
        lines.append(f"| {label} | {run['p50_ms']:.2f} | {run['p99_ms']:.2f} | "
                     f"{run['max_ms']:.2f} | {run['server_cpu_ms']:.2f} |")
    cpu = w["with"]["server_cpu_ms"] - w["without"]["server_cpu_ms"]
    lines += ["", f"Webhook overhead: **p50 +{w['overhead_p50_ms']:.2f} ms, p99 "
                  f"+{w['overhead_p99_ms']:.2f} ms** per create; apiserver CPU "
                  f"+{cpu:.2f} ms per create."]
    return lines
