"""Turning a metric-based proposal into the replica count to apply (upstream
``normalizeDesiredReplicas`` / ``normalizeDesiredReplicasWithBehaviors``).

:class:`ScalingHistory` keeps, per HPA key, the recent unstabilized recommendations and the
recent scale events, in memory as upstream does (a restarted controller starts afresh),
and normalizes a proposal:

* without ``spec.behavior``: the highest recommendation of the last
  ``--horizontal-pod-autoscaler-downscale-stabilization`` (5 min) holds scale-downs back
  (``ScaleDownStabilized``); a scale-up is capped at ``max(2 * current, 4)``
  (``ScaleUpLimit``); then ``minReplicas``/``maxReplicas`` (``TooFewReplicas`` /
  ``TooManyReplicas``);
* with ``spec.behavior`` (defaults filled as the API does: scale-up 4 pods or 100 % per
  15 s, ``Max``, no stabilization; scale-down 100 % per 15 s, ``Max``, the flag's window):
  the recommendation is kept between the lowest of the scale-up window and the highest of
  the scale-down window (``ScaleUpStabilized`` / ``ScaleDownStabilized``), then limited by
  the policies over the replicas added/removed within each policy's period
  (``ScaleUpLimit`` / ``ScaleDownLimit``; ``selectPolicy: Disabled`` forbids the
  direction) and the bounds.

:meth:`ScalingHistory.normalize` returns the count with the ``AbleToScale`` and
``ScalingLimited`` conditions upstream sets; the controller writes them.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = ["DOWNSCALE_STABILIZATION", "SCALE_DOWN_RULES", "SCALE_UP_RULES", "Normalized",
           "ScalingHistory", "convert_with_rules", "rules_with_defaults",
           "scale_down_limit", "scale_up_limit"]

#: ``--horizontal-pod-autoscaler-downscale-stabilization`` default, seconds.
DOWNSCALE_STABILIZATION = 300.0
#: Upstream's ``defaultHPAScaleUpRules`` / ``defaultHPAScaleDownRules`` (the scale-down
#: window comes from the flag).
SCALE_UP_RULES: dict[str, Any] = {
    "stabilizationWindowSeconds": 0, "selectPolicy": "Max",
    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                 {"type": "Percent", "value": 100, "periodSeconds": 15}]}
SCALE_DOWN_RULES: dict[str, Any] = {
    "selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
_INT32_MAX, _INT32_MIN = 2**31 - 1, -(2**31)
_WITHIN = ("DesiredWithinRange", "the desired count is within the acceptable range")
_TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica "
             "count")
_TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica "
            "count")
_UP_LIMIT = ("ScaleUpLimit", "the desired replica count is increasing faster than the "
             "maximum scale rate")
_DOWN_LIMIT = ("ScaleDownLimit", "the desired replica count is decreasing faster than the "
               "maximum scale rate")
_READY = ("ReadyForNewScale", "recommended size matches current size")
_DOWN_STABILIZED = ("ScaleDownStabilized", "recent recommendations were higher than current "
                    "one, applying the highest recent recommendation")
_UP_STABILIZED = ("ScaleUpStabilized", "recent recommendations were lower than current one, "
                  "applying the lowest recent recommendation")


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def rules_with_defaults(behavior: Mapping[str, Any], downscale_window: float
                        ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(scaleUp, scaleDown) rules of ``behavior`` with every unset field defaulted
    (``GenerateHPAScale{Up,Down}Rules`` plus ``maybeInitScaleDownStabilizationWindow``)."""
    rules: list[dict[str, Any]] = []
    for name, default in (("scaleUp", SCALE_UP_RULES), ("scaleDown", SCALE_DOWN_RULES)):
        given = _m(behavior.get(name))
        filled = copy.deepcopy(default)
        filled.update({k: v for k, v in given.items() if v is not None})
        rules.append(filled)
    rules[1].setdefault("stabilizationWindowSeconds", int(downscale_window))
    return rules[0], rules[1]


@dataclass(frozen=True)
class Normalized:
    """The count to apply and the conditions explaining it (reason, message)."""

    replicas: int
    able_to_scale: tuple[str, str]
    limited: bool
    scaling_limited: tuple[str, str]


