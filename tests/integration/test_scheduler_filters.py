"""The scheduler's resource, affinity and retry behaviour with the real processes.

An apiserver, the scheduler and one node agent (``kn-a``, which reports the machine's
CPUs and memory as allocatable), plus a second Node (``kn-b``) registered through the
API with a small allocatable and no agent: the scheduler binds to it all the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from apiserver.api.quantity import parse_quantity
from kubemu.addresses import Addresses
from tests.support.apiserver import ApiServerProcess
from tests.support.kubemu_up import wait_for
from tests.support.process import Process

pytestmark = pytest.mark.slow

NS = "/api/v1/namespaces/default"


def _pod(name: str, cpu: str = "", zone: str = "", **requests: str) -> dict[str, Any]:
    resources = {"requests": {"cpu": cpu, **requests}} if cpu else {}
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox",
                                            "command": ["sleep", "3600"],
                                            "resources": resources}],
                            "terminationGracePeriodSeconds": 0}
    if zone:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "zone", "operator": "In", "values": [zone]}]}]}}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def _node_of(client: httpx.Client, name: str) -> str | None:
    node: str | None = client.get(f"{NS}/pods/{name}").json()["spec"].get("nodeName")
    return node


def _unschedulable(client: httpx.Client, name: str) -> dict[str, Any] | None:
    """The pod's ``PodScheduled=False`` condition, if it has one."""
    conditions = client.get(f"{NS}/pods/{name}").json()["status"].get("conditions") or []
    return next((c for c in conditions
                 if c["type"] == "PodScheduled" and c["status"] == "False"), None)


def _two_nodes(server: ApiServerProcess, procs: Callable[..., Process],
               address_block: Addresses, client: httpx.Client,
               labels_b: dict[str, str], allocatable_b: dict[str, str]) -> None:
    """The scheduler, node agent ``kn-a`` and ``kn-b`` registered through the API (Ready,
    with ``labels_b`` and ``allocatable_b``)."""
    procs(server, "controllers.scheduler")
    procs(server, "controllers.node", "--node-name", "kn-a", "--pod-cidr",
          address_block.pod_cidr(1), "--lease-interval", "1")
    wait_for("kn-a registered", lambda: client.get("/api/v1/nodes/kn-a").status_code == 200)
    client.post("/api/v1/nodes", json={"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": "kn-b", "labels": labels_b}}).raise_for_status()
    client.patch("/api/v1/nodes/kn-b/status", json={"status": {
        "allocatable": allocatable_b, "capacity": allocatable_b,
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}},
        headers={"Content-Type": "application/merge-patch+json"}).raise_for_status()


