"""The README's kopf operator example, run verbatim against its own ``kubemu up --nodes 1``.

The README section "A kopf operator against kubemu" marks its blocks: ``<!-- kopf-example:
FILE -->`` blocks are saved as FILE (the CRD and the operator), the ``<!-- kopf-example:
operator -->`` block is the command that runs the operator (started here as its own
process, ``kopf`` as ``python -m kopf``), and the ``<!-- kopf-example -->`` blocks are
shell commands, run one by one in one bash (each must exit 0), those before the operator
block before it starts. Between the commands the test checks what the operator made
through the API:

* create: a Deployment and a Service owned by the WebApp (controller owner references with
  its uid), kopf's finalizer on the WebApp, the create handler's result and the
  ``readyReplicas``/``Ready`` status patched from the Deployment's events, Ready pods that
  are the Service's endpoints and answer through its ClusterIP;
* update: ``spec.replicas`` 2 -> 3 scales the Deployment, the status follows;
* delete: ``kubectl delete`` returns once the delete handler ran (it deletes the
  Deployment and the Service) and kopf removed its finalizer, the garbage collector removes
  the ReplicaSet and the pods, and the operator's log has the handler's success.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubemu.supervisor import die_with_parent
from tests.integration.test_compat_kopf import require_client
from tests.integration.test_walkthrough import README, Shell, walkthrough_commands
from tests.support.kubemu_up import Kubemu, answers, start_kubemu, stop_kubemu, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

BIN = Path(sys.executable).parent
MARKER = "kopf-example"
CRD_FILE, OPERATOR_FILE = "webapp-crd.yaml", "webapp_operator.py"
WEBAPPS = "/apis/example.com/v1/namespaces/default/webapps"
INSTANCE = "app.kubernetes.io/instance"
FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


def readme_blocks(text: str) -> dict[str, str]:
    """The fenced blocks preceded by ``<!-- kopf-example: NAME -->``, by NAME."""
    found = re.findall(rf"<!-- {MARKER}: ([\w.-]+) -->\s*\n```[a-z]*\n(.*?)\n```", text, re.S)
    blocks = dict(found)
    assert len(blocks) == len(found), "a kopf-example block name is used twice"
    return blocks


def operator_argv(block: str) -> list[str]:
    """The README's ``kopf run ...`` line, with ``kopf`` run by this interpreter."""
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("kopf run "), block
    return [sys.executable, "-m", "kopf", *shlex.split(lines[0])[1:]]


def status_code(cluster: Kubemu, path: str) -> int:
    return httpx.get(cluster.url + path, timeout=5, verify=cluster.verify).status_code


def gone(cluster: Kubemu, path: str) -> bool:
    return status_code(cluster, path) == 404


def instance_pods(cluster: Kubemu, name: str) -> dict[str, dict[str, Any]]:
    items = cluster.get(f"/api/v1/namespaces/default/pods?labelSelector={INSTANCE}%3D{name}")
    return {p["metadata"]["name"]: p for p in items["items"]}


def ready_pods(cluster: Kubemu, name: str, count: int) -> dict[str, str] | None:
    """Pod name -> IP once exactly ``count`` pods of ``name`` exist and are all Ready."""
    pods = instance_pods(cluster, name)
    ready = {n: p["status"].get("podIP", "") for n, p in pods.items()
             if p["metadata"].get("deletionTimestamp") is None
             and {c["type"]: c["status"] for c in p["status"].get("conditions") or []}
             .get("Ready") == "True"}
    return ready if len(ready) == count == len(pods) else None


def endpoint_ips(cluster: Kubemu, name: str) -> list[str]:
    ep = cluster.get(f"/api/v1/namespaces/default/endpoints/{name}")
    return sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or [])


