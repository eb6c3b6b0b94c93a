"""Defaults of the non-core API groups that have ``SetDefaults_*`` upstream.

Groups with no defaulting upstream get no entry: policy (PodDisruptionBudget),
coordination, events, node, certificates, apps ControllerRevision, the review kinds of
authentication/authorization, and networking Ingress, IPAddress and ServiceCIDR.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apiserver.registry.defaults.fields import Obj, child, each, ensure, fill, fill_zero

RBAC_GROUP = "rbac.authorization.k8s.io"
#: ``pkg/apis/autoscaling`` DefaultCPUUtilization.
DEFAULT_CPU_UTILIZATION = 80

HPA_SCALE_UP: dict[str, Any] = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
#: No stabilization window: the controller's --horizontal-pod-autoscaler-downscale-
#: stabilization flag applies when the object leaves it unset.
HPA_SCALE_DOWN: dict[str, Any] = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}
WEBHOOK = {
    "failurePolicy": "Fail",
    "matchPolicy": "Equivalent",
    "namespaceSelector": {},
    "objectSelector": {},
    "timeoutSeconds": 10,
}
MUTATING_WEBHOOK = {**WEBHOOK, "reinvocationPolicy": "Never"}
MATCH_RESOURCES = {"matchPolicy": "Equivalent", "namespaceSelector": {}, "objectSelector": {}}
STORAGE_CLASS = {"reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}
CSI_DRIVER_SPEC = {
    "attachRequired": True,
    "podInfoOnMount": False,
    "storageCapacity": False,
    "fsGroupPolicy": "ReadWriteOnceWithFSType",
    "requiresRepublish": False,
    "seLinuxMount": False,
}
QUEUING_ZERO = {"handSize": 8, "queues": 64, "queueLengthLimit": 50}
LIMITED_PRIORITY_LEVEL = {"nominalConcurrencyShares": 30, "lendablePercent": 0}
EXEMPT_PRIORITY_LEVEL = {"nominalConcurrencyShares": 0, "lendablePercent": 0}


# --- autoscaling -------------------------------------------------------------------------

def default_hpa_v1(obj: Obj) -> None:
    """autoscaling/v1 HPA: ``minReplicas`` 1 (no default target: the controller has one)."""
    spec = ensure(obj, "spec")
    if spec is not None:
        fill(spec, {"minReplicas": 1})


def _scaling_rules(behavior: Obj, key: str, table: dict[str, Any]) -> None:
    # Each rule set is the default one with the client's non-null fields laid over it.
    given = behavior.get(key)
    if given is not None and not isinstance(given, dict):
        return
    rules = {k: v for k, v in (given or {}).items() if v is not None}
    fill(rules, table)
    behavior[key] = rules


def default_hpa_v2(obj: Obj) -> None:
    """autoscaling/v2 HPA: ``minReplicas`` 1, a cpu 80% metric when none, full behavior.

    ``behavior`` is completed only when the client sent one.
    """
    spec = ensure(obj, "spec")
    if spec is None:
        return
    fill(spec, {"minReplicas": 1})
    if not spec.get("metrics"):
        spec["metrics"] = [{
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION},
            },
        }]
    behavior = child(spec, "behavior")
    if behavior is not None:
        _scaling_rules(behavior, "scaleUp", HPA_SCALE_UP)
        _scaling_rules(behavior, "scaleDown", HPA_SCALE_DOWN)


# --- rbac --------------------------------------------------------------------------------

#: A ServiceAccount subject's group is the core group, "": Go's ``omitempty`` never writes
#: it, so only User and Group subjects gain an ``apiGroup``.
_SUBJECT_GROUPS = {"User": RBAC_GROUP, "Group": RBAC_GROUP}


def default_binding(obj: Obj) -> None:
    """RoleBinding/ClusterRoleBinding: ``roleRef.apiGroup`` and each subject's apiGroup."""
    role_ref = child(obj, "roleRef")
    if role_ref is not None:
        fill_zero(role_ref, {"apiGroup": RBAC_GROUP})
    for subject in each(obj, "subjects"):
        kind = subject.get("kind")
        if not subject.get("apiGroup") and isinstance(kind, str) and kind in _SUBJECT_GROUPS:
            subject["apiGroup"] = _SUBJECT_GROUPS[kind]


# --- networking --------------------------------------------------------------------------

def default_network_policy(obj: Obj) -> None:
    """NetworkPolicy: port protocol TCP; ``policyTypes`` Ingress (plus Egress with rules)."""
    spec = ensure(obj, "spec")
    if spec is None:
        return
    for direction in ("ingress", "egress"):
        for rule in each(spec, direction):
            for port in each(rule, "ports"):
                fill(port, {"protocol": "TCP"})
    if not spec.get("policyTypes"):
        egress = spec.get("egress")
        spec["policyTypes"] = ["Ingress", "Egress"] if egress else ["Ingress"]


def default_ingress_class(obj: Obj) -> None:
    """IngressClass: ``parameters.scope`` Cluster when parameters are given."""
    parameters = child(child(obj, "spec") or {}, "parameters")
    if parameters is not None:
        fill(parameters, {"scope": "Cluster"})


