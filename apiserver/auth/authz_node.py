"""The Node authorizer (upstream ``plugin/pkg/auth/authorizer/node``).

It has an opinion only on users ``system:node:<name>`` in group ``system:nodes``. A node
may read the Secrets, ConfigMaps, PersistentVolumeClaims and PersistentVolumes its
bound pods use, create tokens for their ServiceAccounts, update the status of their
claims, work on its own Lease in ``kube-node-lease`` and its own CSINode, read its own
Node (create and write Nodes: NodeRestriction admission narrows those); everything else
is decided by the static rules of ``system:node`` (:data:`NODE_RULES`).

The relationships come from the registry's pod and claim caches: for each node, the
objects its pods reference, rebuilt when either cache changed (per-pod references are
memoised by resourceVersion, so a rebuild re-reads only the pods that changed).
As upstream 1.33 (``AuthorizeNodeWithSelectors`` on), a node lists and watches pods only
with the field selector ``spec.nodeName=<itself>`` and gets only pods bound to it.
"""

from __future__ import annotations

from collections.abc import Callable

from apiserver.api.user import UserInfo
from apiserver.auth.authz_rbac import PolicySource
from apiserver.auth.bootstrap_roles import NODE_RULES
from apiserver.auth.rbac_rules import compile_rule, compiled_allows
from apiserver.registry.noderestriction import NODE_LEASE_NAMESPACE, node_identity
from apiserver.registry.podrefs import Ref, pod_references
from apiserver.registry.reviews import Attributes, Decision, Rules

_NODE_RULES = tuple(compile_rule(rule) for rule in NODE_RULES)
#: The answer for every requester that is not a node (decisions are immutable).
_NO_OPINION = Decision(False)


def _node_rules_allow(attrs: Attributes) -> bool:
    return any(compiled_allows(attrs, rule) for rule in _NODE_RULES)


