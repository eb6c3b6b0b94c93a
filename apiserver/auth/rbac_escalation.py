"""Escalation and bind checks on RBAC writes (upstream ``pkg/registry/rbac/*/policybased``).

A requester may create or update a Role or ClusterRole only with rules they already
hold, unless they are in ``system:masters`` or may ``escalate`` that role; setting an
``aggregationRule`` needs everything (``*`` on ``*``). A requester may create or update
a (Cluster)RoleBinding only if they may ``bind`` the referenced role or already hold all
its rules. Updates that touch only what the garbage collector writes (owner references,
finalizers) are always allowed. The messages are upstream's ``ConfirmNoEscalation``.
"""

from __future__ import annotations

from typing import Any

from apiserver.api import errors
from apiserver.api.resources import ResourceInfo
from apiserver.api.user import MASTERS_GROUP, REQUEST_USER, UserInfo
from apiserver.auth.authz_rbac import RbacAuthorizer
from apiserver.auth.rbac_rules import Rule, compact, compact_string, covers, go_quoted_list
from apiserver.registry.reviews import Attributes, Authorizer

GROUP = "rbac.authorization.k8s.io"
FULL_AUTHORITY: tuple[Rule, ...] = (
    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
    {"verbs": ["*"], "nonResourceURLs": ["*"]},
)
#: Metadata the garbage collector writes, and what the server sets itself.
_GC_AND_SERVER_FIELDS = frozenset({"ownerReferences", "finalizers", "selfLink", "managedFields",
                                   "resourceVersion", "generation", "uid",
                                   "creationTimestamp"})


def only_gc_fields_changed(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Upstream ``IsOnlyMutatingGCFields``."""
    def stripped(obj: dict[str, Any]) -> dict[str, Any]:
        md = {k: v for k, v in (obj.get("metadata") or {}).items()
              if k not in _GC_AND_SERVER_FIELDS and v not in (None, {}, [])}
        rest = {k: v for k, v in obj.items() if k != "metadata" and v is not None}
        return {**rest, "metadata": md}
    return stripped(new) == stripped(old)


def _name_namespace(obj: dict[str, Any]) -> tuple[str, str]:
    md = obj.get("metadata") or {}
    return str(md.get("name") or ""), str(md.get("namespace") or "")


class EscalationGuard:
    """The :class:`~apiserver.registry.rbac.WriteGuard` of an RBAC-authorizing server."""

    def __init__(self, authorizer: Authorizer, rbac: RbacAuthorizer) -> None:
        self.authorizer = authorizer
        self.rbac = rbac

    def _allowed(self, user: UserInfo, verb: str, resource: str, namespace: str,
                 name: str) -> bool:
        attrs = Attributes(user=user, verb=verb, resource_request=True, namespace=namespace,
                           api_group=GROUP, api_version="*", resource=resource, name=name)
        return self.authorizer.authorize(attrs).allowed

    def _missing(self, user: UserInfo, namespace: str, rules: list[Rule]) -> str:
        """Upstream ``ConfirmNoEscalation``: the message when ``rules`` are not all held."""
        owned, problems = self.rbac.rules(user, namespace)
        uncovered = covers(owned, rules)
        if not uncovered:
            return ""
        described = sorted({compact_string(r) for r in compact(uncovered)})
        message = (f'user "{user.username}" (groups={go_quoted_list(user.groups)}) is '
                   "attempting to grant RBAC permissions not currently held:\n"
                   + "\n".join(described))
        if problems:
            message += f"; resolution errors: [{problems}]"
        return message

    def check(self, info: ResourceInfo, new: dict[str, Any],
              old: dict[str, Any] | None) -> None:
        """The check of ``info``'s kind (roles or bindings)."""
        if info.plural in ("roles", "clusterroles"):
            self.check_role(info, new, old)
        else:
            self.check_binding(info, new, old)

    def check_role(self, info: ResourceInfo, new: dict[str, Any],
                   old: dict[str, Any] | None) -> None:
        """Roles and ClusterRoles: no rule the requester does not hold."""
        user = REQUEST_USER.get()
        name, namespace = _name_namespace(new)
        if MASTERS_GROUP in user.groups or \
                self._allowed(user, "escalate", info.plural, namespace, name):
            return
        if old is not None and only_gc_fields_changed(new, old):
            return
        rules = [r for r in new.get("rules") or () if isinstance(r, dict)]
        message = self._missing(user, namespace, rules)
        if message:
            raise errors.forbidden(info, name, message)
        aggregated = new.get("aggregationRule") or (old or {}).get("aggregationRule")
        if info.plural == "clusterroles" and aggregated and \
                self._missing(user, namespace, list(FULL_AUTHORITY)):
            raise errors.forbidden(info, name, "must have cluster-admin privileges to use an "
                                               "aggregationRule")

    def check_binding(self, info: ResourceInfo, new: dict[str, Any],
                      old: dict[str, Any] | None) -> None:
        """Bindings: ``bind`` on the role, or every rule of the role already held."""
        user = REQUEST_USER.get()
        if MASTERS_GROUP in user.groups:
            return
        if old is not None and only_gc_fields_changed(new, old):
            return
        name, namespace = _name_namespace(new)
        ref = new.get("roleRef") if isinstance(new.get("roleRef"), dict) else {}
        assert isinstance(ref, dict)
        kind, role_name = ref.get("kind"), str(ref.get("name") or "")
        resource = {"ClusterRole": "clusterroles", "Role": "roles"}.get(str(kind))
        if resource is None or self._allowed(user, "bind", resource, namespace, role_name):
            return  # an unsupported roleRef kind fails validation next
        rules, problem = self.rbac.role_rules(ref, namespace)
        if problem:
            singular = "clusterrole" if kind == "ClusterRole" else "role"
            raise errors.ApiError(404, "NotFound", problem,
                                  {"name": role_name, "group": GROUP, "kind": singular})
        message = self._missing(user, namespace, rules)
        if message:
            raise errors.forbidden(info, name, message)
