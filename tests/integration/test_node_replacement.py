"""A node agent killed with SIGKILL: its node turns Unknown within the grace period and its
pods are replaced on the other node after their toleration seconds.

Real processes: a private apiserver whose DefaultTolerationSeconds admission adds 3 s
tolerations (``--default-not-ready-toleration-seconds``,
``--default-unreachable-toleration-seconds``), two node agents, the scheduler and
``python -m controllers.manager`` with the node lifecycle, taint eviction, deployment and
replicaset controllers and a 4 s ``--node-monitor-grace-period``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.integration.test_nodes import Proc, get, kubectl, pod, wait_for
from tests.support.apiserver import ApiServerProcess

#: The two nodes and their pod CIDRs.
NODES = {"kr-a": "127.244.213.0/24", "kr-b": "127.244.214.0/24"}


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj["status"].get("conditions") or []}


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
    agents = {name: procs(server, "controllers.node", "--node-name", name, "--node-ip",
                          "127.0.0.1", "--pod-cidr", cidr, "--lease-interval", "1")
              for name, cidr in NODES.items()}
    procs(server, "controllers.scheduler")
    grace, period = 4.0, 1.0
    procs(server, "controllers.manager", "--leader-elect=false",
          "--controllers=nodelifecycle,taint-eviction-controller,deployment,replicaset",
          f"--node-monitor-period={period:g}s", f"--node-monitor-grace-period={grace:g}s")
    for name in agents:
        wait_for(f"{name} Ready", lambda n=name: _conditions(
            get(server, f"/api/v1/nodes/{n}"))["Ready"]["status"] == "True")
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
    wait_for("kr-a Ready Unknown", lambda: _conditions(get(server, "/api/v1/nodes/kr-a"))["Ready"]
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