@dataclass
class _Recommendation:
    replicas: int
    at: datetime


@dataclass
class _ScaleEvent:
    change: int  # absolute value
    at: datetime
    outdated: bool = False


def convert_with_rules(current: int, desired: int, low: int, high: int
                       ) -> tuple[int, tuple[str, str]]:
    """``convertDesiredReplicasWithRules``: the bounds and the 2x/4-pods scale-up cap."""
    # Caps runaway scale-ups from bogus usage reports (upstream issue #32304).
    cap = max(2 * current, 4)
    maximum, limit = (cap, _UP_LIMIT) if high > cap else (high, _TOO_MANY)
    if desired < low:
        return low, _TOO_FEW
    if desired > maximum:
        return maximum, limit
    return desired, _WITHIN


def _changed_within(period: int, events: list[_ScaleEvent], now: datetime) -> int:
    cutoff = now - timedelta(seconds=period)
    return sum(e.change for e in events if e.at > cutoff)


def _policy_values(current: int, ups: list[_ScaleEvent], downs: list[_ScaleEvent],
                   rules: Mapping[str, Any], now: datetime, up: bool) -> list[int]:
    values = []
    for policy in rules.get("policies") or []:
        policy = _m(policy)
        period, value = int(policy.get("periodSeconds") or 0), int(policy.get("value") or 0)
        start = current - _changed_within(period, ups, now) + _changed_within(period, downs, now)
        if policy.get("type") == "Pods":
            values.append(start + value if up else start - value)
        elif policy.get("type") == "Percent":
            # Rounded up on the way up so a small percentage still adds a pod.
            values.append(math.ceil(start * (1 + value / 100)) if up
                          else int(start * (1 - value / 100)))
    return values


def scale_up_limit(current: int, ups: list[_ScaleEvent], downs: list[_ScaleEvent],
                   rules: Mapping[str, Any], now: datetime) -> int:
    """``calculateScaleUpLimitWithScalingRules``: the most replicas the policies allow."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    values = _policy_values(current, ups, downs, rules, now, up=True)
    if select == "Min":
        return min(values, default=_INT32_MAX)
    return max(values, default=_INT32_MIN)


def scale_down_limit(current: int, ups: list[_ScaleEvent], downs: list[_ScaleEvent],
                     rules: Mapping[str, Any], now: datetime) -> int:
    """``calculateScaleDownLimitWithBehaviors``: the fewest replicas the policies allow."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    values = _policy_values(current, ups, downs, rules, now, up=False)
    if select == "Min":
        return max(values, default=_INT32_MIN)
    return min(values, default=_INT32_MAX)


