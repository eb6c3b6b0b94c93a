"""Pods that really run: apiserver, endpoints controller, scheduler and node agent processes.

Each test runs a private apiserver (the scheduler and node agents act on every pod)
and drives everything through kubectl and HTTP to the pods' own IPs.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubemu.addresses import Addresses
from tests.support.apiserver import ApiServerProcess
from tests.support.kubemu_up import wait_for as support_wait_for
from tests.support.process import Process

pytestmark = pytest.mark.slow

KUBECTL = str(Path(sys.executable).parent / "kubectl")


Proc = Process




def kubectl(server: ApiServerProcess, *args: str, stdin: str | None = None) -> str:
    out = subprocess.run([KUBECTL, "--kubeconfig", str(server.kubeconfig), *args],
                         input=stdin, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 15.0) -> Any:
    """The support helper, with this module's shorter default timeout."""
    return support_wait_for(what, fn, timeout)


def get(server: ApiServerProcess, path: str) -> dict[str, Any]:
    resp = httpx.get(server.url + path, timeout=5)
    resp.raise_for_status()
    data: dict[str, Any] = resp.json()
    return data


def pod(server: ApiServerProcess, name: str) -> dict[str, Any]:
    return get(server, f"/api/v1/namespaces/default/pods/{name}")


WEB = """
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    ports: [{name: http, containerPort: 8080}, {name: echo, containerPort: 9000}]
    readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 1}
    livenessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1, failureThreshold: 1}
    lifecycle: {preStop: {sleep: {seconds: 2}}}
"""


