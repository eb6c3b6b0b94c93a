"""The part of kube-scheduler's VolumeBinding PreFilter kubemu applies: the claims exist.

A pod naming a PersistentVolumeClaim (``persistentVolumeClaim.claimName``, or the claim a
generic ``ephemeral`` volume gets, ``<pod>-<volume>``) is unschedulable on every node,
unresolvably, while that claim does not exist (``persistentvolumeclaim "data" not
found``; for an ephemeral volume ``waiting for ephemeral volume controller to create the
persistentvolumeclaim "web-0-scratch"``), is being deleted, has lost its volume or, for an
ephemeral volume, is not the pod's, with upstream's messages. Unlike upstream, it does not
wait for an ``Immediate`` claim to be bound by the ``persistentvolume-binder`` nor bind
``WaitForFirstConsumer`` claims itself: a pod with a claim that exists is scheduled (every
node sees the host directories kubemu's volumes are).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ClaimLookup", "claim_error"]

#: ``lookup(namespace, name)``: the PersistentVolumeClaim, or None.
ClaimLookup = Callable[[str, str], Mapping[str, Any] | None]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def claim_error(pod: Mapping[str, Any], lookup: ClaimLookup) -> str:
    """Why ``pod``'s claims keep it from every node, or ``""``."""
    md = _m(pod.get("metadata"))
    namespace = str(md.get("namespace") or "")
    for volume in _m(pod.get("spec")).get("volumes") or []:
        volume = _m(volume)
        if "persistentVolumeClaim" in volume:
            name = str(_m(volume["persistentVolumeClaim"]).get("claimName") or "")
            ephemeral = False
        elif "ephemeral" in volume:
            name = f"{md.get('name')}-{volume.get('name')}"
            ephemeral = True
        else:
            continue
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
