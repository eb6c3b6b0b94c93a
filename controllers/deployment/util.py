"""Pure helpers of the deployment controller (upstream ``deployment/util``).

Everything here works on plain API dicts and never writes: the pod-template hash and its
encoding, annotations, ``maxSurge``/``maxUnavailable`` arithmetic, replica counts over a
set of ReplicaSets, ordering, and the Deployment conditions.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "CHANGE_CAUSE",
    "DESIRED_REPLICAS",
    "HASH_LABEL",
    "LAST_APPLIED",
    "MAX_INT32",
    "MAX_REPLICAS",
    "NOT_COPIED",
    "REVISION",
    "REVISION_HISTORY",
    "ROLLBACK_TO",
    "Obj",
    "active",
    "annotations_of",
    "available",
    "by_creation",
    "by_revision",
    "compute_hash",
    "equal_ignore_hash",
    "fenceposts",
    "get_condition",
    "has_progress_deadline",
    "int_annotation",
    "is_rolling",
    "max_surge",
    "max_unavailable",
    "new_condition",
    "normalized",
    "now",
    "remove_condition",
    "revision",
    "safe_encode_string",
    "scaled_value",
    "set_condition",
    "spec_replicas",
    "status_int",
    "total_spec",
    "total_status",
]

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
#: Annotations of the Deployment never copied onto its ReplicaSets.
NOT_COPIED = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS,
                        MAX_REPLICAS, ROLLBACK_TO})
#: ``progressDeadlineSeconds`` of MaxInt32 means "no deadline".
MAX_INT32 = 2**31 - 1

# The alphabet of upstream ``rand.SafeEncodeString``: no vowels, no look-alikes.
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


def safe_encode_string(text: str) -> str:
    """Map every byte of ``text`` onto the 27-letter alphabet (as ``rand.SafeEncodeString``)."""
    return "".join(_ALPHANUMS[b % len(_ALPHANUMS)] for b in text.encode())


def _fnv32a(data: bytes, h: int = _FNV32_OFFSET) -> int:
    for b in data:
        h = ((h ^ b) * _FNV32_PRIME) & 0xFFFFFFFF
    return h


def compute_hash(template: Mapping[str, Any], collision_count: int | None) -> str:
    """The ``pod-template-hash`` of ``template``: FNV-32a over the template's canonical JSON
    (sorted keys, no spaces) followed, when ``collision_count`` is set, by that count as
    eight bytes (uint32 little-endian, zero padded); the decimal sum is then safe-encoded.

    Deterministic for equal templates; a different ``collision_count`` gives another name.
    """
    data = json.dumps(normalized(template), sort_keys=True, separators=(",", ":")).encode()
    h = _fnv32a(data)
    if collision_count is not None:
        h = _fnv32a((collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4), h)
    return safe_encode_string(str(h))


def normalized(template: Mapping[str, Any] | None) -> Obj:
    """A copy of a pod template without null metadata fields (``creationTimestamp: null``,
    which ``kubectl rollout undo`` sends, is the zero value, as if absent)."""
    t = copy.deepcopy(dict(template or {}))
    md = t.get("metadata")
    if isinstance(md, dict):
        for key in [k for k, v in md.items() if v is None]:
            del md[key]
        if not md:
            del t["metadata"]
    return t


def _without_hash(template: Mapping[str, Any] | None) -> Any:
    t = normalized(template)
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
        if not labels:
            t["metadata"].pop("labels")
    if "metadata" in t and not t["metadata"]:
        t.pop("metadata")
    return t


def equal_ignore_hash(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Whether two pod templates are equal but for their ``pod-template-hash`` label."""
    return bool(_without_hash(a) == _without_hash(b))


def spec_replicas(obj: Mapping[str, Any] | None) -> int:
    """``spec.replicas`` (0 when unset or ``obj`` is None)."""
    if obj is None:
        return 0
    return int((obj.get("spec") or {}).get("replicas") or 0)


def status_int(obj: Mapping[str, Any] | None, field: str) -> int:
    """An integer ``status`` field (0 when unset)."""
    if obj is None:
        return 0
    return int((obj.get("status") or {}).get(field) or 0)


def available(obj: Mapping[str, Any] | None) -> int:
    """``status.availableReplicas``."""
    return status_int(obj, "availableReplicas")


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's annotations (a live reference; created when missing)."""
    md = obj["metadata"]
    if md.get("annotations") is None:
        md["annotations"] = {}
    result: dict[str, str] = md["annotations"]
    return result