def test_pods_are_scheduled_run_serve_and_terminate(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc],
    address_block: Addresses,
) -> None:
    server = fresh_apiserver
    node_args = ("--node-name", "kn-1", "--node-ip", "127.0.0.1",
                 "--pod-cidr", address_block.pod_cidr(1), "--lease-interval", "1")
    procs(server, "controllers.endpoints")
    procs(server, "controllers.scheduler")
    agent = procs(server, "controllers.node", *node_args)
    wait_for("node Ready", lambda: "Ready" in kubectl(server, "get", "nodes", "kn-1"))
    wide = kubectl(server, "get", "nodes", "-o", "wide")
    assert "v1.33.0-kubemu" in wide and "127.0.0.1" in wide
    lease = wait_for("node lease", lambda: get(
        server, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/kn-1"))
    assert lease["spec"]["holderIdentity"] == "kn-1"
    # The kubelet's Events on its Node, in its order (what `kubectl describe node` lists).
    def node_events() -> list[tuple[str, str, str, str]]:
        items = get(server, "/api/v1/namespaces/default/events?fieldSelector="
                            "involvedObject.kind%3DNode,involvedObject.name%3Dkn-1")["items"]
        return [(e["reason"], e["message"], e["source"]["component"],
                 e["involvedObject"]["uid"]) for e in items]

    events = wait_for("NodeReady", lambda: (ev := node_events()) and ev[-1][0] == "NodeReady"
                      and ev)
    assert events == [
        ("Starting", "Starting kubelet.", "kubelet", "kn-1"),
        ("NodeAllocatableEnforced", "Updated Node Allocatable limit across pods", "kubelet",
         "kn-1"),
        *[(r, f"Node kn-1 status is now: {r}", "kubelet", "kn-1") for r in (
            "NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID",
            "NodeReady")]]
    assert "Starting kubelet." in kubectl(server, "describe", "node", "kn-1")
    kubectl(server, "cordon", "kn-1")
    wait_for("NodeNotSchedulable", lambda: node_events()[-1][:2] == (
        "NodeNotSchedulable", "Node kn-1 status is now: NodeNotSchedulable"))
    kubectl(server, "uncordon", "kn-1")
    wait_for("NodeSchedulable", lambda: node_events()[-1][0] == "NodeSchedulable")

    # kubectl run: scheduled, Running 1/1 with an IP from the node's CIDR.
    kubectl(server, "run", "plain", "--image=nginx", "--port=8080")
    kubectl(server, "apply", "-f", "-", stdin=WEB)
    wait_for("web ready", lambda: pod(server, "web")["status"]["containerStatuses"][0]["ready"])
    wait_for("plain running", lambda: pod(server, "plain")["status"].get("podIP"))
    rows = kubectl(server, "get", "pods", "-o", "wide")
    web_row = next(r for r in rows.splitlines() if r.startswith("web "))
    ip = pod(server, "web")["status"]["podIP"]
    assert ip.startswith(address_block.pod_cidr(1).rsplit(".", 1)[0] + ".") and ip in web_row
    assert "1/1" in web_row and "Running" in web_row and "kn-1" in web_row
    status = pod(server, "web")["status"]
    cs = status["containerStatuses"][0]
    assert cs["containerID"].startswith("kubemu://") and cs["started"] is True
    assert cs["state"]["running"]["startedAt"] and status["hostIP"] == "127.0.0.1"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    plain_ip = pod(server, "plain")["status"]["podIP"]
    assert plain_ip != ip
    assert httpx.get(f"http://{plain_ip}:8080/hostname", timeout=3).text == "plain"

    # The pod answers on its ports; a Service gets Endpoints with its IP.
    assert httpx.get(f"http://{ip}:8080/hostname", timeout=3).text == "web"
    assert httpx.get(f"http://{ip}:8080/echo?msg=hey", timeout=3).text == "hey"
    import socket

    with socket.create_connection((ip, 9000), timeout=3) as s:
        s.sendall(b"ping")
        assert s.recv(16) == b"ping"
    kubectl(server, "expose", "pod", "web", "--port=80", "--target-port=8080")

    def addresses(key: str) -> list[str]:
        ep = get(server, "/api/v1/namespaces/default/endpoints/web")
        return [a["ip"] for s in ep.get("subsets") or [] for a in s.get(key) or []]

    wait_for("endpoints", lambda: addresses("addresses") == [ip])

    # Flipping readiness removes it from the Endpoints; flipping back restores it.
    httpx.post(f"http://{ip}:8080/kubemu/ready?value=false", timeout=3)
    wait_for("not ready", lambda: addresses("notReadyAddresses") == [ip])
    assert "0/1" in kubectl(server, "get", "pod", "web")
    httpx.post(f"http://{ip}:8080/kubemu/ready?value=true", timeout=3)
    wait_for("ready again", lambda: addresses("addresses") == [ip])

    # A failing liveness probe restarts the container.
    httpx.post(f"http://{ip}:8080/kubemu/healthy?value=false", timeout=3)
    cs = wait_for("restart", lambda: [c for c in pod(server, "web")["status"][
        "containerStatuses"] if c["restartCount"] == 1 and c["ready"]])[0]
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert httpx.get(f"http://{ip}:8080/healthz", timeout=3).status_code == 200

    # An agent restart keeps the pods and their IPs.
    agent.stop()
    agent = procs(server, "controllers.node", *node_args)
    wait_for("served again", lambda: httpx.get(f"http://{ip}:8080/hostname", timeout=1).text)
    assert pod(server, "web")["status"]["podIP"] == ip
    assert pod(server, "plain")["status"]["podIP"] == plain_ip

    # Graceful deletion: still there (and serving) during preStop, then gone.
    start = time.monotonic()
    kubectl(server, "delete", "pod", "web", "--wait=false")
    assert pod(server, "web")["metadata"]["deletionTimestamp"]
    assert httpx.get(f"http://{ip}:8080/hostname", timeout=1).text == "web"
    wait_for("not ready while terminating", lambda: addresses("addresses") == [])

    def gone() -> bool:
        return httpx.get(server.url + "/api/v1/namespaces/default/pods/web").status_code == 404

    wait_for("deleted", gone)
    assert time.monotonic() - start >= 1.8
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://{ip}:8080/hostname", timeout=1)


def test_unschedulable_pod_reports_and_retries(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc],
    address_block: Addresses,
) -> None:
    server = fresh_apiserver
    procs(server, "controllers.scheduler")
    kubectl(server, "run", "lost", "--image=x", "--overrides",
            '{"spec":{"nodeSelector":{"disk":"ssd"}}}')

    def unschedulable() -> dict[str, Any] | None:
        conds = pod(server, "lost")["status"].get("conditions") or []
        return next((c for c in conds
                     if c["type"] == "PodScheduled" and c["status"] == "False"), None)

    cond = wait_for("unschedulable", unschedulable)
    assert cond["reason"] == "Unschedulable"
    assert cond["message"] == "no nodes available to schedule pods"
    events = get(server, "/api/v1/namespaces/default/events")["items"]
    assert any(e["reason"] == "FailedScheduling" and e["type"] == "Warning" for e in events)
    procs(server, "controllers.node", "--node-name", "kn-2",
          "--pod-cidr", address_block.pod_cidr(2))
    cond = wait_for("selector mismatch",
                    lambda: "affinity" in (unschedulable() or {}).get("message", "")
                    and unschedulable())
    assert cond["message"].startswith("0/1 nodes are available: 1 node(s) didn't match "
                                      "Pod's node affinity/selector.")
    kubectl(server, "label", "node", "kn-2", "disk=ssd")
    wait_for("bound after the node changed",
             lambda: pod(server, "lost")["spec"].get("nodeName") == "kn-2")


def test_host_commands_run_only_when_allowed(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc], tmp_path: Path,
    address_block: Addresses,
) -> None:
    server = fresh_apiserver
    args = ("--node-name", "kn-3", "--pod-cidr", address_block.pod_cidr(3))
    procs(server, "controllers.scheduler")
    agent = procs(server, "controllers.node", *args)
    denied, allowed = tmp_path / "denied", tmp_path / "allowed"
    kubectl(server, "run", "denied", "--image=busybox", "--command", "--", "touch",
            str(denied))
    wait_for("running", lambda: pod(server, "denied")["status"].get("phase") == "Running")
    time.sleep(0.5)
    assert not denied.exists()
    kubectl(server, "delete", "pod", "denied", "--grace-period=0", "--force")
    agent.stop()
    procs(server, "controllers.node", *args, "--allow-host-commands")
    kubectl(server, "run", "allowed", "--image=busybox", "--command", "--", "sh", "-c",
            f"touch {allowed}; sleep 30")
    wait_for("host command ran", allowed.exists)


