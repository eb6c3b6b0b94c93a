"""``pods/log`` end to end: kubectl 1.33 and 1.37 and the Python client against a real
apiserver, scheduler, endpoints controller and node agent (its kubelet API serving the
container logs it keeps).

One cluster for the module; the node agent runs host commands, so a container's log is
either its built-in server's lines or the real output of a command.
"""

from __future__ import annotations

import re
import select
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from kubemu.addresses import Addresses
from tests.support.apiserver import ApiServerProcess
from tests.support.kubectl import Kubectl, find_kubectl, find_kubectl_announced
from tests.support.kubemu_up import wait_for
from tests.support.process import node_cluster

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

HEALTHY = """
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  containers:
  - name: web
    image: nginx
    ports: [{name: http, containerPort: 8080}]
    livenessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1, failureThreshold: 1}
"""

CLASH = """
apiVersion: v1
kind: Pod
metadata: {name: clash}
spec:
  containers:
  - {name: first, image: nginx, ports: [{containerPort: 8080}]}
  - {name: second, image: nginx, ports: [{containerPort: 8080}]}
"""

UNBOUND = """
apiVersion: v1
kind: Pod
metadata: {name: unbound}
spec:
  schedulerName: nobody
  containers:
  - {name: c, image: nginx}
"""

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory,
            address_block: Addresses) -> Iterator[ApiServerProcess]:
    base = tmp_path_factory.mktemp("pod-logs")
    with node_cluster(base, "logs-node", address_block.node_ip(NODE),
                      address_block.pod_cidr(NODE), "--allow-host-commands",
                      "--lease-interval", "1", "--root-dir", str(base / "node")) as server:
        yield server


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
    # Two pipes: the stderr line may land anywhere among the first stdout lines.
    assert "to-stderr" in out
    assert [line for line in out if line != "to-stderr"][:4] == ["first", "tick 1", "tick 2",
                                                                 "tick 3"]
    assert kc("logs", "talker", "-c", "quiet", check=True).stdout == "quiet started\n"


def raw_log(server: ApiServerProcess, name: str, **params: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/namespaces/default/pods/{name}/log",
                     params=params, timeout=10)


def ticks(text: str) -> list[int]:
    return [int(line.split()[-1]) for line in text.splitlines() if line.startswith("tick")]


def test_tail_since_timestamps_and_limit(kc: Kubectl, talker: str, web: str) -> None:
    wait_for("ten ticks", lambda: "tick 10" in kc("logs", "talker", "-c", "out").stdout)
    tail = kc("logs", "talker", "-c", "out", "--tail=2", check=True).stdout
    numbers = ticks(tail)
    assert len(tail.splitlines()) == 2 and numbers[1] == numbers[0] + 1
    stamped = kc("logs", "talker", "-c", "out", "--timestamps", check=True).stdout
    lines = stamped.splitlines()
    assert all(STAMP.match(line) for line in lines)
    assert lines[0].split(" ", 1)[1] in ("first", "to-stderr")
    recent = kc("logs", "talker", "-c", "out", "--since=1s", check=True).stdout
    assert "first" not in recent and len(ticks(recent)) <= 5
    # --since-time (whole seconds): the second after the first line's.
    first = datetime.fromisoformat(lines[0][:19] + "+00:00") + timedelta(seconds=1)
    since = first.strftime("%Y-%m-%dT%H:%M:%SZ")
    expected = [line.split(" ", 1)[1] for line in lines if line[:19] + "Z" >= since]
    later = kc("logs", "talker", "-c", "out", f"--since-time={since}", check=True).stdout
    assert later.splitlines()[:3] == expected[:3] and "first" not in later
    assert kc("logs", "web", "--limit-bytes=7", check=True).stdout == "serving"


def test_follow_streams_new_lines(kc: Kubectl, talker: str) -> None:
    present = ticks(kc("logs", "talker", "-c", "out", check=True).stdout)
    argv = [str(kc.binary), "--kubeconfig", str(kc._default_kubeconfig()), "logs", "-f",
            "talker", "-c", "out"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=kc.env())
    try:
        assert proc.stdout is not None
        seen: list[int] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not seen or seen[-1] <= present[-1] + 3):
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
                seen.extend(ticks(line))
        assert seen[-1] > present[-1] + 3  # lines written after kubectl started arrived
        assert seen == list(range(1, seen[-1] + 1))
    finally:
        proc.kill()
        proc.wait()


