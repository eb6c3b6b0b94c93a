"""Built-in admission plugins through the generic store, on memory storage (no HTTP)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from apiserver.admission.plugins import enabled_plugins
from apiserver.api import errors
from apiserver.api.resources import NAMESPACES, PODS, SERVICES, served
from apiserver.registry.registry import Registry
from apiserver.registry.store import DeleteOptions
from apiserver.storage.cache import WatchCache
from apiserver.storage.memory import MemoryStorage

SERVICEACCOUNTS = served("", "v1", "serviceaccounts")
LIMITRANGES = served("", "v1", "limitranges")
QUOTAS = served("", "v1", "resourcequotas")
CLAIMS = served("", "v1", "persistentvolumeclaims")
CONFIGMAPS = served("", "v1", "configmaps")
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def _run(scenario: Callable[[Registry], Awaitable[None]], plugins: str = "",
         disabled: str = "") -> None:
    async def run() -> None:
        storage = MemoryStorage()
        await storage.start()
        registry = Registry(storage, WatchCache(storage),
                            admission_plugins=enabled_plugins(plugins, disabled))
        await registry.start()
        try:
            await registry.store(SERVICEACCOUNTS).create(
                "default", {"metadata": {"name": "default"}})
            await scenario(registry)
        finally:
            await registry.stop()
            await storage.close()

    asyncio.run(run())


def _pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    containers = spec.pop("containers", [{"name": "app", "image": "nginx"}])
    return {"metadata": {"name": name}, "spec": {"containers": containers, **spec}}


async def _refused(write: Awaitable[Any]) -> errors.ApiError:
    with pytest.raises(errors.ApiError) as caught:
        await write
    return caught.value


# -- NamespaceLifecycle ----------------------------------------------------------------


def test_namespace_lifecycle() -> None:
    async def scenario(registry: Registry) -> None:
        cms = registry.store(CONFIGMAPS)
        err = await _refused(cms.create("nowhere", {"metadata": {"name": "c"}}))
        assert (err.code, err.message) == (404, 'namespaces "nowhere" not found')
        namespaces = registry.store(NAMESPACES)
        await namespaces.create(None, {"metadata": {"name": "doomed"}})
        await cms.create("doomed", {"metadata": {"name": "keep"}})
        await namespaces.delete(None, "doomed", DeleteOptions())
        err = await _refused(cms.create("doomed", {"metadata": {"generateName": "c-"}}))
        assert err.code == 403
        assert err.message == ('configmaps "c-" is forbidden: unable to create new content in '
                               "namespace doomed because it is being terminated")
        assert err.details is not None and err.details["causes"] == [{
            "type": "NamespaceTerminating", "message": "namespace doomed is being terminated",
            "field": "metadata.namespace"}]
        for immortal in ("default", "kube-system", "kube-public"):
            err = await _refused(namespaces.delete(None, immortal, DeleteOptions()))
            assert (err.code, err.message) == (
                403, f'namespaces "{immortal}" is forbidden: this namespace may not be deleted')

    _run(scenario)


# -- ServiceAccount --------------------------------------------------------------------


def test_service_account_default_and_token_volume() -> None:
    async def scenario(registry: Registry) -> None:
        created = (await registry.store(PODS).create("default", _pod(
            initContainers=[{"name": "init", "image": "busybox"}]))).obj
        spec = created["spec"]
        assert (spec["serviceAccountName"], spec["serviceAccount"]) == ("default", "default")
        volume = spec["volumes"][-1]
        assert volume["name"].startswith("kube-api-access-") and len(volume["name"]) == 21
        assert volume["projected"] == {"sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt",
                           "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ], "defaultMode": 420}
        for container in spec["containers"] + spec["initContainers"]:
            assert container["volumeMounts"] == [
                {"name": volume["name"], "readOnly": True, "mountPath": TOKEN_PATH}]

    _run(scenario)


def test_service_account_must_exist_and_may_opt_out_of_the_token() -> None:
    async def scenario(registry: Registry) -> None:
        pods = registry.store(PODS)
        err = await _refused(pods.create("default", _pod(serviceAccountName="robot")))
        assert (err.code, err.message) == (
            403, 'pods "p" is forbidden: error looking up service account default/robot: '
                 'serviceaccount "robot" not found')
        await registry.store(SERVICEACCOUNTS).create("default", {
            "metadata": {"name": "robot"}, "automountServiceAccountToken": False,
            "imagePullSecrets": [{"name": "regcred"}]})
        spec = (await pods.create("default", _pod(serviceAccount="robot"))).obj["spec"]
        assert spec["serviceAccountName"] == "robot" and "volumes" not in spec
        assert spec["imagePullSecrets"] == [{"name": "regcred"}]
        # The pod's own setting wins over the account's.
        spec = (await pods.create("default", _pod(
            "q", serviceAccountName="robot", automountServiceAccountToken=True))).obj["spec"]
        assert spec["volumes"][0]["name"].startswith("kube-api-access-")
        mirror = _pod("m", serviceAccountName="robot")
        mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "x"}
        err = await _refused(pods.create("default", mirror))
        assert err.message == ('pods "m" is forbidden: a mirror pod may not reference '
                               "service accounts")

    _run(scenario)


# -- LimitRanger -----------------------------------------------------------------------


LIMITS = {"metadata": {"name": "limits"}, "spec": {"limits": [
    {"type": "Container", "default": {"cpu": "500m", "memory": "128Mi"},
     "defaultRequest": {"cpu": "250m"}, "max": {"cpu": "1"}, "min": {"memory": "64Mi"}},
    {"type": "PersistentVolumeClaim", "max": {"storage": "2Gi"}},
]}}


def test_limit_ranger_defaults_and_annotation() -> None:
    async def scenario(registry: Registry) -> None:
        await registry.store(LIMITRANGES).create("default", LIMITS)
        pod = _pod(containers=[
            {"name": "app", "image": "nginx"},
            {"name": "side", "image": "nginx", "resources": {"limits": {"memory": "64Mi"}}}])
        created = (await registry.store(PODS).create("default", pod)).obj
        app, side = created["spec"]["containers"]
        assert app["resources"] == {"limits": {"cpu": "500m", "memory": "128Mi"},
                                    "requests": {"cpu": "250m", "memory": "128Mi"}}
        assert side["resources"] == {"limits": {"memory": "64Mi", "cpu": "500m"},
                                     "requests": {"memory": "64Mi", "cpu": "250m"}}
        assert created["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
            "LimitRanger plugin set: cpu, memory request for container app; cpu, memory "
            "limit for container app; cpu request for container side; cpu limit for "
            "container side")
        assert created["status"]["qosClass"] == "Burstable"

    _run(scenario)


def test_limit_ranger_bounds() -> None:
    async def scenario(registry: Registry) -> None:
        await registry.store(LIMITRANGES).create("default", LIMITS)
        pods = registry.store(PODS)
        big = _pod(containers=[{"name": "app", "image": "nginx", "resources": {
            "limits": {"cpu": "2", "memory": "32Mi"}}}])
        err = await _refused(pods.create("default", big))
        assert (err.code, err.message) == (403, (
            'pods "p" is forbidden: [minimum memory usage per Container is 64Mi, but request '
            "is 32Mi, maximum cpu usage per Container is 1, but limit is 2]"))
        claim = {"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}}}
        err = await _refused(registry.store(CLAIMS).create("default", claim))
        assert err.message == ('persistentvolumeclaims "data" is forbidden: maximum storage '
                               "usage per PersistentVolumeClaim is 2Gi, but request is 5Gi")
        ratio = {"metadata": {"name": "ratio"}, "spec": {"limits": [
            {"type": "Pod", "maxLimitRequestRatio": {"cpu": "2"}}]}}
        await registry.store(LIMITRANGES).create("default", ratio)
        err = await _refused(pods.create("default", _pod("r", containers=[
            {"name": "app", "image": "nginx", "resources": {
                "requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1"}}}])))
        assert err.message == ('pods "r" is forbidden: cpu max limit to request ratio per Pod '
                               "is 2, but provided ratio is 10.000000")

    _run(scenario)


# -- ResourceQuota ---------------------------------------------------------------------


async def _quota(registry: Registry, hard: dict[str, str], name: str = "q",
                 used: dict[str, str] | None = None, **spec: Any) -> None:
    quotas = registry.store(QUOTAS)
    await quotas.create("default", {"metadata": {"name": name},
                                    "spec": {"hard": hard, **spec}})

    def counted(obj: dict[str, Any]) -> dict[str, Any]:
        obj["status"] = {"hard": hard, "used": used if used is not None
                         else dict.fromkeys(hard, "0")}
        return obj

    await quotas.guaranteed_update("default", name, counted, subresource="status")


def test_resource_quota_charges_and_refuses() -> None:
    async def scenario(registry: Registry) -> None:
        await _quota(registry, {"pods": "2", "requests.cpu": "1", "requests.memory": "1Gi"})
        pods = registry.store(PODS)
        res = {"requests": {"cpu": "400m", "memory": "256Mi"}}
        for name in ("a", "b"):
            await pods.create("default", _pod(name, containers=[
                {"name": "app", "image": "nginx", "resources": res}]))
        quota = (await registry.store(QUOTAS).get("default", "q")).obj
        assert quota["status"]["used"] == {"pods": "2", "requests.cpu": "800m",
                                           "requests.memory": "512Mi"}
        err = await _refused(pods.create("default", {"metadata": {"generateName": "c-"},
                                                     "spec": {"containers": [
            {"name": "app", "image": "nginx", "resources": res}]}}))
        # Validating admission sees the generated name, as upstream's store runs it after
        # BeforeCreate.
        assert err.code == 403 and re.fullmatch(
            'pods "c-[a-z0-9]{5}" is forbidden: exceeded quota: q, requested: pods=1,'
            r"requests\.cpu=400m, used: pods=2,requests\.cpu=800m, limited: pods=2,"
            r"requests\.cpu=1", err.message), err.message
        err = await _refused(pods.create("default", _pod("d")))
        assert err.message == ('pods "d" is forbidden: failed quota: q: must specify '
                               "requests.cpu for: app; requests.memory for: app")

    _run(scenario, disabled="LimitRanger")


def test_resource_quota_dry_run_scopes_and_services() -> None:
    async def scenario(registry: Registry) -> None:
        await _quota(registry, {"services": "5", "services.nodeports": "2"}, "svc")
        await _quota(registry, {"pods": "1"}, "besteffort", scopes=["BestEffort"])
        pods = registry.store(PODS)
        await pods.create("default", _pod("a"), dry_run=True)
        await pods.create("default", _pod("a"))
        guaranteed = _pod("g", containers=[{"name": "app", "image": "nginx", "resources": {
            "limits": {"cpu": "1", "memory": "1Gi"}}}])
        await pods.create("default", guaranteed)  # outside the BestEffort scope
        err = await _refused(pods.create("default", _pod("b")))
        assert "exceeded quota: besteffort, requested: pods=1, used: pods=1, limited: pods=1" \
            in err.message
        services = registry.store(SERVICES)
        node_port: dict[str, Any] = {"metadata": {"name": "np"}, "spec": {
            "type": "NodePort",
            "ports": [{"name": f"p{p}", "port": p} for p in (80, 81, 82)]}}
        err = await _refused(services.create("default", node_port))
        assert err.message == (
            'services "np" is forbidden: exceeded quota: svc, requested: services.nodeports=3,'
            " used: services.nodeports=0, limited: services.nodeports=2")
        node_port["spec"]["ports"] = node_port["spec"]["ports"][:2]
        await services.create("default", node_port)
        used = (await registry.store(QUOTAS).get("default", "svc")).obj["status"]["used"]
        assert used == {"services": "1", "services.nodeports": "2"}

    _run(scenario)


def test_resource_quota_not_yet_counted() -> None:
    async def scenario(registry: Registry) -> None:
        await _quota(registry, {"configmaps": "3", "count/secrets": "1"}, used={})
        err = await _refused(registry.store(CONFIGMAPS).create(
            "default", {"metadata": {"name": "c"}}))
        assert err.message == ('configmaps "c" is forbidden: status unknown for quota: q, '
                               "resources: configmaps")
        # A quota whose status.hard is not set yet restricts nothing.
        await registry.store(QUOTAS).create("default", {
            "metadata": {"name": "fresh"}, "spec": {"hard": {"count/leases.coordination.k8s.io":
                                                             "0"}}})
        await registry.store(served("coordination.k8s.io", "v1", "leases")).create(
            "default", {"metadata": {"name": "l"}, "spec": {}})

    _run(scenario)


# -- The chain's per-route plugin lists and the decoded-object memo --------------------


def test_plugins_join_when_their_configuration_appears_and_leave_when_it_goes() -> None:
    async def scenario(registry: Registry) -> None:
        pods = registry.store(PODS)
        plain = (await pods.create("default", _pod("before"))).obj
        assert not plain["spec"]["containers"][0].get("resources")
        await registry.store(LIMITRANGES).create("default", LIMITS)
        limited = (await pods.create("default", _pod("during"))).obj
        assert limited["spec"]["containers"][0]["resources"]["limits"] == {
            "cpu": "500m", "memory": "128Mi"}
        await registry.store(LIMITRANGES).delete("default", "limits", DeleteOptions())
        after = (await pods.create("default", _pod("after"))).obj
        assert not after["spec"]["containers"][0].get("resources")
        await _quota(registry, {"pods": "0"})
        err = await _refused(pods.create("default", _pod("fourth")))
        assert err.code == 403 and "exceeded quota: q" in err.message

    _run(scenario)


def test_cached_reads_decode_once_per_revision() -> None:
    async def scenario(registry: Registry) -> None:
        source = registry.admission.source
        assert source is not None
        first = source.cached(SERVICEACCOUNTS, "default", "default")
        assert first is not None
        assert source.cached(SERVICEACCOUNTS, "default", "default") is first
        assert source.cached_list(SERVICEACCOUNTS, "default") == [first]
        assert source.cached_list(SERVICEACCOUNTS, "default")[0] is first
        await registry.store(SERVICEACCOUNTS).update(
            "default", "default", {**first, "automountServiceAccountToken": False})
        second = source.cached(SERVICEACCOUNTS, "default", "default")
        assert second is not None and second is not first
        assert second["automountServiceAccountToken"] is False
        assert "automountServiceAccountToken" not in first
        assert not source.populated(LIMITRANGES) and source.populated(SERVICEACCOUNTS)

    _run(scenario)
