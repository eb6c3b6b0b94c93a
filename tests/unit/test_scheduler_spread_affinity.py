"""PodTopologySpread, InterPodAffinity and the claims check of VolumeBinding: upstream's
filter verdicts and messages."""

from __future__ import annotations

import itertools
from typing import Any

from controllers.manager.ephemeralvolume import ephemeral_claims
from controllers.scheduler.core import schedule

HOST = "kubernetes.io/hostname"
#: Unique uids: the scheduler caches what it derives from a pod by uid and resourceVersion.
_UIDS = itertools.count()
ZONE = "topology.kubernetes.io/zone"


def node(name: str, zone: str | None = "a", **labels: str) -> dict[str, Any]:
    all_labels = {HOST: name, **labels}
    if zone is not None:
        all_labels[ZONE] = zone
    return {"metadata": {"name": name, "labels": all_labels},
            "status": {"allocatable": {"cpu": "8", "memory": "8Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name: str, labels: dict[str, str] | None = None, node_name: str = "",
        namespace: str = "d", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": [{"name": "c"}], **spec}
    if node_name:
        body["nodeName"] = node_name
    return {"metadata": {"name": name, "namespace": namespace, "uid": f"uid-{next(_UIDS)}",
                         "resourceVersion": "1", "labels": labels or {}},
            "spec": body, "status": {"phase": "Running" if node_name else "Pending"}}


def anti(key: str = HOST, **selector: str) -> dict[str, Any]:
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": selector}, "topologyKey": key}]}}


def affine(key: str = HOST, **selector: str) -> dict[str, Any]:
    return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": selector}, "topologyKey": key}]}}


def spread(max_skew: int = 1, key: str = ZONE, **selector: str) -> list[dict[str, Any]]:
    return [{"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule",
             "labelSelector": {"matchLabels": selector}}]


NODES = [node("n1", "a"), node("n2", "b")]


def test_required_anti_affinity_keeps_replicas_apart_and_leaves_the_third_pending() -> None:
    web = {"app": "web"}
    first = pod("w1", web, "n1", affinity=anti(app="web"))
    decision = schedule(pod("w2", web, affinity=anti(app="web")), NODES, [first])
    assert decision.node == "n2"
    second = pod("w2", web, "n2", affinity=anti(app="web"))
    decision = schedule(pod("w3", web, affinity=anti(app="web")), NODES, [first, second])
    assert decision.node is None
    assert decision.message == (
        "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. "
        "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming "
        "pod.")


def test_an_existing_pods_anti_affinity_excludes_the_newcomer() -> None:
    loner = pod("db", {"app": "db"}, "n1", affinity=anti(app="web"))
    decision = schedule(pod("w", {"app": "web"}), [node("n1")], [loner])
    assert decision.message.startswith(
        "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity "
        "rules.")
    # Another namespace is not selected by the term (its namespace is the pod's own).
    other = pod("w", {"app": "web"}, namespace="other")
    assert schedule(other, [node("n1")], [loner]).node == "n1"


def test_required_affinity_follows_the_matching_pod_or_starts_the_group() -> None:
    cache = pod("cache", {"app": "cache"}, "n2")
    follower = pod("web", {"app": "web"}, affinity=affine(app="cache"))
    assert schedule(follower, NODES, [cache]).node == "n2"
    decision = schedule(follower, NODES, [])
    assert decision.message == (
        "0/2 nodes are available: 2 node(s) didn't match pod affinity rules. "
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.")
    # The first pod of a group with affinity to itself may go anywhere.
    first = pod("c1", {"app": "cache"}, affinity=affine(app="cache"))
    assert schedule(first, NODES, []).node == "n1"
    # A node without the topology key never passes.
    assert schedule(first, [node("n3", zone=None)], []).node == "n3"
    zoned = pod("c1", {"app": "cache"}, affinity=affine(ZONE, app="cache"))
    assert schedule(zoned, [node("n3", zone=None)], []).node is None


def test_a_namespace_selector_reaches_the_namespaces_it_selects() -> None:
    term = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": HOST,
         "namespaceSelector": {"matchLabels": {"team": "blue"}}}]}}
    blue = pod("x", {"app": "x"}, "n1", namespace="blue-ns")
    incoming = pod("y", affinity=term)
    namespaces = {"blue-ns": {"team": "blue"}, "d": {}}
    assert schedule(incoming, [node("n1")], [blue], namespaces=namespaces).node is None
    assert schedule(incoming, [node("n1")], [blue], namespaces={}).node == "n1"