def check_created(cluster: Kubemu) -> None:
    """After ``kubectl wait --for=condition=Ready webapp/hello``: the children and status."""
    webapp = cluster.get(f"{WEBAPPS}/hello")
    assert FINALIZER in webapp["metadata"].get("finalizers", []), webapp
    assert webapp["spec"] == {"replicas": 2, "port": 8080}  # the schema's default port
    status = webapp["status"]
    assert status["readyReplicas"] == 2, status
    assert status["conditions"] == [{"type": "Ready", "status": "True", "reason": "ReplicasReady",
                                     "message": "2/2 replicas ready"}], status
    # kopf stores the handler's result once it returned, maybe after the pods got Ready.
    result = wait_for("the create handler's result", lambda: cluster.get(f"{WEBAPPS}/hello")[
        "status"].get("create_fn"))
    assert result == {"deployment": "hello", "service": "hello"}
    owner = {"apiVersion": "example.com/v1", "kind": "WebApp", "name": "hello",
             "uid": webapp["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    deployment = cluster.get("/apis/apps/v1/namespaces/default/deployments/hello")
    service = cluster.get("/api/v1/namespaces/default/services/hello")
    for child in (deployment, service):
        assert child["metadata"]["ownerReferences"] == [owner], child["metadata"]
        assert child["metadata"]["labels"][INSTANCE] == "hello"
    assert deployment["spec"]["replicas"] == 2
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(8080, "http")]
    pods = wait_for("2 Ready pods", lambda: ready_pods(cluster, "hello", 2))
    wait_for("the pods as endpoints", lambda: endpoint_ips(cluster, "hello") == sorted(
        pods.values()))
    # The pods answer with their names through the Service's ClusterIP.
    address = f"{service['spec']['clusterIP']}:8080"
    wait_for("both pods through the ClusterIP", lambda: set(answers(address, 6)) == set(pods))


def check_scaled(cluster: Kubemu) -> None:
    """After ``kubectl wait --for=jsonpath='{.status.readyReplicas}'=3``."""
    deployment = cluster.get("/apis/apps/v1/namespaces/default/deployments/hello")
    assert deployment["spec"]["replicas"] == 3
    status = cluster.get(f"{WEBAPPS}/hello")["status"]
    assert status["conditions"][0]["message"] == "3/3 replicas ready", status
    pods = wait_for("3 Ready pods", lambda: ready_pods(cluster, "hello", 3))
    wait_for("3 endpoints", lambda: endpoint_ips(cluster, "hello") == sorted(pods.values()))


def run_commands(shell: Shell, commands: list[str], transcript: list[tuple[str, str]],
                 checks: dict[str, Callable[[], None]]) -> None:
    """Run each command (exit 0 required), then the check of the first key it starts with."""
    for command in commands:
        code, output = shell.run(command, timeout=180)
        transcript.append((command, output))
        assert code == 0, f"{command!r} exited {code}:\n{output}"
        for prefix, check in checks.items():
            if command.startswith(prefix):
                check()
                break


def stop_operator(operator: subprocess.Popen[bytes]) -> None:
    if operator.poll() is None:
        operator.send_signal(signal.SIGTERM)
        try:
            operator.wait(20)
        except subprocess.TimeoutExpired:
            operator.kill()
            operator.wait()


def test_readme_kopf_operator_runs_against_kubemu_up(tmp_path: Path) -> None:
    require_client()
    text = README.read_text()
    blocks = readme_blocks(text)
    assert set(blocks) == {CRD_FILE, OPERATOR_FILE, "operator"}, sorted(blocks)
    before, after = text.split(f"<!-- {MARKER}: operator -->", 1)
    first, second = walkthrough_commands(before, MARKER), walkthrough_commands(after, MARKER)
    assert any(c.startswith(f"kubectl apply -f {CRD_FILE}") for c in first), first
    assert any(c.startswith("kubectl delete webapp hello") for c in second), second
    work = tmp_path / "example"
    work.mkdir()
    for name in (CRD_FILE, OPERATOR_FILE):
        (work / name).write_text(blocks[name] + "\n")
    argv = operator_argv(blocks["operator"])

    data_dir = tmp_path / "data"
    cluster = start_kubemu(data_dir, nodes=1)
    kubectl_dir = BIN.parent / "kubectl"  # kubectl 1.33, as the walkthrough's PATH has it
    env = {key: value for key, value in os.environ.items() if key != "KUBECONFIG"}
    env.update(KUBEMU_DATA=str(data_dir), HOME=str(tmp_path),
               PATH=os.pathsep.join([str(kubectl_dir), str(BIN), os.environ.get("PATH", "")]))
    shell = Shell(env, cwd=work)
    operator_log = tmp_path / "operator.log"
    operator: subprocess.Popen[bytes] | None = None
    transcript: list[tuple[str, str]] = []
    try:
        wait_for("a Ready node", lambda: " Ready " in cluster.kubectl(
            "get", "nodes", "--no-headers"), timeout=60)
        run_commands(shell, first, transcript, {})
        with operator_log.open("wb") as log:
            operator = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, cwd=work,
                env={**env, "KUBECONFIG": str(cluster.kubeconfig)},
                preexec_fn=die_with_parent(os.getpid()))
        run_commands(shell, second, transcript, {
            "kubectl wait --for=condition=Ready webapp/hello": lambda: check_created(cluster),
            "kubectl wait --for=jsonpath=": lambda: check_scaled(cluster),
        })
        # kubectl delete waited for the finalizer: the handler deleted the children, the
        # garbage collector takes the ReplicaSet and the pods.
        assert status_code(cluster, f"{WEBAPPS}/hello") == 404
        for path in ("/apis/apps/v1/namespaces/default/deployments/hello",
                     "/api/v1/namespaces/default/services/hello"):
            wait_for(f"{path} gone", functools.partial(gone, cluster, path), timeout=60)
        wait_for("the pods gone", lambda: instance_pods(cluster, "hello") == {}, timeout=90)
        assert operator.poll() is None, operator_log.read_text()
    finally:
        shell.close()
        if operator is not None:
            stop_operator(operator)
        stop_kubemu(cluster)

    log_text = operator_log.read_text(errors="replace")
    assert "Handler 'delete_fn' succeeded." in log_text, log_text[-4000:]
    assert not re.search(r"Handler '\w+' failed", log_text), log_text[-4000:]

    def output_of(prefix: str) -> str:
        return "".join(out for cmd, out in transcript if cmd.startswith(prefix))

    # The printer columns; the curl answer is a pod of the Deployment.
    table = [line.split() for line in output_of("kubectl get webapps").splitlines()
             if line.startswith(("NAME ", "hello "))]
    assert table[0] == ["NAME", "REPLICAS", "READY", "PORT", "AGE"], table
    assert table[1][:4] == ["hello", "2", "2", "8080"], table
    assert re.search(r"^hello-[a-z0-9]+-[a-z0-9]+$", output_of("curl "), re.M), transcript
    assert "3/3 replicas ready" in output_of("kubectl get webapp hello -o jsonpath")
