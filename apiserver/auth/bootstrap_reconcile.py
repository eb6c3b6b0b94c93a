"""Reconcile the bootstrap RBAC policy at apiserver start (upstream ``rbac/bootstrap-roles``).

For every bootstrap ClusterRole and ClusterRoleBinding
(:mod:`apiserver.auth.bootstrap_roles`, :mod:`apiserver.auth.bootstrap_controllers`,
:mod:`apiserver.auth.bootstrap_kubemu`) and Role and RoleBinding in ``kube-system`` and
``kube-public`` (:mod:`apiserver.auth.bootstrap_namespaced`), as
upstream's ``reconciliation.ReconcileRoleOptions`` with ``RemoveExtraPermissions=false``:

* a missing object is created;
* an existing one whose ``rbac.authorization.kubernetes.io/autoupdate`` annotation is
  ``"false"`` is left alone;
* otherwise the expected labels and annotations are merged in (existing values win), the
  rules it lacks are appended (as upstream, broken down into single-verb rules), missing
  aggregation selectors are added, and missing binding subjects appended. Whatever a user
  added stays. A binding whose ``roleRef`` differs is deleted and created again.

The writes are the server's own, made as upstream's loopback identity
(``system:apiserver`` in ``system:masters``).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Coroutine
from contextlib import contextmanager
from typing import Any

from apiserver.api import errors
from apiserver.api.resources import served
from apiserver.api.user import MASTERS_GROUP, REQUEST_USER, UserInfo
from apiserver.auth.bootstrap_controllers import CONTROLLER_ROLE_BINDINGS, CONTROLLER_ROLES
from apiserver.auth.bootstrap_kubemu import CLUSTER_ROLE_BINDINGS, KUBEMU_ROLES, BindingRow
from apiserver.auth.bootstrap_namespaced import NAMESPACE_ROLE_BINDINGS, NAMESPACE_ROLES
from apiserver.auth.bootstrap_roles import AGGREGATE_TO, CLUSTER_ROLES, RoleRow
from apiserver.auth.rbac_rules import covers
from apiserver.registry.registry import Registry
from apiserver.registry.store import DeleteOptions, Store

log = logging.getLogger(__name__)

GROUP = "rbac.authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
LOOPBACK_USER = UserInfo("system:apiserver", groups=(MASTERS_GROUP,))

__all__ = ["expected_binding", "expected_role", "reconcile_binding", "reconcile_policy",
           "reconcile_role"]


def _metadata(name: str, labels: dict[str, str], namespace: str) -> dict[str, Any]:
    return {"name": name, **({"namespace": namespace} if namespace else {}),
            "labels": {**BOOTSTRAP_LABELS, **labels}, "annotations": {AUTOUPDATE: "true"}}


def expected_role(row: RoleRow) -> dict[str, Any]:
    """The ClusterRole (or Role) a bootstrap row describes."""
    role: dict[str, Any] = {"apiVersion": API_VERSION,
                            "kind": "Role" if row.namespace else "ClusterRole",
                            "metadata": _metadata(row.name, row.labels, row.namespace)}
    if row.aggregate_from:
        role["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {AGGREGATE_TO + target: "true"}} for target in row.aggregate_from]}
    role["rules"] = copy.deepcopy(list(row.rules))
    return role


def expected_binding(row: BindingRow) -> dict[str, Any]:
    """The ClusterRoleBinding (or RoleBinding of a Role) a bootstrap row describes."""
    subjects = []
    for kind, name, *namespace in row.subjects:
        subject = {"kind": kind, "name": name}
        if kind == "ServiceAccount":
            subject["namespace"] = namespace[0]
        else:
            subject["apiGroup"] = GROUP
        subjects.append(subject)
    binding: dict[str, Any] = {
        "apiVersion": API_VERSION, "kind": "RoleBinding" if row.namespace else
        "ClusterRoleBinding", "metadata": _metadata(row.name, {}, row.namespace),
        "roleRef": {"apiGroup": GROUP, "kind": "Role" if row.namespace else "ClusterRole",
                    "name": row.role}}
    if subjects:
        binding["subjects"] = subjects
    return binding


def _merge_meta(current: dict[str, Any], expected: dict[str, Any]) -> None:
    md, want = current.setdefault("metadata", {}), expected["metadata"]
    for key in ("labels", "annotations"):
        merged = {**want.get(key, {}), **(md.get(key) or {})}
        if merged:
            md[key] = merged


def _protected(obj: dict[str, Any]) -> bool:
    return bool((obj["metadata"].get("annotations") or {}).get(AUTOUPDATE) == "false")


def reconcile_role(existing: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any] | None:
    """The reconciled ClusterRole, or None when nothing changes (or it is protected)."""
    if _protected(existing):
        return None
    role = copy.deepcopy(existing)
    _merge_meta(role, expected)
    missing = covers(role.get("rules") or [], expected.get("rules") or [])
    if missing:
        role["rules"] = [*(role.get("rules") or []), *missing]
    want_agg = expected.get("aggregationRule")
    have_agg = role.get("aggregationRule")
    if want_agg is None and have_agg is not None:
        del role["aggregationRule"]
    elif want_agg is not None:
        have = (have_agg or {}).get("clusterRoleSelectors") or []
        absent = [s for s in want_agg["clusterRoleSelectors"] if s not in have]
        if absent:
            role["aggregationRule"] = {"clusterRoleSelectors": [*have, *absent]}
    return None if role == existing else role


def reconcile_binding(existing: dict[str, Any],
                      expected: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """(the reconciled binding or None when unchanged, whether it must be recreated)."""
    if _protected(existing):
        return None, False
    binding = copy.deepcopy(existing)
    _merge_meta(binding, expected)
    recreate = binding.get("roleRef") != expected["roleRef"]
    if recreate:
        binding["roleRef"] = expected["roleRef"]
    have = binding.get("subjects") or []
    absent = [s for s in expected.get("subjects") or [] if s not in have]
    if absent:
        binding["subjects"] = [*have, *absent]
    return (None if binding == existing else binding), recreate


def _where(expected: dict[str, Any]) -> tuple[str | None, str]:
    md = expected["metadata"]
    return md.get("namespace"), md["name"]


async def _existing(store: Store, expected: dict[str, Any]) -> dict[str, Any] | None:
    """The stored object named like ``expected``; None after creating it when missing."""
    namespace, name = _where(expected)
    current = store.cache.get(store.key(namespace, name))
    if current is None:
        await store.create(namespace, expected)
        return None
    return current.obj


async def _reconcile_role(store: Store, row: RoleRow) -> None:
    expected = expected_role(row)
    current = await _existing(store, expected)
    if current is None:
        return
    updated = reconcile_role(current, expected)
    if updated is not None:
        log.info("reconciling bootstrap %s %s", expected["kind"], row.name)
        await store.update(row.namespace or None, row.name, updated)


async def _reconcile_binding(store: Store, row: BindingRow) -> None:
    expected = expected_binding(row)
    current = await _existing(store, expected)
    if current is None:
        return
    updated, recreate = reconcile_binding(current, expected)
    if updated is None:
        return
    log.info("reconciling bootstrap %s %s", expected["kind"], row.name)
    namespace = row.namespace or None
    if recreate:
        await store.delete(namespace, row.name, DeleteOptions())
        updated["metadata"] = {k: v for k, v in updated["metadata"].items()
                               if k in ("name", "namespace", "labels", "annotations")}
        await store.create(namespace, updated)
    else:
        await store.update(namespace, row.name, updated)


@contextmanager
def _as_loopback() -> Any:
    token = REQUEST_USER.set(LOOPBACK_USER)
    try:
        yield
    finally:
        REQUEST_USER.reset(token)


async def _all(writes: list[Coroutine[Any, Any, None]]) -> None:
    """Run ``writes`` concurrently (on a fresh store they share group commits); a 409 means
    another apiserver replica is reconciling the same object, and is left to it."""
    for result in await asyncio.gather(*writes, return_exceptions=True):
        if isinstance(result, errors.ApiError) and result.code == 409:
            log.info("bootstrap policy reconcile raced another writer: %s", result.message)
        elif isinstance(result, BaseException):
            raise result


async def reconcile_policy(registry: Registry) -> None:
    """Create or update the bootstrap ClusterRoles and ClusterRoleBindings."""
    def store(plural: str) -> Store:
        return registry.store(served(GROUP, "v1", plural))

    cluster_roles, roles = store("clusterroles"), store("roles")
    cluster_bindings, bindings = store("clusterrolebindings"), store("rolebindings")
    with _as_loopback():
        await _all([_reconcile_role(roles if row.namespace else cluster_roles, row)
                    for row in (*CLUSTER_ROLES, *CONTROLLER_ROLES, *KUBEMU_ROLES,
                                *NAMESPACE_ROLES)])
        await _all([_reconcile_binding(bindings if row.namespace else cluster_bindings, row)
                    for row in (*CLUSTER_ROLE_BINDINGS, *CONTROLLER_ROLE_BINDINGS,
                                *NAMESPACE_ROLE_BINDINGS)])
