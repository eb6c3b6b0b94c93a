"""``kubectl debug pod/NAME --image=…`` end to end: kubectl 1.33 against a real apiserver
(``pods/ephemeralcontainers``) and two node agents, one with ``--allow-host-commands`` and
one without.

One cluster for the module. Pods are bound to a node by ``nodeName``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kubemu.addresses import Addresses
from tests.support.apiserver import ApiServerProcess, start_apiserver
from tests.support.kubectl import Kubectl, find_kubectl_announced
from tests.support.kubemu_up import wait_for
from tests.support.process import Process

HOST_NODE, PLAIN_NODE = 25, 26  # node indexes of this module's agents in the address block

WEB = """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  nodeName: debug-host
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: busybox, command: ["sleep", "3600"]}
"""

QUIET = """
apiVersion: v1
kind: Pod
metadata: {name: quiet}
spec:
  nodeName: debug-plain
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    ports: [{name: http, containerPort: 8080}]
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory,
            address_block: Addresses) -> Iterator[ApiServerProcess]:
    base = tmp_path_factory.mktemp("debug")
    server = start_apiserver(base)
    procs: list[Process] = []

    def node(name: str, index: int, *extra: str) -> None:
        argv = ["-m", "controllers.node", "--kubeconfig", str(server.kubeconfig),
                "--node-name", name, "--node-ip", address_block.node_ip(index),
                "--pod-cidr", address_block.pod_cidr(index), "--lease-interval", "1",
                "--root-dir", str(base / name), *extra]
        procs.append(Process(argv, base / f"{name}.log").start())

    try:
        node("debug-host", HOST_NODE, "--allow-host-commands")
        node("debug-plain", PLAIN_NODE, "--finite-container-seconds", "0.5")
        for manifest in (WEB, QUIET):
            done = subprocess.run([str(_binary()), "--kubeconfig", str(server.kubeconfig),
                                   "apply", "-f", "-"], input=manifest, text=True,
                                  capture_output=True)
            assert done.returncode == 0, done.stderr
        wait_for("pods running", lambda: _running(server, "web") and _running(server, "quiet"),
                 60.0)
        yield server
    finally:
        for proc in reversed(procs):
            proc.stop()
        server.stop()


def _binary() -> Any:
    binary = find_kubectl_announced()
    if binary is None:
        pytest.skip("kubectl 1.33 not installed (scripts/bootstrap installs it)")
    return binary