PROBED = """
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    ports: [{containerPort: 8080}]
    readinessProbe: {exec: {command: ["true"]}, periodSeconds: 1}
"""


def test_health_server_and_exec_probe_without_host_commands(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc]
) -> None:
    from tests.support.apiserver import free_port

    server = fresh_apiserver
    port = free_port()
    procs(server, "controllers.scheduler")
    procs(server, "controllers.node", "--hostname-override", "kn-4", "--pod-cidr",
          "127.244.204.0/24", "--healthz-port", str(port))
    base = f"http://127.0.0.1:{port}"
    wait_for("readyz", lambda: httpx.get(base + "/readyz", timeout=2).status_code == 200)
    assert httpx.get(base + "/healthz", timeout=2).text == "ok"
    kubectl(server, "apply", "-f", "-", stdin=PROBED)
    wait_for("running", lambda: pod(server, "probed")["status"].get("phase") == "Running")

    def unhealthy() -> list[str]:
        events = get(server, "/api/v1/namespaces/default/events")["items"]
        return [e["message"] for e in events
                if e["reason"] == "Unhealthy" and e["involvedObject"]["name"] == "probed"]

    messages = wait_for("Unhealthy event", unhealthy)
    assert any("--allow-host-commands" in m for m in messages), messages
    status = pod(server, "probed")["status"]
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "False"
    assert status["containerStatuses"][0]["ready"] is False
    metrics = httpx.get(base + "/metrics", timeout=2).text
    assert "kubelet_running_pods 1" in metrics


STARTUP = """
apiVersion: v1
kind: Pod
metadata: {name: NAME}
spec:
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    ports: [{name: http, containerPort: 8080}]
    startupProbe: PROBE
    readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 1}
    livenessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}
"""


def test_startup_probe_gates_the_other_probes_and_restarts_on_failure(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc], address_block: Addresses,
) -> None:
    server = fresh_apiserver
    procs(server, "controllers.scheduler")
    procs(server, "controllers.node", "--node-name", "kn-5",
          "--pod-cidr", address_block.pod_cidr(4))
    passing = "{httpGet: {path: /healthz, port: http}, periodSeconds: 1}"
    failing = "{tcpSocket: {port: 9}, periodSeconds: 1, failureThreshold: 3}"
    kubectl(server, "apply", "-f", "-",
            stdin=STARTUP.replace("NAME", "starts").replace("PROBE", passing))
    kubectl(server, "apply", "-f", "-",
            stdin=STARTUP.replace("NAME", "never").replace("PROBE", failing))

    def status(name: str) -> dict[str, Any]:
        statuses = pod(server, name)["status"].get("containerStatuses") or [{}]
        return dict(statuses[0])

    cs = wait_for("started and ready", lambda: status("starts").get("ready") and status("starts"))
    assert cs["started"] is True and cs["restartCount"] == 0

    wait_for("never running", lambda: "running" in status("never").get("state", {}))
    seen: list[tuple[bool, bool]] = []

    def killed() -> list[str]:
        cs = status("never")
        seen.append((bool(cs.get("started")), bool(cs.get("ready"))))
        events = get(server, "/api/v1/namespaces/default/events")["items"]
        return [e["message"] for e in events
                if e["reason"] == "Killing" and e["involvedObject"]["name"] == "never"]

    messages = wait_for("killed by its startup probe", killed)
    assert messages == ["Container web failed startup probe, will be restarted"]
    assert seen and not any(started or ready for started, ready in seen), seen
    wait_for("restarted", lambda: status("never").get("restartCount", 0) >= 1)
    unhealthy = [e["message"] for e in get(server, "/api/v1/namespaces/default/events")["items"]
                 if e["reason"] == "Unhealthy" and e["involvedObject"]["name"] == "never"]
    assert unhealthy and all(m.startswith("Startup probe failed: ") for m in unhealthy), unhealthy


