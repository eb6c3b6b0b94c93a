"""The ports an image listens on when its container declares none (controllers.node.images),
and the built-in runtime serving them."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from controllers.node.images import implied_ports, process_argv, repository
from controllers.node.podlogs import LogSettings
from controllers.node.runtime import PodRunner
from kubemu.addresses import Addresses

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def _ports(**spec: Any) -> list[tuple[int, str, str]]:
    return [(p["containerPort"], p["protocol"], p["name"]) for p in implied_ports(spec)]


@pytest.mark.parametrize(("image", "expected"), [
    ("nginx", "docker.io/library/nginx"),
    ("nginx:1.27", "docker.io/library/nginx"),
    ("library/nginx@sha256:" + "0" * 64, "docker.io/library/nginx"),
    ("bitnami/nginx:latest", "docker.io/bitnami/nginx"),
    (AGNHOST, "registry.k8s.io/e2e-test-images/agnhost"),
    ("localhost:5000/web:1", "localhost:5000/web"),
])
def test_repository_names_the_image_without_tag_or_digest(image: str, expected: str) -> None:
    assert repository(image) == expected


def test_a_server_image_listens_on_its_default_port() -> None:
    assert _ports(image="nginx") == [(80, "TCP", "http")]
    assert _ports(image="docker.io/library/nginx:1.27") == [(80, "TCP", "http")]
    assert _ports(image="nginxinc/nginx-unprivileged") == [(8080, "TCP", "http")]
    assert _ports(image="redis:7", args=["--appendonly", "yes"]) == [(6379, "TCP", "redis")]


def test_declared_ports_a_command_or_an_unknown_image_imply_nothing() -> None:
    assert _ports(image="nginx", ports=[{"containerPort": 8080}]) == []
    assert _ports(image="nginx", command=["sh", "-c", "sleep 1"]) == []
    assert _ports(image="busybox") == []
    assert _ports(image="") == []


def test_agnhost_ports_come_from_its_command_line() -> None:
    assert _ports(image=AGNHOST, args=["netexec"]) == [(8080, "TCP", "http"),
                                                       (8081, "UDP", "udp")]
    assert _ports(image=AGNHOST, command=["/agnhost", "netexec", "--http-port", "9000",
                                          "--udp-port=-1"]) == [(9000, "TCP", "http")]
    assert _ports(image=AGNHOST, args=["serve-hostname"]) == [(9376, "TCP", "http")]
    assert _ports(image=AGNHOST, args=["serve-hostname", "--tcp", "--udp", "--port=9000"]) == [
        (9000, "TCP", "tcp"), (9000, "UDP", "udp")]
    assert _ports(image=AGNHOST, args=["serve-hostname", "--udp"]) == [(9376, "UDP", "udp")]
    assert _ports(image=AGNHOST, args=["pause"]) == []
    assert _ports(image=AGNHOST) == []


def test_agnhost_flags_that_are_not_ports_fall_back_or_are_dropped() -> None:
    assert _ports(image=AGNHOST, args=["netexec", "--http-port=web", "--udp-port=-1"]) == [
        (8080, "TCP", "http")]
    assert _ports(image=AGNHOST, args=["netexec", "--http-port=0", "--udp-port=70000"]) == []


def _free_port(host: str, kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _pod(container: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "hello-node", "namespace": "default", "uid": "u1"},
            "spec": {"restartPolicy": "Always", "containers": [container]}}


async def _noop_event(*_args: str) -> None:
    return None


def test_agnhost_netexec_without_ports_serves_and_keeps_running(
    address_block: Addresses, tmp_path: Path,
) -> None:
    """kubernetes.io's hello-node: agnhost netexec, no ports declared. It serves HTTP on
    its --http-port and keeps running, where a command without ports would finish."""
    pod_ip = str(ipaddress.ip_network(address_block.pod_cidr(1))[240])
    http_port = _free_port(pod_ip)
    udp_port = _free_port(pod_ip, socket.SOCK_DGRAM)
    pod = _pod({"name": "agnhost", "image": AGNHOST, "command": ["/agnhost", "netexec",
                f"--http-port={http_port}", f"--udp-port={udp_port}"]})

    async def scenario() -> tuple[str, dict[str, Any], str]:
        runner = PodRunner(pod, pod_ip, "127.0.0.1", False, lambda: None, _noop_event,
                           finite_seconds=0.05, logs=LogSettings(tmp_path))
        await runner.start()
        try:
            await asyncio.sleep(0.3)  # well past finite_seconds
            async with httpx.AsyncClient() as client:
                answer = await client.get(f"http://{pod_ip}:{http_port}/hostname")
            assert runner.log_dir is not None
            log = (runner.log_dir / "agnhost" / "0.log").read_text()
            return answer.text, runner.status(pod), log
        finally:
            await runner.stop()

    body, status, log = asyncio.run(scenario())
    assert body == "hello-node"
    assert status["phase"] == "Running"
    assert status["containerStatuses"][0]["state"].keys() == {"running"}
    assert (f"serving HTTP on {pod_ip}:{http_port} (the image's own port: the container "
            "declares none)") in log
    assert f"serving UDP on {pod_ip}:{udp_port}" in log


def test_an_image_port_that_cannot_be_bound_is_skipped(
    address_block: Addresses, tmp_path: Path,
) -> None:
    """An implied port is served where it can be (a node agent without root cannot bind
    port 80): the container runs without it and its log says why."""
    pod_ip = str(ipaddress.ip_network(address_block.pod_cidr(1))[241])
    pod = _pod({"name": "echo", "image": "hashicorp/http-echo"})
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind((pod_ip, 5678))
        taken.listen()

        async def scenario() -> tuple[dict[str, Any], str]:
            runner = PodRunner(pod, pod_ip, "127.0.0.1", False, lambda: None, _noop_event,
                               logs=LogSettings(tmp_path))
            await runner.start()
            try:
                assert runner.log_dir is not None
                return runner.status(pod), (runner.log_dir / "echo" / "0.log").read_text()
            finally:
                await runner.stop()

        status, log = asyncio.run(scenario())
    assert status["containerStatuses"][0]["state"].keys() == {"running"}
    assert "not serving the image's port 5678: " in log


@pytest.mark.parametrize(("policy", "expected"), [
    ("IfNotPresent", [("Pulled", 'Container image "nginx:1.27" already present on machine')]),
    ("Always", [("Pulling", 'Pulling image "nginx:1.27"'),
                ("Pulled", 'Successfully pulled image "nginx:1.27" in 0s (0s including '
                           "waiting). Image size: 0 bytes.")]),
])
def test_a_start_records_the_kubelets_image_created_and_started_events(
    policy: str, expected: list[tuple[str, str]], address_block: Addresses,
) -> None:
    """As the kubelet: the image manager's Event(s), then Created and Started, each on the
    container (``spec.containers{web}``)."""
    pod_ip = str(ipaddress.ip_network(address_block.pod_cidr(1))[242])
    port = _free_port(pod_ip)
    pod = _pod({"name": "web", "image": "nginx:1.27", "imagePullPolicy": policy,
                "ports": [{"containerPort": port}]})
    events: list[tuple[str, str, str, str]] = []

    async def event(type_: str, reason: str, message: str, field: str) -> None:
        events.append((type_, reason, message, field))

    async def scenario() -> None:
        runner = PodRunner(pod, pod_ip, "127.0.0.1", False, lambda: None, event)
        await runner.start()
        await runner.stop()

    asyncio.run(scenario())
    started = [e for e in events if e[1] != "Killing"]
    assert started == [("Normal", reason, message, "spec.containers{web}")
                       for reason, message in [*expected,
                                               ("Created", "Created container: web"),
                                               ("Started", "Started container web")]]


def test_process_argv_joins_command_and_args_as_the_runtime_does() -> None:
    def argv(image: str, command: list[str] | None = None,
             args: list[str] | None = None) -> list[str]:
        spec: dict[str, object] = {"image": image}
        if command is not None:
            spec["command"] = command
        if args is not None:
            spec["args"] = args
        return process_argv(spec)

    # kubectl run t --image=busybox -- sh -c 'echo hi': busybox has no entrypoint.
    assert argv("busybox", args=["sh", "-c", "echo hi"]) == ["sh", "-c", "echo hi"]
    assert argv("busybox:1.36", ["sh", "-c"], ["echo hi"]) == ["sh", "-c", "echo hi"]
    # An image whose entrypoint takes the args.
    assert argv("curlimages/curl:8.10.1", args=["-s", "http://x"]) == ["curl", "-s", "http://x"]
    # Server images and agnhost are stood in for by the built-in servers.
    assert argv("nginx", args=["-g", "daemon off;"]) == []
    assert argv("registry.k8s.io/e2e-test-images/agnhost:2.53",
                args=["netexec", "--http-port=8080"]) == []
    assert argv("nginx", ["sh", "-c", "sleep 1"]) == ["sh", "-c", "sleep 1"]
    assert argv("busybox") == []
    # An image kubemu does not know: its args configure its own program (served by the
    # built-in servers), they are not a command line.
    assert argv("ghcr.io/acme/api:1.0", args=["--port=8080"]) == []
    assert argv("ghcr.io/acme/api:1.0", ["/app"], ["--port=8080"]) == ["/app", "--port=8080"]
