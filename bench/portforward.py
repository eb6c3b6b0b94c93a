"""The ``portforward`` scenario: throughput through ``kubectl port-forward``.

A ``kubemu up --nodes 1`` cluster (TLS, its own data directory and loopback block) runs a
pod whose port 1234 is the built-in TCP echo server. The driver streams ``megabytes`` MiB
into a connection and reads the echo back, concurrently, first straight to the pod's
address (the baseline), then through ``kubectl port-forward`` (SPDY/3.1 tunnelled in a
WebSocket: kubectl → apiserver → node agent's kubelet server → pod), ``repeat`` times
each, alternating; the best run of each path is reported, and the ratio of the two.
MB/s counts the bytes sent one way (each also comes back).
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.procs import HOST, REPO_ROOT, BenchError, free_port

__all__ = ["run_scenario", "table"]

NAMESPACE = "default"
POD = "bench-pf"
ECHO_PORT = 1234
CHUNK = 64 * 1024


def _pod() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD},
            "spec": {"containers": [{
                "name": "echo", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                "args": ["netexec"], "ports": [{"name": "echo", "containerPort": ECHO_PORT}]}]}}


async def _echo_run(host: str, port: int, total: int) -> float:
    """Seconds to send ``total`` bytes to an echo server and read them all back."""
    reader, writer = await asyncio.open_connection(host, port)
    chunk = b"\xa5" * CHUNK
    start = time.perf_counter()

    async def send() -> None:
        sent = 0
        while sent < total:
            writer.write(chunk[:min(CHUNK, total - sent)])
            sent += min(CHUNK, total - sent)
            await writer.drain()

    sending = asyncio.ensure_future(send())
    received = 0
    while received < total:
        data = await reader.read(1 << 18)
        if not data:
            raise BenchError(f"echo through {host}:{port} closed after {received} bytes")
        received += len(data)
    await sending
    seconds = time.perf_counter() - start
    writer.close()
    return seconds


def _start_cluster(workdir: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    data_dir = workdir / "portforward-cluster"
    log = workdir / "portforward-kubemu-up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kubemu", "up", "--port", "0", "--nodes", "1",
             "--data-dir", str(data_dir), "--stop-timeout", "5"],
            stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"kubemu up exited: see {log}")
        if b"kubemu is up" in log.read_bytes():
            return proc, data_dir / "kubeconfig", data_dir
        time.sleep(0.2)
    proc.kill()
    raise BenchError(f"kubemu up did not start: see {log}")


def _client(kubeconfig: Path, data_dir: Path) -> httpx.Client:
    doc = yaml.safe_load(kubeconfig.read_text())
    url = str(doc["clusters"][0]["cluster"]["server"])
    pki = data_dir / "pki"
    verify: ssl.SSLContext | bool = True
    if url.startswith("https://"):
        verify = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        verify.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    return httpx.Client(base_url=url, verify=verify, timeout=30.0)


def _create_pod(client: httpx.Client) -> None:
    """Create the pod once the namespace's default ServiceAccount exists."""
    deadline = time.monotonic() + 60
    while True:
        resp = client.post(f"/api/v1/namespaces/{NAMESPACE}/pods", json=_pod())
        if resp.status_code == 201:
            return
        if resp.status_code != 403 or time.monotonic() > deadline:
            raise BenchError(f"creating the pod: {resp.status_code} {resp.text}")
        time.sleep(0.3)


def _wait_pod_ip(client: httpx.Client) -> str:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        pod = client.get(f"/api/v1/namespaces/{NAMESPACE}/pods/{POD}").json()
        status = pod.get("status") or {}
        ready = [c.get("ready") for c in status.get("containerStatuses") or []]
        if status.get("phase") == "Running" and ready and all(ready):
            return str(status["podIP"])
        time.sleep(0.3)
    raise BenchError("the port-forward pod did not become ready")


def _kubectl() -> str:
    path = Path(sys.executable).parent / "kubectl"
    if not path.exists():
        raise BenchError("kubectl is not installed (scripts/bootstrap installs it)")
    return str(path)


def run_scenario(workdir: Path, megabytes: int, repeat: int) -> dict[str, Any]:
    """Best MB/s straight to the pod and through ``kubectl port-forward``."""
    total = megabytes * 1024 * 1024
    proc, kubeconfig, data_dir = _start_cluster(workdir)
    forward: subprocess.Popen[str] | None = None
    try:
        with _client(kubeconfig, data_dir) as client:
            _create_pod(client)
            pod_ip = _wait_pod_ip(client)
        local = free_port()
        forward = subprocess.Popen(
            [_kubectl(), "--kubeconfig", str(kubeconfig), "port-forward", "--address", HOST,
             f"pod/{POD}", f"{local}:{ECHO_PORT}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert forward.stdout is not None
        line = forward.stdout.readline()
        if not line.startswith("Forwarding from"):
            raise BenchError(f"kubectl port-forward: {line}{forward.stdout.read()}")
        direct: list[float] = []
        forwarded: list[float] = []
        for _ in range(repeat):
            direct.append(asyncio.run(_echo_run(pod_ip, ECHO_PORT, total)))
            forwarded.append(asyncio.run(_echo_run(HOST, local, total)))
    finally:
        if forward is not None:
            forward.terminate()
            forward.wait(30)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    mbps = {"direct": megabytes / min(direct), "port_forward": megabytes / min(forwarded)}
    return {"megabytes": megabytes, "repeat": repeat, "seconds": {
        "direct": direct, "port_forward": forwarded}, "mb_per_second": mbps,
        "ratio": mbps["port_forward"] / mbps["direct"]}


def table(results: dict[str, Any]) -> list[str]:
    """The report's section for the ``portforward`` scenario."""
    p = results["portforward"]
    mbps = p["mb_per_second"]
    return [
        f"#### Port-forward: {p['megabytes']} MiB echoed through a TCP connection, best of "
        f"{p['repeat']}",
        "",
        "| path | MiB/s (one way) | ÷ direct |",
        "|---|---:|---:|",
        f"| direct to the pod's address | {mbps['direct']:,.1f} | 100% |",
        f"| `kubectl port-forward` (SPDY in a WebSocket via the apiserver and the node "
        f"agent) | {mbps['port_forward']:,.1f} | {p['ratio']:.1%} |",
    ]
