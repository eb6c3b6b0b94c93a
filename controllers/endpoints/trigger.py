"""The last-change trigger time tracker (upstream ``trigger_time_tracker.go``).

For each Service it remembers the Ready-condition ``lastTransitionTime`` of its
pods and the Service's own trigger time (its creation time) seen at the last
sync. :meth:`TriggerTimeTracker.compute` returns, for a Service seen for the
first time, its creation time; otherwise the earliest trigger time that changed
since the last sync (``None`` when nothing did). The state is updated even when
the caller ends up writing nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controllers.endpoints.podutil import meta, parse_time, ready_condition

__all__ = ["TriggerTimeTracker"]


@dataclass
class _State:
    pods: dict[str, datetime] = field(default_factory=dict)
    service: datetime | None = None


def _pod_trigger(pod: Mapping[str, Any]) -> datetime | None:
    cond = ready_condition(pod)
    return parse_time(cond.get("lastTransitionTime")) if cond is not None else None


class TriggerTimeTracker:
    """Per-Service memory of trigger times."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], _State] = {}

    def compute(
        self, service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]
    ) -> datetime | None:
        """The ``last-change-trigger-time`` for this sync of ``service``."""
        md = meta(service)
        key = (str(md.get("namespace") or ""), str(md.get("name") or ""))
        state = self._states.get(key)
        known = state is not None
        last = state or _State()
        earliest: datetime | None = None
        pod_times: dict[str, datetime] = {}
        for pod in pods:
            when = _pod_trigger(pod)
            if when is None:
                continue
            name = str(meta(pod).get("name") or "")
            pod_times[name] = when
            before = last.pods.get(name)
            if (before is None or when > before) and (earliest is None or when < earliest):
                earliest = when
        svc_time = parse_time(md.get("creationTimestamp"))
        if (
            svc_time is not None
            and (last.service is None or svc_time > last.service)
            and (earliest is None or svc_time < earliest)
        ):
            earliest = svc_time
        self._states[key] = _State(pod_times, svc_time)
        if not known:
            return svc_time
        return earliest

    def delete_service(self, namespace: str, name: str) -> None:
        """Forget a deleted Service."""
        self._states.pop((namespace, name), None)