CONFIGURED = """
apiVersion: v1
kind: Pod
metadata: {name: configured}
spec:
  containers:
  - name: web
    image: nginx
    envFrom: [{configMapRef: {name: settings}}]
    env:
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
---
apiVersion: v1
kind: Pod
metadata: {name: mounted}
spec:
  containers:
  - name: web
    image: nginx
    volumeMounts: [{name: files, mountPath: /etc/files}]
  volumes: [{name: files, configMap: {name: files}}]
"""


def test_missing_config_is_create_container_config_error_until_it_exists(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc],
    address_block: Addresses,
) -> None:
    """As the kubelet: a container whose ConfigMap, Secret or key is missing waits with
    ``CreateContainerConfigError`` and a ``Failed`` Event, one whose volume's ConfigMap is
    missing waits in ``ContainerCreating`` with ``FailedMount`` (built-in images too), and
    each starts on a later attempt once they exist."""
    server = fresh_apiserver
    procs(server, "controllers.scheduler")
    procs(server, "controllers.node", "--node-name", "kn-1", "--pod-cidr",
          address_block.pod_cidr(1), "--lease-interval", "1")
    kubectl(server, "apply", "-f", "-", stdin=CONFIGURED)

    def waiting(name: str = "configured") -> dict[str, Any] | None:
        statuses = pod(server, name)["status"].get("containerStatuses") or []
        return statuses[0]["state"].get("waiting") if statuses else None

    wait_for("FailedMount", lambda: any(
        e["reason"] == "FailedMount" and e["involvedObject"]["name"] == "mounted"
        for e in get(server, "/api/v1/namespaces/default/events")["items"]))
    failed = next(e for e in get(server, "/api/v1/namespaces/default/events")["items"]
                  if e["reason"] == "FailedMount")
    assert failed["message"] == ('MountVolume.SetUp failed for volume "files" : configmap '
                                 '"files" not found')
    assert waiting("mounted") == {"reason": "ContainerCreating"}
    assert pod(server, "mounted")["status"]["phase"] == "Pending"
    kubectl(server, "create", "configmap", "files", "--from-literal=a=b")
    wait_for("mounted runs", lambda: pod(server, "mounted")["status"]["phase"] == "Running",
             timeout=30)

    state = wait_for("config error", lambda: (w := waiting()) and w["reason"] ==
                     "CreateContainerConfigError" and w)
    assert state["message"] == 'configmap "settings" not found'
    row = kubectl(server, "get", "pod", "configured").splitlines()[1].split()
    assert row[1:3] == ["0/1", "CreateContainerConfigError"]
    events = get(server, "/api/v1/namespaces/default/events")["items"]
    assert any(e["reason"] == "Failed" and e["message"] == 'Error: configmap "settings" '
               "not found" and e["involvedObject"]["fieldPath"] == "spec.containers{web}"
               for e in events)
    kubectl(server, "create", "configmap", "settings", "--from-literal=MODE=fast")
    kubectl(server, "create", "secret", "generic", "creds", "--from-literal=user=u")
    state = wait_for("the missing key", lambda: (w := waiting()) and
                     w.get("message", "").startswith("couldn't") and w, timeout=30)
    assert state["message"] == "couldn't find key password in Secret default/creds"
    assert pod(server, "configured")["status"]["phase"] == "Pending"
    kubectl(server, "delete", "secret", "creds")
    kubectl(server, "create", "secret", "generic", "creds", "--from-literal=password=p")
    wait_for("running", lambda: pod(server, "configured")["status"].get("phase") == "Running"
             and "running" in pod(server, "configured")["status"]["containerStatuses"][0][
                 "state"], timeout=30)
