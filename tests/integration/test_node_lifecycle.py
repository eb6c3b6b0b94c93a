"""Node lifecycle end to end: a node agent dies, the controller manager's ``nodelifecycle``
controller marks its node Unknown and taints it, and ``taint-eviction-controller`` evicts
the pods that tolerate the taint only for a while.

Real processes: a private apiserver, two node agents, the scheduler and
``python -m controllers.manager`` with short monitor periods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.integration.test_nodes import Proc, get, kubectl, pod, wait_for
from tests.support.apiserver import ApiServerProcess

PODS = """
apiVersion: v1
kind: Pod
metadata: {name: brief}
spec:
  nodeSelector: {kubernetes.io/hostname: kn-a}
  tolerations:
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute,
     tolerationSeconds: 2}
  containers: [{name: web, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: patient}
spec:
  nodeSelector: {kubernetes.io/hostname: kn-a}
  containers: [{name: web, image: nginx}]
"""


def _node(server: ApiServerProcess, name: str) -> dict[str, Any]:
    return get(server, f"/api/v1/nodes/{name}")


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj["status"].get("conditions") or []}


def _taints(obj: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in obj["spec"].get("taints") or []}


def test_dead_node_goes_unknown_is_tainted_and_its_pods_evicted(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc]
) -> None:
    server = fresh_apiserver
    agents = {}
    for name, cidr in (("kn-a", "127.244.211.0/24"), ("kn-b", "127.244.212.0/24")):
        agents[name] = procs(server, "controllers.node", "--node-name", name,
                             "--node-ip", "127.0.0.1", "--pod-cidr", cidr,
                             "--lease-interval", "1")
    procs(server, "controllers.scheduler")
    procs(server, "controllers.manager", "--leader-elect=false",
          "--controllers=nodelifecycle,taint-eviction-controller",
          "--node-monitor-period=1s", "--node-monitor-grace-period=4s")
    for name in agents:
        wait_for(f"{name} Ready", lambda n=name: _conditions(_node(server, n))["Ready"]
                 ["status"] == "True")
    kubectl(server, "apply", "-f", "-", stdin=PODS)
    for name in ("brief", "patient"):
        wait_for(f"{name} ready", lambda n=name: _conditions(pod(server, n))["Ready"]
                 ["status"] == "True")
    assert pod(server, "brief")["spec"]["nodeName"] == "kn-a"
    # The healthy nodes carry no lifecycle taints.
    assert not _taints(_node(server, "kn-a")) and not _taints(_node(server, "kn-b"))

    agents["kn-a"].kill()
    ready = wait_for("kn-a Ready Unknown", lambda: (
        c := _conditions(_node(server, "kn-a"))["Ready"])["status"] == "Unknown" and c,
        timeout=15)
    assert ready["reason"] == "NodeStatusUnknown"
    assert ready["message"] == "Kubelet stopped posting node status."
    assert {c["status"] for c in _conditions(_node(server, "kn-a")).values()} == {"Unknown"}
    wait_for("unreachable taints", lambda: _taints(_node(server, "kn-a")) >= {
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoSchedule")})
    wait_for("brief not ready",
             lambda: _conditions(pod(server, "brief"))["Ready"]["status"] == "False")

    # After its 2 s toleration the taint manager deletes the pod (with its grace period:
    # no kubelet is left to finish it, so it stays Terminating).
    brief = wait_for("brief evicted",
                     lambda: (p := pod(server, "brief"))["metadata"].get("deletionTimestamp")
                     and p, timeout=10)
    disruption = _conditions(brief)["DisruptionTarget"]
    assert disruption["status"] == "True" and disruption["reason"] == "DeletionByTaintManager"
    # The default 300 s toleration keeps the other pod; the live node is untouched.
    assert not pod(server, "patient")["metadata"].get("deletionTimestamp")
    assert _conditions(_node(server, "kn-b"))["Ready"]["status"] == "True"
    assert not _taints(_node(server, "kn-b"))
