"""Pods and claims of a StatefulSet: identity, construction and state (upstream
``stateful_set_utils.go``).

A member pod is named ``<set>-<ordinal>``; its identity is that name as ``hostname``, the
set's ``serviceName`` as ``subdomain`` and the labels :data:`POD_NAME_LABEL` and
:data:`POD_INDEX_LABEL`. Its storage is one PersistentVolumeClaim per
``volumeClaimTemplates`` entry, named ``<claim>-<pod>``, mounted through a volume named
like the claim template. :data:`REVISION_LABEL` names the ControllerRevision the pod was
made from.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from controllers.runtime.objects import is_ready, is_terminating, parse_time, ready_condition

__all__ = [
    "POD_INDEX_LABEL",
    "POD_NAME_LABEL",
    "REVISION_LABEL",
    "Obj",
    "claim_name",
    "controller_ref",
    "is_created",
    "is_failed",
    "is_healthy",
    "is_running_and_available",
    "is_running_and_ready",
    "is_terminating",
    "meta",
    "new_claims",
    "new_pod",
    "ordinal_of",
    "pod_revision",
    "seconds_until_available",
    "spec",
    "start_ordinal",
]

Obj = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"

_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


def meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` (an empty dict when absent)."""
    md = obj.get("metadata")
    return md if isinstance(md, dict) else {}


def spec(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` (an empty dict when absent)."""
    sp = obj.get("spec")
    return sp if isinstance(sp, dict) else {}


def controller_ref(sts: Mapping[str, Any]) -> dict[str, Any]:
    """The controlling ownerReference pointing at ``sts``."""
    md = meta(sts)
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": md.get("name"),
            "uid": md.get("uid"), "controller": True, "blockOwnerDeletion": True}


def start_ordinal(sts: Mapping[str, Any]) -> int:
    """``spec.ordinals.start`` (0 when unset)."""
    return int((spec(sts).get("ordinals") or {}).get("start") or 0)


def ordinal_of(sts_name: str, pod: Mapping[str, Any]) -> int | None:
    """The ordinal of ``pod`` when its name is ``<sts_name>-<n>``, else None."""
    m = _ORDINAL.match(str(meta(pod).get("name") or ""))
    if m is None or m.group(1) != sts_name:
        return None
    return int(m.group(2))


def pod_revision(pod: Mapping[str, Any]) -> str:
    """The revision name the pod was made from (``""`` when unlabelled)."""
    return str((meta(pod).get("labels") or {}).get(REVISION_LABEL) or "")


def claim_name(template: Mapping[str, Any], pod_name: str) -> str:
    """The PVC a claim template makes for ``pod_name``."""
    return f"{meta(template).get('name')}-{pod_name}"


def new_pod(sts: Obj, ordinal: int, revision: str, template_source: Obj) -> Obj:
    """The pod of ``ordinal`` built from ``template_source``'s template, labelled with
    ``revision`` (``newVersionedStatefulSetPod``); identity and storage come from ``sts``."""
    md = meta(sts)
    name = f"{md.get('name')}-{ordinal}"
    template = copy.deepcopy(spec(template_source).get("template") or {})
    tmeta = meta(template)
    labels = dict(tmeta.get("labels") or {})
    labels[POD_NAME_LABEL] = name
    labels[POD_INDEX_LABEL] = str(ordinal)
    labels[REVISION_LABEL] = revision
    pod_meta: dict[str, Any] = {"name": name, "namespace": md.get("namespace"),
                                "labels": labels, "ownerReferences": [controller_ref(sts)]}
    for key in ("annotations", "finalizers"):
        if tmeta.get(key):
            pod_meta[key] = tmeta[key]
    pod_spec = spec(template)
    pod_spec["hostname"] = name
    service = spec(sts).get("serviceName")
    if service:
        pod_spec["subdomain"] = service
    claims = spec(sts).get("volumeClaimTemplates") or []
    if claims:
        names = {str(meta(c).get("name")) for c in claims}
        volumes = [v for v in pod_spec.get("volumes") or [] if v.get("name") not in names]
        for c in claims:
            volumes.append({"name": meta(c).get("name"),
                            "persistentVolumeClaim": {"claimName": claim_name(c, name)}})
        pod_spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": pod_spec}


def new_claims(sts: Obj, pod_name: str) -> list[Obj]:
    """The PVCs the pod ``pod_name`` needs, one per claim template (``getPersistentVolumeClaims``).

    Labels are the template's plus the set's ``matchLabels``. With
    ``whenDeleted: Delete`` each claim is owned (not controlled) by the set, so deleting
    the set lets the garbage collector remove it.
    """
    md = meta(sts)
    sp = spec(sts)
    match = dict((sp.get("selector") or {}).get("matchLabels") or {})
    policy = sp.get("persistentVolumeClaimRetentionPolicy") or {}
    out: list[Obj] = []
    for template in sp.get("volumeClaimTemplates") or []:
        tmeta = meta(template)
        labels = {**(tmeta.get("labels") or {}), **match}
        cmeta: dict[str, Any] = {"name": claim_name(template, pod_name),
                                 "namespace": md.get("namespace"), "labels": labels}
        if tmeta.get("annotations"):
            cmeta["annotations"] = dict(tmeta["annotations"])
        if policy.get("whenDeleted") == "Delete":
            ref = controller_ref(sts)
            ref["controller"] = False
            cmeta["ownerReferences"] = [ref]
        out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": cmeta,
                    "spec": copy.deepcopy(spec(template))})
    return out


def is_created(pod: Mapping[str, Any] | None) -> bool:
    """The pod exists (has been written)."""
    return pod is not None and bool(meta(pod).get("resourceVersion") or meta(pod).get("uid"))


def is_failed(pod: Mapping[str, Any]) -> bool:
    """The pod ended (``Failed`` or ``Succeeded``) and must be replaced."""
    return (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded")


def is_running_and_ready(pod: Mapping[str, Any]) -> bool:
    """Phase Running and condition Ready=True."""
    return (pod.get("status") or {}).get("phase") == "Running" and is_ready(pod)


def seconds_until_available(pod: Mapping[str, Any], min_ready: int,
                            now: datetime | None = None) -> float:
    """How long until a ready pod counts as available (0 when it already does)."""
    if min_ready <= 0:
        return 0.0
    since = parse_time((ready_condition(pod) or {}).get("lastTransitionTime"))
    if since is None:
        return 0.0
    elapsed = ((now or datetime.now(UTC)) - since).total_seconds()
    return max(0.0, min_ready - elapsed)


def is_running_and_available(pod: Mapping[str, Any], min_ready: int,
                             now: datetime | None = None) -> bool:
    """Running and ready for at least ``min_ready`` seconds."""
    return is_running_and_ready(pod) and seconds_until_available(pod, min_ready, now) == 0


def is_healthy(pod: Mapping[str, Any]) -> bool:
    """Running, ready and not terminating."""
    return is_running_and_ready(pod) and not is_terminating(pod)
