"""ResourceQuota usage evaluation (upstream ``pkg/quota/v1``), shared by the ResourceQuota
admission plugin and the ``resourcequota`` controller.

An evaluator knows, for one resource, which quota resource names it tracks, which
operations change usage, and an object's usage. Pods, Services and PersistentVolumeClaims
have their own; ConfigMaps, Secrets, ReplicationControllers and ResourceQuotas are counted
under their legacy names as well as ``count/<resource>``; any other resource is counted
only as ``count/<resource>.<group>``. Scopes (``spec.scopes`` and
``spec.scopeSelector``: Terminating, NotTerminating, BestEffort, NotBestEffort,
PriorityClass, CrossNamespacePodAffinity) apply to pods only: a scoped quota never matches
anything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from apiserver.api.podresources import (
    ResourceList,
    add,
    container_resources,
    pod_limits,
    pod_requests,
    resource_list,
)
from apiserver.api.quantity import Quantity

_ONE = Quantity(Decimal(1))
_ZERO = Quantity(Decimal(0))
STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
_LEGACY_COUNTED = ("configmaps", "secrets", "replicationcontrollers", "resourcequotas")
#: Resources whose quota makes each container state an explicit request or limit.
_POD_VALIDATION = frozenset({"cpu", "memory", "requests.cpu", "requests.memory",
                             "limits.cpu", "limits.memory"})
_POD_COMPUTE = frozenset({
    "pods", "count/pods", "cpu", "memory", "ephemeral-storage", "requests.cpu",
    "requests.memory", "requests.ephemeral-storage", "limits.cpu", "limits.memory",
    "limits.ephemeral-storage",
})


def count_name(group: str, plural: str) -> str:
    """``count/<plural>`` (core) or ``count/<plural>.<group>``."""
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def _is_extended(name: str) -> bool:
    if "/" not in name or name.startswith("requests.") or name.startswith("limits."):
        return False
    domain = name.split("/", 1)[0]
    return not (domain == "kubernetes.io" or domain.endswith(".kubernetes.io"))


def _pod_tracks(name: str) -> bool:
    return (name in _POD_COMPUTE or name.startswith("hugepages-")
            or name.startswith("requests.hugepages-")
            or (name.startswith("requests.") and _is_extended(name[len("requests."):])))


def tracks(group: str, plural: str, name: str) -> bool:
    """Whether usage of ``group/plural`` objects is counted under quota resource ``name``."""
    if group == "" and plural == "pods":
        return _pod_tracks(name)
    if group == "" and plural == "services":
        return name in ("services", "count/services", "services.nodeports",
                        "services.loadbalancers")
    if group == "" and plural == "persistentvolumeclaims":
        return name in ("persistentvolumeclaims", "count/persistentvolumeclaims",
                        "requests.storage") or (
            STORAGE_CLASS_SUFFIX in name
            and name.endswith(("/requests.storage", "/persistentvolumeclaims")))
    if group == "" and plural in _LEGACY_COUNTED and name == plural:
        return True
    return name == count_name(group, plural)


def handles_update(group: str, plural: str) -> bool:
    """Whether an update can change an object's usage (Services and claims; pods only on
    create, as upstream without in-place resize)."""
    return group == "" and plural in ("services", "persistentvolumeclaims")


def pod_counts_compute(pod: Mapping[str, Any], now: datetime) -> bool:
    """Upstream ``QuotaV1Pod``: terminal pods, and pods past their deletion grace period,
    are no longer charged for compute resources."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    md = pod.get("metadata") or {}
    deletion, grace = md.get("deletionTimestamp"), md.get("deletionGracePeriodSeconds")
    if deletion and isinstance(grace, int):
        try:
            when = datetime.fromisoformat(str(deletion).replace("Z", "+00:00"))
        except ValueError:
            return True
        if now > when + timedelta(seconds=grace):
            return False
    return True


def _pod_usage(pod: dict[str, Any], now: datetime) -> ResourceList:
    result: ResourceList = {"count/pods": _ONE}
    if not pod_counts_compute(pod, now):
        return result
    requests, limits = pod_requests(pod), pod_limits(pod)
    result["pods"] = _ONE
    for res in ("cpu", "memory", "ephemeral-storage"):
        if res in requests:
            result[res] = result[f"requests.{res}"] = requests[res]
        if res in limits:
            result[f"limits.{res}"] = limits[res]
    for res, value in requests.items():
        if res.startswith("hugepages-"):
            result[res] = result[f"requests.{res}"] = value
        elif _is_extended(res):
            result[f"requests.{res}"] = value
    return result


