"""NamespaceLifecycle (``plugin/pkg/admission/namespace/lifecycle``), a mutating-phase plugin.

* The immortal namespaces (``default``, ``kube-system``, ``kube-public``) may not be deleted.
* Nothing is created, updated or connected to in a namespace that does not exist: 404
  ``namespaces "x" not found`` (the cache is read first, then storage, as upstream falls
  back to a live lookup).
* Nothing new is created in a namespace being terminated: 403 with upstream's message and
  its ``NamespaceTerminating`` cause.
* Deletions, namespaces themselves, cluster-scoped kinds and access reviews always pass.
"""

from __future__ import annotations

from typing import Any

from apiserver.admission.attributes import (
    AdmissionAttributes,
    ObjectSource,
    Operation,
    forbidden,
)
from apiserver.api import errors
from apiserver.api.resources import NAMESPACES

IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
_ACCESS_REVIEWS = ("authorization.k8s.io", "localsubjectaccessreviews")
NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"


def _terminating(namespace: dict[str, Any]) -> bool:
    status = namespace.get("status") or {}
    return bool(status.get("phase") == "Terminating"
                or (namespace.get("metadata") or {}).get("deletionTimestamp"))


class NamespaceLifecycle:
    """Keeps writes out of missing and terminating namespaces."""

    name = "NamespaceLifecycle"

    def __init__(self, source: ObjectSource) -> None:
        self.source = source

    def handles(self, operation: Operation) -> bool:
        return True

    async def admit(self, attrs: AdmissionAttributes) -> None:
        is_namespace = attrs.info is NAMESPACES or (
            not attrs.group and attrs.resource == NAMESPACES.plural)
        if attrs.operation is Operation.DELETE and is_namespace \
                and attrs.name in IMMORTAL_NAMESPACES:
            raise errors.forbidden(NAMESPACES, attrs.name, "this namespace may not be deleted")
        if is_namespace or not attrs.namespace or attrs.operation is Operation.DELETE:
            return
        if (attrs.group, attrs.resource) == _ACCESS_REVIEWS:
            return
        namespace = self.source.cached(NAMESPACES, "", attrs.namespace)
        if namespace is None:
            # The cache may not have seen a namespace created a moment ago.
            namespace = await self.source.live(NAMESPACES, "", attrs.namespace)
        if namespace is None:
            raise errors.not_found(NAMESPACES, attrs.namespace)
        if attrs.operation is Operation.CREATE and _terminating(namespace):
            error = forbidden(
                attrs,
                f"unable to create new content in namespace {attrs.namespace} because it is "
                "being terminated",
            )
            assert error.details is not None
            error.details["causes"] = [{
                "type": NAMESPACE_TERMINATING_CAUSE,
                "message": f"namespace {attrs.namespace} is being terminated",
                "field": "metadata.namespace",
            }]
            raise error
