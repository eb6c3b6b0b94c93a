"""What each served resource's upstream strategy says about writes, as one reviewable table.

For every resource of :data:`apiserver.api.resources.RESOURCES` this module answers four
questions the generic store asks its strategy:

* ``has_status_subresource``: derived, not listed — true exactly when the resource serves a
  ``status`` subresource; then the main resource resets status on create and keeps the
  stored status on update, and ``/status`` changes only status.
* ``tracks_generation``: spec changes bump ``metadata.generation`` (set to 1 on create).
  ``generation_fields`` names the top-level fields whose change counts as a spec change
  (``template`` for PodTemplates, ``webhooks`` for webhook configurations).
* ``allow_create_on_update``: upstream ``AllowCreateOnUpdate`` — a PUT of a missing
  object creates it.
* ``allow_unconditional_update``: upstream ``AllowUnconditionalUpdate`` — a PUT without
  ``metadata.resourceVersion`` overwrites instead of failing with 422.

Values follow ``pkg/registry/<group>/<resource>/strategy.go`` of Kubernetes 1.33 with
its default feature gates (HPA generation is gated off in 1.33). Resources missing from
:data:`KIND_SPECS` get :data:`DEFAULT_SPEC`, upstream's most common answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from apiserver.api.resources import ResourceInfo


@dataclass(frozen=True)
class KindSpec:
    """The write policy of one resource (see the module docstring)."""

    allow_create_on_update: bool = False
    allow_unconditional_update: bool = True
    tracks_generation: bool = False
    generation_fields: tuple[str, ...] = ("spec",)


DEFAULT_SPEC = KindSpec()

_C = KindSpec(allow_create_on_update=True)
_G = KindSpec(tracks_generation=True)
_CG = KindSpec(allow_create_on_update=True, tracks_generation=True)
_COND = KindSpec(allow_unconditional_update=False)
_C_COND = KindSpec(allow_create_on_update=True, allow_unconditional_update=False)
_G_COND = KindSpec(allow_unconditional_update=False, tracks_generation=True)

#: Write policy by (group, plural); read it as the upstream strategies' method results.
KIND_SPECS: dict[tuple[str, str], KindSpec] = {
    ("apiextensions.k8s.io", "customresourcedefinitions"): _G,
    # core/v1
    ("", "configmaps"): DEFAULT_SPEC,
    ("", "endpoints"): _C,
    ("", "events"): _C,
    ("", "limitranges"): _C,
    ("", "namespaces"): DEFAULT_SPEC,
    ("", "nodes"): DEFAULT_SPEC,
    ("", "persistentvolumeclaims"): DEFAULT_SPEC,
    ("", "persistentvolumes"): DEFAULT_SPEC,
    ("", "pods"): _G,
    ("", "podtemplates"): KindSpec(tracks_generation=True, generation_fields=("template",)),
    ("", "replicationcontrollers"): _CG,
    ("", "resourcequotas"): DEFAULT_SPEC,
    ("", "secrets"): DEFAULT_SPEC,
    ("", "serviceaccounts"): _C,
    ("", "services"): _C,
    # admissionregistration.k8s.io/v1
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): KindSpec(
        allow_unconditional_update=False, tracks_generation=True,
        generation_fields=("webhooks",)),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): KindSpec(
        allow_unconditional_update=False, tracks_generation=True,
        generation_fields=("webhooks",)),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"): _G_COND,
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"): _G_COND,
    ("apiregistration.k8s.io", "apiservices"): _COND,
    # apps/v1
    ("apps", "controllerrevisions"): DEFAULT_SPEC,
    ("apps", "daemonsets"): _CG,
    ("apps", "deployments"): _CG,
    ("apps", "replicasets"): _CG,
    ("apps", "statefulsets"): _CG,
    # autoscaling, batch, certificates, coordination, discovery, events
    ("autoscaling", "horizontalpodautoscalers"): DEFAULT_SPEC,
    ("batch", "cronjobs"): _G,
    ("batch", "jobs"): _G,
    ("certificates.k8s.io", "certificatesigningrequests"): DEFAULT_SPEC,
    ("coordination.k8s.io", "leases"): _C_COND,
    ("discovery.k8s.io", "endpointslices"): DEFAULT_SPEC,
    ("events.k8s.io", "events"): _C,
    # flowcontrol, networking, node, policy
    ("flowcontrol.apiserver.k8s.io", "flowschemas"): _G,
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"): _G,
    ("networking.k8s.io", "ingressclasses"): _CG,
    ("networking.k8s.io", "ingresses"): _CG,
    ("networking.k8s.io", "ipaddresses"): DEFAULT_SPEC,
    ("networking.k8s.io", "networkpolicies"): _G,
    ("networking.k8s.io", "servicecidrs"): DEFAULT_SPEC,
    ("node.k8s.io", "runtimeclasses"): _C_COND,
    ("policy", "poddisruptionbudgets"): _CG,
    # rbac.authorization.k8s.io/v1
    ("rbac.authorization.k8s.io", "clusterrolebindings"): _C,
    ("rbac.authorization.k8s.io", "clusterroles"): _C,
    ("rbac.authorization.k8s.io", "rolebindings"): _C,
    ("rbac.authorization.k8s.io", "roles"): _C,
    # scheduling, storage
    ("scheduling.k8s.io", "priorityclasses"): DEFAULT_SPEC,
    ("storage.k8s.io", "csidrivers"): DEFAULT_SPEC,
    ("storage.k8s.io", "csinodes"): _COND,
    ("storage.k8s.io", "csistoragecapacities"): _COND,
    ("storage.k8s.io", "storageclasses"): DEFAULT_SPEC,
    ("storage.k8s.io", "volumeattachments"): _COND,
}


def spec_for(info: ResourceInfo) -> KindSpec:
    """The write policy of ``info`` (:data:`DEFAULT_SPEC` when not listed)."""
    return KIND_SPECS.get((info.group, info.plural), DEFAULT_SPEC)


def has_status_subresource(info: ResourceInfo) -> bool:
    """Whether ``info`` serves ``/status`` (and so resets status on the main resource)."""
    return info.subresource("status") is not None
