"""``pods/exec`` and ``pods/attach`` end to end: kubectl 1.33 and 1.37 and the Python client
against a real apiserver and two node agents (their kubelet APIs): one with
``--allow-host-commands``, one without.

One cluster for the module. Pods are bound to a node by ``nodeName``.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import pty
import re
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL, WSClient
from websockets.sync.client import connect

from kubemu.addresses import Addresses
from tests.support.apiserver import ApiServerProcess, free_port, start_apiserver
from tests.support.kubectl import Kubectl, find_kubectl, find_kubectl_announced
from tests.support.kubemu_up import wait_for
from tests.support.process import Process

HOST_NODE, PLAIN_NODE = 21, 22  # node indexes of this module's agents in the address block

CONFIG = """
apiVersion: v1
kind: ConfigMap
metadata: {name: exec-config}
data: {mode: fast}
"""

SHELL = """
apiVersion: v1
kind: Pod
metadata: {name: shell}
spec:
  nodeName: exec-host
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
    env:
    - {name: MODE, valueFrom: {configMapKeyRef: {name: exec-config, key: mode}}}
    - {name: MY_NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    volumeMounts: [{name: config, mountPath: /etc/config}]
  - name: echo
    image: busybox
    command: ["cat"]
    stdin: true
  volumes:
  - {name: config, configMap: {name: exec-config}}
"""

PLAIN = """
apiVersion: v1
kind: Pod
metadata: {name: plain}
spec:
  nodeName: exec-plain
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    ports: [{name: http, containerPort: 8080}]
  - name: checked
    image: busybox
    ports: [{containerPort: 9000}]
    livenessProbe: {exec: {command: ["true"]}, periodSeconds: 1, failureThreshold: 100}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory,
            address_block: Addresses) -> Iterator[tuple[ApiServerProcess, int]]:
    base = tmp_path_factory.mktemp("exec")
    server = start_apiserver(base)
    procs: list[Process] = []
    metrics_port = free_port()

    def node(name: str, index: int, *extra: str) -> None:
        argv = ["-m", "controllers.node", "--kubeconfig", str(server.kubeconfig),
                "--node-name", name, "--node-ip", address_block.node_ip(index),
                "--pod-cidr", address_block.pod_cidr(index), "--lease-interval", "1",
                "--root-dir", str(base / name), *extra]
        procs.append(Process(argv, base / f"{name}.log").start())

    try:
        node("exec-host", HOST_NODE, "--allow-host-commands", "--healthz-port",
             str(metrics_port))
        node("exec-plain", PLAIN_NODE)
        for manifest in (CONFIG, SHELL, PLAIN):
            apply(server, manifest)
        wait_for("pods running", lambda: running(server, "shell") and running(server, "plain"),
                 60.0)
        yield server, metrics_port
    finally:
        for proc in reversed(procs):
            proc.stop()
        server.stop()


def apply(server: ApiServerProcess, manifest: str) -> None:
    out = subprocess.run([str(find_kubectl()), "--kubeconfig", str(server.kubeconfig),
                          "apply", "-f", "-"], input=manifest, text=True, capture_output=True)
    assert out.returncode == 0, out.stderr


def pod(server: ApiServerProcess, name: str) -> dict[str, Any]:
    resp = httpx.get(f"{server.url}/api/v1/namespaces/default/pods/{name}", timeout=5)
    resp.raise_for_status()
    data: dict[str, Any] = resp.json()
    return data


def running(server: ApiServerProcess, name: str) -> bool:
    statuses = pod(server, name)["status"].get("containerStatuses") or []
    return bool(statuses) and all("running" in s["state"] for s in statuses)


@pytest.fixture(params=[pytest.param(find_kubectl, id="kubectl-1.37"),
                        pytest.param(find_kubectl_announced, id="kubectl-1.33")])
