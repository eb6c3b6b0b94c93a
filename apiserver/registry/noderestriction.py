"""The NodeRestriction admission plugin (upstream ``plugin/pkg/admission/noderestriction``).

It limits what a node (user ``system:node:<name>`` in group ``system:nodes``) may write,
beyond what the Node authorizer lets through:

* Pods: create only mirror pods bound to itself and owned by its Node, referencing no
  ServiceAccount, Secret, ConfigMap or claim; delete, update status of, and evict only
  pods bound to itself; no label changes through ``pods/status``.
* Nodes: only its own; not its taints, owner references (a 1.33 patch release) or
  ``configSource``, and no ``kubernetes.io`` /
  ``k8s.io`` labels beyond the kubelet's own set.
* Leases in ``kube-node-lease``: only the one named after the node.
* PVCs: only ``status``. ServiceAccount tokens: only bound to its own pods.

Contract: :meth:`NodeRestriction.admit` takes attributes with the names of :class:`Attrs`
(the admission chain's ``AdmissionAttributes`` has them) and returns None, or raises
:class:`~apiserver.api.errors.ApiError` (403, upstream's messages). It reads pods only
through the ``get_pod(namespace, name)`` it is given (the registry's pod cache, as
upstream's lister), so any layer's admission chain can host it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from apiserver.api import errors
from apiserver.api.user import UserInfo
from apiserver.registry.podrefs import pod_references

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
NODE_LEASE_NAMESPACE = "kube-node-lease"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
#: Labels a kubelet may set on its Node (upstream ``kubeletapis.KubeletLabels``).
KUBELET_LABELS = frozenset({
    "kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
    "beta.kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type", "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region", "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region"})
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")


def node_identity(user: UserInfo) -> tuple[str, bool]:
    """(node name, is a node), as upstream's ``NodeIdentity``."""
    if not user.username.startswith(NODE_USER_PREFIX) or NODES_GROUP not in user.groups:
        return "", False
    return user.username[len(NODE_USER_PREFIX):], True