def default_endpoint_slice(obj: Obj) -> None:
    """discovery/v1 EndpointSlice: each port's ``name`` "" and ``protocol`` TCP."""
    for port in each(obj, "ports"):
        fill(port, {"name": "", "protocol": "TCP"})


# --- storage and scheduling --------------------------------------------------------------

def default_storage_class(obj: Obj) -> None:
    """StorageClass: reclaim Delete, binding Immediate."""
    fill(obj, STORAGE_CLASS)


def default_csi_driver(obj: Obj) -> None:
    """CSIDriver: attach required, no pod info, no capacity, FSGroup policy … (1.33 gates)."""
    spec = ensure(obj, "spec")
    if spec is None:
        return
    fill(spec, CSI_DRIVER_SPEC)
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]


def default_priority_class(obj: Obj) -> None:
    """PriorityClass: ``preemptionPolicy`` PreemptLowerPriority."""
    fill(obj, {"preemptionPolicy": "PreemptLowerPriority"})


# --- admissionregistration ---------------------------------------------------------------

def _default_rules(holder: Obj, key: str) -> None:
    for rule in each(holder, key):
        fill(rule, {"scope": "*"})


def _default_webhooks(obj: Obj, table: dict[str, Any]) -> None:
    for webhook in each(obj, "webhooks"):
        fill(webhook, table)
        _default_rules(webhook, "rules")
        service = child(child(webhook, "clientConfig") or {}, "service")
        if service is not None:
            fill(service, {"port": 443})


def default_validating_webhooks(obj: Obj) -> None:
    """ValidatingWebhookConfiguration: Fail, Equivalent, empty selectors, 10 s, scope *."""
    _default_webhooks(obj, WEBHOOK)


def default_mutating_webhooks(obj: Obj) -> None:
    """MutatingWebhookConfiguration: as validating, plus ``reinvocationPolicy`` Never."""
    _default_webhooks(obj, MUTATING_WEBHOOK)


def _default_match_resources(match: Obj) -> None:
    fill(match, MATCH_RESOURCES)
    _default_rules(match, "resourceRules")
    _default_rules(match, "excludeResourceRules")


def default_admission_policy(obj: Obj) -> None:
    """ValidatingAdmissionPolicy: ``failurePolicy`` Fail and its match constraints."""
    spec = ensure(obj, "spec")
    if spec is None:
        return
    fill(spec, {"failurePolicy": "Fail"})
    match = child(spec, "matchConstraints")
    if match is not None:
        _default_match_resources(match)


def default_admission_policy_binding(obj: Obj) -> None:
    """ValidatingAdmissionPolicyBinding: its ``matchResources`` when given."""
    match = child(child(obj, "spec") or {}, "matchResources")
    if match is not None:
        _default_match_resources(match)


# --- flowcontrol and apiregistration -----------------------------------------------------

def default_flow_schema(obj: Obj) -> None:
    """FlowSchema: ``matchingPrecedence`` 1000."""
    spec = ensure(obj, "spec")
    if spec is not None:
        fill_zero(spec, {"matchingPrecedence": 1000})


def default_priority_level(obj: Obj) -> None:
    """PriorityLevelConfiguration: shares 30 (limited) or 0 (exempt), lending 0, queuing."""
    spec = child(obj, "spec")
    if spec is None:
        return
    limited = child(spec, "limited")
    if limited is not None:
        fill(limited, LIMITED_PRIORITY_LEVEL)
        queuing = child(child(limited, "limitResponse") or {}, "queuing")
        if queuing is not None:
            fill_zero(queuing, QUEUING_ZERO)
    exempt = child(spec, "exempt")
    if exempt is not None:
        fill(exempt, EXEMPT_PRIORITY_LEVEL)


def default_api_service(obj: Obj) -> None:
    """APIService: ``service.port`` 443."""
    service = child(child(obj, "spec") or {}, "service")
    if service is not None:
        fill(service, {"port": 443})


#: Kind defaulters of this module, by (group, version, kind).
DEFAULTERS: dict[tuple[str, str, str], Callable[[Obj], None]] = {
    ("autoscaling", "v1", "HorizontalPodAutoscaler"): default_hpa_v1,
    ("autoscaling", "v2", "HorizontalPodAutoscaler"): default_hpa_v2,
    ("rbac.authorization.k8s.io", "v1", "RoleBinding"): default_binding,
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"): default_binding,
    ("networking.k8s.io", "v1", "NetworkPolicy"): default_network_policy,
    ("networking.k8s.io", "v1", "IngressClass"): default_ingress_class,
    ("discovery.k8s.io", "v1", "EndpointSlice"): default_endpoint_slice,
    ("storage.k8s.io", "v1", "StorageClass"): default_storage_class,
    ("storage.k8s.io", "v1", "CSIDriver"): default_csi_driver,
    ("scheduling.k8s.io", "v1", "PriorityClass"): default_priority_class,
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration"):
        default_validating_webhooks,
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration"):
        default_mutating_webhooks,
    ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy"):
        default_admission_policy,
    ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding"):
        default_admission_policy_binding,
    ("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema"): default_flow_schema,
    ("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration"):
        default_priority_level,
    ("apiregistration.k8s.io", "v1", "APIService"): default_api_service,
}
