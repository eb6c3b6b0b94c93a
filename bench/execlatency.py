"""The ``exec`` scenario: round-trip latency of ``exec … echo`` through the apiserver.

Every process is real and started here: a fresh apiserver (SQLite, on the server CPU) and
one node agent with ``--allow-host-commands`` (on the load CPU, beside this driver), on a
block of loopback addresses of its own (:mod:`kubemu.addresses`). One pod runs on the node
(a ``sleep`` host process). Then ``sessions`` exec sessions of ``echo hi`` run one after
another, each timed from opening the connection to the Status on the error channel (the
whole session: WebSocket handshake, the apiserver's relay to the node's kubelet API, the
process spawn, its output and exit):

* **apiserver, v5**: ``v5.channel.k8s.io`` to the apiserver, as kubectl ≥ 1.30 speaks it;
* **kubelet API directly, v4**: the same command straight to the node's kubelet API (the
  apiserver's relay left out), to show what the relay adds;
* **kubectl exec**: ``kicks`` runs of ``kubectl exec pod -- echo hi`` as a user types it
  (kubectl's own start-up included).

Each row reports p50, p99 and the mean in milliseconds.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from bench.procs import HOST, BenchError, ServerProcess, apiserver_module, free_port, python_module
from kubemu.addresses import Addresses
from kubemu.blocks import acquire

NAMESPACE = "default"
POD = "bench-exec"
NODE = "bench-exec-node"
KUBECTL = Path(sys.executable).parent / "kubectl"


def _session(url: str, protocol: str) -> float:
    """One exec session's seconds, until its Status arrives."""
    t0 = time.perf_counter()
    with connect(url, subprotocols=[Subprotocol(protocol)], open_timeout=30) as ws:
        for message in ws:
            if isinstance(message, bytes) and message[:1] == b"\x03":
                break
        else:
            raise BenchError("an exec session ended without its Status")
    return time.perf_counter() - t0


def _summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"count": len(ordered), "p50_ms": ordered[len(ordered) // 2] * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            "mean_ms": statistics.fmean(ordered) * 1000}


def _wait_running(client: httpx.Client) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pod = client.get(f"/api/v1/namespaces/{NAMESPACE}/pods/{POD}").json()
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        if statuses and "running" in statuses[0].get("state", {}):
            return dict(pod)
        time.sleep(0.2)
    raise BenchError(f"pod {POD} not running after 60 s")


def run_scenario(workdir: Path, server_cpu: int | None, load_cpu: int | None,
                 sessions: int, kicks: int) -> dict[str, Any]:
    """Start the cluster, time the sessions, stop everything; the JSON-able results."""
    lease = acquire(f"kubemu bench exec ({workdir})")
    try:
        return _run(workdir, server_cpu, load_cpu, sessions, kicks, lease.addresses)
    finally:
        lease.release()


def _run(workdir: Path, server_cpu: int | None, load_cpu: int | None, sessions: int,
         kicks: int, addresses: Addresses) -> dict[str, Any]:
    port = free_port()
    api = ServerProcess("kubemu-exec", apiserver_module(
        "--bind-address", HOST, "--port", str(port), "--data-dir", str(workdir / "exec-api"),
        "--storage", "sqlite"), port, workdir / "exec-apiserver.log", server_cpu).start()
    node: ServerProcess | None = None
    try:
        healthz = free_port()
        node = ServerProcess(NODE, python_module(
            "controllers.node", "--server", api.url, "--node-name", NODE,
            "--node-ip", addresses.node_ip(1), "--pod-cidr", addresses.pod_cidr(1),
            "--allow-host-commands", "--root-dir", str(workdir / "exec-node"),
            "--healthz-port", str(healthz)), healthz, workdir / "exec-node.log",
            load_cpu).start(timeout=60)
        with httpx.Client(base_url=api.url, timeout=30) as client:
            client.post(f"/api/v1/namespaces/{NAMESPACE}/pods", json={
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD},
                "spec": {"nodeName": NODE, "containers": [
                    {"name": "main", "image": "busybox", "command": ["sleep", "86400"]}]}},
            ).raise_for_status()
            _wait_running(client)
            status = client.get(f"/api/v1/nodes/{NODE}").json()["status"]
            kubelet_port = status["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        query = urlencode([("stdout", "1"), ("command", "echo"), ("command", "hi")])
        via_api = (f"{api.url.replace('http://', 'ws://')}/api/v1/namespaces/{NAMESPACE}"
                   f"/pods/{POD}/exec?{query}")
        direct = (f"ws://{addresses.node_ip(1)}:{kubelet_port}/exec/{NAMESPACE}/{POD}/main?"
                  + urlencode([("output", "1"), ("command", "echo"), ("command", "hi")]))
        for _ in range(20):  # warm-up
            _session(via_api, "v5.channel.k8s.io")
        rows = {
            "apiserver_v5": _summary([_session(via_api, "v5.channel.k8s.io")
                                      for _ in range(sessions)]),
            "kubelet_v4": _summary([_session(direct, "v4.channel.k8s.io")
                                    for _ in range(sessions)]),
        }
        kubeconfig = workdir / "exec-kubeconfig"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {"server": api.url}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "users": [{"name": "u", "user": {}}]}))
        times = []
        for _ in range(kicks):
            t0 = time.perf_counter()
            done = subprocess.run([str(KUBECTL), "--kubeconfig", str(kubeconfig), "exec",
                                   POD, "--", "echo", "hi"], capture_output=True, text=True,
                                  check=False)
            times.append(time.perf_counter() - t0)
            if done.returncode != 0 or done.stdout != "hi\n":
                raise BenchError(f"kubectl exec failed: {done.stderr.strip()}")
        rows["kubectl"] = _summary(times)
    finally:
        if node is not None:
            node.stop()
        api.stop()
    return {"sessions": sessions, "kicks": kicks, "rows": rows}


def table(results: dict[str, Any]) -> list[str]:
    """The Markdown of the scenario."""
    s = results["exec"]
    labels = {"apiserver_v5": f"through the apiserver, v5 ({s['sessions']:,} sessions)",
              "kubelet_v4": f"kubelet API directly, v4 ({s['sessions']:,} sessions)",
              "kubectl": f"`kubectl exec pod -- echo hi` ({s['kicks']:,} runs)"}
    lines = ["#### exec round trip: `echo hi`, from connecting to the exit Status",
             "", "| path | p50 ms | p99 ms | mean ms |", "|---|---:|---:|---:|"]
    for key, row in s["rows"].items():
        lines.append(f"| {labels[key]} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | "
                     f"{row['mean_ms']:.1f} |")
    return lines
