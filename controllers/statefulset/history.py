"""ControllerRevisions of a StatefulSet (upstream ``pkg/controller/history`` and the
revision half of ``stateful_set_utils.go``).

A revision snapshots what a StatefulSet's rollout depends on: the pod template, stored as
the strategic-merge patch ``{"spec": {"template": {..., "$patch": "replace"}}}``. Its name
is ``<set>-<hash>`` where the hash is FNV-32a over that patch's JSON (plus the set's
``collisionCount`` when non-zero), written with the "safe" alphabet upstream uses for
generated names. Revision numbers grow by one for each new (or re-used) template.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from controllers.statefulset.pods import Obj, controller_ref, meta

__all__ = [
    "HASH_LABEL",
    "SAFE_ALPHABET",
    "equal_revisions",
    "hash_revision",
    "new_revision",
    "next_revision_number",
    "revision_patch",
    "revisions_to_truncate",
]

#: Label every ControllerRevision carries with its hash (``ControllerRevisionHashLabel``).
HASH_LABEL = "controller.kubernetes.io/hash"
#: Characters of generated names: no vowels (no words), no look-alikes (``rand.SafeEncodeString``).
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def _fnv32a(data: bytes, h: int = _FNV_OFFSET) -> int:
    for byte in data:
        h ^= byte
        h = (h * _FNV_PRIME) & 0xFFFFFFFF
    return h


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def revision_patch(sts: Mapping[str, Any]) -> dict[str, Any]:
    """The data a revision of ``sts`` stores: its template, replacing the whole template."""
    template = copy.deepcopy(dict((sts.get("spec") or {}).get("template") or {}))
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def hash_revision(data: Any, collision_count: int | None) -> str:
    """The name suffix of a revision holding ``data`` (``HashControllerRevision``)."""
    h = _fnv32a(_canonical(data))
    if collision_count:
        h = _fnv32a(str(collision_count).encode(), h)
    return "".join(SAFE_ALPHABET[ord(c) % len(SAFE_ALPHABET)] for c in str(h))


def new_revision(sts: Obj, revision: int, collision_count: int | None) -> Obj:
    """A ControllerRevision for ``sts``'s current template, owned by ``sts`` (not yet stored).

    Its labels are the template's labels plus :data:`HASH_LABEL`.
    """
    md = meta(sts)
    data = revision_patch(sts)
    digest = hash_revision(data, collision_count)
    template_labels = dict(((sts.get("spec") or {}).get("template") or {})
                           .get("metadata", {}).get("labels") or {})
    template_labels[HASH_LABEL] = digest
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": f"{md.get('name')}-{digest}",
            "namespace": md.get("namespace"),
            "labels": template_labels,
            "ownerReferences": [controller_ref(sts)],
        },
        "data": data,
        "revision": revision,
    }


def equal_revisions(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two revisions hold the same data (``history.EqualRevision``)."""
    return _canonical(a.get("data")) == _canonical(b.get("data"))


def next_revision_number(revisions: Iterable[Mapping[str, Any]]) -> int:
    """One more than the highest revision number (1 when there are none)."""
    return max((int(r.get("revision") or 0) for r in revisions), default=0) + 1


def revisions_to_truncate(
    revisions: list[Obj], live: set[str], limit: int,
) -> list[Obj]:
    """The oldest revisions beyond ``limit`` that no pod and no status names.

    ``revisions`` must be sorted by revision number; ``live`` holds the names still in use
    (the current and update revisions and every pod's ``controller-revision-hash``).
    """
    history = [r for r in revisions if meta(r).get("name") not in live]
    excess = len(history) - max(limit, 0)
    return history[:excess] if excess > 0 else []
