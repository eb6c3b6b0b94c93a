"""kube-scheduler's PodTopologySpread filter: ``topologySpreadConstraints`` that say
``whenUnsatisfiable: DoNotSchedule``.

A constraint names a node label (``topologyKey``: each value is a domain), a selector of
the pods it spreads (in the pod's own namespace; ``matchLabelKeys`` add the pod's own
values of those labels to it) and ``maxSkew``. The PreFilter step (:func:`prefilter`)
counts the matching pods of each domain over the nodes that are eligible: nodes carrying
every constraint's key, matching the pod's ``nodeSelector`` and required node affinity
(``nodeAffinityPolicy: Honor``, the default) and, with ``nodeTaintsPolicy: Honor``, whose
taints it tolerates. Pods being deleted do not count. The filter (:func:`check`) rejects
a node

* without one of the keys: ``node(s) didn't match pod topology spread constraints
  (missing required label)`` (unresolvable);
* where placing the pod would make its domain's count, plus one if the pod matches the
  selector itself, exceed the smallest domain's count by more than ``maxSkew``:
  ``node(s) didn't match pod topology spread constraints``. With fewer eligible domains
  than ``minDomains``, the smallest count is taken as 0.

``ScheduleAnyway`` constraints only score upstream; the scheduler's spreading stands in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apiserver.api.labels.selector import (
    LabelSelector,
    Operator,
    SelectorError,
    new_requirement,
    selector_from_label_selector_object,
    sorted_selector,
)

__all__ = ["LABEL_REASON", "SKEW_REASON", "Constraint", "SpreadState", "check", "prefilter"]

SKEW_REASON = "node(s) didn't match pod topology spread constraints"
LABEL_REASON = SKEW_REASON + " (missing required label)"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _m(_m(obj.get("metadata")).get("labels"))


@dataclass(frozen=True)
class Constraint:
    """One ``DoNotSchedule`` constraint, its selector parsed."""

    max_skew: int
    topology_key: str
    selector: LabelSelector
    min_domains: int
    honor_affinity: bool
    honor_taints: bool


def _selector(raw: Mapping[str, Any], pod_labels: Mapping[str, str]) -> LabelSelector:
    try:
        selector = selector_from_label_selector_object(
            raw.get("labelSelector") if isinstance(raw.get("labelSelector"), Mapping) else None)
        extra = [new_requirement(k, Operator.IN, [pod_labels[k]])
                 for k in raw.get("matchLabelKeys") or [] if k in pod_labels]
    except (SelectorError, TypeError, AttributeError, ValueError):
        return LabelSelector.nothing()
    if extra and not selector.matches_nothing:
        selector = sorted_selector([*selector.requirements, *extra])
    return selector


def constraints(pod: Mapping[str, Any]) -> list[Constraint]:
    """``pod``'s ``DoNotSchedule`` constraints."""
    out = []
    for raw in _m(pod.get("spec")).get("topologySpreadConstraints") or []:
        raw = _m(raw)
        if raw.get("whenUnsatisfiable") != "DoNotSchedule":
            continue
        min_domains = raw.get("minDomains")
        out.append(Constraint(
            int(raw.get("maxSkew") or 1), str(raw.get("topologyKey") or ""),
            _selector(raw, _labels(pod)),
            min_domains if isinstance(min_domains, int) and min_domains > 0 else 1,
            raw.get("nodeAffinityPolicy") != "Ignore", raw.get("nodeTaintsPolicy") == "Honor"))
    return out


@dataclass(frozen=True)
class SpreadState:
    """The PreFilter counts: per constraint, matching pods per domain value."""

    constraints: tuple[Constraint, ...]
    counts: tuple[Counter[str], ...]
    pod_labels: Mapping[str, str]

    def min_match(self, index: int) -> int:
        """The smallest domain's count (0 with fewer domains than ``minDomains``)."""
        counts = self.counts[index]
        if len(counts) < self.constraints[index].min_domains:
            return 0
        return min(counts.values(), default=0)


#: A node object and the pods placed on it.
Placed = tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]


def prefilter(pod: Mapping[str, Any], nodes: Iterable[Placed],
              affinity_matches: Callable[[Mapping[str, Any]], bool],
              tolerates: Callable[[Mapping[str, Any]], bool]) -> SpreadState | None:
    """The cycle's counts, or None when ``pod`` has no ``DoNotSchedule`` constraint.
    ``affinity_matches(node)`` and ``tolerates(node)`` are the inclusion policies'
    checks."""
    found = tuple(constraints(pod))
    if not found:
        return None
    namespace = _m(pod.get("metadata")).get("namespace")
    counts: tuple[Counter[str], ...] = tuple(Counter() for _ in found)
    for node, pods in nodes:
        labels = _labels(node)
        if any(c.topology_key not in labels for c in found):
            continue
        for constraint, counter in zip(found, counts, strict=True):
            if constraint.honor_affinity and not affinity_matches(node):
                continue
            if constraint.honor_taints and not tolerates(node):
                continue
            value = labels[constraint.topology_key]
            # An empty selector counts no pod (upstream's countPodsMatchSelector).
            counter[value] += 0 if constraint.selector.empty else sum(
                1 for p in pods
                if _m(p.get("metadata")).get("namespace") == namespace
                and not _m(p.get("metadata")).get("deletionTimestamp")
                and constraint.selector.matches(_labels(p)))
    return SpreadState(found, counts, _labels(pod))


def check(state: SpreadState | None, labels: Mapping[str, str]) -> tuple[str, bool] | None:
    """The filter's verdict on a node with ``labels``: None when it passes, else the
    reason and whether evicting pods could help (upstream's ``Unschedulable`` code)."""
    if state is None:
        return None
    for index, constraint in enumerate(state.constraints):
        if constraint.topology_key not in labels:
            return LABEL_REASON, False
        own = 1 if constraint.selector.matches(state.pod_labels) else 0
        matched = state.counts[index].get(labels[constraint.topology_key], 0)
        if matched + own - state.min_match(index) > constraint.max_skew:
            return SKEW_REASON, True
    return None