class ScalingHistory:
    """Recommendations and scale events per HPA key (see the module docstring)."""

    def __init__(self, downscale_window: float = DOWNSCALE_STABILIZATION) -> None:
        self.downscale_window = downscale_window
        self.recommendations: dict[str, list[_Recommendation]] = {}
        self.scale_ups: dict[str, list[_ScaleEvent]] = {}
        self.scale_downs: dict[str, list[_ScaleEvent]] = {}

    def forget(self, key: str) -> None:
        """Drop the history of a deleted HPA."""
        for history in (self.recommendations, self.scale_ups, self.scale_downs):
            history.pop(key, None)

    def record_initial(self, key: str, current: int, now: datetime) -> None:
        """The first recommendation of an HPA is the count it found."""
        self.recommendations.setdefault(key, [_Recommendation(current, now)])

    def _record(self, key: str, desired: int, stale: int | None, now: datetime) -> None:
        # A sample older than every window is reused instead of growing the list.
        history = self.recommendations.setdefault(key, [])
        if stale is None:
            history.append(_Recommendation(desired, now))
        else:
            history[stale] = _Recommendation(desired, now)

    def normalize(self, key: str, spec: Mapping[str, Any], current: int, desired: int,
                  low: int, now: datetime) -> Normalized:
        """The count to apply for ``desired`` (see the module docstring)."""
        high = int(spec.get("maxReplicas") or 0)
        behavior = spec.get("behavior")
        if not isinstance(behavior, Mapping):
            stabilized = self._stabilize(key, desired, now)
            able = _DOWN_STABILIZED if stabilized != desired else _READY
            replicas, limit = convert_with_rules(current, stabilized, low, high)
            return Normalized(replicas, able, replicas != stabilized, limit)
        up, down = rules_with_defaults(behavior, self.downscale_window)
        stabilized, able = self._stabilize_with_behaviors(key, up, down, current, desired,
                                                          now)
        if stabilized == desired:
            able = _READY
        replicas, limit = self._apply_rate(key, up, down, current, stabilized, low, high, now)
        return Normalized(replicas, able, replicas != stabilized, limit)

    def _stabilize(self, key: str, desired: int, now: datetime) -> int:
        """``stabilizeRecommendation``: the highest recommendation within the window."""
        cutoff = now - timedelta(seconds=self.downscale_window)
        highest, stale = desired, None
        for i, rec in enumerate(self.recommendations.get(key, [])):
            if rec.at < cutoff:
                stale = i
            elif rec.replicas > highest:
                highest = rec.replicas
        self._record(key, desired, stale, now)
        return highest

    def _stabilize_with_behaviors(self, key: str, up: Mapping[str, Any],
                                  down: Mapping[str, Any], current: int, desired: int,
                                  now: datetime) -> tuple[int, tuple[str, str]]:
        """``stabilizeRecommendationWithBehaviors``."""
        up_cutoff = now - timedelta(seconds=int(up.get("stabilizationWindowSeconds") or 0))
        down_cutoff = now - timedelta(
            seconds=int(down.get("stabilizationWindowSeconds") or 0))
        lowest = highest = desired
        stale = None
        for i, rec in enumerate(self.recommendations.get(key, [])):
            if rec.at > up_cutoff:
                lowest = min(lowest, rec.replicas)
            if rec.at > down_cutoff:
                highest = max(highest, rec.replicas)
            if rec.at < up_cutoff and rec.at < down_cutoff:
                stale = i
        recommendation = min(max(current, lowest), highest)
        self._record(key, desired, stale, now)
        return recommendation, (_UP_STABILIZED if desired >= current else _DOWN_STABILIZED)

    def _apply_rate(self, key: str, up: Mapping[str, Any], down: Mapping[str, Any],
                    current: int, desired: int, low: int, high: int, now: datetime
                    ) -> tuple[int, tuple[str, str]]:
        """``convertDesiredReplicasWithBehaviorRate``."""
        ups, downs = self.scale_ups.get(key, []), self.scale_downs.get(key, [])
        if desired > current:
            # Never below the current count: a limit under it only means "wait".
            limit = max(scale_up_limit(current, ups, downs, up, now), current)
            maximum, reason = (limit, _UP_LIMIT) if high > limit else (high, _TOO_MANY)
            if desired > maximum:
                return maximum, reason
        elif desired < current:
            limit = min(scale_down_limit(current, ups, downs, down, now), current)
            minimum, reason = (limit, _DOWN_LIMIT) if low < limit else (low, _TOO_FEW)
            if desired < minimum:
                return minimum, reason
        return desired, _WITHIN

    def store_scale_event(self, key: str, spec: Mapping[str, Any], previous: int, new: int,
                          now: datetime) -> None:
        """``storeScaleEvent``: remember a rescale for the rate limits (with a behavior)."""
        behavior = spec.get("behavior")
        if not isinstance(behavior, Mapping):
            return  # only the behavior policies read the events
        up, down = rules_with_defaults(behavior, self.downscale_window)
        rules, store = (up, self.scale_ups) if new > previous else (down, self.scale_downs)
        longest = max((int(_m(p).get("periodSeconds") or 0)
                       for p in rules.get("policies") or []), default=0)
        cutoff = now - timedelta(seconds=longest)
        events = store.setdefault(key, [])
        stale = None
        for i, event in enumerate(events):
            if event.at < cutoff:
                event.outdated = True
            if event.outdated:
                stale = i
        event = _ScaleEvent(abs(new - previous), now)
        if stale is None:
            events.append(event)
        else:
            events[stale] = event
