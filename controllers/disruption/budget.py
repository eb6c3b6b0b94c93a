"""The PodDisruptionBudget arithmetic, free of I/O.

As upstream ``updatePdbStatus``: with an integer ``minAvailable`` the expected count is the
number of selected pods; with a percentage ``minAvailable`` or any ``maxUnavailable`` it is
the sum of the selected pods' controllers' scale. Percentages round up.
``disruptionsAllowed = max(0, currentHealthy - desiredHealthy)`` (0 when nothing is expected).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

__all__ = ["DELETION_TIMEOUT", "ScaleError", "desired_and_expected", "disruptions_allowed",
           "expected_scale", "live_disrupted", "scaled"]

Obj = Mapping[str, Any]
#: How long an eviction's entry in ``status.disruptedPods`` counts (upstream 2 minutes).
DELETION_TIMEOUT = timedelta(minutes=2)


class ScaleError(Exception):
    """A selected pod's controller cannot be found or has no scale."""


def scaled(value: Any, total: int) -> int:
    """An int-or-percent against ``total``, rounding up."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


def expected_scale(pods: Sequence[Obj],
                   scale_of: Callable[[str, Mapping[str, Any]], tuple[str, int] | None]) -> int:
    """The summed scale of the pods' controllers, each counted once.

    ``scale_of(namespace, controllerRef)`` answers ``(uid of the scaled object, replicas)``
    or ``None`` when unknown; a pod without a controller, or an unknown controller, raises
    :class:`ScaleError`.
    """
    seen: dict[str, int] = {}
    for pod in pods:
        md = pod.get("metadata", {})
        ref = next((r for r in md.get("ownerReferences") or [] if r.get("controller")), None)
        if ref is None:
            raise ScaleError(f"found no controller ref for pod {md.get('name')!r}")
        answer = scale_of(str(md.get("namespace", "")), ref)
        if answer is None:
            raise ScaleError(f"found no controllers for pod {md.get('name')!r}")
        seen[answer[0]] = answer[1]
    return sum(seen.values())


def desired_and_expected(spec: Obj, pods: Sequence[Obj],
                         scale_of: Callable[[str, Mapping[str, Any]], tuple[str, int] | None],
                         ) -> tuple[int, int]:
    """``(desiredHealthy, expectedPods)`` for a PDB ``spec`` over its selected pods."""
    if spec.get("maxUnavailable") is not None:
        expected = expected_scale(pods, scale_of)
        return max(0, expected - scaled(spec["maxUnavailable"], expected)), expected
    minimum = spec.get("minAvailable")
    if isinstance(minimum, str) and minimum.endswith("%"):
        expected = expected_scale(pods, scale_of)
        return scaled(minimum, expected), expected
    return int(minimum or 0), len(pods)


def disruptions_allowed(current: int, desired: int, expected: int) -> int:
    """How many more pods may be disrupted."""
    if expected <= 0:
        return 0
    return max(0, current - desired)


def live_disrupted(disrupted: Mapping[str, str], pods: Mapping[str, Obj], now: datetime,
                   parse: Callable[[Any], datetime | None]) -> tuple[dict[str, str],
                                                                     datetime | None]:
    """The ``disruptedPods`` entries still in force, and when the next one expires.

    An entry goes once its pod is gone or being deleted, or 2 minutes after the eviction.
    """
    kept: dict[str, str] = {}
    next_expiry: datetime | None = None
    for name, stamp in disrupted.items():
        pod = pods.get(name)
        if pod is None or pod.get("metadata", {}).get("deletionTimestamp"):
            continue
        when = parse(stamp)
        if when is None or when + DELETION_TIMEOUT < now:
            continue
        kept[name] = stamp
        expiry = when + DELETION_TIMEOUT
        next_expiry = expiry if next_expiry is None or expiry < next_expiry else next_expiry
    return kept, next_expiry
