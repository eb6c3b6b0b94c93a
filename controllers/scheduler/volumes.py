"""The part of kube-scheduler's VolumeBinding PreFilter kubemu applies: the claims exist.

A pod naming a PersistentVolumeClaim (``persistentVolumeClaim.claimName``, or the claim a
generic ``ephemeral`` volume gets, ``<pod>-<volume>``) is unschedulable on every node,
unresolvably, while that claim does not exist (``persistentvolumeclaim "data" not
found``; for an ephemeral volume ``waiting for ephemeral volume controller to create the
persistentvolumeclaim "web-0-scratch"``), is being deleted, has lost its volume or, for an
ephemeral volume, is not the pod's, with upstream's messages. Then, as upstream, a pod
with an unbound claim of an ``Immediate`` class (or of none) waits for the
``persistentvolume-binder`` (``pod has unbound immediate PersistentVolumeClaims``); the
unbound claims of a ``WaitForFirstConsumer`` class get the node chosen for the pod
(``volume.kubernetes.io/selected-node``), so their volumes are made for it, and the pod is
bound once they are (:func:`check_claims`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from apiserver.api.podclaims import pod_claims

__all__ = ["SELECTED_NODE", "UNBOUND_IMMEDIATE", "ClaimCheck", "ClaimLookup", "check_claims",
           "claim_error", "volume_affinity"]

UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
#: The claim annotation naming the node a ``WaitForFirstConsumer`` claim is for.
SELECTED_NODE = "volume.kubernetes.io/selected-node"

#: ``lookup(namespace, name)``: the PersistentVolumeClaim, or None.
ClaimLookup = Callable[[str, str], Mapping[str, Any] | None]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class ClaimCheck:
    """What VolumeBinding's PreFilter found: why the pod fits no node (``error``), or the
    pod's unbound ``WaitForFirstConsumer`` claims, those without a chosen node first."""

    error: str = ""
    to_select: tuple[tuple[str, str], ...] = ()
    selected: tuple[tuple[str, str], ...] = ()


def check_claims(pod: Mapping[str, Any], lookup: ClaimLookup,
                 binding_mode: Callable[[str], str]) -> ClaimCheck:
    """:func:`claim_error`, then the binding state of the claims: an unbound claim whose
    class binds ``Immediate``ly (``binding_mode(class)``; no class is ``Immediate``) keeps
    the pod waiting for the binder (``pod has unbound immediate PersistentVolumeClaims``);
    unbound ``WaitForFirstConsumer`` claims are listed."""
    error = claim_error(pod, lookup)
    if error:
        return ClaimCheck(error)
    namespace = str(_m(pod.get("metadata")).get("namespace") or "")
    to_select: list[tuple[str, str]] = []
    selected: list[tuple[str, str]] = []
    for _volume, name, _ephemeral in pod_claims(pod):
        claim = _m(lookup(namespace, name))
        if _m(claim.get("spec")).get("volumeName"):
            continue
        class_name = str(_m(claim.get("spec")).get("storageClassName") or "")
        if not class_name or binding_mode(class_name) != "WaitForFirstConsumer":
            return ClaimCheck(UNBOUND_IMMEDIATE)
        annotations = _m(_m(claim.get("metadata")).get("annotations"))
        (selected if SELECTED_NODE in annotations else to_select).append((namespace, name))
    return ClaimCheck("", tuple(to_select), tuple(selected))


def claim_error(pod: Mapping[str, Any], lookup: ClaimLookup) -> str:
    """Why ``pod``'s claims keep it from every node, or ``""``."""
    md = _m(pod.get("metadata"))
    namespace = str(md.get("namespace") or "")
    for _volume, name, ephemeral in pod_claims(pod):
        claim = lookup(namespace, name)
        if claim is None:
            if ephemeral:
                return ("waiting for ephemeral volume controller to create the "
                        f'persistentvolumeclaim "{name}"')
            return f'persistentvolumeclaim "{name}" not found'
        if _m(claim.get("status")).get("phase") == "Lost":
            return (f'persistentvolumeclaim "{name}" bound to non-existent persistentvolume '
                    f'"{_m(claim.get("spec")).get("volumeName") or ""}"')
        if _m(claim.get("metadata")).get("deletionTimestamp"):
            return f'persistentvolumeclaim "{name}" is being deleted'
        owners = _m(claim.get("metadata")).get("ownerReferences") or []
        if ephemeral and not any(_m(r).get("uid") == md.get("uid") and _m(r).get("controller")
                                 for r in owners):
            return (f"PVC {namespace}/{name} was not created for pod {namespace}/"
                    f"{md.get('name')} (pod is not owner)")
    return ""


def volume_affinity(pod: Mapping[str, Any], lookup: ClaimLookup,
                    persistent_volume: Callable[[str], Mapping[str, Any] | None]
                    ) -> tuple[Mapping[str, Any], ...]:
    """The ``nodeAffinity.required`` node selectors of the volumes bound to ``pod``'s
    claims (a node must match each: ``node(s) had volume node affinity conflict``)."""
    namespace = str(_m(pod.get("metadata")).get("namespace") or "")
    out = []
    for _volume, name, _ephemeral in pod_claims(pod):
        volume_name = str(_m(_m(lookup(namespace, name)).get("spec")).get("volumeName") or "")
        volume = persistent_volume(volume_name) if volume_name else None
        required = _m(_m(_m(volume).get("spec")).get("nodeAffinity")).get("required")
        if isinstance(required, Mapping):
            out.append(required)
    return tuple(out)