class NodeAuthorizer:
    """``--authorization-mode=Node``."""

    def __init__(self, pods: PolicySource, claims: PolicySource) -> None:
        self._pods = pods
        self._claims = claims
        self._generation: tuple[int, int] = (-1, -1)
        self._by_node: dict[str, set[Ref]] = {}
        self._pod_memo: dict[str, tuple[int, str, set[Ref]]] = {}

    def _graph(self) -> dict[str, set[Ref]]:
        generation = (self._pods.generation, self._claims.generation)
        if generation == self._generation:
            return self._by_node
        by_node: dict[str, set[Ref]] = {}
        memo: dict[str, tuple[int, str, set[Ref]]] = {}
        for pod in self._pods.objects():
            cached = self._pod_memo.get(pod.key)
            if cached is None or cached[0] != pod.revision:
                obj = pod.obj  # decoded on each access: once here
                node = str((obj.get("spec") or {}).get("nodeName") or "")
                refs = pod_references(obj)
                refs.add(("pod", pod.namespace, pod.name))
                cached = (pod.revision, node, refs)
            memo[pod.key] = cached
            if cached[1]:
                by_node.setdefault(cached[1], set()).update(cached[2])
        volumes = {(c.namespace, c.name): str((c.obj.get("spec") or {}).get("volumeName") or "")
                   for c in self._claims.objects()}
        for refs in by_node.values():
            refs.update(("pv", "", volumes[(ns, name)]) for kind, ns, name in list(refs)
                        if kind == "pvc" and volumes.get((ns, name)))
        self._by_node, self._pod_memo, self._generation = by_node, memo, generation
        return by_node

    def _related(self, node: str, kind: str, attrs: Attributes) -> Decision:
        if not attrs.name:
            return Decision(False, reason="No Object name found")
        if (kind, attrs.namespace, attrs.name) in self._graph().get(node, ()):
            return Decision(True)
        return Decision(False, reason=f"no relationship found between node '{node}' and "
                                      "this object")

    def authorize(self, attributes: Attributes) -> Decision:
        """Allow what the node's pods need; no opinion otherwise."""
        node, is_node = node_identity(attributes.user)
        if not is_node:
            return _NO_OPINION
        if not node:
            return Decision(False, reason=f'unknown node for user "{attributes.user.username}"')
        if attributes.resource_request:
            decide = _RESOURCE_CHECKS.get((attributes.api_group, attributes.resource))
            if decide is not None:
                return decide(self, node, attributes)
        return Decision(_node_rules_allow(attributes))

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        """Nodes' permissions are not enumerable (incomplete, with an error)."""
        del namespace
        if node_identity(user)[1]:
            return Rules((), (), True, "node authorizer does not support user rule resolution")
        return Rules((), ())

    # -- per-resource checks (upstream authorizeReadNamespacedObject, authorizeGet, …) -----

    def read_namespaced(self, node: str, attrs: Attributes, kind: str) -> Decision:
        if attrs.verb not in ("get", "list", "watch"):
            return Decision(False, reason="can only read resources of this type")
        if attrs.subresource:
            return Decision(False, reason="cannot read subresource")
        if not attrs.namespace:
            return Decision(False, reason="can only read namespaced object of this type")
        return self._related(node, kind, attrs)

    def get_only(self, node: str, attrs: Attributes, kind: str) -> Decision:
        if attrs.verb != "get":
            return Decision(False, reason="can only get individual resources of this type")
        if attrs.subresource:
            return Decision(False, reason="cannot get subresource")
        return self._related(node, kind, attrs)

    def claims(self, node: str, attrs: Attributes) -> Decision:
        if attrs.subresource != "status":
            return self.get_only(node, attrs, "pvc")
        if attrs.verb not in ("update", "patch"):
            return Decision(False, reason="can only get/update/patch this type")
        return self._related(node, "pvc", attrs)

    def tokens(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb != "create" or not attrs.name:
            return Decision(False, reason="can only create tokens for individual service "
                                          "accounts")
        if attrs.subresource != "token":
            return Decision(False, reason="can only create token subresource of "
                                          "serviceaccount")
        return self._related(node, "serviceaccount", attrs)

    def own_object(self, node: str, attrs: Attributes, what: str) -> Decision:
        """Leases (in kube-node-lease) and CSINodes: only the node's own."""
        if attrs.verb not in ("get", "create", "update", "patch", "delete"):
            return Decision(False, reason=f"can only get, create, update, patch, or delete "
                                          f"a {what}")
        if what == "CSINode" and attrs.subresource:
            return Decision(False, reason="cannot authorize CSINode subresources")
        if what == "node lease" and attrs.namespace != NODE_LEASE_NAMESPACE:
            return Decision(False, reason=f'can only access leases in the '
                                          f'"{NODE_LEASE_NAMESPACE}" system namespace')
        if attrs.verb != "create" and attrs.name != node:
            return Decision(False, reason=f"can only access {what} with the same name as the "
                                          "requesting node")
        return Decision(True)

    def pods(self, node: str, attrs: Attributes) -> Decision:
        """Upstream ``authorizePod`` (``AuthorizeNodeWithSelectors``, on in 1.33)."""
        verb, sub = attrs.verb, attrs.subresource
        if not sub:
            if verb == "get":
                return self.get_only(node, attrs, "pod")
            if verb in ("list", "watch"):
                if ("spec.nodeName", "=", node) in attrs.field_selector:
                    return Decision(True)
                if attrs.name:
                    return self._related(node, "pod", attrs)
                return Decision(False, reason="can only list/watch pods with spec.nodeName "
                                              "field selector")
            # create and delete: mirror pods, narrowed by NodeRestriction admission
            return Decision(verb in ("create", "delete"))
        if sub == "status":
            return Decision(verb in ("update", "patch"))
        return Decision(sub == "eviction" and verb == "create")

    def nodes(self, node: str, attrs: Attributes) -> Decision:
        """Upstream ``authorizeNode``: write any Node (NodeRestriction narrows it), read
        only its own."""
        if attrs.subresource == "status":
            return Decision(attrs.verb in ("update", "patch"))
        if attrs.subresource:
            return Decision(False)
        if attrs.verb in ("create", "update", "patch"):
            return Decision(True)
        if attrs.verb in ("get", "list", "watch"):
            if attrs.name == node:
                return Decision(True)
            if not attrs.name:
                return Decision(False, reason=f"node '{node}' cannot read all nodes, only its "
                                              "own Node object")
            return Decision(False, reason=f"node '{node}' cannot read '{attrs.name}', only "
                                          "its own Node object")
        return Decision(False)


_Check = Callable[[NodeAuthorizer, str, Attributes], Decision]
_RESOURCE_CHECKS: dict[tuple[str, str], _Check] = {
    ("", "secrets"): lambda a, n, x: a.read_namespaced(n, x, "secret"),
    ("", "configmaps"): lambda a, n, x: a.read_namespaced(n, x, "configmap"),
    ("", "persistentvolumeclaims"): NodeAuthorizer.claims,
    ("", "persistentvolumes"): lambda a, n, x: a.get_only(n, x, "pv"),
    ("", "serviceaccounts"): NodeAuthorizer.tokens,
    ("coordination.k8s.io", "leases"): lambda a, n, x: a.own_object(n, x, "node lease"),
    ("storage.k8s.io", "csinodes"): lambda a, n, x: a.own_object(n, x, "CSINode"),
    ("", "nodes"): NodeAuthorizer.nodes,
    ("", "pods"): NodeAuthorizer.pods,
}
