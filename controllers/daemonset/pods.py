"""Small pod facts the daemonset controller needs: readiness, availability, age."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from controllers.runtime.objects import is_ready, is_terminating, parse_time, ready_condition

__all__ = ["is_available", "is_ready", "is_terminating", "parse_time", "ready_since"]

Obj = Mapping[str, Any]


def _ready_condition(pod: Obj) -> Mapping[str, Any] | None:
    return ready_condition(pod)


def ready_since(pod: Obj) -> datetime | None:
    """When the pod last became ready (``None`` when not ready or unknown)."""
    cond = _ready_condition(pod)
    if cond is None or cond.get("status") != "True":
        return None
    return parse_time(cond.get("lastTransitionTime"))


def is_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready for at least ``min_ready_seconds`` (upstream ``IsPodAvailable``)."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and (now - since).total_seconds() >= min_ready_seconds
