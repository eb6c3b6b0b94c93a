"""The RollingUpdate strategy: which old pods go and where surge pods come, per sync.

Upstream ``rollingUpdate``: with ``maxSurge`` 0 an old, available pod is deleted only while
fewer than ``maxUnavailable`` nodes lack an available pod; an old pod that is not available
is always replaced. With ``maxSurge`` > 0 a new pod is started next to the old one (on at
most ``maxSurge`` nodes at a time, always where the old one is unavailable) and the old one
is deleted once the new one is available.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from controllers.daemonset.history import HASH_LABEL

__all__ = ["Plan", "plan_rolling_update", "scaled", "strategy_limits"]

Obj = Mapping[str, Any]


def scaled(value: Any, total: int, round_up: bool) -> int:
    """An int-or-percent (``3`` or ``"25%"``) against ``total``."""
    if isinstance(value, str) and value.endswith("%"):
        fraction = int(value[:-1]) * total / 100
        return math.ceil(fraction) if round_up else math.floor(fraction)
    return int(value or 0)


def strategy_limits(daemonset: Obj, desired: int) -> tuple[int, int]:
    """``(maxSurge, maxUnavailable)`` of a RollingUpdate DaemonSet; defaults 0 and 1.
    When both come out 0, maxUnavailable is 1 (as upstream)."""
    rolling = (daemonset.get("spec", {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    surge = scaled(rolling.get("maxSurge", 0), desired, True)
    unavailable = scaled(rolling.get("maxUnavailable", 1), desired, True)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


@dataclass
class Plan:
    """Old pods to delete and nodes to get a new pod."""

    delete: list[Obj] = field(default_factory=list)
    create: list[str] = field(default_factory=list)


def _split(pods: Sequence[Obj], current: str) -> tuple[Obj | None, Obj | None, bool]:
    """``(new, old, ok)``: the node's one updated and one old pod; ok False for more."""
    new: Obj | None = None
    old: Obj | None = None
    for pod in pods:
        if pod.get("metadata", {}).get("labels", {}).get(HASH_LABEL) == current:
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def plan_rolling_update(
    nodes: Mapping[str, Sequence[Obj]], current: str, max_surge: int, max_unavailable: int,
    available: Callable[[Obj], bool],
) -> Plan:
    """The step for ``nodes`` (every node that should run a pod, with its live pods)."""
    plan = Plan()
    if max_surge == 0:
        unavailable = 0
        candidates: list[Obj] = []
        for name in sorted(nodes):
            new, old, ok = _split(nodes[name], current)
            if not ok or (new is None) == (old is None):
                unavailable += 1
            elif new is not None:
                if not available(new):
                    unavailable += 1
            elif old is not None:
                if not available(old):
                    plan.delete.append(old)
                    unavailable += 1
                else:
                    candidates.append(old)
        room = max(0, max_unavailable - unavailable)
        plan.delete.extend(candidates[:room])
        return plan
    surging = 0
    waiting: list[str] = []
    for name in sorted(nodes):
        new, old, ok = _split(nodes[name], current)
        if not ok:
            continue
        if old is not None and new is None:
            if not available(old):
                plan.create.append(name)
            else:
                waiting.append(name)
        elif old is not None and new is not None:
            if available(new):
                plan.delete.append(old)
            else:
                surging += 1
    room = max(0, max_surge - surging - len(plan.create))
    plan.create.extend(waiting[:room])
    return plan