def test_previous_after_a_liveness_restart(kc: Kubectl, cluster: ApiServerProcess) -> None:
    if pod_exists(cluster, "probed"):
        name = "probed"
    else:
        apply(cluster, HEALTHY)
        name = "probed"
        wait_for("probed running", running(cluster, name))
    restarts = pod(cluster, name)["status"]["containerStatuses"][0]["restartCount"]
    if restarts == 0:
        none = kc("logs", name, "--previous")
        assert none.returncode == 1
        assert (f'previous terminated container "web" in pod "{name}" not found'
                in none.stderr)
        ip = pod(cluster, name)["status"]["podIP"]
        httpx.post(f"http://{ip}:8080/kubemu/healthy?value=false", timeout=5)
        wait_for("a restart", lambda: pod(cluster, name)["status"]["containerStatuses"][0]
                 ["restartCount"] == 1 and running(cluster, name)())
    previous = kc("logs", name, "--previous", check=True).stdout
    assert '"POST /kubemu/healthy?value=false HTTP/1.1" 200' in previous
    assert "liveness probe failed" in previous
    current = kc("logs", name, check=True).stdout
    assert "/kubemu/healthy" not in current and current.startswith("serving HTTP on ")


def pod_exists(server: ApiServerProcess, name: str) -> bool:
    return httpx.get(f"{server.url}/api/v1/namespaces/default/pods/{name}",
                     timeout=5).status_code == 200


def test_selector_prefix_all_containers(kc: Kubectl, talker: str) -> None:
    out = kc("logs", "-l", "app=talker", "--prefix", "--all-containers", "--tail=-1",
             check=True).stdout.splitlines()
    assert "[pod/talker/quiet] quiet started" in out
    assert "[pod/talker/out] first" in out


def test_upstream_errors(cluster: ApiServerProcess, talker: str, web: str) -> None:
    resp = raw_log(cluster, "talker")
    assert resp.status_code == 400
    assert resp.json()["message"] == ("a container name must be specified for pod talker, "
                                      "choose one of: [out quiet]")
    resp = raw_log(cluster, "talker", container="nope")
    assert (resp.status_code, resp.json()["message"]) == (
        400, "container nope is not valid for pod talker")
    resp = raw_log(cluster, "ghost")
    assert (resp.status_code, resp.json()["message"]) == (404, 'pods "ghost" not found')
    resp = raw_log(cluster, "web", tailLines="-1")
    assert resp.status_code == 422
    assert resp.json()["message"] == ('PodLogOptions "web" is invalid: tailLines: Invalid '
                                      "value: -1: must be greater than or equal to 0")
    resp = raw_log(cluster, "web", sinceSeconds="5", sinceTime="2024-01-01T00:00:00Z")
    assert resp.status_code == 422 and "at most one of `sinceTime`" in resp.json()["message"]
    apply(cluster, CLASH)
    wait_for("second waiting", lambda: (pod(cluster, "clash")["status"].get(
        "containerStatuses") or [{}, {}])[1].get("state", {}).get("waiting"))
    resp = raw_log(cluster, "clash", container="second")
    assert resp.status_code == 400
    assert resp.json()["message"] == ('container "second" in pod "clash" is waiting to '
                                      "start: RunContainerError")
    apply(cluster, UNBOUND)
    resp = raw_log(cluster, "unbound")
    assert (resp.status_code, resp.text) == (200, "")
    resp = raw_log(cluster, "web", insecureSkipTLSVerifyBackend="true", limitBytes="3")
    assert (resp.status_code, resp.text) == (200, "ser")


def test_python_client_reads_and_follows(cluster: ApiServerProcess, talker: str) -> None:
    api_client = k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig))
    with api_client:
        core = k8s.CoreV1Api(api_client)
        assert core.read_namespaced_pod_log("talker", "default", container="quiet") == \
            "quiet started\n"
        with pytest.raises(k8s.ApiException) as err:
            core.read_namespaced_pod_log("talker", "default")
        assert err.value.status == 400
        resp = core.read_namespaced_pod_log("talker", "default", container="out",
                                            follow=True, _preload_content=False)
        try:
            text = ""
            for chunk in resp.stream(64):
                text += chunk.decode()
                if len(ticks(text)) >= 3 and text.endswith("\n"):
                    break
            assert ticks(text)[:3] == [1, 2, 3]
        finally:
            resp.release_conn()


