"""The RBAC authorizer, escalation checks and bootstrap reconcile over a real registry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from apiserver.api import errors
from apiserver.api.resources import served
from apiserver.api.user import REQUEST_USER, UserInfo
from apiserver.auth.authorization import Authorization, build_authorization
from apiserver.auth.bootstrap_kubemu import KUBEMU_ROLES
from apiserver.auth.bootstrap_reconcile import (
    AUTOUPDATE,
    expected_role,
    reconcile_policy,
    reconcile_role,
)
from apiserver.auth.bootstrap_roles import CLUSTER_ROLES
from apiserver.registry.registry import Registry
from apiserver.registry.reviews import Attributes
from apiserver.registry.store import DeleteOptions, Store
from apiserver.storage.cache import WatchCache
from apiserver.storage.memory import MemoryStorage

G = "rbac.authorization.k8s.io"
SA = UserInfo("system:serviceaccount:ns:robot",
              groups=("system:serviceaccounts", "system:serviceaccounts:ns",
                      "system:authenticated"))
ADMIN = UserInfo("kubernetes-admin", groups=("system:masters", "system:authenticated"))
ANON = UserInfo("system:anonymous", groups=("system:unauthenticated",))


@asynccontextmanager
async def _server(modes: tuple[str, ...] = ("RBAC",)) -> AsyncIterator[
        tuple[Registry, Authorization]]:
    storage = MemoryStorage()
    registry = Registry(storage, WatchCache(storage))
    await storage.start()
    await registry.start()
    await reconcile_policy(registry)
    await registry.namespaces.create(None, {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "ns"}})
    authz = build_authorization(modes, registry)
    try:
        yield registry, authz
    finally:
        await registry.stop()


def _run(scenario: Callable[[Registry, Authorization], Awaitable[None]]) -> None:
    async def main() -> None:
        REQUEST_USER.set(ADMIN)  # the test's own writes are an admin's, unless it says
        async with _server() as (registry, authz):
            await scenario(registry, authz)
    asyncio.run(main())


def _store(registry: Registry, plural: str) -> Store:
    return registry.store(served(G, "v1", plural))


def _role(name: str, rules: list[dict[str, Any]], namespace: str = "") -> dict[str, Any]:
    md = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{G}/v1", "kind": "Role" if namespace else "ClusterRole",
            "metadata": md, "rules": rules}


def _binding(name: str, role_kind: str, role: str, subjects: list[dict[str, Any]],
             namespace: str = "") -> dict[str, Any]:
    md = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{G}/v1", "kind": "RoleBinding" if namespace else
            "ClusterRoleBinding", "metadata": md, "subjects": subjects,
            "roleRef": {"apiGroup": G, "kind": role_kind, "name": role}}


def _can(authz: Authorization, user: UserInfo, verb: str, resource: str,
         namespace: str = "ns", group: str = "", name: str = "") -> bool:
    return authz.authorizer.authorize(Attributes(user, verb=verb, resource=resource,
                                                 api_group=group, namespace=namespace,
                                                 name=name)).allowed


def _path(authz: Authorization, user: UserInfo, path: str) -> bool:
    return authz.authorizer.authorize(Attributes(user, verb="get", resource_request=False,
                                                 path=path)).allowed


POD_READER = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]


def test_bootstrap_policy_decisions() -> None:
    async def scenario(registry: Registry, authz: Authorization) -> None:
        names = {o.name for o in _store(registry, "clusterroles").cache.objects()}
        assert {"cluster-admin", "admin", "edit", "view", "system:node-proxier",
                "system:kubemu:endpoints-controller",
                "system:controller:generic-garbage-collector"} <= names
        # upstream's, its controllers', kubemu's (one per kubemu component with a role)
        assert len(names) == 31 + 35 + len(KUBEMU_ROLES)
        namespaced = sorted((o.namespace, o.name)
                            for o in _store(registry, "roles").cache.objects())
        assert len(namespaced) == 7 and ("kube-public", "system:controller:bootstrap-signer") \
            in namespaced
        sched = UserInfo("system:kube-scheduler", groups=("system:authenticated",))
        assert _can(authz, sched, "get", "configmaps", namespace="kube-system",
                    name="extension-apiserver-authentication")
        assert not _can(authz, sched, "get", "configmaps", namespace="kube-system", name="x")
        gc = UserInfo("system:serviceaccount:kube-system:generic-garbage-collector",
                      groups=("system:serviceaccounts", "system:serviceaccounts:kube-system"))
        assert _can(authz, gc, "delete", "widgets", group="example.com")
        assert _can(authz, ADMIN, "delete", "nodes", namespace="")
        assert _path(authz, ANON, "/healthz") and _path(authz, ANON, "/version")
        assert not _path(authz, ANON, "/api")
        assert _path(authz, SA, "/apis/apps/v1") and _path(authz, SA, "/openapi/v3")
        assert not _path(authz, SA, "/metrics")
        assert _can(authz, SA, "create", "selfsubjectaccessreviews", namespace="",
                    group="authorization.k8s.io")
        assert not _can(authz, SA, "list", "pods")
        proxy = UserInfo("system:kube-proxy", groups=("system:authenticated",))
        assert _can(authz, proxy, "watch", "endpointslices", namespace="",
                    group="discovery.k8s.io")
        assert not _can(authz, proxy, "create", "services")
        kcm = UserInfo("system:kube-controller-manager", groups=("system:authenticated",))
        assert _can(authz, kcm, "create", "pods") and _can(authz, kcm, "delete", "replicasets",
                                                           group="apps")
        assert _can(authz, kcm, "update", "leases", group="coordination.k8s.io",
                    namespace="kube-system", name="kube-controller-manager")
        ep = UserInfo("system:kubemu:endpoints-controller", groups=("system:authenticated",))
        assert _can(authz, ep, "update", "endpoints")
        assert not _can(authz, ep, "delete", "pods")
        cluster_dns = UserInfo("system:kubemu:dns", groups=("system:authenticated",))
        assert _can(authz, cluster_dns, "watch", "endpointslices", group="discovery.k8s.io",
                    namespace="")
        assert _can(authz, cluster_dns, "list", "namespaces", namespace="")
        assert not _can(authz, cluster_dns, "get", "services", namespace="kube-system",
                        name="kube-dns")
        assert not _can(authz, cluster_dns, "list", "secrets", namespace="")
        decision = authz.authorizer.authorize(Attributes(kcm, verb="list", resource="pods",
                                                         namespace="ns"))
        assert decision.reason == ('RBAC: allowed by ClusterRoleBinding '
                                   '"system:kube-controller-manager" of ClusterRole '
                                   '"system:kube-controller-manager" to User '
                                   '"system:kube-controller-manager"')
    _run(scenario)


def test_role_binding_to_a_service_account() -> None:
    async def scenario(registry: Registry, authz: Authorization) -> None:
        await _store(registry, "roles").create("ns", _role("pod-reader", POD_READER, "ns"))
        await _store(registry, "rolebindings").create("ns", _binding(
            "read-pods", "Role", "pod-reader", [{"kind": "ServiceAccount", "name": "robot"}],
            "ns"))
        assert _can(authz, SA, "list", "pods") and _can(authz, SA, "get", "pods", name="p")
        assert not _can(authz, SA, "create", "pods")
        assert not _can(authz, SA, "list", "pods", namespace="other")
        decision = authz.authorizer.authorize(Attributes(SA, verb="get", resource="pods",
                                                         namespace="ns"))
        assert decision.reason == ('RBAC: allowed by RoleBinding "read-pods/ns" of Role '
                                   '"pod-reader" to ServiceAccount "robot/ns"')
        rules = authz.authorizer.rules_for(SA, "ns")
        assert {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]} in \
            rules.resource_rules
        assert not rules.incomplete and not rules.evaluation_error
        # a binding to a role that does not exist: denied with upstream's reason
        await _store(registry, "rolebindings").create("ns", _binding(
            "ghost", "ClusterRole", "missing",
            [{"kind": "Group", "name": "system:serviceaccounts"}], "ns"))
        denied = authz.authorizer.authorize(Attributes(SA, verb="delete", resource="pods",
                                                       namespace="ns"))
        assert not denied.allowed
        assert denied.reason == 'RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found'
        assert authz.authorizer.rules_for(SA, "ns").evaluation_error == \
            'clusterrole.rbac.authorization.k8s.io "missing" not found'
        # deleting the binding revokes at once
        await _store(registry, "rolebindings").delete("ns", "read-pods", DeleteOptions())
        assert not _can(authz, SA, "list", "pods")
    _run(scenario)


def _as(user: UserInfo) -> Any:
    return REQUEST_USER.set(user)


def test_escalation_checks_on_roles() -> None:
    async def scenario(registry: Registry, authz: Authorization) -> None:
        # the robot may manage Roles in ns and read pods, nothing else
        manager = [*POD_READER, {"apiGroups": [G], "resources": ["roles", "rolebindings"],
                                 "verbs": ["create", "update", "get"]}]
        with_token = _as(ADMIN)
        await _store(registry, "roles").create("ns", _role("manager", manager, "ns"))
        await _store(registry, "rolebindings").create("ns", _binding(
            "manager", "Role", "manager", [{"kind": "ServiceAccount", "name": "robot"}], "ns"))
        REQUEST_USER.reset(with_token)
        token = _as(SA)
        try:
            await _store(registry, "roles").create("ns", _role("ok", POD_READER, "ns"))
            with pytest.raises(errors.ApiError) as caught:
                await _store(registry, "roles").create("ns", _role("more", [
                    {"apiGroups": [""], "resources": ["pods", "secrets"],
                     "verbs": ["get", "delete"]}], "ns"))
            assert caught.value.code == 403
            assert caught.value.message == (
                'roles.rbac.authorization.k8s.io "more" is forbidden: user '
                '"system:serviceaccount:ns:robot" (groups=["system:serviceaccounts" '
                '"system:serviceaccounts:ns" "system:authenticated"]) is attempting to grant '
                'RBAC permissions not currently held:\n'
                '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n'
                '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}')
            # binding a role whose rules the requester holds is fine; a wider one is not
            await _store(registry, "rolebindings").create("ns", _binding(
                "ok", "Role", "ok", [{"kind": "User", "name": "bob", "apiGroup": G}], "ns"))
            with pytest.raises(errors.ApiError) as caught:
                await _store(registry, "rolebindings").create("ns", _binding(
                    "proxier", "ClusterRole", "system:node-proxier",
                    [{"kind": "User", "name": "bob", "apiGroup": G}], "ns"))
            assert caught.value.code == 403
            assert caught.value.message.startswith(
                'rolebindings.rbac.authorization.k8s.io "proxier" is forbidden: user '
                '"system:serviceaccount:ns:robot"')
            with pytest.raises(errors.ApiError) as caught:
                await _store(registry, "rolebindings").create("ns", _binding(
                    "nope", "Role", "nope", [{"kind": "User", "name": "bob", "apiGroup": G}],
                    "ns"))
            assert caught.value.code == 404
            assert caught.value.message == 'role.rbac.authorization.k8s.io "nope" not found'
        finally:
            REQUEST_USER.reset(token)
        # with ``escalate`` and ``bind`` granted, both go through
        token = _as(ADMIN)
        await _store(registry, "roles").create("ns", _role("escalator", [
            {"apiGroups": [G], "resources": ["roles"], "verbs": ["escalate"]},
            {"apiGroups": [G], "resources": ["clusterroles"], "verbs": ["bind"],
             "resourceNames": ["system:node-proxier"]}], "ns"))
        await _store(registry, "rolebindings").create("ns", _binding(
            "escalator", "Role", "escalator", [{"kind": "ServiceAccount", "name": "robot"}],
            "ns"))
        REQUEST_USER.reset(token)
        token = _as(SA)
        try:
            await _store(registry, "roles").create("ns", _role("more", [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}], "ns"))
            await _store(registry, "rolebindings").create("ns", _binding(
                "proxier", "ClusterRole", "system:node-proxier",
                [{"kind": "User", "name": "bob", "apiGroup": G}], "ns"))
        finally:
            REQUEST_USER.reset(token)
    _run(scenario)


def test_reconcile_keeps_user_additions_and_protected_roles() -> None:
    view = next(r for r in CLUSTER_ROLES if r.name == "system:aggregate-to-view")
    expected = expected_role(view)
    existing = {**expected, "metadata": {**expected["metadata"], "labels": {"mine": "x"}},
                "rules": [*expected["rules"][1:],
                          {"apiGroups": ["example.com"], "resources": ["widgets"],
                           "verbs": ["get"]}]}
    updated = reconcile_role(existing, expected)
    assert updated is not None
    assert updated["metadata"]["labels"] == {
        "kubernetes.io/bootstrapping": "rbac-defaults",
        "rbac.authorization.k8s.io/aggregate-to-view": "true", "mine": "x"}
    rules = updated["rules"]
    assert {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]} in rules
    # the removed first rule comes back broken down into single-verb rules
    assert {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["watch"]} in rules
    assert reconcile_role(updated, expected) is None
    protected = {**existing, "metadata": {**existing["metadata"],
                                          "annotations": {AUTOUPDATE: "false"}}}
    assert reconcile_role(protected, expected) is None


def test_reconcile_at_restart_restores_rules() -> None:
    async def main() -> None:
        storage = MemoryStorage()
        registry = Registry(storage, WatchCache(storage))
        await storage.start()
        await registry.start()
        await reconcile_policy(registry)
        roles = _store(registry, "clusterroles")
        current = roles.cache.get(roles.key(None, "system:basic-user"))
        assert current is not None
        trimmed = {**current.obj, "rules": current.obj["rules"][:1]}
        await roles.update(None, "system:basic-user", trimmed)
        revision = registry.watch_cache.revision
        await reconcile_policy(registry)
        again = roles.cache.get(roles.key(None, "system:basic-user"))
        assert again is not None and len(again.obj["rules"]) == 2
        # a second reconcile with nothing to do writes nothing
        revision = registry.watch_cache.revision
        await reconcile_policy(registry)
        assert registry.watch_cache.revision == revision
        await registry.stop()
    asyncio.run(main())


def _user(name: str, *groups: str) -> UserInfo:
    return UserInfo(name, groups=(*groups, "system:authenticated"))


#: What each kubemu component calls (read from controllers/*), with the identity kubemu up
#: gives it: (user, verb, group, resource, subresource, namespace, name).
KCM = _user("system:kube-controller-manager")
EP = _user("system:kubemu:endpoints-controller")
LB = _user("system:kubemu:service-lb")
SCHED = _user("system:kube-scheduler")
PROXY = _user("system:kube-proxy")
CONSOLE = _user("system:kubemu:console")
COMPONENT_CALLS: list[tuple[UserInfo, str, str, str, str, str, str]] = [
    *[(KCM, verb, g, r, "", "", "") for verb in ("list", "watch") for g, r in (
        ("", "pods"), ("", "nodes"), ("", "namespaces"), ("apps", "deployments"),
        ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"),
        ("apps", "controllerrevisions"), ("batch", "jobs"), ("batch", "cronjobs"),
        ("policy", "poddisruptionbudgets"), (G, "clusterroles"), ("", "serviceaccounts"))],
    (KCM, "create", "", "pods", "", "ns", ""), (KCM, "delete", "", "pods", "", "ns", "p"),
    (KCM, "patch", "", "pods", "", "ns", "p"), (KCM, "patch", "", "pods", "status", "ns", "p"),
    (KCM, "create", "", "serviceaccounts", "", "ns", ""),
    (KCM, "create", "", "persistentvolumeclaims", "", "ns", ""),
    (KCM, "patch", "", "persistentvolumeclaims", "", "ns", "c"),
    (KCM, "create", "apps", "replicasets", "", "ns", ""),
    (KCM, "update", "apps", "replicasets", "status", "ns", "r"),
    (KCM, "delete", "apps", "replicasets", "", "ns", "r"),
    (KCM, "update", "apps", "deployments", "status", "ns", "d"),
    (KCM, "update", "apps", "statefulsets", "status", "ns", "s"),
    (KCM, "update", "apps", "daemonsets", "status", "ns", "s"),
    (KCM, "create", "apps", "controllerrevisions", "", "ns", ""),
    (KCM, "delete", "apps", "controllerrevisions", "", "ns", "r"),
    (KCM, "create", "batch", "jobs", "", "ns", ""), (KCM, "delete", "batch", "jobs", "", "ns", "j"),
    (KCM, "update", "batch", "jobs", "status", "ns", "j"),
    (KCM, "update", "batch", "cronjobs", "status", "ns", "c"),
    (KCM, "update", "policy", "poddisruptionbudgets", "status", "ns", "b"),
    (KCM, "update", "", "nodes", "status", "", "n"), (KCM, "patch", "", "nodes", "", "", "n"),
    (KCM, "delete", "example.com", "widgets", "", "ns", "w"),
    (KCM, "update", G, "clusterroles", "", "", "view"),
    (KCM, "create", "", "events", "", "ns", ""),
    (KCM, "create", "coordination.k8s.io", "leases", "", "kube-system", ""),
    (KCM, "update", "coordination.k8s.io", "leases", "", "kube-system",
     "kube-controller-manager"),
    *[(EP, verb, "", r, "", "", "") for verb in ("list", "watch") for r in
      ("pods", "services", "endpoints")],
    (EP, "list", "discovery.k8s.io", "endpointslices", "", "", ""),
    *[(EP, verb, "", "endpoints", "", "ns", "e") for verb in ("update", "delete")],
    (EP, "create", "discovery.k8s.io", "endpointslices", "", "ns", ""),
    (EP, "delete", "discovery.k8s.io", "endpointslices", "", "ns", "s"),
    (EP, "update", "coordination.k8s.io", "leases", "", "kube-system",
     "kubemu-endpoints-controller"),
    (LB, "watch", "", "services", "", "", ""), (LB, "update", "", "services", "status", "ns", "s"),
    (LB, "create", "", "events", "", "ns", ""), (LB, "patch", "", "events", "", "ns", "e"),
    (LB, "update", "coordination.k8s.io", "leases", "", "kube-system", "service-lb"),
    (SCHED, "watch", "", "pods", "", "", ""), (SCHED, "list", "", "nodes", "", "", ""),
    (SCHED, "create", "", "pods", "binding", "ns", "p"),
    (SCHED, "patch", "", "pods", "status", "ns", "p"),
    (SCHED, "create", "", "events", "", "ns", ""),
    (SCHED, "update", "coordination.k8s.io", "leases", "", "kube-system", "kube-scheduler"),
    (PROXY, "watch", "", "services", "", "", ""), (PROXY, "watch", "", "endpoints", "", "", ""),
    (PROXY, "list", "discovery.k8s.io", "endpointslices", "", "", ""),
    (PROXY, "create", "", "events", "", "ns", ""),
    *[(CONSOLE, verb, g, r, "", "", "") for verb in ("list", "watch") for g, r in (
        ("", "namespaces"), ("", "services"), ("", "pods"), ("", "nodes"),
        ("discovery.k8s.io", "endpointslices"))],
    (CONSOLE, "get", "", "pods", "", "ns", "p"), (CONSOLE, "get", "", "nodes", "", "", "n"),
]


def test_every_component_may_make_its_calls() -> None:
    async def scenario(registry: Registry, authz: Authorization) -> None:
        refused = [call for call in COMPONENT_CALLS if not authz.authorizer.authorize(
            Attributes(call[0], verb=call[1], api_group=call[2], resource=call[3],
                       subresource=call[4], namespace=call[5], name=call[6])).allowed]
        assert refused == []
        # least privilege: none of them may touch secrets or RBAC beyond the above
        for user in (EP, LB, SCHED, PROXY, CONSOLE):
            assert not _can(authz, user, "get", "secrets", name="s")
            assert not _can(authz, user, "create", "rolebindings", group=G)
        # the console only reads
        for verb in ("create", "update", "patch", "delete"):
            assert not _can(authz, CONSOLE, verb, "pods", name="p")
    _run(scenario)


def test_an_aggregation_rule_needs_cluster_admin() -> None:
    async def scenario(registry: Registry, authz: Authorization) -> None:
        await _store(registry, "clusterroles").create(None, _role("role-writer", [
            {"apiGroups": [G], "resources": ["clusterroles"], "verbs": ["create", "update"]}]))
        await _store(registry, "clusterrolebindings").create(None, _binding(
            "role-writer", "ClusterRole", "role-writer", [{"kind": "User", "name": "ann",
                                                          "apiGroup": G}]))
        token = _as(UserInfo("ann", groups=("system:authenticated",)))
        try:
            aggregated = {**_role("gather", []), "aggregationRule": {"clusterRoleSelectors": [
                {"matchLabels": {"x": "y"}}]}}
            with pytest.raises(errors.ApiError) as caught:
                await _store(registry, "clusterroles").create(None, aggregated)
            assert (caught.value.code, caught.value.message) == (
                403, 'clusterroles.rbac.authorization.k8s.io "gather" is forbidden: must have '
                     "cluster-admin privileges to use an aggregationRule")
            await _store(registry, "clusterroles").create(None, _role("plain", []))
        finally:
            REQUEST_USER.reset(token)
    _run(scenario)
