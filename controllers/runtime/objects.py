"""Facts about API objects every controller reads the same way: times, pod readiness.

Objects are JSON dicts as the API serves them; every function tolerates missing or
malformed fields (an object from the cache is never trusted to be well-formed).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["is_ready", "is_terminating", "parse_time", "ready_condition"]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime; ``None`` when unset or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def ready_condition(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod's ``Ready`` condition, if it has one."""
    for cond in _m(pod.get("status")).get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == "Ready":
            return cond
    return None


def is_ready(pod: Mapping[str, Any]) -> bool:
    """The pod's ``Ready`` condition is True."""
    cond = ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def is_terminating(obj: Mapping[str, Any]) -> bool:
    """The object is being deleted (``metadata.deletionTimestamp`` is set)."""
    return bool(_m(obj.get("metadata")).get("deletionTimestamp"))