def test_deleting_the_pod_ends_a_follow(kc: Kubectl, cluster: ApiServerProcess) -> None:
    apply(cluster, TALKER.replace("name: talker", "name: doomed").replace(
        "containers:", "terminationGracePeriodSeconds: 1\n  containers:"))
    wait_for("doomed running", running(cluster, "doomed"))
    argv = [str(kc.binary), "--kubeconfig", str(cluster.kubeconfig), "logs", "-f",
            "doomed", "-c", "out"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=kc.env())
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() in ("first\n", "to-stderr\n")
        kc("delete", "pod", "doomed", "--wait=false", check=True)
        assert proc.wait(60) == 0
    finally:
        proc.kill()
        proc.wait()


def test_spdy_exec_is_refused_with_a_clear_status(kc: Kubectl, web: str) -> None:
    """Without WebSocket (the variable kubectl honours) kubectl speaks SPDY, which this
    server does not serve: it says so after the request's own checks passed."""
    env = {**kc.env(), "KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}
    argv = [str(kc.binary), "--kubeconfig", str(kc._default_kubeconfig()), "exec", "web",
            "--", "ls"]
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 1
    assert "SPDY/3.1 streams are not served by this server" in out.stderr
    bad = subprocess.run([*argv[:-2], "-c", "nope", "--", "ls"], capture_output=True,
                         text=True, env=env, timeout=30)
    assert "container nope is not valid for pod web" in bad.stderr


def _established_to(ip: str, port: int) -> int:
    """Established TCP connections to ``ip:port`` on this machine (``/proc/net/tcp``)."""
    want = "".join(f"{int(b):02X}" for b in reversed(ip.split("."))) + f":{port:04X}"
    with open("/proc/net/tcp") as fh:
        rows = [line.split() for line in fh.readlines()[1:]]
    return sum(1 for row in rows if row[2] == want and row[3] == "01")


def test_a_client_leaving_a_follow_frees_the_kubelet_stream(
        kc: Kubectl, cluster: ApiServerProcess, talker: str, address_block: Addresses) -> None:
    node = httpx.get(f"{cluster.url}/api/v1/nodes/logs-node", timeout=5).json()
    port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    ip = address_block.node_ip(NODE)
    wait_for("no kubelet streams", lambda: _established_to(ip, port) == 0)
    argv = [str(kc.binary), "--kubeconfig", str(cluster.kubeconfig), "logs", "-f",
            "talker", "-c", "out"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=kc.env())
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        # At least the follow stream; kubectl may have opened more through the apiserver.
        assert _established_to(ip, port) >= 1
    finally:
        proc.kill()
        proc.wait()
    wait_for("the kubelet stream closed", lambda: _established_to(ip, port) == 0)


def kubectl_run(server: ApiServerProcess, *args: str) -> None:
    out = subprocess.run([str(find_kubectl()), "--kubeconfig", str(server.kubeconfig), "run",
                          *args], text=True, capture_output=True)
    assert out.returncode == 0, out.stderr


def phase_is(server: ApiServerProcess, name: str, phase: str) -> Callable[[], bool]:
    return lambda: pod(server, name)["status"].get("phase") == phase


def test_args_without_a_command_run_as_the_command_of_busybox(cluster: ApiServerProcess) \
        -> None:
    # kubectl run puts everything after -- in args; busybox has no ENTRYPOINT.
    kubectl_run(cluster, "argsonly", "--image=busybox", "--restart=Never", "--",
                "sh", "-c", "echo hi; echo bye")
    wait_for("argsonly succeeded", phase_is(cluster, "argsonly", "Succeeded"))
    assert raw_log(cluster, "argsonly").text == "hi\nbye\n"
    term = pod(cluster, "argsonly")["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["reason"] == "Completed" and term["exitCode"] == 0


def test_a_program_that_is_not_there_is_a_start_error(cluster: ApiServerProcess) -> None:
    kubectl_run(cluster, "nosuch", "--image=busybox", "--restart=Never", "--",
                "kubemu-no-such-program", "x")
    wait_for("nosuch failed", phase_is(cluster, "nosuch", "Failed"))
    term = pod(cluster, "nosuch")["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("StartError", 128)
    assert term["message"].endswith(
        'exec: "kubemu-no-such-program": executable file not found in $PATH: unknown')
    events = httpx.get(f"{cluster.url}/api/v1/namespaces/default/events", params={
        "fieldSelector": "involvedObject.name=nosuch,reason=Failed"}, timeout=5).json()["items"]
    assert [e["type"] for e in events] == ["Warning"]
    assert events[0]["message"] == "Error: " + term["message"]