@pytest.fixture
def kc(cluster: ApiServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(_binary(), tmp_path_factory.mktemp("home"), lambda: cluster.kubeconfig)


def _pod(server: ApiServerProcess, name: str) -> dict[str, Any]:
    resp = httpx.get(f"{server.url}/api/v1/namespaces/default/pods/{name}", timeout=5)
    resp.raise_for_status()
    data: dict[str, Any] = resp.json()
    return data


def _running(server: ApiServerProcess, name: str) -> bool:
    statuses = _pod(server, name)["status"].get("containerStatuses") or []
    return bool(statuses) and all("running" in s["state"] for s in statuses)


def _ephemeral_state(server: ApiServerProcess, pod: str, name: str) -> dict[str, Any]:
    for status in _pod(server, pod)["status"].get("ephemeralContainerStatuses") or []:
        if status["name"] == name:
            state: dict[str, Any] = status["state"]
            return state
    return {}


def _terminated(server: ApiServerProcess, pod: str, name: str) -> dict[str, Any] | None:
    return _ephemeral_state(server, pod, name).get("terminated")


def test_kubectl_debug_runs_a_command_and_logs_show_it(kc: Kubectl,
                                                       cluster: ApiServerProcess) -> None:
    done = kc("debug", "pod/web", "--image=busybox", "-c", "dbg", "--", "sh", "-c",
              "echo from-debug", check=True)
    assert "error" not in done.stderr.lower(), done.stderr
    term = wait_for("dbg terminated", lambda: _terminated(cluster, "web", "dbg"), 30.0)
    assert term["exitCode"] == 0 and term["reason"] == "Completed"
    logs = kc("logs", "web", "-c", "dbg", check=True)
    assert logs.stdout == "from-debug\n"
    pod = _pod(cluster, "web")
    (debug,) = pod["spec"]["ephemeralContainers"]
    assert debug["name"] == "dbg" and debug["image"] == "busybox"
    assert debug["terminationMessagePolicy"] == "File"  # defaulted on the subresource
    (status,) = pod["status"]["ephemeralContainerStatuses"]
    assert status["restartCount"] == 0 and status["ready"] is False
    assert pod["status"]["phase"] == "Running"
    events = httpx.get(f"{cluster.url}/api/v1/namespaces/default/events", params={
        "fieldSelector": "involvedObject.name=web,"
                         "involvedObject.fieldPath=spec.ephemeralContainers{dbg}"},
        timeout=5).json()["items"]
    assert {e["reason"] for e in events} >= {"Pulled", "Created", "Started"}
    # GET on the subresource is the pod.
    got = httpx.get(f"{cluster.url}/api/v1/namespaces/default/pods/web/ephemeralcontainers",
                    timeout=5).json()
    assert got["kind"] == "Pod" and got["metadata"]["name"] == "web"


def test_existing_ephemeral_containers_stay_and_the_pod_refuses_them(
        kc: Kubectl, cluster: ApiServerProcess) -> None:
    kc("debug", "pod/web", "--image=busybox", "-c", "keep", "--", "true", check=True)
    url = f"{cluster.url}/api/v1/namespaces/default/pods/web"
    index = [c["name"] for c in _pod(cluster, "web")["spec"]["ephemeralContainers"]].index(
        "keep")
    removal = httpx.patch(f"{url}/ephemeralcontainers", timeout=5,
                          headers={"content-type": "application/json-patch+json"},
                          content=json.dumps([{"op": "remove",
                                               "path": f"/spec/ephemeralContainers/{index}"}]))
    assert removal.status_code == 422
    assert 'existing ephemeral containers \\"keep\\" may not be removed' in removal.text
    # The main resource may not add one.
    added = kc("patch", "pod", "web", "--type=json", "-p", json.dumps([{
        "op": "add", "path": "/spec/ephemeralContainers/-",
        "value": {"name": "sneaky", "image": "busybox"}}]))
    assert added.returncode != 0
    assert "pod updates may not change fields" in added.stderr
    # Forbidden fields, a duplicate name and an unknown target, with upstream's paths.
    bad = httpx.patch(f"{url}/ephemeralcontainers", timeout=5,
                      headers={"content-type": "application/strategic-merge-patch+json"},
                      content=json.dumps({"spec": {"ephemeralContainers": [
                          {"name": "main", "image": "busybox",
                           "ports": [{"containerPort": 80}], "targetContainerName": "nope"}]}}))
    assert bad.status_code == 422
    fields = {c["field"] for c in bad.json()["details"]["causes"]}
    n = len(_pod(cluster, "web")["spec"]["ephemeralContainers"])
    assert fields == {f"spec.ephemeralContainers[{n}].{f}"
                      for f in ("name", "ports", "targetContainerName")}


def test_kubectl_debug_interactive_with_piped_stdin(kc: Kubectl,
                                                    cluster: ApiServerProcess) -> None:
    # -t with a stdin that is no terminal: kubectl says so and attaches without one; the
    # container still gets stdin: true and tty: true, as kubectl debug -it sets them.
    done = kc("debug", "-it", "pod/web", "--image=busybox", "-c", "shell", "--", "sh",
              input="echo interactive-$((40+2))\nexit 0\n", timeout=90)
    assert done.returncode == 0, done.stderr
    assert "interactive-42" in done.stdout
    (shell,) = [c for c in _pod(cluster, "web")["spec"]["ephemeralContainers"]
                if c["name"] == "shell"]
    assert shell["stdin"] is True and shell["tty"] is True
    term = wait_for("shell terminated", lambda: _terminated(cluster, "web", "shell"), 30.0)
    assert term["exitCode"] == 0


def test_kubectl_debug_without_host_commands(kc: Kubectl, cluster: ApiServerProcess) -> None:
    kc("debug", "pod/quiet", "--image=busybox", "-c", "dbg", "--", "sh", "-c", "echo x",
       check=True, timeout=60)
    term = wait_for("dbg terminated", lambda: _terminated(cluster, "quiet", "dbg"), 30.0)
    assert term["exitCode"] == 0
    logs = kc("logs", "quiet", "-c", "dbg", check=True)
    assert "the command is not run (the node agent runs without --allow-host-commands)" \
        in logs.stdout
    # Interactive: the command is not run, the container ends, and so does kubectl.
    done = kc("debug", "-i", "pod/quiet", "--image=busybox", "-c", "shell", "--", "sh",
              input="echo never\n", timeout=60)
    assert "never" not in done.stdout
    wait_for("shell terminated", lambda: _terminated(cluster, "quiet", "shell"), 30.0)