def test_topology_spread_caps_the_skew_between_zones() -> None:
    zones = [node("n1", "a"), node("n2", "a"), node("n3", "b")]
    placed = [pod("p1", {"app": "s"}, "n1"), pod("p2", {"app": "s"}, "n2")]
    incoming = pod("p3", {"app": "s"}, topologySpreadConstraints=spread(app="s"))
    # a: 2, b: 0. Only b keeps the skew within 1.
    assert schedule(incoming, zones, placed).node == "n3"
    # a: 2, b: 1. Still only b (a would be 3 against 1).
    placed.append(pod("p3", {"app": "s"}, "n3"))
    assert schedule(incoming, zones, placed).node == "n3"
    # a: 2, b: 2: anywhere; the node with the fewest pods wins.
    placed.append(pod("p4", {"app": "s"}, "n3"))
    assert schedule(incoming, zones, placed).node == "n1"
    # One domain only: there is no skew.
    assert schedule(incoming, zones[:2], placed[:2]).node == "n1"
    # maxSkew 2 allows a: 3 against b: 1.
    loose = pod("p5", {"app": "s"}, topologySpreadConstraints=spread(2, app="s"))
    assert schedule(loose, zones, placed[:3]).node == "n1"


def test_topology_spread_rejects_nodes_without_the_key_and_counts_only_matching_pods() -> None:
    incoming = pod("p", {"app": "s"}, topologySpreadConstraints=spread(app="s"))
    decision = schedule(incoming, [node("bare", zone=None)], [])
    assert decision.message == (
        "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints "
        "(missing required label). preemption: 0/1 nodes are available: 1 Preemption is "
        "not helpful for scheduling.")
    zones = [node("n1", "a"), node("n2", "b")]
    others = [pod("o1", {"app": "other"}, "n2"), pod("o2", {"app": "other"}, "n2")]
    placed = [pod("s1", {"app": "s"}, "n1"), *others]
    assert schedule(incoming, zones, placed).node == "n2"
    crowded = [*placed, pod("s2", {"app": "s"}, "n1")]
    assert schedule(incoming, zones, crowded).node == "n2"
    # A node the pod's nodeSelector excludes is not a domain (nodeAffinityPolicy Honor):
    # zone a alone, so no skew.
    picky = pod("p", {"app": "s"}, topologySpreadConstraints=spread(app="s"),
                nodeSelector={ZONE: "a"})
    assert schedule(picky, zones, crowded).node == "n1"


def test_min_domains_counts_missing_domains_as_empty() -> None:
    constraint = [{**spread(app="s")[0], "minDomains": 3}]
    zones = [node("n1", "a"), node("n2", "b")]
    placed = [pod("s1", {"app": "s"}, "n1"), pod("s2", {"app": "s"}, "n2")]
    decision = schedule(pod("p", {"app": "s"}, topologySpreadConstraints=constraint),
                        zones, placed)
    assert decision.node is None
    assert "2 node(s) didn't match pod topology spread constraints." in decision.message