def revision(obj: Mapping[str, Any]) -> int:
    """The ``deployment.kubernetes.io/revision`` annotation as a number (0 when unset/bad)."""
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "")
    try:
        return int(value)
    except ValueError:
        return 0


def int_annotation(obj: Mapping[str, Any], key: str) -> int | None:
    """An integer annotation, or None when missing or not a number."""
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(key)
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """An int-or-percent against ``total`` (upstream ``GetScaledValueFromIntOrPercent``)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        return int(text)
    fraction = int(text[:-1]) * total / 100
    return math.ceil(fraction) if round_up else math.floor(fraction)


def is_rolling(deployment: Mapping[str, Any]) -> bool:
    """Whether the strategy is RollingUpdate."""
    strategy = deployment["spec"].get("strategy") or {}
    return bool(strategy.get("type", "RollingUpdate") == "RollingUpdate")


def fenceposts(deployment: Mapping[str, Any]) -> tuple[int, int]:
    """``(maxSurge, maxUnavailable)`` resolved against ``spec.replicas``: surge rounds up,
    unavailability rounds down, and both zero becomes unavailability 1."""
    rolling = (deployment["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    desired = spec_replicas(deployment)
    surge = scaled_value(rolling.get("maxSurge", "25%"), desired, True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(deployment: Mapping[str, Any]) -> int:
    """The surge of a rolling update (0 for Recreate)."""
    return fenceposts(deployment)[0] if is_rolling(deployment) else 0


def max_unavailable(deployment: Mapping[str, Any]) -> int:
    """Pods that may be unavailable during a rolling update, at most ``spec.replicas``."""
    desired = spec_replicas(deployment)
    if not is_rolling(deployment) or desired == 0:
        return 0
    return min(fenceposts(deployment)[1], desired)


def total_spec(rses: Iterable[Obj | None]) -> int:
    """Sum of ``spec.replicas``."""
    return sum(spec_replicas(rs) for rs in rses if rs is not None)


def total_status(rses: Iterable[Obj | None], field: str) -> int:
    """Sum of one integer status field."""
    return sum(status_int(rs, field) for rs in rses if rs is not None)


def active(rses: Iterable[Obj | None]) -> list[Obj]:
    """The ReplicaSets that want pods (``spec.replicas`` > 0)."""
    return [rs for rs in rses if rs is not None and spec_replicas(rs) > 0]


def by_creation(rs: Mapping[str, Any]) -> tuple[str, str]:
    """Sort key: oldest first, ties by name."""
    md = rs["metadata"]
    return (str(md.get("creationTimestamp") or ""), str(md.get("name", "")))


def by_revision(rs: Mapping[str, Any]) -> tuple[int, str, str]:
    """Sort key: lowest revision first, ties by age."""
    return (revision(rs), *by_creation(rs))


def has_progress_deadline(deployment: Mapping[str, Any]) -> bool:
    """Whether ``progressDeadlineSeconds`` is set and not MaxInt32."""
    deadline = deployment["spec"].get("progressDeadlineSeconds")
    return bool(deadline is not None and deadline != MAX_INT32)


def now() -> str:
    """The current time as RFC 3339 (seconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def get_condition(status: Mapping[str, Any], kind: str) -> Obj | None:
    """The condition of type ``kind``, or None."""
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def new_condition(kind: str, status: str, reason: str, message: str) -> Obj:
    """A condition stamped now."""
    stamp = now()
    return {"type": kind, "status": status, "lastUpdateTime": stamp,
            "lastTransitionTime": stamp, "reason": reason, "message": message}


def set_condition(status: Obj, condition: Obj) -> None:
    """Set ``condition`` on ``status``: unchanged when status and reason already match; the
    transition time kept when only the reason or message changes."""
    current = get_condition(status, condition["type"])
    if current is not None and current.get("status") == condition["status"] \
            and current.get("reason") == condition["reason"]:
        return
    if current is not None and current.get("status") == condition["status"]:
        condition["lastTransitionTime"] = current.get("lastTransitionTime")
    remove_condition(status, condition["type"])
    status.setdefault("conditions", []).append(condition)


def remove_condition(status: Obj, kind: str) -> None:
    """Drop the condition of type ``kind``."""
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != kind]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
