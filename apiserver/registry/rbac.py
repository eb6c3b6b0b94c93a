"""rbac.authorization.k8s.io/v1: Roles, ClusterRoles and their bindings.

Counterparts of ``ValidatePolicyRule``, ``ValidateRoleBinding``/``ClusterRoleBinding``,
``ValidateRoleBindingSubject`` and the ``roleRef`` update rule of
``pkg/apis/rbac/validation``, with upstream's field paths and messages.
"""

from __future__ import annotations

from typing import Any, Protocol

from apiserver.api import meta
from apiserver.api.resources import ResourceInfo
from apiserver.registry import common as c
from apiserver.registry.strategy import Cause
from apiserver.registry.table_strategy import TableStrategy

GROUP = "rbac.authorization.k8s.io"


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    return value if isinstance(value, list) else []


def policy_rule(rule: Any, namespaced: bool, path: str) -> list[Cause]:
    """``ValidatePolicyRule``: verbs, then resources or non-resource URLs."""
    if not isinstance(rule, dict):
        return [c.invalid(path, c.go_value(str(rule)), "must be an object")]
    causes: list[Cause] = []
    if not _list(rule, "verbs"):
        causes.append(c.required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = _list(rule, "nonResourceURLs")
    if urls:
        shown = c.go_list(urls)
        if namespaced:
            causes.append(c.invalid(f"{path}.nonResourceURLs", shown,
                                    "namespaced rules cannot apply to non-resource URLs"))
        if _list(rule, "apiGroups") or _list(rule, "resources") or _list(rule, "resourceNames"):
            causes.append(c.invalid(f"{path}.nonResourceURLs", shown, "rules cannot apply to "
                                    "both regular resources and non-resource URLs"))
        return causes
    if not _list(rule, "apiGroups"):
        causes.append(c.required(f"{path}.apiGroups",
                                 "resource rules must supply at least one api group"))
    if not _list(rule, "resources"):
        causes.append(c.required(f"{path}.resources",
                                 "resource rules must supply at least one resource"))
    return causes


def validate_role(obj: dict[str, Any], namespaced: bool) -> list[Cause]:
    """``ValidateRole``/``ValidateClusterRole``: every rule, and ClusterRole aggregation."""
    causes: list[Cause] = []
    for i, rule in enumerate(_list(obj, "rules")):
        causes += policy_rule(rule, namespaced, f"rules[{i}]")
    aggregation = obj.get("aggregationRule")
    if not namespaced and isinstance(aggregation, dict):
        selectors = _list(aggregation, "clusterRoleSelectors")
        if not selectors:
            causes.append(c.required("aggregationRule.clusterRoleSelectors",
                                     "at least one clusterRoleSelector required if "
                                     "aggregationRule is non-nil"))
        for i, selector in enumerate(selectors):
            causes += c.label_selector(selector, f"aggregationRule.clusterRoleSelectors[{i}]")
    return causes


def _subject(subject: Any, namespaced: bool, path: str) -> list[Cause]:
    """``ValidateRoleBindingSubject``."""
    if not isinstance(subject, dict):
        return [c.invalid(path, c.go_value(str(subject)), "must be an object")]
    causes: list[Cause] = []
    name = str(subject.get("name") or "")
    kind = subject.get("kind")
    group = subject.get("apiGroup") or ""
    if not name:
        causes.append(c.required(f"{path}.name"))
    if kind == "ServiceAccount":
        if group:
            causes.append(c.not_supported(f"{path}.apiGroup", group, ("",)))
        if name:
            causes += [c.invalid(f"{path}.name", c.go_value(name), m)
                       for m in meta.dns1123_subdomain_errors(name)]
        if not namespaced and not subject.get("namespace"):
            causes.append(c.required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != GROUP:
            causes.append(c.not_supported(f"{path}.apiGroup", group, (GROUP,)))
    else:
        causes.append(c.not_supported(f"{path}.kind", kind, ("ServiceAccount", "User", "Group")))
    return causes


def validate_binding(obj: dict[str, Any], namespaced: bool) -> list[Cause]:
    """``ValidateRoleBinding``/``ValidateClusterRoleBinding``: roleRef and subjects."""
    causes: list[Cause] = []
    ref = obj.get("roleRef")
    ref = ref if isinstance(ref, dict) else {}
    group = ref.get("apiGroup") or ""
    if group != GROUP:
        causes.append(c.not_supported("roleRef.apiGroup", group, (GROUP,)))
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    kind = ref.get("kind")
    if kind not in kinds:
        causes.append(c.not_supported("roleRef.kind", kind, kinds))
    name = str(ref.get("name") or "")
    if not name:
        causes.append(c.required("roleRef.name"))
    else:
        for bad in ("/", "%"):
            if bad in name:
                causes.append(c.invalid("roleRef.name", c.go_value(name),
                                        f"may not contain '{bad}'"))
    for i, subject in enumerate(_list(obj, "subjects")):
        causes += _subject(subject, namespaced, f"subjects[{i}]")
    return causes


def _go_role_ref(ref: Any) -> str:
    r = ref if isinstance(ref, dict) else {}
    return (f"rbac.RoleRef{{APIGroup:{c.go_value(str(r.get('apiGroup') or ''))}, "
            f"Kind:{c.go_value(str(r.get('kind') or ''))}, "
            f"Name:{c.go_value(str(r.get('name') or ''))}}}")


class WriteGuard(Protocol):
    """Upstream's policy-based RBAC storage: escalation and bind checks on writes.

    ``check`` raises :class:`~apiserver.api.errors.ApiError` (403, or 404 for a
    binding's missing role) when the requester may not make the write of a Role,
    ClusterRole or binding (``info``); ``old`` is None on create.
    """

    def check(self, info: ResourceInfo, new: dict[str, Any],
              old: dict[str, Any] | None) -> None: ...


class _GuardedStrategy(TableStrategy):
    """The RBAC kinds: path-segment names and, with RBAC on, the write guard."""

    #: Escalation and bind checks, when RBAC authorization is on (set by the server).
    guard: WriteGuard | None = None

    def name_errors(self, name: str) -> list[str]:
        return c.path_segment_name_errors(name)

    def authorize_write(self, new: dict[str, Any], old: dict[str, Any] | None) -> None:
        if self.guard is not None:
            self.guard.check(self.info, new, old)


class RoleStrategy(_GuardedStrategy):
    """Roles and ClusterRoles (non-resource URLs only in cluster-scoped rules)."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_role(obj, self.info.namespaced)


class BindingStrategy(_GuardedStrategy):
    """RoleBindings and ClusterRoleBindings: ``roleRef`` may not change."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_binding(obj, self.info.namespaced)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        causes = self.validate(new)
        if new.get("roleRef") != old.get("roleRef"):
            causes.append(c.invalid("roleRef", _go_role_ref(new.get("roleRef")),
                                    "cannot change roleRef"))
        return causes