def _service_usage(svc: dict[str, Any]) -> ResourceList:
    spec = svc.get("spec") or {}
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    node_ports = 0
    balancers = 0
    if spec.get("type") == "NodePort":
        node_ports = len(ports)
    elif spec.get("type") == "LoadBalancer":
        balancers = 1
        node_ports = len(ports) if spec.get("allocateLoadBalancerNodePorts") is not False \
            else sum(1 for p in ports if p.get("nodePort"))
    return {"count/services": _ONE, "services": _ONE,
            "services.loadbalancers": Quantity(Decimal(balancers)),
            "services.nodeports": Quantity(Decimal(node_ports))}


def _claim_usage(claim: dict[str, Any]) -> ResourceList:
    result: ResourceList = {"persistentvolumeclaims": _ONE, "count/persistentvolumeclaims": _ONE}
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    spec = claim.get("spec") or {}
    klass = annotations.get(STORAGE_CLASS_ANNOTATION) or spec.get("storageClassName") or ""
    if klass:
        result[f"{klass}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = _ONE
    requested = resource_list((spec.get("resources") or {}).get("requests")).get("storage")
    allocated = resource_list((claim.get("status") or {}).get("allocatedResources")).get("storage")
    if allocated is not None and (requested is None or allocated.value > requested.value):
        requested = allocated
    if requested is not None:
        result["requests.storage"] = requested
        if klass:
            result[f"{klass}{STORAGE_CLASS_SUFFIX}requests.storage"] = requested
    return result


def usage(group: str, plural: str, obj: dict[str, Any], now: datetime) -> ResourceList:
    """What one object of ``group/plural`` counts against quotas."""
    if group == "" and plural == "pods":
        return _pod_usage(obj, now)
    if group == "" and plural == "services":
        return _service_usage(obj)
    if group == "" and plural == "persistentvolumeclaims":
        return _claim_usage(obj)
    result: ResourceList = {count_name(group, plural): _ONE}
    if group == "" and plural in _LEGACY_COUNTED:
        result[plural] = _ONE
    return result


# -- scopes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScopeRequirement:
    """One ``scopeSelector`` expression (a plain ``spec.scopes`` entry is ``Exists``)."""

    scope: str
    operator: str = "Exists"
    values: tuple[str, ...] = ()


def scope_requirements(quota: Mapping[str, Any]) -> list[ScopeRequirement]:
    """The quota's scopes and scope selector expressions."""
    spec = quota.get("spec") or {}
    out = [ScopeRequirement(str(s)) for s in spec.get("scopes") or []]
    for expr in (spec.get("scopeSelector") or {}).get("matchExpressions") or []:
        if isinstance(expr, dict):
            out.append(ScopeRequirement(str(expr.get("scopeName", "")),
                                        str(expr.get("operator", "")),
                                        tuple(str(v) for v in expr.get("values") or [])))
    return out


def _best_effort(pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    for group in ("initContainers", "containers"):
        for container in spec.get(group) or []:
            for field in ("requests", "limits"):
                values = container_resources(container, field)
                if any(values[r].value > 0 for r in ("cpu", "memory") if r in values):
                    return False
    return True


def _cross_namespace_affinity(pod: Mapping[str, Any]) -> bool:
    """Whether any pod (anti-)affinity term looks at other namespaces."""
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        rules = affinity.get(kind) or {}
        terms = list(rules.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [w.get("podAffinityTerm") or {} for w in
                  rules.get("preferredDuringSchedulingIgnoredDuringExecution") or []
                  if isinstance(w, dict)]
        if any(isinstance(t, dict) and (t.get("namespaces") or "namespaceSelector" in t)
               for t in terms):
            return True
    return False


def _scope_matches(req: ScopeRequirement, pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    deadline = spec.get("activeDeadlineSeconds")
    terminating = isinstance(deadline, int) and deadline >= 0
    if req.scope == "Terminating":
        return terminating
    if req.scope == "NotTerminating":
        return not terminating
    if req.scope == "BestEffort":
        return _best_effort(pod)
    if req.scope == "NotBestEffort":
        return not _best_effort(pod)
    if req.scope == "PriorityClass":
        klass = str(spec.get("priorityClassName") or "")
        if req.operator == "Exists":
            return bool(klass)
        if req.operator == "In":
            return klass in req.values
        if req.operator == "NotIn":
            return klass not in req.values
        return False  # DoesNotExist: the key is always present, as upstream's label set
    if req.scope == "CrossNamespacePodAffinity":
        return _cross_namespace_affinity(pod)
    return False


def matches_scopes(quota: Mapping[str, Any], group: str, plural: str,
                   obj: Mapping[str, Any]) -> bool:
    """Whether ``obj`` is inside every scope of ``quota``."""
    scopes = scope_requirements(quota)
    if not scopes:
        return True
    if group != "" or plural != "pods":
        return False
    return all(_scope_matches(req, obj) for req in scopes)


# -- resource list arithmetic ---------------------------------------------------------


def mask(values: Mapping[str, Quantity], names: Iterable[str]) -> ResourceList:
    """Only the entries of ``values`` named in ``names``."""
    wanted = set(names)
    return {k: v for k, v in values.items() if k in wanted}


def subtract_nonnegative(a: ResourceList, b: ResourceList) -> ResourceList:
    """``a - b`` per key, never below zero."""
    out: ResourceList = {}
    for key, value in a.items():
        diff = value - b[key] if key in b else value
        out[key] = diff if diff.value >= 0 else Quantity(Decimal(0), value.format)
    return out


def exceeded(used: Mapping[str, Quantity], hard: Mapping[str, Quantity]) -> list[str]:
    """The names where ``used`` is above ``hard`` (upstream ``LessThanOrEqual``)."""
    return [k for k, v in used.items() if k in hard and v.value > hard[k].value]


def pretty(values: Mapping[str, Quantity]) -> str:
    """``a=1,b=2Gi`` sorted by name, as upstream's quota messages print lists."""
    return ",".join(f"{k}={values[k]}" for k in sorted(values))


def to_api(values: Mapping[str, Quantity]) -> dict[str, str]:
    """A ``ResourceList`` as the wire carries it (sorted, canonical strings)."""
    return {k: str(values[k]) for k in sorted(values)}


def total_usage(quota: Mapping[str, Any], hard: Mapping[str, Quantity],
                objects: Mapping[tuple[str, str], Iterable[dict[str, Any]]],
                now: datetime) -> ResourceList:
    """``status.used`` for ``quota``: every tracked resource of ``hard`` summed over
    ``objects`` (by (group, plural)), zero where nothing counts (``CalculateUsage``)."""
    used: ResourceList = {}
    for (group, plural), items in objects.items():
        names = [n for n in hard if tracks(group, plural, n)]
        if not names:
            continue
        for name in names:
            used.setdefault(name, _ZERO)
        for obj in items:
            if matches_scopes(quota, group, plural, obj):
                used = add(used, mask(usage(group, plural, obj, now), names))
    return used


def pod_constraint_error(required: Iterable[str], pod: Mapping[str, Any]) -> str | None:
    """Upstream's backward-compatible rule: when a quota tracks cpu or memory, every
    container must state each such request or limit (``must specify …``)."""
    wanted = set(required) & _POD_VALIDATION
    if not wanted:
        return None
    missing: dict[str, set[str]] = {}
    spec = pod.get("spec") or {}
    for group in ("containers", "initContainers"):
        for container in spec.get(group) or []:
            if not isinstance(container, dict):
                continue
            requests = container_resources(container, "requests")
            limits = container_resources(container, "limits")
            have = {"pods"}
            for res in ("cpu", "memory"):
                if res in requests:
                    have |= {res, f"requests.{res}"}
                if res in limits:
                    have.add(f"limits.{res}")
            for name in wanted - have:
                missing.setdefault(name, set()).add(str(container.get("name", "")))
    if not missing:
        return None
    parts = [f"{res} for: {','.join(sorted(missing[res]))}" for res in sorted(missing)]
    return "must specify " + "; ".join(parts)