def test_requests_and_affinity_decide_and_freed_resources_are_retried(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Process], address_block: Addresses,
) -> None:
    server = fresh_apiserver
    client = httpx.Client(base_url=server.url, timeout=5)

    def get(path: str) -> dict[str, Any]:
        resp = client.get(path)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data

    def create(path: str, body: dict[str, Any]) -> None:
        client.post(path, json=body).raise_for_status()

    def merge(path: str, body: dict[str, Any]) -> None:
        client.patch(path, json=body, headers={
            "Content-Type": "application/merge-patch+json"}).raise_for_status()

    def node_of(name: str) -> str | None:
        return _node_of(client, name)

    def unschedulable(name: str) -> dict[str, Any] | None:
        return _unschedulable(client, name)

    _two_nodes(server, procs, address_block, client, {"zone": "b"},
               {"cpu": "1", "memory": "1Gi", "pods": "10"})
    merge("/api/v1/nodes/kn-a", {"metadata": {"labels": {"zone": "a"}}})
    cpu_a = parse_quantity(get("/api/v1/nodes/kn-a")["status"]["allocatable"]["cpu"])
    assert cpu_a is not None

    # Bigger than every node: Pending with upstream's message, as condition and as event.
    create(f"{NS}/pods", _pod("huge", "64", memory="1Ti"))
    expected = ("0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory. "
                "preemption: 0/2 nodes are available: 2 No preemption victims found for "
                "incoming pod.")
    condition = wait_for("huge unschedulable", lambda: unschedulable("huge"))
    assert condition["reason"] == "Unschedulable" and condition["message"] == expected
    # The Event is written after the condition: wait for it too.
    events = wait_for("the FailedScheduling event", lambda: [
        e for e in get(f"{NS}/events")["items"]
        if e["involvedObject"]["name"] == "huge" and e["reason"] == "FailedScheduling"])
    assert events[0]["type"] == "Warning" and events[0]["message"] == expected

    # Required node affinity: each pod lands only on the node of its zone.
    create(f"{NS}/pods", _pod("in-b", zone="b"))
    create(f"{NS}/pods", _pod("in-a", zone="a"))
    wait_for("in-b bound", lambda: node_of("in-b"))
    wait_for("in-a bound", lambda: node_of("in-a"))
    assert (node_of("in-b"), node_of("in-a")) == ("kn-b", "kn-a")

    # Fill kn-a's CPU; a pod that needs kn-a waits, then fits once the filler is deleted.
    filler_millis = math.floor(cpu_a * 1000) - 500
    create(f"{NS}/pods", _pod("filler", f"{filler_millis}m", zone="a"))
    wait_for("filler bound", lambda: node_of("filler") == "kn-a")
    create(f"{NS}/pods", _pod("waiter", "1", zone="a"))
    condition = wait_for("waiter unschedulable", lambda: unschedulable("waiter"))
    assert condition["message"] == (
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node "
        "affinity/selector. preemption: 0/2 nodes are available: 1 No preemption victims "
        "found for incoming pod, 1 Preemption is not helpful for scheduling.")
    client.delete(f"{NS}/pods/filler", params={"gracePeriodSeconds": "0"}).raise_for_status()
    wait_for("waiter bound after the filler left", lambda: node_of("waiter") == "kn-a")
    scheduled = {c["type"]: c for c in get(f"{NS}/pods/waiter")["status"]["conditions"]}
    assert scheduled["PodScheduled"]["status"] == "True"
    assert node_of("huge") is None


def _labelled(name: str, app: str, affinity: dict[str, Any]) -> dict[str, Any]:
    body = _pod(name)
    body["metadata"]["labels"] = {"app": app}
    body["spec"]["affinity"] = affinity
    return body


def _term(kind: str, app: str) -> dict[str, Any]:
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": app}},
         "topologyKey": "kubernetes.io/hostname"}]}}


