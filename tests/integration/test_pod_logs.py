"""``pods/log`` end to end: kubectl 1.33 and 1.37 and the Python client against a real
apiserver, scheduler, endpoints controller and node agent (its kubelet API serving the
container logs it keeps).

One cluster for the module; the node agent runs host commands, so a container's log is
either its built-in server's lines or the real output of a command.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from kubemu.addresses import Addresses
from tests.support.apiserver import ApiServerProcess, start_apiserver
from tests.support.kubectl import Kubectl, find_kubectl, find_kubectl_announced
from tests.support.kubemu_up import wait_for
from tests.support.process import Process

NODE = 5  # the node index of this module's agent in the session's address block

WEB = """
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    ports: [{name: http, containerPort: 8080}]
"""

TALKER = """
apiVersion: v1
kind: Pod
metadata: {name: talker, labels: {app: talker}}
spec:
  containers:
  - name: out
    image: busybox
    command: ["/bin/sh", "-c", "echo first; echo to-stderr >&2; i=0;
      while true; do i=$((i+1)); echo tick $i; sleep 0.3; done"]
  - name: quiet
    image: busybox
    command: ["/bin/sh", "-c", "echo quiet started; sleep 3600"]
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory,
            address_block: Addresses) -> Iterator[ApiServerProcess]:
    base = tmp_path_factory.mktemp("pod-logs")
    server = start_apiserver(base)
    procs: list[Process] = []

    def start(module: str, *extra: str) -> None:
        argv = ["-m", module, "--kubeconfig", str(server.kubeconfig), *extra]
        procs.append(Process(argv, base / f"{module}-{len(procs)}.log").start())

    try:
        start("controllers.scheduler")
        start("controllers.endpoints")
        start("controllers.node", "--node-name", "logs-node",
              "--node-ip", address_block.node_ip(NODE), "--pod-cidr",
              address_block.pod_cidr(NODE), "--allow-host-commands", "--lease-interval", "1",
              "--root-dir", str(base / "node"))
        yield server
    finally:
        for proc in reversed(procs):
            proc.stop()
        server.stop()


def kubectls() -> list[Any]:
    return [pytest.param(find_kubectl, id="kubectl-1.37"),
            pytest.param(find_kubectl_announced, id="kubectl-1.33")]


@pytest.fixture(params=kubectls())
def kc(request: pytest.FixtureRequest, cluster: ApiServerProcess,
       tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    binary = request.param()
    if binary is None:
        pytest.skip("kubectl binary not installed (scripts/bootstrap installs it)")
    return Kubectl(binary, tmp_path_factory.mktemp("home"), lambda: cluster.kubeconfig)


def pod(server: ApiServerProcess, name: str) -> dict[str, Any]:
    resp = httpx.get(f"{server.url}/api/v1/namespaces/default/pods/{name}", timeout=5)
    resp.raise_for_status()
    data: dict[str, Any] = resp.json()
    return data


def running(server: ApiServerProcess, name: str) -> Callable[[], bool]:
    def check() -> bool:
        statuses = pod(server, name)["status"].get("containerStatuses") or []
        return bool(statuses) and all("running" in s["state"] for s in statuses)
    return check


def apply(server: ApiServerProcess, manifest: str) -> None:
    out = subprocess.run([str(find_kubectl()), "--kubeconfig", str(server.kubeconfig),
                          "apply", "-f", "-"], input=manifest, text=True, capture_output=True)
    assert out.returncode == 0, out.stderr


@pytest.fixture(scope="module")
def web(cluster: ApiServerProcess) -> str:
    apply(cluster, WEB)
    wait_for("web running", running(cluster, "web"))
    ip = pod(cluster, "web")["status"]["podIP"]
    for i in range(3):
        httpx.get(f"http://{ip}:8080/echo?msg=hello{i}", timeout=5)
    return ip


@pytest.fixture(scope="module")
def talker(cluster: ApiServerProcess) -> str:
    apply(cluster, TALKER)
    wait_for("talker running", running(cluster, "talker"))
    return "talker"


def test_kubectl_logs_shows_the_built_in_servers_log(kc: Kubectl, web: str) -> None:
    out = kc("logs", "web", check=True).stdout
    lines = out.splitlines()
    assert lines[0] == f"serving HTTP on {web}:8080"
    assert any('"GET /echo?msg=hello0 HTTP/1.1" 200 6' in line for line in lines)
    assert any("hello2" in line for line in lines)


def test_host_command_output_is_the_containers_log(kc: Kubectl, talker: str) -> None:
    wait_for("a few ticks", lambda: "tick 3" in kc("logs", "talker", "-c", "out").stdout)
    out = kc("logs", "talker", "-c", "out", check=True).stdout.splitlines()
    assert sorted(out[:2]) == ["first", "to-stderr"]  # two pipes: either may come first
    assert out[2:5] == ["tick 1", "tick 2", "tick 3"]
    assert kc("logs", "talker", "-c", "quiet", check=True).stdout == "quiet started\n"
