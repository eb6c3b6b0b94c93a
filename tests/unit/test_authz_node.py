"""The Node authorizer over a real registry, and the NodeRestriction admission plugin."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apiserver.api import errors
from apiserver.api.resources import lookup as lookup
from apiserver.api.resources import served
from apiserver.api.user import UserInfo
from apiserver.auth.authorization import build_authorization
from apiserver.auth.authz_node import NodeAuthorizer
from apiserver.registry.noderestriction import AdmissionAttributes, NodeRestriction
from apiserver.registry.registry import Registry
from apiserver.registry.reviews import Attributes, Reviews
from apiserver.storage.cache import WatchCache
from apiserver.storage.memory import MemoryStorage

NODE1 = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))
PODS = served("", "v1", "pods")
CLAIMS = served("", "v1", "persistentvolumeclaims")


def _pod(name: str, node: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}], **spec}}


def _ask(node: NodeAuthorizer, verb: str, resource: str, name: str = "", namespace: str = "ns",
         sub: str = "", group: str = "", user: UserInfo = NODE1,
         selector: tuple[tuple[str, str, str], ...] = ()) -> tuple[bool, str]:
    decision = node.authorize(Attributes(user, verb=verb, resource=resource, name=name,
                                         namespace=namespace, subresource=sub, api_group=group,
                                         field_selector=selector))
    return decision.allowed, decision.reason


def test_node_reads_only_what_its_pods_use() -> None:
    async def main() -> None:
        storage = MemoryStorage()
        await storage.start()
        registry = Registry(storage, WatchCache(storage))
        await registry.start()
        await registry.namespaces.create(None, {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": "ns"}})
        pods, claims = registry.store(PODS), registry.store(CLAIMS)
        accounts = registry.store(lookup("", "v1", "serviceaccounts"))
        for account in ("default", "robot"):  # ServiceAccount admission looks them up
            await accounts.create("ns", {"apiVersion": "v1", "kind": "ServiceAccount",
                                         "metadata": {"name": account}})
        node = NodeAuthorizer(pods.cache, claims.cache)
        await claims.create("ns", {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                   "metadata": {"name": "data"},
                                   "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pv1",
                                            "resources": {"requests": {"storage": "1Gi"}}}})
        await pods.create("ns", _pod("mine", "n1", serviceAccountName="robot", volumes=[
            {"name": "s", "secret": {"secretName": "tls"}},
            {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "p", "projected": {"sources": [{"configMap": {"name": "cfg"}}]}}],
            containers=[{"name": "c", "image": "i", "env": [{"name": "X", "valueFrom": {
                "secretKeyRef": {"name": "env-secret", "key": "k"}}}]}]))
        await pods.create("ns", _pod("theirs", "n2", volumes=[
            {"name": "s", "secret": {"secretName": "other"}}]))
        assert _ask(node, "get", "secrets", "tls") == (True, "")
        assert _ask(node, "watch", "secrets", "env-secret") == (True, "")
        assert _ask(node, "get", "configmaps", "cfg") == (True, "")
        assert _ask(node, "get", "persistentvolumeclaims", "data") == (True, "")
        assert _ask(node, "get", "persistentvolumes", "pv1", namespace="") == (True, "")
        assert _ask(node, "create", "serviceaccounts", "robot", sub="token") == (True, "")
        assert _ask(node, "get", "secrets", "other") == (
            False, "no relationship found between node 'n1' and this object")
        assert _ask(node, "list", "secrets") == (False, "No Object name found")
        assert _ask(node, "delete", "secrets", "tls") == (
            False, "can only read resources of this type")
        assert _ask(node, "create", "serviceaccounts", "default", sub="token")[0] is False
        # its own Node and Lease; not another's
        assert _ask(node, "get", "nodes", "n1", namespace="") == (True, "")
        assert _ask(node, "get", "nodes", "n2", namespace="") == (
            False, "node 'n1' cannot read 'n2', only its own Node object")
        assert _ask(node, "update", "leases", "n1", namespace="kube-node-lease",
                    group="coordination.k8s.io") == (True, "")
        assert _ask(node, "update", "leases", "n2", namespace="kube-node-lease",
                    group="coordination.k8s.io") == (
            False, "can only access node lease with the same name as the requesting node")
        # the static node rules for everything else; other users: no opinion at all
        assert _ask(node, "patch", "pods", "mine", sub="status") == (True, "")
        # pods: its own, and lists and watches only of its own
        assert _ask(node, "get", "pods", "mine") == (True, "")
        assert _ask(node, "get", "pods", "theirs") == (
            False, "no relationship found between node 'n1' and this object")
        assert _ask(node, "watch", "pods", namespace="",
                    selector=(("spec.nodeName", "=", "n1"),)) == (True, "")
        assert _ask(node, "list", "pods", namespace="",
                    selector=(("spec.nodeName", "=", "n2"),)) == (
            False, "can only list/watch pods with spec.nodeName field selector")
        assert _ask(node, "delete", "pods", "theirs") == (True, "")  # NodeRestriction's job
        assert _ask(node, "update", "nodes", "n1", namespace="", sub="status") == (True, "")
        assert _ask(node, "list", "services", namespace="") == (True, "")
        assert _ask(node, "create", "deployments", group="apps") == (False, "")
        assert _ask(node, "get", "secrets", "tls", user=UserInfo(
            "system:node:n1", groups=("system:authenticated",))) == (False, "")
        # a pod moving to the node adds its references
        await pods.create("ns", _pod("later", "n1", volumes=[
            {"name": "s", "secret": {"secretName": "other"}}]))
        assert _ask(node, "get", "secrets", "other") == (True, "")
        # Node,RBAC: the union passes the node's reason on
        authz = build_authorization(("Node", "RBAC"), registry)
        decision = authz.authorizer.authorize(Attributes(NODE1, verb="get", resource="secrets",
                                                         name="nope", namespace="ns"))
        assert not decision.allowed
        assert decision.reason == "no relationship found between node 'n1' and this object"
        assert authz.authorizer.rules_for(NODE1, "ns").incomplete
        # a SubjectAccessReview carries the field selector to the node authorizer
        reviews = Reviews(authz.authorizer)
        sar = served("authorization.k8s.io", "v1", "subjectaccessreviews")
        for selector, allowed in (({"rawSelector": "spec.nodeName=n1"}, True),
                                  ({"requirements": [{"key": "spec.nodeName",
                                                      "operator": "In", "values": ["n1"]}]},
                                   True),
                                  ({"rawSelector": "spec.nodeName=n2"}, False)):
            answer = reviews.access_review(sar, {"spec": {
                "user": NODE1.username, "groups": list(NODE1.groups),
                "resourceAttributes": {"verb": "list", "resource": "pods",
                                       "fieldSelector": selector}}}, NODE1)
            assert answer["status"]["allowed"] is allowed
        await registry.stop()
    asyncio.run(main())


def _admit(plugin: NodeRestriction, operation: str, resource: str, *, sub: str = "",
           name: str = "", namespace: str = "ns", obj: Any = None, old: Any = None,
           group: str = "") -> None:
    plugin.admit(AdmissionAttributes(operation, NODE1, group, resource, sub, namespace, name,
                                     obj, old))


def _refused(call: Any, message: str) -> None:
    with pytest.raises(errors.ApiError) as caught:
        call()
    assert caught.value.code == 403
    assert caught.value.message == message


def test_node_restriction() -> None:
    pods = {("ns", "mine"): _pod("mine", "n1"), ("ns", "theirs"): _pod("theirs", "n2")}
    plugin = NodeRestriction(lambda ns, name: pods.get((ns, name)))
    _admit(plugin, "DELETE", "pods", name="mine")
    _refused(lambda: _admit(plugin, "DELETE", "pods", name="theirs"),
             'pods "theirs" is forbidden: node "n1" can only delete pods with spec.nodeName '
             "set to itself")
    _admit(plugin, "UPDATE", "pods", sub="status", name="mine", obj=pods[("ns", "mine")],
           old=pods[("ns", "mine")])
    _refused(lambda: _admit(plugin, "UPDATE", "pods", sub="status", name="theirs",
                            obj=pods[("ns", "theirs")], old=pods[("ns", "theirs")]),
             'pods "theirs" is forbidden: node "n1" can only update pod status for pods with '
             "spec.nodeName set to itself")
    _refused(lambda: _admit(plugin, "CREATE", "pods", sub="eviction", name="theirs"),
             'pods "theirs" is forbidden: node n1 can only evict pods with spec.nodeName set '
             "to itself")
    _refused(lambda: _admit(plugin, "CREATE", "pods", obj=_pod("x", "n1")),
             'pods "x" is forbidden: pod does not have "kubernetes.io/config.mirror" '
             'annotation, node "n1" can only create mirror pods')
    node = {"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
            "spec": {}}
    _admit(plugin, "CREATE", "nodes", namespace="", obj=node)
    _refused(lambda: _admit(plugin, "UPDATE", "nodes", name="n2", namespace="", obj=node,
                            old=node),
             'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"')
    tainted = {**node, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}}
    _refused(lambda: _admit(plugin, "UPDATE", "nodes", name="n1", namespace="", obj=tainted,
                            old=node),
             'nodes "n1" is forbidden: node "n1" is not allowed to modify taints')
    owned = {**node, "metadata": {**node["metadata"], "ownerReferences": [
        {"apiVersion": "v1", "kind": "Node", "name": "n2", "uid": "u"}]}}
    _refused(lambda: _admit(plugin, "UPDATE", "nodes", name="n1", namespace="", obj=owned,
                            old=node),
             'nodes "n1" is forbidden: node "n1" is not allowed to modify ownerReferences')
    relabeled = {**node, "metadata": {"name": "n1", "labels": {
        "node-role.kubernetes.io/control-plane": "", "example.com/x": "y",
        "node.kubernetes.io/exclude": "true"}}}
    _refused(lambda: _admit(plugin, "UPDATE", "nodes", name="n1", namespace="",
                            obj=relabeled, old=node),
             'nodes "n1" is forbidden: is not allowed to modify labels: '
             "node-role.kubernetes.io/control-plane")
    lease = {"metadata": {"name": "n2"}}
    _refused(lambda: _admit(plugin, "CREATE", "leases", group="coordination.k8s.io",
                            namespace="kube-node-lease", obj=lease),
             'leases.coordination.k8s.io "n2" is forbidden: can only access node lease with '
             "the same name as the requesting node")
    # other users are not restricted
    NodeRestriction(lambda ns, name: None).admit(AdmissionAttributes(
        "DELETE", UserInfo("alice"), "", "pods", "", "ns", "theirs"))