class Attrs(Protocol):
    """What the plugin reads of a write (upstream ``admission.Attributes``); the admission
    chain's attributes have these names.

    ``operation`` is CREATE, UPDATE, DELETE or CONNECT; ``object`` is None on DELETE and
    ``old_object`` is None on CREATE.
    """

    @property
    def operation(self) -> str: ...
    @property
    def user(self) -> UserInfo: ...
    @property
    def group(self) -> str: ...
    @property
    def resource(self) -> str: ...
    @property
    def subresource(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def object(self) -> Mapping[str, Any] | None: ...
    @property
    def old_object(self) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class AdmissionAttributes:
    """A plain :class:`Attrs` (for callers without an admission chain, and tests)."""

    operation: str
    user: UserInfo
    group: str
    resource: str
    subresource: str
    namespace: str
    name: str
    object: Mapping[str, Any] | None = None
    old_object: Mapping[str, Any] | None = None


PodGetter = Callable[[str, str], Mapping[str, Any] | None]


def _forbidden(attrs: Attrs, why: str) -> errors.ApiError:
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    name = attrs.name or str(((attrs.object or {}).get("metadata") or {}).get("name") or "")
    details = {"name": name, **({"group": attrs.group} if attrs.group else {}),
               "kind": attrs.resource}
    prefix = f'{qualified} "{name}"' if name else qualified
    return errors.ApiError(403, "Forbidden", f"{prefix} is forbidden: {why}", details)


def _label_namespace(label: str) -> str:
    return label.split("/", 1)[0] if "/" in label else ""


def _in_domain(namespace: str, domain: str) -> bool:
    return namespace == domain or namespace.endswith("." + domain)


def forbidden_labels(labels: set[str]) -> list[str]:
    """Upstream ``getForbiddenLabels``: node-restriction and unknown k8s.io labels."""
    out = set()
    for label in labels:
        namespace = _label_namespace(label)
        if _in_domain(namespace, "node-restriction.kubernetes.io"):
            out.add(label)
        kubernetes = _in_domain(namespace, "kubernetes.io") or _in_domain(namespace, "k8s.io")
        kubelet = label in KUBELET_LABELS or any(
            _in_domain(namespace, ns) for ns in KUBELET_LABEL_NAMESPACES)
        if kubernetes and not kubelet:
            out.add(label)
    return sorted(out)


def _modified_labels(new: Mapping[str, str], old: Mapping[str, str]) -> set[str]:
    return {k for k in set(new) | set(old) if new.get(k) != old.get(k)}


def _md(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (obj or {}).get("metadata") or {}


def _spec(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (obj or {}).get("spec") or {}


class NodeRestriction:
    """The plugin; ``get_pod(namespace, name)`` reads a pod (None when it is gone)."""

    def __init__(self, get_pod: PodGetter) -> None:
        self.get_pod = get_pod

    def admit(self, attrs: Attrs) -> None:
        """Raise 403 when a node writes beyond its own objects."""
        node, is_node = node_identity(attrs.user)
        if not is_node:
            return
        if not node:
            raise _forbidden(attrs, f'could not determine node from user '
                                    f'"{attrs.user.username}"')
        key = (attrs.group, attrs.resource)
        if key == ("", "pods"):
            self._pod(node, attrs)
        elif key == ("", "nodes"):
            self._node(node, attrs)
        elif key == ("", "persistentvolumeclaims") and attrs.subresource != "status":
            raise _forbidden(attrs, "may only update PVC status")
        elif key == ("coordination.k8s.io", "leases"):
            self._lease(node, attrs)

    def _existing_pod(self, attrs: Attrs, name: str) -> Mapping[str, Any]:
        pod = self.get_pod(attrs.namespace, name)
        if pod is None:
            raise errors.ApiError(404, "NotFound", f'pods "{name}" not found',
                                  {"name": name, "kind": "pods"})
        return pod

    def _pod(self, node: str, attrs: Attrs) -> None:
        sub, op = attrs.subresource, attrs.operation
        if sub == "status":
            if op != "UPDATE":
                raise _forbidden(attrs, f'unexpected operation "{op}"')
            if _spec(attrs.old_object).get("nodeName") != node:
                raise _forbidden(attrs, f'node "{node}" can only update pod status for pods '
                                        "with spec.nodeName set to itself")
            old_labels = _md(attrs.old_object).get("labels") or {}
            if old_labels != (_md(attrs.object).get("labels") or {}):
                raise _forbidden(attrs, f'node "{node}" cannot update labels through pod '
                                        "status")
        elif sub == "eviction":
            if op != "CREATE":
                raise _forbidden(attrs, f"unexpected operation {op}")
            name = attrs.name or str(_md(attrs.object).get("name") or "")
            if not name:
                raise _forbidden(attrs, "could not determine pod from request data")
            if _spec(self._existing_pod(attrs, name)).get("nodeName") != node:
                raise _forbidden(attrs, f"node {node} can only evict pods with spec.nodeName "
                                        "set to itself")
        elif sub:
            raise _forbidden(attrs, f'unexpected pod subresource "{sub}", only \'status\' and '
                                    "'eviction' are allowed")
        elif op == "CREATE":
            self._mirror_pod(node, attrs)
        elif op == "DELETE":
            if _spec(self._existing_pod(attrs, attrs.name)).get("nodeName") != node:
                raise _forbidden(attrs, f'node "{node}" can only delete pods with '
                                        "spec.nodeName set to itself")
        else:
            raise _forbidden(attrs, f'unexpected operation "{op}", node "{node}" can only '
                                    "create and delete mirror pods")

    def _mirror_pod(self, node: str, attrs: Attrs) -> None:
        md, spec = _md(attrs.object), _spec(attrs.object)
        if MIRROR_POD_ANNOTATION not in (md.get("annotations") or {}):
            raise _forbidden(attrs, f'pod does not have "{MIRROR_POD_ANNOTATION}" annotation, '
                                    f'node "{node}" can only create mirror pods')
        if spec.get("nodeName") != node:
            raise _forbidden(attrs, f'node "{node}" can only create pods with spec.nodeName '
                                    "set to itself")
        owners = md.get("ownerReferences") or []
        if len(owners) > 1:
            raise _forbidden(attrs, f'node "{node}" can only create pods with a single owner '
                                    "reference set to itself")
        owner = owners[0] if owners else {}
        if (owner.get("apiVersion"), owner.get("kind"), owner.get("name")) != \
                ("v1", "Node", node):
            raise _forbidden(attrs, f'node "{node}" can only create pods with an owner '
                                    "reference set to itself")
        if not owner.get("controller"):
            raise _forbidden(attrs, f'node "{node}" can only create pods with a controller '
                                    "owner reference set to itself")
        if owner.get("blockOwnerDeletion"):
            raise _forbidden(attrs, f'node "{node}" must not set blockOwnerDeletion on an '
                                    "owner reference")
        if spec.get("serviceAccountName"):
            raise _forbidden(attrs, f'node "{node}" can not create pods that reference a '
                                    "service account")
        kinds = {kind for kind, _ns, _name in pod_references(dict(attrs.object or {}))}
        for kind, word in (("secret", "secrets"), ("configmap", "configmaps"),
                           ("pvc", "persistentvolumeclaims")):
            if kind in kinds:
                raise _forbidden(attrs, f'node "{node}" can not create pods that reference '
                                        f"{word}")

    def _node(self, node: str, attrs: Attrs) -> None:
        requested = attrs.name or str(_md(attrs.object).get("name") or "")
        if requested != node:
            raise _forbidden(attrs, f'node "{node}" is not allowed to modify node '
                                    f'"{requested}"')
        labels = _md(attrs.object).get("labels") or {}
        if attrs.operation == "CREATE":
            if _spec(attrs.object).get("configSource") is not None:
                raise _forbidden(attrs, f'node "{node}" is not allowed to create pods with a '
                                        "non-nil configSource")
            bad = forbidden_labels(_modified_labels(labels, {}))
            if bad:
                raise _forbidden(attrs, f'node "{node}" is not allowed to set the following '
                                        f"labels: {', '.join(bad)}")
        elif attrs.operation == "UPDATE":
            source = _spec(attrs.object).get("configSource")
            if source is not None and source != _spec(attrs.old_object).get("configSource"):
                raise _forbidden(attrs, f'node "{node}" is not allowed to update configSource '
                                        "to a new non-nil configSource")
            if (_spec(attrs.object).get("taints") or None) != (_spec(attrs.old_object).get("taints")
                                                            or None):
                raise _forbidden(attrs, f'node "{node}" is not allowed to modify taints')
            if (_md(attrs.object).get("ownerReferences") or None) != \
                    (_md(attrs.old_object).get("ownerReferences") or None):
                raise _forbidden(attrs, f'node "{node}" is not allowed to modify '
                                        "ownerReferences")
            old_labels = _md(attrs.old_object).get("labels") or {}
            bad = forbidden_labels(_modified_labels(labels, old_labels))
            if bad:
                raise _forbidden(attrs, f"is not allowed to modify labels: {', '.join(bad)}")

    def _lease(self, node: str, attrs: Attrs) -> None:
        if attrs.namespace != NODE_LEASE_NAMESPACE:
            raise _forbidden(attrs, f'can only access leases in the "{NODE_LEASE_NAMESPACE}" '
                                    "system namespace")
        name = str(_md(attrs.object).get("name") or "") if attrs.operation == "CREATE" \
            else attrs.name
        if name != node:
            raise _forbidden(attrs, "can only access node lease with the same name as the "
                                    "requesting node")