def test_a_missing_claim_keeps_the_pod_off_every_node() -> None:
    claims = {("d", "data"): {"metadata": {"name": "data"}, "spec": {"volumeName": "pv-1"},
                              "status": {"phase": "Bound"}},
              ("d", "pending"): {"metadata": {"name": "pending"},
                                 "spec": {"storageClassName": "late"},
                                 "status": {"phase": "Pending"}},
              ("d", "old"): {"metadata": {"name": "old",
                                          "deletionTimestamp": "2026-12-05T10:00:00Z"}}}

    def lookup(namespace: str, name: str) -> Any:
        return claims.get((namespace, name))

    def with_claim(name: str) -> dict[str, Any]:
        return pod("p", volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": name}}])

    assert schedule(with_claim("data"), NODES, claims=lookup).node == "n1"
    assert schedule(with_claim("nope"), NODES, claims=lookup).message == (
        '0/2 nodes are available: persistentvolumeclaim "nope" not found. preemption: 0/2 '
        "nodes are available: 2 Preemption is not helpful for scheduling.")
    assert 'persistentvolumeclaim "old" is being deleted' in schedule(
        with_claim("old"), NODES, claims=lookup).message
    # Unbound: an Immediate class waits for the binder, WaitForFirstConsumer gets the node.
    assert schedule(with_claim("pending"), NODES, claims=lookup).message.startswith(
        "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.")
    late = schedule(with_claim("pending"), NODES, claims=lookup,
                    binding_mode=lambda c: "WaitForFirstConsumer")
    assert (late.node, late.select) == ("n1", (("d", "pending"),))
    claims[("d", "pending")]["metadata"]["annotations"] = {
        "volume.kubernetes.io/selected-node": "n1"}
    waiting = schedule(with_claim("pending"), NODES, claims=lookup,
                       binding_mode=lambda c: "WaitForFirstConsumer")
    assert (waiting.node, waiting.waiting) == (None, True)
    scratch = pod("p", volumes=[{"name": "scratch", "ephemeral": {}}])
    assert ('waiting for ephemeral volume controller to create the persistentvolumeclaim '
            '"p-scratch"') in schedule(scratch, NODES, claims=lookup).message


def test_ephemeral_claims_are_made_for_their_pod_and_only_theirs_count() -> None:
    scratch = pod("web", volumes=[{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {
        "metadata": {"labels": {"type": "scratch"}},
        "spec": {"accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}}}}},
        {"name": "cfg", "configMap": {"name": "c"}}])
    ((volume, claim),) = ephemeral_claims(scratch)
    assert volume == "scratch"
    uid = scratch["metadata"]["uid"]
    assert claim["metadata"] == {
        "name": "web-scratch", "namespace": "d", "labels": {"type": "scratch"},
        "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": uid,
                             "controller": True, "blockOwnerDeletion": True}]}
    assert claim["spec"]["resources"] == {"requests": {"storage": "1Gi"}}
    mine = {("d", "web-scratch"): {**claim, "spec": {**claim["spec"], "volumeName": "v"}}}
    assert schedule(scratch, NODES, claims=lambda ns, n: mine.get((ns, n))).node == "n1"
    other = {("d", "web-scratch"): {"metadata": {"name": "web-scratch"}}}
    assert ("PVC d/web-scratch was not created for pod d/web (pod is not owner)" in
            schedule(scratch, NODES, claims=lambda ns, n: other.get((ns, n))).message)


def test_affinity_needs_one_pod_matching_every_term() -> None:
    terms = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "a"}}, "topologyKey": ZONE},
        {"labelSelector": {"matchLabels": {"tier": "b"}}, "topologyKey": ZONE}]}}
    split = [pod("x", {"app": "a"}, "n1"), pod("y", {"tier": "b"}, "n1")]
    assert schedule(pod("p", affinity=terms), NODES, split).node is None
    both = [pod("z", {"app": "a", "tier": "b"}, "n2")]
    assert schedule(pod("p", affinity=terms), NODES, both).node == "n2"


def test_a_bound_volumes_node_affinity_chooses_the_node() -> None:
    claims = {("d", "data"): {"metadata": {"name": "data"}, "spec": {"volumeName": "local-1"},
                              "status": {"phase": "Bound"}}}

    def on(host: str) -> dict[str, Any]:
        return {"spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": HOST, "operator": "In", "values": [host]}]}]}}}}

    def place(volume: dict[str, Any]) -> Any:
        return schedule(pod("p", volumes=[{"name": "v", "persistentVolumeClaim": {
            "claimName": "data"}}]), NODES, claims=lambda ns, n: claims.get((ns, n)),
            persistent_volume=lambda name: volume if name == "local-1" else None)

    assert place(on("n2")).node == "n2"
    assert place(on("n9")).message == (
        "0/2 nodes are available: 2 node(s) had volume node affinity conflict. preemption: "
        "0/2 nodes are available: 2 Preemption is not helpful for scheduling.")