def kc(request: pytest.FixtureRequest, cluster: tuple[ApiServerProcess, int],
       tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    binary = request.param()
    if binary is None:
        pytest.skip("kubectl binary not installed (scripts/bootstrap installs it)")
    return Kubectl(binary, tmp_path_factory.mktemp("home"), lambda: cluster[0].kubeconfig)


@pytest.fixture(scope="module")
def api(cluster: tuple[ApiServerProcess, int]) -> k8s.CoreV1Api:
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(str(cluster[0].kubeconfig), client_configuration=configuration)
    return k8s.CoreV1Api(k8s.ApiClient(configuration))


def metrics(cluster: tuple[ApiServerProcess, int]) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{cluster[1]}/metrics", timeout=5).text
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^(\w+) (-?[\d.]+)$", text, re.MULTILINE)}


# -- kubectl -------------------------------------------------------------------------------


def test_kubectl_exec_hostname_and_exit_code(kc: Kubectl) -> None:
    done = kc("exec", "shell", "-c", "main", "--", "sh", "-c", "echo $HOSTNAME; exit 3")
    assert done.stdout == "shell\n"
    assert done.returncode == 3
    assert "command terminated with exit code 3" in done.stderr


def test_kubectl_exec_sees_the_containers_env_and_volumes(kc: Kubectl) -> None:
    script = "echo $MODE $MY_NS; cat $KUBEMU_POD_ROOT/etc/config/mode"
    done = kc("exec", "shell", "-c", "main", "--", "sh", "-c", script, check=True)
    assert done.stdout == "fast default\nfast"


def test_kubectl_exec_without_host_commands_says_which_flag(kc: Kubectl) -> None:
    done = kc("exec", "plain", "-c", "web", "--", "ls")
    assert done.returncode == 126
    assert "--allow-host-commands" in done.stderr
    assert "command terminated with exit code 126" in done.stderr


def test_kubectl_exec_errors(kc: Kubectl) -> None:
    done = kc("exec", "nope", "--", "true")
    assert done.returncode == 1
    assert 'pods "nope" not found' in done.stderr
    done = kc("exec", "shell", "-c", "other", "--", "true")
    assert done.returncode == 1
    assert "container other is not valid for pod shell" in done.stderr


def _read_until(fd: int, wanted: bytes, limit: float = 30.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + limit
    while wanted not in seen:
        assert time.monotonic() < deadline, f"{wanted!r} never came: {seen!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    return seen


def test_kubectl_exec_it_with_a_tty(kc: Kubectl, cluster: tuple[ApiServerProcess, int]
                                    ) -> None:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    argv = [str(kc.binary), "--kubeconfig", str(cluster[0].kubeconfig), "exec", "-it",
            "shell", "-c", "main", "--", "sh"]
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                            start_new_session=True, env=dict(os.environ, TERM="dumb"))
    os.close(slave)
    try:
        os.write(master, b"echo tty-$((6*7))\n")
        _read_until(master, b"tty-42")
        # kubectl sends the terminal's size from its own goroutine, beside stdin: the first
        # command may run before it lands, a later one sees it.
        sizes = b""
        for attempt in range(20):
            # The marker is computed so that the echoed command line does not contain it.
            os.write(master, f"stty size; echo done-$((1000+{attempt}))\n".encode())
            sizes = _read_until(master, f"done-{1000 + attempt}\r\n".encode())
            if b"33 101" in sizes:
                break
        assert b"33 101" in sizes
        os.write(master, b"exit 4\n")
        assert proc.wait(30) == 4
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_kubectl_cp_both_ways(kc: Kubectl, tmp_path: Path) -> None:
    source = tmp_path / "up.txt"
    source.write_bytes(os.urandom(5000).hex().encode())
    inside = tmp_path / "in-pod"
    inside.mkdir()
    kc("cp", str(source), f"shell:{inside}/copied.txt", "-c", "main", check=True)
    assert (inside / "copied.txt").read_bytes() == source.read_bytes()
    back = tmp_path / "back.txt"
    kc("cp", f"shell:{inside}/copied.txt", str(back), "-c", "main", check=True)
    assert back.read_bytes() == source.read_bytes()


def test_kubectl_attach_to_a_built_in_server(kc: Kubectl,
                                             cluster: tuple[ApiServerProcess, int]) -> None:
    ip = pod(cluster[0], "plain")["status"]["podIP"]
    argv = [str(kc.binary), "--kubeconfig", str(cluster[0].kubeconfig), "attach", "plain",
            "-c", "web"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        seen = b""
        deadline = time.monotonic() + 30
        while b"msg=kubectl-attach" not in seen:
            assert time.monotonic() < deadline, seen
            httpx.get(f"http://{ip}:8080/echo?msg=kubectl-attach", timeout=5)
            time.sleep(0.2)
            seen += proc.stdout.read() or b""
        assert b'"GET /echo?msg=kubectl-attach HTTP/1.1" 200' in seen
    finally:
        proc.kill()
        proc.wait()


def test_exec_probe_without_host_commands_fails_with_an_event(kc: Kubectl) -> None:
    def event() -> str:
        out = kc("get", "events", "--field-selector",
                 "involvedObject.name=plain,reason=Unhealthy", "-o", "json", check=True)
        return " ".join(e["message"] for e in json.loads(out.stdout)["items"])
    messages = wait_for("the Unhealthy event", event, 30.0)
    assert "Liveness probe failed" in messages
    assert "--allow-host-commands" in messages


# -- the Python client (kubernetes.stream) ------------------------------------------------


def test_python_exec_outputs(api: k8s.CoreV1Api) -> None:
    out = stream(api.connect_get_namespaced_pod_exec, "shell", "default", container="main",
                 command=["/bin/sh", "-c", "for i in 1 2 3; do date; done"],
                 stderr=False, stdin=False, stdout=True, tty=False)
    assert isinstance(out, str) and len(out.splitlines()) == 3
    raw = stream(api.connect_get_namespaced_pod_exec, "shell", "default", container="main",
                 command=["/bin/sh", "-c", 'printf "a test string" | gzip'],
                 stderr=False, stdin=False, stdout=True, tty=False, binary=True)
    assert gzip.decompress(raw) == b"a test string"
    out = stream(api.connect_post_namespaced_pod_exec, "shell", "default", container="main",
                 command=["uptime"], stderr=False, stdin=False, stdout=True, tty=False)
    assert len(out.splitlines()) == 1


@pytest.mark.parametrize("binary", [False, True])
def test_python_exec_interactive_shell(api: k8s.CoreV1Api, binary: bool) -> None:
    def b(text: str) -> Any:
        return text.encode() if binary else text
    ws = stream(api.connect_post_namespaced_pod_exec, "shell", "default", container="main",
                command=["/bin/sh"], stderr=True, stdin=True, stdout=True, tty=False,
                binary=binary, _preload_content=False)
    ws.write_stdin(b("echo line on stdout\n"))
    assert ws.readline_stdout(timeout=10) == b("line on stdout")
    assert not ws.peek_stderr()
    ws.write_stdin(b("echo line on stderr >&2\n"))
    assert ws.readline_stderr(timeout=10) == b("line on stderr")
    ws.write_stdin(b("exit\n"))
    status = b("")
    while not status and ws.is_open():
        ws.update(timeout=5)
        status = ws.read_channel(ERROR_CHANNEL)
    assert json.loads(status)["status"] == "Success"
    ws.update(timeout=5)
    assert not ws.is_open()


@pytest.mark.parametrize(("command", "code"), [
    (["false"], 1), (["/bin/sh", "-c", "exit 3"], 3), (["true"], 0), (["/bin/sh", "-c", "ls /"], 0),
])
def test_python_exec_return_codes(api: k8s.CoreV1Api, command: list[str], code: int) -> None:
    ws = stream(api.connect_get_namespaced_pod_exec, "shell", "default", container="main",
                command=command, stderr=True, stdin=False, stdout=True, tty=False,
                _preload_content=False)
    assert ws.returncode is None
    ws.run_forever(timeout=30)
    assert ws.returncode == code
    assert ws.returncode == code


def test_python_exec_close_channel_ends_stdin(api: k8s.CoreV1Api) -> None:
    ws = stream(api.connect_post_namespaced_pod_exec, "shell", "default", container="main",
                command=["/bin/sh", "-c", "cat"], stderr=True, stdin=True, stdout=True,
                tty=False, _preload_content=False)
    assert ws.subprotocol == "v5.channel.k8s.io"
    ws.write_stdin("closing\n")
    assert ws.readline_stdout(timeout=10) == "closing"
    ws.close_channel(0)
    ws.run_forever(timeout=30)
    assert not ws.is_open()
    assert ws.returncode == 0


def test_python_exec_v4_only_client(api: k8s.CoreV1Api) -> None:
    """What the Python client up to v35 offers: v4 alone, relayed to the kubelet as is."""
    ws = stream(api.connect_get_namespaced_pod_exec, "shell", "default", container="main",
                command=["/bin/sh", "-c", "echo v4; exit 7"], stderr=True, stdin=False,
                stdout=True, tty=False, _preload_content=False,
                _headers={"sec-websocket-protocol": "v4.channel.k8s.io"})
    assert isinstance(ws, WSClient)
    ws.run_forever(timeout=30)
    assert ws.returncode == 7


def test_python_exec_errors(api: k8s.CoreV1Api) -> None:
    with pytest.raises(ApiException) as info:
        stream(api.connect_get_namespaced_pod_exec, "shell", "default", command=["true"],
               stderr=True, stdin=False, stdout=True, tty=False)
    assert "Handshake status 400" in str(info.value.reason)
    assert "a container name must be specified for pod shell, choose one of: [main echo]" \
        in str(info.value.reason)
    with pytest.raises(ApiException) as info:
        stream(api.connect_get_namespaced_pod_exec, "nope", "default", command=["true"],
               stderr=True, stdin=False, stdout=True, tty=False)
    # The client reports a refused handshake as status 0 with the response in the reason.
    assert "Handshake status 404" in str(info.value.reason)
    assert 'pods \\"nope\\" not found' in str(info.value.reason)


def test_python_attach_to_a_host_process(api: k8s.CoreV1Api) -> None:
    ws = stream(api.connect_get_namespaced_pod_attach, "shell", "default", container="echo",
                stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
    ws.write_stdin("ping\n")
    assert ws.readline_stdout(timeout=10) == "ping"
    ws.close()


def test_python_attach_to_a_built_in_server(api: k8s.CoreV1Api,
                                            cluster: tuple[ApiServerProcess, int]) -> None:
    ip = pod(cluster[0], "plain")["status"]["podIP"]
    ws = stream(api.connect_get_namespaced_pod_attach, "plain", "default", container="web",
                stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    ws.update(timeout=5)
    httpx.get(f"http://{ip}:8080/echo?msg=attached", timeout=5)
    line = ws.readline_stdout(timeout=10)
    assert line is not None and '"GET /echo?msg=attached HTTP/1.1" 200' in line
    ws.close()


# -- resources ------------------------------------------------------------------------------


def _exec_url(cluster: tuple[ApiServerProcess, int], command: str) -> str:
    base = cluster[0].url.replace("http://", "ws://").replace("https://", "wss://")
    return (f"{base}/api/v1/namespaces/default/pods/shell/exec?container=main&stdout=1"
            f"&command={command}")


def _sessions(cluster: tuple[ApiServerProcess, int], count: int) -> None:
    for _ in range(count):
        with connect(_exec_url(cluster, "true"), subprotocols=["v5.channel.k8s.io"]) as ws:  # type: ignore[list-item]
            for message in ws:
                if isinstance(message, bytes) and message[:1] == b"\x03":
                    break


def test_closing_mid_stream_frees_the_server_side(api: k8s.CoreV1Api,
                                                  cluster: tuple[ApiServerProcess, int]
                                                  ) -> None:
    ws = stream(api.connect_get_namespaced_pod_exec, "shell", "default", container="main",
                command=["sleep", "300"], stderr=True, stdin=True, stdout=True, tty=False,
                _preload_content=False)
    wait_for("the session", lambda: metrics(cluster)["kubemu_exec_sessions"] == 1)
    ws.close()
    wait_for("the session's end", lambda: metrics(cluster)["kubemu_exec_sessions"] == 0)


def test_a_thousand_sessions_leak_nothing(cluster: tuple[ApiServerProcess, int]) -> None:
    _sessions(cluster, 50)  # warm up: the server's pools and caches fill
    before = metrics(cluster)
    _sessions(cluster, 1000)

    def settled() -> bool:
        after = metrics(cluster)
        return (after["process_open_fds"] <= before["process_open_fds"] + 2
                and after["kubemu_asyncio_tasks"] <= before["kubemu_asyncio_tasks"] + 2)
    wait_for("descriptors and tasks back to where they were", settled, 30.0)
    assert metrics(cluster)["kubemu_exec_sessions"] == 0


def test_pod_deleted_while_streaming(api: k8s.CoreV1Api,
                                     cluster: tuple[ApiServerProcess, int]) -> None:
    apply(cluster[0], SHELL.replace("name: shell", "name: doomed").replace(
        "  - name: echo\n    image: busybox\n    command: [\"cat\"]\n    stdin: true\n", ""))
    wait_for("doomed running", lambda: running(cluster[0], "doomed"), 30.0)
    ws = stream(api.connect_get_namespaced_pod_exec, "doomed", "default",
                command=["sleep", "300"], stderr=True, stdin=False, stdout=True, tty=False,
                _preload_content=False)
    ws.update(timeout=5)
    api.delete_namespaced_pod("doomed", "default", grace_period_seconds=1)
    ws.run_forever(timeout=60)
    assert not ws.is_open()
    assert ws.returncode == 137

