"""Node lifecycle end to end: a node agent dies, the controller manager's ``nodelifecycle``
controller marks its node Unknown and taints it, and ``taint-eviction-controller`` evicts
the pods that tolerate the taint only for a while.

Real processes: a private apiserver, two node agents, the scheduler and
``python -m controllers.manager`` with short monitor periods.
"""

from __future__ import annotations

import time
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


def _agents(server: ApiServerProcess, procs: Callable[..., Proc], prefix: str,
            subnet: int) -> dict[str, Proc]:
    """Node agents ``PREFIX-a`` and ``PREFIX-b`` (pod CIDRs 127.244.SUBNET(+1).0/24,
    1 s leases) and the scheduler."""
    agents = {}
    for offset, name in enumerate((f"{prefix}-a", f"{prefix}-b")):
        agents[name] = procs(server, "controllers.node", "--node-name", name,
                             "--node-ip", "127.0.0.1", "--pod-cidr",
                             f"127.244.{subnet + offset}.0/24", "--lease-interval", "1")
    procs(server, "controllers.scheduler")
    return agents


def test_dead_node_goes_unknown_is_tainted_and_its_pods_evicted(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc]
) -> None:
    server = fresh_apiserver
    agents = _agents(server, procs, "kn", 211)
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


def _deployment_pods(server: ApiServerProcess) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get(server, "/api/v1/namespaces/default/pods?"
                                      "labelSelector=app%3Dmoves")["items"]
    return items


def test_killed_agent_node_goes_unknown_and_its_pods_are_replaced_elsewhere(
    apiserver_factory: Callable[..., ApiServerProcess], procs: Callable[..., Proc]
) -> None:
    """Done-when of the lifecycle controllers: SIGKILL a node agent; its node turns Unknown
    within the grace period, and after the pods' toleration seconds (the apiserver's
    DefaultTolerationSeconds flags, 3 s here) their ReplicaSet replaces them on the live
    node."""
    server = apiserver_factory(extra_args=("--default-not-ready-toleration-seconds=3",
                                           "--default-unreachable-toleration-seconds=3"))
    agents = _agents(server, procs, "kr", 213)
    grace, period = 4.0, 1.0
    procs(server, "controllers.manager", "--leader-elect=false",
          "--controllers=nodelifecycle,taint-eviction-controller,deployment,replicaset",
          f"--node-monitor-period={period:g}s", f"--node-monitor-grace-period={grace:g}s")
    for name in agents:
        wait_for(f"{name} Ready", lambda n=name: _conditions(_node(server, n))["Ready"]
                 ["status"] == "True")
    kubectl(server, "create", "deployment", "moves", "--image=nginx", "--replicas=6")
    pods = wait_for("6 running pods", lambda: (p := _deployment_pods(server)) and len(p) == 6
                    and all(x["status"].get("phase") == "Running" for x in p) and p,
                    timeout=60)
    for p in pods:  # the apiserver's flags, not the built-in 300 s
        tolerations = {t["key"]: t.get("tolerationSeconds") for t in p["spec"]["tolerations"]}
        assert tolerations == {"node.kubernetes.io/not-ready": 3,
                               "node.kubernetes.io/unreachable": 3}
    doomed = {p["metadata"]["name"] for p in pods if p["spec"]["nodeName"] == "kr-a"}
    assert doomed, "the scheduler put no pod on kr-a"

    agents["kr-a"].kill()
    killed = time.monotonic()
    wait_for("kr-a Ready Unknown", lambda: _conditions(_node(server, "kr-a"))["Ready"]
             ["status"] == "Unknown", timeout=20)
    # The lease was last renewed at most a lease interval before the kill.
    assert time.monotonic() - killed <= grace + 2 * period + 2.0

    def replaced() -> list[dict[str, Any]] | None:
        live = [p for p in _deployment_pods(server) if not p["metadata"].get("deletionTimestamp")]
        ok = (len(live) == 6 and all(p["spec"].get("nodeName") == "kr-b" for p in live)
              and all(p["status"].get("phase") == "Running" for p in live))
        return live if ok else None

    live = wait_for("the pods replaced on kr-b", replaced, timeout=60)
    assert not doomed & {p["metadata"]["name"] for p in live}
    for name in doomed:  # evicted by the taint manager (no kubelet is left to finish them)
        evicted = pod(server, name)
        assert evicted["metadata"].get("deletionTimestamp")
        assert _conditions(evicted)["DisruptionTarget"]["reason"] == "DeletionByTaintManager"
