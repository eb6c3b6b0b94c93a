"""Which nodes a DaemonSet's pods belong on, and the pod it makes for one node.

As upstream's ``NodeShouldRunDaemonPod``: the pod the controller would create for a node
(its template plus the DaemonSet default tolerations) is checked against the node's name,
``nodeSelector``, required node affinity and taints. An untolerated ``NoSchedule`` or
``NoExecute`` taint means the pod should not be *placed* there; only an untolerated
``NoExecute`` taint means an existing pod should not *stay*.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from apiserver.api.taints import tolerated

__all__ = [
    "DEFAULT_TOLERATIONS",
    "HOST_NETWORK_TOLERATIONS",
    "add_default_tolerations",
    "node_name_affinity",
    "pod_for_node",
    "should_run",
]

Obj = Mapping[str, Any]

#: Tolerations every DaemonSet pod gets (upstream ``AddOrUpdateDaemonPodTolerations``).
DEFAULT_TOLERATIONS: tuple[dict[str, str], ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
#: Added as well when the pod uses the host's network.
HOST_NETWORK_TOLERATIONS: tuple[dict[str, str], ...] = (
    {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
     "effect": "NoSchedule"},
)


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def add_default_tolerations(spec: dict[str, Any]) -> None:
    """Add the default tolerations to a pod ``spec`` unless one with the same key and effect
    is already there (a toleration the user wrote wins)."""
    tolerations: list[dict[str, Any]] = list(spec.get("tolerations") or [])
    wanted = list(DEFAULT_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted += HOST_NETWORK_TOLERATIONS
    present = {(t.get("key"), t.get("effect")) for t in tolerations}
    for tol in wanted:
        if (tol["key"], tol["effect"]) not in present:
            tolerations.append(dict(tol))
    spec["tolerations"] = tolerations


def node_name_affinity(affinity: Mapping[str, Any] | None, node: str) -> dict[str, Any]:
    """``affinity`` with its required node terms replaced by one term whose ``matchFields``
    requires ``metadata.name`` = ``node`` (upstream ``ReplaceDaemonSetPodNodeNameNodeAffinity``)."""
    out = copy.deepcopy(dict(affinity or {}))
    node_affinity = dict(out.get("nodeAffinity") or {})
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [term]}
    out["nodeAffinity"] = node_affinity
    return out


def pod_for_node(template: Obj, node: str) -> dict[str, Any]:
    """The pod ``template``'s spec would give on ``node``: default tolerations added and
    its node affinity pinned to the node. ``spec.nodeName`` is set as well, because
    kubemu's scheduler does not evaluate ``matchFields``."""
    spec = copy.deepcopy(dict(_m(template.get("spec"))))
    add_default_tolerations(spec)
    spec["affinity"] = node_name_affinity(_m(spec.get("affinity")), node)
    spec["nodeName"] = node
    return spec


def _expression_matches(expr: Obj, values: Mapping[str, str]) -> bool:
    key = str(expr.get("key", ""))
    op = expr.get("operator")
    wanted = [str(v) for v in expr.get("values") or []]
    if op == "In":
        return key in values and values[key] in wanted
    if op == "NotIn":
        return key not in values or values[key] not in wanted
    if op == "Exists":
        return key in values
    if op == "DoesNotExist":
        return key not in values
    if op in ("Gt", "Lt") and key in values and len(wanted) == 1:
        try:
            have, limit = int(values[key]), int(wanted[0])
        except ValueError:
            return False
        return have > limit if op == "Gt" else have < limit
    return False


def _term_matches(term: Obj, node: Obj) -> bool:
    expressions = list(term.get("matchExpressions") or [])
    fields = list(term.get("matchFields") or [])
    if not expressions and not fields:
        return False
    labels = {str(k): str(v) for k, v in _m(_m(node.get("metadata")).get("labels")).items()}
    name = {"metadata.name": str(_m(node.get("metadata")).get("name", ""))}
    return (all(_expression_matches(_m(e), labels) for e in expressions)
            and all(_expression_matches(_m(f), name) for f in fields))


def _affinity_matches(spec: Obj, node: Obj) -> bool:
    required = _m(_m(_m(spec.get("affinity")).get("nodeAffinity")).get(
        "requiredDuringSchedulingIgnoredDuringExecution"))
    if not required:
        return True
    terms: Sequence[Any] = required.get("nodeSelectorTerms") or []
    return any(_term_matches(_m(t), node) for t in terms)


def should_run(template: Obj, node: Obj) -> tuple[bool, bool]:
    """``(should_run, should_continue_running)`` for the DaemonSet pod of ``template``
    on ``node``: the first says a missing pod is to be created, the second that an existing
    pod may stay."""
    name = str(_m(node.get("metadata")).get("name", ""))
    spec = pod_for_node(template, name)
    wanted_node = _m(template.get("spec")).get("nodeName")
    if wanted_node and wanted_node != name:
        return False, False
    labels = _m(_m(node.get("metadata")).get("labels"))
    selector = _m(spec.get("nodeSelector"))
    template_spec = _m(template.get("spec"))
    if any(labels.get(k) != v for k, v in selector.items()) or not _affinity_matches(
            template_spec, node):
        return False, False
    tolerations = list(spec.get("tolerations") or [])
    run, stay = True, True
    for raw in _m(node.get("spec")).get("taints") or []:
        taint = _m(raw)
        effect = taint.get("effect")
        if effect not in ("NoSchedule", "NoExecute") or tolerated(tolerations, taint):
            continue
        run = False
        if effect == "NoExecute":
            stay = False
    return run, stay
