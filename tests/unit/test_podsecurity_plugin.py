"""The PodSecurity admission plugin without HTTP: enforce, warn and audit per namespace
labels, pod templates, updates, namespace label validation and the warnings of a tightened
enforce level, with upstream's words."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from apiserver.admission import AdmissionAttributes, Operation
from apiserver.admission.podsecurity import Exemptions, PodSecurity
from apiserver.admission.podsecurity.existing import existing_pod_warnings
from apiserver.admission.podsecurity.levels import LATEST, Level, LevelVersion
from apiserver.admission.podsecurity.plugin import significant_pod_update
from apiserver.api import errors
from apiserver.api.resources import NAMESPACES, PODS, ResourceInfo, served
from apiserver.api.warnings import collect

DEPLOYMENTS = served("apps", "v1", "deployments")
CRONJOBS = served("batch", "v1", "cronjobs")
CONFIGMAPS = served("", "v1", "configmaps")
PREFIX = "pod-security.kubernetes.io/"

PRIVILEGED_POD = {"metadata": {"name": "priv"}, "spec": {"containers": [
    {"name": "priv", "image": "nginx", "securityContext": {"privileged": True}}]}}
RESTRICTED_DETAIL = (
    'privileged (container "priv" must not set securityContext.privileged=true), '
    'allowPrivilegeEscalation != false (container "priv" must set '
    "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "
    '"priv" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
    'container "priv" must set securityContext.runAsNonRoot=true), seccompProfile (pod or '
    'container "priv" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
    '"Localhost")')
RESTRICTED_REASONS = ("privileged, allowPrivilegeEscalation != false, unrestricted "
                      "capabilities, runAsNonRoot != true, seccompProfile")


class Source:
    """Namespaces and pods as the watch cache would hold them."""

    def __init__(self, labels: dict[str, str] | None = None,
                 pods: Sequence[dict[str, Any]] = ()) -> None:
        self.namespace = {"metadata": {"name": "ns", "labels": labels or {}}}
        self.pods = list(pods)
        self.lookups = 0

    def cached(self, info: ResourceInfo, namespace: str, name: str) -> dict[str, Any] | None:
        assert info is NAMESPACES
        self.lookups += 1
        return self.namespace if name == "ns" else None

    async def live(self, info: ResourceInfo, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    def cached_list(self, info: ResourceInfo, namespace: str) -> Sequence[dict[str, Any]]:
        assert info is PODS and namespace == "ns"
        return self.pods


def _run(plugin: PodSecurity, attrs: AdmissionAttributes) -> list[str]:
    warnings: list[str] = []

    async def go() -> None:
        collect(warnings)
        await plugin.validate(attrs)

    asyncio.run(go())
    return warnings


def _attrs(info: ResourceInfo, obj: dict[str, Any] | None, op: Operation = Operation.CREATE,
           old: dict[str, Any] | None = None, subresource: str = "",
           namespace: str = "ns") -> AdmissionAttributes:
    name = str(((obj or old or {}).get("metadata") or {}).get("name") or "")
    return AdmissionAttributes(info=info, operation=op, namespace=namespace, name=name,
                               object=obj, old_object=old, subresource=subresource)


def _plugin(labels: dict[str, str] | None = None, **kwargs: Any) -> tuple[PodSecurity, Source]:
    source = Source(labels, **kwargs)
    return PodSecurity(source), source  # type: ignore[arg-type]


ENFORCE_RESTRICTED = {PREFIX + "enforce": "restricted"}


def test_an_unlabelled_namespace_admits_everything_with_one_cached_lookup() -> None:
    plugin, source = _plugin({"kubernetes.io/metadata.name": "ns"})
    attrs = _attrs(PODS, PRIVILEGED_POD)
    assert _run(plugin, attrs) == []
    assert attrs.audit_annotations == {PREFIX + "enforce-policy": "privileged:latest"}
    assert source.lookups == 1
    assert _run(plugin, _attrs(DEPLOYMENTS, {"spec": {"template": PRIVILEGED_POD}})) == []


def test_enforce_refuses_with_upstreams_message() -> None:
    plugin, _ = _plugin({**ENFORCE_RESTRICTED, PREFIX + "warn": "restricted"})
    attrs = _attrs(PODS, PRIVILEGED_POD)
    warnings: list[str] = []

    async def go() -> None:
        collect(warnings)
        await plugin.validate(attrs)

    with pytest.raises(errors.ApiError) as caught:
        asyncio.run(go())
    assert caught.value.code == 403 and caught.value.reason == "Forbidden"
    assert caught.value.message == (
        f'pods "priv" is forbidden: violates PodSecurity "restricted:latest": {RESTRICTED_DETAIL}')
    assert caught.value.details == {"name": "priv", "kind": "pods"}
    assert warnings == []  # no warning on a refused request
    assert attrs.audit_annotations == {PREFIX + "enforce-policy": "restricted:latest"}


def test_versions_show_as_labelled() -> None:
    plugin, _ = _plugin({PREFIX + "enforce": "baseline", PREFIX + "enforce-version": "v1.30"})
    with pytest.raises(errors.ApiError) as caught:
        _run(plugin, _attrs(PODS, PRIVILEGED_POD))
    assert caught.value.message == (
        'pods "priv" is forbidden: violates PodSecurity "baseline:v1.30": privileged '
        '(container "priv" must not set securityContext.privileged=true)')


def test_warn_and_audit_without_enforce() -> None:
    plugin, _ = _plugin({PREFIX + "warn": "restricted", PREFIX + "audit": "baseline",
                         PREFIX + "enforce": "privileged"})
    attrs = _attrs(PODS, PRIVILEGED_POD)
    assert _run(plugin, attrs) == [
        f'would violate PodSecurity "restricted:latest": {RESTRICTED_DETAIL}']
    assert attrs.audit_annotations == {
        PREFIX + "enforce-policy": "privileged:latest",
        PREFIX + "audit-violations": 'would violate PodSecurity "baseline:latest": privileged '
                                     '(container "priv" must not set '
                                     "securityContext.privileged=true)"}


def test_workloads_get_warnings_but_are_never_refused() -> None:
    plugin, _ = _plugin(ENFORCE_RESTRICTED)  # warn follows enforce
    deployment = {"metadata": {"name": "web"}, "spec": {"template": PRIVILEGED_POD}}
    attrs = _attrs(DEPLOYMENTS, deployment)
    assert _run(plugin, attrs) == [
        f'would violate PodSecurity "restricted:latest": {RESTRICTED_DETAIL}']
    assert attrs.audit_annotations == {}
    cronjob = {"metadata": {"name": "c"},
               "spec": {"jobTemplate": {"spec": {"template": PRIVILEGED_POD}}}}
    assert len(_run(plugin, _attrs(CRONJOBS, cronjob))) == 1
    assert _run(plugin, _attrs(DEPLOYMENTS, deployment, subresource="scale")) == []
    assert _run(plugin, _attrs(CONFIGMAPS, {"metadata": {"name": "x"}})) == []


def test_a_compliant_pod_is_admitted_without_warnings() -> None:
    plugin, _ = _plugin({**ENFORCE_RESTRICTED, PREFIX + "warn": "restricted"})
    pod = {"metadata": {"name": "ok"}, "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "ok", "image": "nginx", "securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}}
    assert _run(plugin, _attrs(PODS, pod)) == []


def test_pod_updates_count_only_when_containers_or_images_change() -> None:
    plugin, _ = _plugin(ENFORCE_RESTRICTED)
    relabelled = {**PRIVILEGED_POD, "metadata": {"name": "priv", "labels": {"a": "b"}}}
    assert _run(plugin, _attrs(PODS, relabelled, Operation.UPDATE, PRIVILEGED_POD)) == []
    new_image = {"metadata": {"name": "priv"}, "spec": {"containers": [
        {"name": "priv", "image": "httpd", "securityContext": {"privileged": True}}]}}
    with pytest.raises(errors.ApiError):
        _run(plugin, _attrs(PODS, new_image, Operation.UPDATE, PRIVILEGED_POD))
    for sub in ("status", "binding", "eviction"):
        assert _run(plugin, _attrs(PODS, PRIVILEGED_POD, subresource=sub)) == []


def test_significant_pod_updates() -> None:
    def pod(*images: str, ephemeral: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
        return {"spec": {"containers": [{"name": f"c{i}", "image": im}
                                        for i, im in enumerate(images)],
                         "ephemeralContainers": [{"name": n, "image": im}
                                                 for n, im in ephemeral]}}
    assert not significant_pod_update(pod("a"), pod("a"))
    assert significant_pod_update(pod("a", "b"), pod("a"))
    assert significant_pod_update(pod("b"), pod("a"))
    assert significant_pod_update(pod("a", ephemeral=[("d", "x")]), pod("a"))
    assert not significant_pod_update(pod("a", ephemeral=[("d", "x")]),
                                      pod("a", ephemeral=[("d", "x")]))


def test_invalid_labels_are_refused_on_create_and_on_changing_update() -> None:
    plugin, _ = _plugin()
    bad = {"metadata": {"name": "x", "labels": {PREFIX + "enforce": "strict"}}}
    with pytest.raises(errors.ApiError) as caught:
        _run(plugin, _attrs(NAMESPACES, bad, namespace=""))
    assert caught.value.code == 422
    assert caught.value.message == (
        'Namespace "x" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: '
        'Invalid value: "strict": must be one of privileged, baseline, restricted')
    # An update that keeps the same bad labels passes; one that changes them does not.
    relabelled = {"metadata": {"name": "x", "labels": {PREFIX + "enforce": "strict",
                                                       "team": "a"}}}
    assert _run(plugin, _attrs(NAMESPACES, relabelled, Operation.UPDATE, bad, namespace="")) == []
    worse = {"metadata": {"name": "x", "labels": {PREFIX + "enforce": "strict",
                                                  PREFIX + "warn-version": "1"}}}
    with pytest.raises(errors.ApiError) as caught:
        _run(plugin, _attrs(NAMESPACES, worse, Operation.UPDATE, bad, namespace=""))
    assert caught.value.message.startswith('Namespace "x" is invalid: [metadata.labels[')


def _pod(name: str, owner: str | None = None, **container: Any) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if owner:
        md["ownerReferences"] = [{"uid": owner, "controller": True}]
    return {"metadata": md, "spec": {"containers": [{"name": "c", "image": "x", **container}]}}


def _ns(labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": "ns", "labels": labels}}


def test_tightening_enforce_warns_about_existing_pods() -> None:
    pods = [_pod("priv", securityContext={"privileged": True}), _pod("b"), _pod("a")]
    plugin, _ = _plugin(pods=pods)
    warnings = _run(plugin, _attrs(NAMESPACES, _ns(ENFORCE_RESTRICTED), Operation.UPDATE,
                                   _ns({}), namespace=""))
    assert warnings == [
        'existing pods in namespace "ns" violate the new PodSecurity enforce level '
        '"restricted:latest"',
        "a (and 1 other pod): allowPrivilegeEscalation != false, unrestricted capabilities, "
        "runAsNonRoot != true, seccompProfile",
        f"priv: {RESTRICTED_REASONS}",
    ]
    # Relaxing, keeping, or going privileged checks nothing.
    for old, new in ((ENFORCE_RESTRICTED, {PREFIX + "enforce": "baseline"}),
                     (ENFORCE_RESTRICTED, ENFORCE_RESTRICTED),
                     (ENFORCE_RESTRICTED, {PREFIX + "enforce": "privileged"})):
        assert _run(plugin, _attrs(NAMESPACES, _ns(new), Operation.UPDATE, _ns(old),
                                   namespace="")) == []
    # A version change alone checks again.
    assert _run(plugin, _attrs(
        NAMESPACES, _ns({**ENFORCE_RESTRICTED, PREFIX + "enforce-version": "v1.20"}),
        Operation.UPDATE, _ns(ENFORCE_RESTRICTED), namespace=""))[0].endswith(
        '"restricted:v1.20"')


def test_existing_pod_warnings_count_and_cut_short() -> None:
    lv = LevelVersion(Level.BASELINE, LATEST)
    pods = [_pod(f"p{i}", owner="rs", securityContext={"privileged": True}) for i in range(4)]
    pods.append(_pod("solo", ports=[{"containerPort": 80, "hostPort": 80}]))
    assert existing_pod_warnings("ns", lv, pods) == [
        'existing pods in namespace "ns" violate the new PodSecurity enforce level '
        '"baseline:latest"',
        "p0 (and 3 other pods): privileged",
        "solo: hostPort",
    ]
    cut = existing_pod_warnings("ns", lv, pods, max_pods=2)
    assert cut[0] == "new PodSecurity enforce level only checked against the first 2 of 5 " \
                     "existing pods"
    # One pod per controller first: the solo pod is among the first two checked.
    assert cut[2:] == ["p0: privileged", "solo: hostPort"]
    ticks = iter(range(100))
    timed = existing_pod_warnings("ns", lv, pods, clock=lambda: float(next(ticks)), seconds=1.5)
    assert timed[0] == "new PodSecurity enforce level only checked against the first 2 of 5 " \
                       "existing pods"


def test_exemptions() -> None:
    source = Source(ENFORCE_RESTRICTED)
    plugin = PodSecurity(source, Exemptions(namespaces=("ns",)))  # type: ignore[arg-type]
    attrs = _attrs(PODS, PRIVILEGED_POD)
    assert _run(plugin, attrs) == []
    assert attrs.audit_annotations == {PREFIX + "exempt": "namespace"}
    warnings = _run(plugin, _attrs(NAMESPACES, _ns(ENFORCE_RESTRICTED), Operation.UPDATE,
                                   _ns({}), namespace=""))
    # Only the labelled modes are named (warn follows enforce here, but is not labelled).
    assert warnings == ['namespace "ns" is exempt from Pod Security, and the policy '
                        "(enforce=restricted:latest) will be ignored"]
    by_class = PodSecurity(source, Exemptions(runtime_classes=("kata",)))  # type: ignore[arg-type]
    pod = {"metadata": {"name": "priv"}, "spec": {**PRIVILEGED_POD["spec"],  # type: ignore[dict-item]
                                                  "runtimeClassName": "kata"}}
    attrs = _attrs(PODS, pod)
    assert _run(by_class, attrs) == []
    assert attrs.audit_annotations == {PREFIX + "exempt": "runtimeClass"}


def test_a_namespace_with_bad_labels_enforces_restricted_and_says_why() -> None:
    plugin, _ = _plugin({PREFIX + "enforce": "bogus"})
    attrs = _attrs(PODS, PRIVILEGED_POD)
    with pytest.raises(errors.ApiError) as caught:
        _run(plugin, attrs)
    assert '"restricted:latest"' in caught.value.message
    assert attrs.audit_annotations[PREFIX + "error"] == (
        "Failed to parse policy: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid "
        'value: "bogus": must be one of privileged, baseline, restricted')


def test_a_missing_namespace_is_an_internal_error_for_pods() -> None:
    plugin, _ = _plugin(ENFORCE_RESTRICTED)
    with pytest.raises(errors.ApiError) as caught:
        _run(plugin, _attrs(PODS, PRIVILEGED_POD, namespace="gone"))
    assert caught.value.code == 500
    assert caught.value.message == 'Internal error occurred: failed to lookup namespace "gone"'


def test_the_policy_is_parsed_once_per_namespace_revision() -> None:
    plugin, source = _plugin(ENFORCE_RESTRICTED)
    ok = {"metadata": {"name": "x"}, "spec": {"containers": []}}
    for _ in range(3):
        _run(plugin, _attrs(PODS, ok))
    assert len(plugin._memo) == 1
    memo = plugin._memo["ns"]
    source.namespace = _ns({})
    _run(plugin, _attrs(PODS, PRIVILEGED_POD))
    assert plugin._memo["ns"] is not memo


def test_a_refusal_without_a_name_names_only_the_resource() -> None:
    plugin, _ = _plugin({PREFIX + "enforce": "baseline"})
    unnamed = {"metadata": {"generateName": "web-"}, "spec": PRIVILEGED_POD["spec"]}
    with pytest.raises(errors.ApiError) as caught:
        _run(plugin, _attrs(PODS, unnamed))
    assert caught.value.message.startswith(
        'pods is forbidden: violates PodSecurity "baseline:latest": privileged')