def test_pod_anti_affinity_keeps_replicas_apart_and_affinity_waits_for_its_pod(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Process], address_block: Addresses,
) -> None:
    """InterPodAffinity with the real scheduler: a third replica with required
    anti-affinity waits on two nodes (upstream's message), and binds once a replica is
    gone; a pod with required affinity waits until a matching pod is bound, then joins
    it on its node."""
    server = fresh_apiserver
    client = httpx.Client(base_url=server.url, timeout=5)

    def node_of(name: str) -> str | None:
        return _node_of(client, name)

    def condition(name: str) -> dict[str, Any] | None:
        return _unschedulable(client, name)

    _two_nodes(server, procs, address_block, client, {"kubernetes.io/hostname": "kn-b"},
               {"cpu": "4", "memory": "4Gi", "pods": "10"})

    for name in ("web-1", "web-2", "web-3"):
        client.post(f"{NS}/pods", json=_labelled(name, "web", _term("podAntiAffinity", "web"))
                    ).raise_for_status()
        if name != "web-3":
            wait_for(f"{name} bound", lambda n=name: node_of(n))
    assert {node_of("web-1"), node_of("web-2")} == {"kn-a", "kn-b"}
    waiting = wait_for("web-3 unschedulable", lambda: condition("web-3"))
    assert waiting["message"] == (
        "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. "
        "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming "
        "pod.")
    freed = node_of("web-1")
    client.delete(f"{NS}/pods/web-1", params={"gracePeriodSeconds": "0"}).raise_for_status()
    wait_for("web-3 bound where web-1 was", lambda: node_of("web-3") == freed)

    client.post(f"{NS}/pods", json=_labelled("follower", "app", _term("podAffinity", "cache"))
                ).raise_for_status()
    waiting = wait_for("follower unschedulable", lambda: condition("follower"))
    assert waiting["message"].startswith(
        "0/2 nodes are available: 2 node(s) didn't match pod affinity rules.")
    cache = _pod("cache")
    cache["metadata"]["labels"] = {"app": "cache"}
    cache["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "kn-b"}
    client.post(f"{NS}/pods", json=cache).raise_for_status()
    wait_for("cache bound", lambda: node_of("cache") == "kn-b")
    # Requeued by the binding (not the 30 s periodic retry): well within 15 s.
    wait_for("follower joins the cache", lambda: node_of("follower") == "kn-b", 15.0)


def test_claims_must_exist_and_be_bound_and_ephemeral_ones_are_made_for_the_pod(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Process], address_block: Addresses,
    tmp_path: Path,
) -> None:
    """VolumeBinding with the volume controllers: a pod waits for a missing claim and for
    an unbound ``Immediate`` one with upstream's messages; a ``WaitForFirstConsumer``
    claim gets the pod's node and is provisioned before the pod is bound; the
    ephemeral-volume controller makes a generic ephemeral volume's claim, owned by the
    pod."""
    server = fresh_apiserver
    client = httpx.Client(base_url=server.url, timeout=5)
    procs(server, "controllers.manager", "--leader-elect=false",
          "--controllers=ephemeral-volume-controller,persistentvolume-binder,"
          "hostpath-provisioner", f"--hostpath-provisioner-root={tmp_path / 'volumes'}")
    _two_nodes(server, procs, address_block, client, {"kubernetes.io/hostname": "kn-b"},
               {"cpu": "4", "memory": "4Gi", "pods": "10"})
    wait_for("the default class", lambda: client.get(
        "/apis/storage.k8s.io/v1/storageclasses/standard").status_code == 200)
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}

    def with_claim(name: str, claim: str) -> dict[str, Any]:
        body = _pod(name)
        body["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {
            "claimName": claim}}]
        return body

    def claim(name: str, **extra: Any) -> None:
        client.post(f"{NS}/persistentvolumeclaims", json={
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {**spec, **extra}}).raise_for_status()

    client.post(f"{NS}/pods", json=with_claim("claimed", "data")).raise_for_status()
    waiting = wait_for("claimed unschedulable", lambda: _unschedulable(client, "claimed"))
    assert waiting["message"] == (
        '0/2 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/2 '
        "nodes are available: 2 Preemption is not helpful for scheduling.")
    claim("data")  # the default class: provisioned and bound, then the pod goes
    wait_for("claimed bound once its claim is", lambda: _node_of(client, "claimed"))

    claim("nothing", storageClassName="")  # no class, no volume: never bound
    client.post(f"{NS}/pods", json=with_claim("stuck", "nothing")).raise_for_status()
    waiting = wait_for("stuck unschedulable", lambda: _unschedulable(client, "stuck"))
    assert waiting["message"].startswith(
        "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.")

    client.post("/apis/storage.k8s.io/v1/storageclasses", json={
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "late"}, "provisioner": "kubemu.io/hostpath",
        "volumeBindingMode": "WaitForFirstConsumer"}).raise_for_status()
    claim("later", storageClassName="late")
    client.post(f"{NS}/pods", json=with_claim("consumer", "later")).raise_for_status()
    node = wait_for("consumer bound after its claim", lambda: _node_of(client, "consumer"))
    later = client.get(f"{NS}/persistentvolumeclaims/later").json()
    assert later["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] in (
        "kn-a", "kn-b") and later["status"]["phase"] == "Bound" and node

    # A bound volume's node affinity chooses the node.
    client.post("/api/v1/persistentvolumes", json={
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pinned"},
        "spec": {"storageClassName": "manual", "capacity": {"storage": "1Gi"},
                 "accessModes": ["ReadWriteOnce"], "local": {"path": str(tmp_path)},
                 "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                     {"key": "kubernetes.io/hostname", "operator": "In",
                      "values": ["kn-b"]}]}]}}}}).raise_for_status()
    claim("local", storageClassName="manual")
    client.post(f"{NS}/pods", json=with_claim("pinned-pod", "local")).raise_for_status()
    wait_for("pinned-pod on the volume's node", lambda: _node_of(client, "pinned-pod")
             == "kn-b")

    scratch = _pod("scratch")
    scratch["spec"]["volumes"] = [{"name": "tmp", "ephemeral": {"volumeClaimTemplate": {
        "spec": spec}}}]
    client.post(f"{NS}/pods", json=scratch).raise_for_status()
    wait_for("scratch bound", lambda: _node_of(client, "scratch"))
    made = client.get(f"{NS}/persistentvolumeclaims/scratch-tmp").json()
    owner = made["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Pod", "scratch", True)
