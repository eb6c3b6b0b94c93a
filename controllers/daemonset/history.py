"""ControllerRevisions of a DaemonSet: one per distinct pod template.

The revision's ``data`` is the patch that restores the template
(``{"spec": {"template": {..., "$patch": "replace"}}}``) and its name is
``<daemonset>-<hash>`` where the hash covers the template and ``status.collisionCount``;
pods carry the hash in their ``controller-revision-hash`` label.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "GENERATION_LABEL",
    "HASH_LABEL",
    "controller_ref",
    "new_revision",
    "owned_by",
    "revision_data",
    "revision_hash",
]

HASH_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

Obj = Mapping[str, Any]


def _fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def _safe_encode(text: str) -> str:
    return "".join(_ALPHABET[ord(ch) % len(_ALPHABET)] for ch in text)


def revision_data(daemonset: Obj) -> dict[str, Any]:
    """The revision ``data`` for the DaemonSet's current template."""
    template = dict(daemonset.get("spec", {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def revision_hash(data: Obj, collision_count: int | None = None) -> str:
    """A short, stable, label-safe hash of revision ``data`` (and the collision count)."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        blob += str(collision_count).encode()
    return _safe_encode(str(_fnv32a(blob)))


def owned_by(obj: Obj, uid: str) -> bool:
    """True when ``obj``'s controller owner reference has ``uid``."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("uid") == uid:
            return True
    return False


def controller_ref(daemonset: Obj) -> dict[str, Any]:
    """The owner reference a DaemonSet puts on what it makes."""
    md = daemonset["metadata"]
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": md["name"],
            "uid": md["uid"], "controller": True, "blockOwnerDeletion": True}


def new_revision(daemonset: Obj, existing: Iterable[Obj]) -> dict[str, Any]:
    """A ControllerRevision for the current template, numbered after ``existing``."""
    md = daemonset["metadata"]
    data = revision_data(daemonset)
    digest = revision_hash(data, daemonset.get("status", {}).get("collisionCount"))
    number = max((int(r.get("revision") or 0) for r in existing), default=0) + 1
    labels = dict(daemonset.get("spec", {}).get("template", {}).get("metadata", {})
                  .get("labels") or {})
    labels[HASH_LABEL] = digest
    return {
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {"name": f"{md['name']}-{digest}", "namespace": md.get("namespace"),
                     "labels": labels, "ownerReferences": [controller_ref(daemonset)]},
        "data": data, "revision": number,
    }
