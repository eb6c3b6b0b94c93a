"""Port-forward end to end: ``kubemu up`` (TLS), kubectl 1.33 and 1.37, the Python client.

kubectl tunnels SPDY/3.1 in a WebSocket through the apiserver to the node agent's kubelet
server; the Python client speaks the v4 channel protocol. The pod ``web-1`` runs the
built-in servers: HTTP on 8080, TCP echo on 1234 and 1235; nothing listens on 1236.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.stream import portforward

from tests.support.apiserver import free_port
from tests.support.kubectl import find_kubectl, find_kubectl_announced
from tests.support.kubemu_up import Kubemu, start_kubemu, stop_kubemu, wait_for

NS = "default"
LABELS = {"app": "web"}


def _pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": LABELS},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "web", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                "args": ["netexec", "--http-port=8080"],
                "ports": [{"name": "http", "containerPort": 8080},
                          {"name": "echo-a", "containerPort": 1234},
                          {"name": "echo-b", "containerPort": 1235}]}]}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubemu]:
    data_dir = tmp_path_factory.mktemp("portforward") / "data"
    kubemu = start_kubemu(data_dir, 1)
    try:
        api = _api(kubemu)
        wait_for("the default ServiceAccount", lambda: _has_default_sa(api), timeout=60)
        api.create_namespaced_pod(NS, _pod("web-1"))
        api.create_namespaced_service(NS, {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": LABELS, "ports": [{"port": 9000, "targetPort": "http"}]}})
        wait_for("web-1 ready", lambda: _ready(api, "web-1"), timeout=60)
        yield kubemu
    finally:
        stop_kubemu(kubemu)


def _api(kubemu: Kubemu) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(str(kubemu.kubeconfig)))


def _has_default_sa(api: client.CoreV1Api) -> bool:
    names = [sa.metadata.name for sa in api.list_namespaced_service_account(NS).items]
    return "default" in names


def _ready(api: client.CoreV1Api, name: str) -> bool:
    pod = api.read_namespaced_pod(name, NS)
    statuses = pod.status.container_statuses or []
    return bool(pod.status.phase == "Running" and statuses and statuses[0].ready)


@contextlib.contextmanager
def _port_forward(kubectl: Path, kubemu: Kubemu, resource: str,
                  remote: int) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    local = free_port()
    proc = subprocess.Popen(
        [str(kubectl), "--kubeconfig", str(kubemu.kubeconfig), "port-forward",
         "--address", "127.0.0.1", resource, f"{local}:{remote}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Forwarding from 127.0.0.1"), line + proc.stdout.read()
        yield local, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(30)


async def _get(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data


def _hundred_gets(port: int) -> list[bytes]:
    async def run() -> list[bytes]:
        return list(await asyncio.gather(*(_get(port, "/hostname") for _ in range(100))))
    return asyncio.run(run())


def _kubectls() -> list[Any]:
    return [pytest.param(find_kubectl, id="kubectl-1.37"),
            pytest.param(find_kubectl_announced, id="kubectl-1.33")]


@pytest.mark.parametrize("finder", _kubectls())
@pytest.mark.parametrize("resource", ["pod/web-1", "svc/web"])
def test_kubectl_port_forward_carries_100_concurrent_requests(
        cluster: Kubemu, finder: Any, resource: str) -> None:
    kubectl = finder()
    if kubectl is None:
        pytest.skip("kubectl not installed")
    remote = 9000 if resource.startswith("svc/") else 8080
    with _port_forward(kubectl, cluster, resource, remote) as (local, _proc):
        answers = _hundred_gets(local)
    assert len(answers) == 100
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert answer.endswith(b"web-1")


def test_kubectl_port_forward_moves_megabytes_both_ways(cluster: Kubemu) -> None:
    kubectl = find_kubectl()
    assert kubectl is not None
    payload = bytes(range(256)) * 16384  # 4 MiB through the echo port and back
    with _port_forward(kubectl, cluster, "pod/web-1", 1234) as (local, _proc):
        async def run() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", local)
            writer.write(payload)
            got = bytearray()

            async def drain() -> None:
                await writer.drain()

            sending = asyncio.ensure_future(drain())
            while len(got) < len(payload):
                got += await reader.read(1 << 16)
            await sending
            writer.close()
            return bytes(got)
        assert asyncio.run(run()) == payload


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    got = b""
    while len(got) < size:
        ready, _w, _x = select.select([sock], [], [], 30)
        assert ready, f"no data after {got!r}"
        data = sock.recv(1024)
        assert data, f"socket closed after {got!r}"
        got += data
    return got


def test_python_client_raw_ports(cluster: Kubemu) -> None:
    """Two echo ports and a closed one on one WebSocket, several times over."""
    api = _api(cluster)
    for round_ in range(3):
        pf = portforward(api.connect_get_namespaced_pod_portforward, "web-1", NS,
                         ports="1234,1235,1236")
        assert pf.connected
        a, b = pf.socket(1234), pf.socket(1235)
        a.setblocking(True)
        b.setblocking(True)
        for sock, port in ((a, 1234), (b, 1235)):
            sent = f"round {round_} port {port}".encode()
            sock.sendall(sent)
            assert _recv_exactly(sock, len(sent)) == sent
        closed = pf.socket(1236)
        closed.setblocking(True)
        assert closed.recv(1024) == b""
        error = pf.error(1236)
        assert error is not None and error.startswith("error forwarding port 1236 to pod")
        assert error.endswith("connect: connection refused")
        closed.close()
        assert pf.connected
        for sock in (a, b):
            sock.close()
        wait_for("the WebSocket to close", lambda pf=pf: not pf.connected)
        assert pf.error(1234) is None and pf.error(1235) is None


def test_python_client_http_through_urllib(cluster: Kubemu) -> None:
    import urllib.request

    api = _api(cluster)
    real = socket.create_connection

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        host = address[0].decode() if isinstance(address[0], bytes) else address[0]
        parts = host.split(".")
        if len(parts) != 3 or parts[2] != "kubernetes":
            return real(address, *args, **kwargs)
        pf = portforward(api.connect_get_namespaced_pod_portforward, parts[0], parts[1],
                         ports=str(address[1]))
        sock: socket.socket = pf.socket(address[1])
        return sock

    socket.create_connection = create_connection  # type: ignore[assignment]
    try:
        with urllib.request.urlopen("http://web-1.default.kubernetes:8080/hostname",
                                    timeout=30) as response:
            body = response.read()
    finally:
        socket.create_connection = real
    assert response.status == 200
    assert body == b"web-1"


def _established_to(ip: str, port: int) -> int:
    """TCP connections on this machine whose remote end is ``ip:port`` (ESTABLISHED)."""
    want = f"{socket.inet_aton(ip)[::-1].hex().upper()}:{port:04X}"
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[2] == want and fields[3] == "01":
            count += 1
    return count


def test_closing_mid_stream_frees_the_pod_connection(cluster: Kubemu) -> None:
    api = _api(cluster)
    ip = api.read_namespaced_pod("web-1", NS).status.pod_ip
    before = _established_to(ip, 1235)
    for _ in range(5):
        pf = portforward(api.connect_get_namespaced_pod_portforward, "web-1", NS,
                         ports="1235")
        sock = pf.socket(1235)
        sock.setblocking(True)
        sock.sendall(b"half")
        assert _recv_exactly(sock, 4) == b"half"
        assert _established_to(ip, 1235) >= before + 1
        sock.close()  # mid-stream: the pod's connection is still open
        wait_for("the WebSocket to close", lambda pf=pf: not pf.connected)
    wait_for("the node agent to close its pod connections",
             lambda: _established_to(ip, 1235) == before)


def test_a_deleted_pod_ends_the_stream(cluster: Kubemu) -> None:
    api = _api(cluster)
    api.create_namespaced_pod(NS, _pod("doomed"))
    wait_for("doomed ready", lambda: _ready(api, "doomed"), timeout=60)
    pf = portforward(api.connect_get_namespaced_pod_portforward, "doomed", NS, ports="1234")
    sock = pf.socket(1234)
    sock.setblocking(True)
    sock.sendall(b"ping")
    assert _recv_exactly(sock, 4) == b"ping"
    kubectl = find_kubectl()
    assert kubectl is not None
    with _port_forward(kubectl, cluster, "pod/doomed", 1234) as (_local, proc):
        api.delete_namespaced_pod("doomed", NS)
        ready, _w, _x = select.select([sock], [], [], 60)
        assert ready and sock.recv(1024) == b""
        wait_for("the Python client's WebSocket to close", lambda: not pf.connected)
        started = time.monotonic()
        while proc.poll() is None and time.monotonic() - started < 60:
            time.sleep(0.2)
        assert proc.poll() is not None, "kubectl port-forward still running"
