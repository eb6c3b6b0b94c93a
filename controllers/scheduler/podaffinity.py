"""kube-scheduler's InterPodAffinity filter: required pod affinity and anti-affinity.

A ``PodAffinityTerm`` selects pods by ``labelSelector`` in a set of namespaces (its
``namespaces``, plus those ``namespaceSelector`` selects; neither means the namespace of
the pod that has the term) and names a ``topologyKey``: the node label whose value is the
topology domain. The PreFilter step (:func:`prefilter`) counts, once per scheduling cycle
and by ``(topologyKey, value)`` of the nodes the pods run on:

* the existing pods that match all of the incoming pod's required affinity terms (one
  pod must satisfy the whole rule), and those that match each of its anti-affinity terms;
* the existing pods whose own required anti-affinity terms match the incoming pod
  (anti-affinity is symmetric: a pod may not land in a domain that such a pod excludes).

The filter (:func:`check`) then rejects a node, in upstream's order and codes:

1. when it lacks a topology key of an affinity term, or some term has no matching pod in
   the node's domain — unless no pod anywhere matches the terms and the pod matches all
   of them itself (the first pod of a group with affinity to itself):
   ``node(s) didn't match pod affinity rules`` (unresolvable);
2. when a matching pod runs in its domain of an anti-affinity term:
   ``node(s) didn't match pod anti-affinity rules``;
3. when any of its labels is a domain an existing pod's anti-affinity excludes:
   ``node(s) didn't satisfy existing pods anti-affinity rules``.

Nil label selectors select nothing, as ``LabelSelectorAsSelector``. Preferred terms are not
scored (the scheduler's spreading stands in).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apiserver.api.labels.selector import (
    LabelSelector,
    SelectorError,
    selector_from_label_selector_object,
)

__all__ = ["AFFINITY_REASON", "ANTI_AFFINITY_REASON", "EXISTING_ANTI_AFFINITY_REASON",
           "AffinityState", "Term", "check", "prefilter", "required_terms"]

AFFINITY_REASON = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY_REASON = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY_REASON = "node(s) didn't satisfy existing pods anti-affinity rules"

#: Namespace name → its labels (for ``namespaceSelector``).
Namespaces = Mapping[str, Mapping[str, str]]
TopologyPair = tuple[str, str]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _selector(obj: Any) -> LabelSelector:
    try:
        return selector_from_label_selector_object(obj if isinstance(obj, Mapping) else None)
    except (SelectorError, TypeError, AttributeError, ValueError):
        return LabelSelector.nothing()


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _m(_m(obj.get("metadata")).get("labels"))


@dataclass(frozen=True)
class Term:
    """One required ``PodAffinityTerm`` of a pod, parsed."""

    selector: LabelSelector
    namespaces: frozenset[str]
    #: None: no ``namespaceSelector``; else the namespaces' labels it must select.
    namespace_selector: LabelSelector | None
    topology_key: str

    def matches(self, pod: Mapping[str, Any], namespaces: Namespaces) -> bool:
        """Whether ``pod`` is in the term's namespaces and selected by its selector."""
        namespace = str(_m(pod.get("metadata")).get("namespace") or "")
        in_namespace = namespace in self.namespaces or (
            self.namespace_selector is not None
            and self.namespace_selector.matches(namespaces.get(namespace, {})))
        return in_namespace and self.selector.matches(_labels(pod))


#: Parsed terms by ``(uid, resourceVersion, kind)``: every cycle reads every bound pod's
#: anti-affinity, and a pod's terms change only with a new resourceVersion.
_TERMS: dict[tuple[str, str, str], tuple[Term, ...]] = {}
_TERMS_MAX = 65536


def required_terms(pod: Mapping[str, Any], kind: str) -> tuple[Term, ...]:
    """The required terms of ``pod``'s ``podAffinity`` or ``podAntiAffinity`` (``kind``)."""
    affinity = _m(_m(_m(pod.get("spec")).get("affinity")).get(kind))
    if not affinity.get("requiredDuringSchedulingIgnoredDuringExecution"):
        return ()
    md = _m(pod.get("metadata"))
    key = (str(md.get("uid") or ""), str(md.get("resourceVersion") or ""), kind)
    cached = _TERMS.get(key) if all(key) else None
    if cached is None:
        cached = _parse_terms(affinity, str(md.get("namespace") or ""))
        if all(key):
            if len(_TERMS) >= _TERMS_MAX:
                _TERMS.clear()
            _TERMS[key] = cached
    return cached


def _parse_terms(affinity: Mapping[str, Any], own: str) -> tuple[Term, ...]:
    terms = []
    for raw in affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or []:
        raw = _m(raw)
        names = frozenset(str(n) for n in raw.get("namespaces") or [])
        ns_selector = (_selector(raw["namespaceSelector"])
                       if raw.get("namespaceSelector") is not None else None)
        if not names and ns_selector is None:
            names = frozenset((own,))
        terms.append(Term(_selector(raw.get("labelSelector")), names, ns_selector,
                          str(raw.get("topologyKey") or "")))
    return tuple(terms)


@dataclass(frozen=True)
class AffinityState:
    """The PreFilter counts of one scheduling cycle (see the module docstring)."""

    affinity: tuple[Term, ...]
    anti_affinity: tuple[Term, ...]
    affinity_counts: Counter[TopologyPair]
    anti_affinity_counts: Counter[TopologyPair]
    existing_anti_affinity_counts: Counter[TopologyPair]
    #: The pod matches every one of its own affinity terms.
    self_affine: bool


#: A node's labels, the pods placed on it and those of them with required anti-affinity.
Placed = tuple[Mapping[str, str], Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]]


def prefilter(pod: Mapping[str, Any], nodes: Iterable[Placed],
              namespaces: Namespaces) -> AffinityState | None:
    """The cycle's counts, or None when no pod affinity rule concerns ``pod`` (neither its
    own nor an existing pod's anti-affinity)."""
    affinity = required_terms(pod, "podAffinity")
    anti = required_terms(pod, "podAntiAffinity")
    affinity_counts: Counter[TopologyPair] = Counter()
    anti_counts: Counter[TopologyPair] = Counter()
    existing: Counter[TopologyPair] = Counter()
    for labels, pods, anti_pods in nodes:
        for other in anti_pods:
            for term in required_terms(other, "podAntiAffinity"):
                if term.topology_key in labels and term.matches(pod, namespaces):
                    existing[term.topology_key, labels[term.topology_key]] += 1
        if not affinity and not anti:
            continue
        for other in pods:
            # A pod counts for the affinity terms only when it matches all of them (one
            # pod satisfies the whole rule); for each anti-affinity term on its own.
            if affinity and all(t.matches(other, namespaces) for t in affinity):
                for term in affinity:
                    if term.topology_key in labels:
                        affinity_counts[term.topology_key, labels[term.topology_key]] += 1
            for term in anti:
                if term.topology_key in labels and term.matches(other, namespaces):
                    anti_counts[term.topology_key, labels[term.topology_key]] += 1
    if not affinity and not anti and not existing:
        return None
    self_affine = bool(affinity) and all(t.matches(pod, namespaces) for t in affinity)
    return AffinityState(affinity, anti, affinity_counts, anti_counts, existing, self_affine)


def _satisfies_affinity(state: AffinityState, labels: Mapping[str, str]) -> bool:
    found = True
    for term in state.affinity:
        if term.topology_key not in labels:
            return False  # every topology key must be on the node
        if state.affinity_counts[term.topology_key, labels[term.topology_key]] <= 0:
            found = False
    # The first pod of a group with affinity to itself may go anywhere with the keys.
    return found or (not state.affinity_counts and state.self_affine)


def check(state: AffinityState | None, labels: Mapping[str, str]) -> tuple[str, bool] | None:
    """The filter's verdict on a node with ``labels``: None when it passes, else the
    reason and whether evicting pods could help (upstream's ``Unschedulable`` code)."""
    if state is None:
        return None
    if not _satisfies_affinity(state, labels):
        return AFFINITY_REASON, False
    for term in state.anti_affinity:
        value = labels.get(term.topology_key)
        if value is not None and state.anti_affinity_counts[term.topology_key, value] > 0:
            return ANTI_AFFINITY_REASON, True
    if any(state.existing_anti_affinity_counts[pair] > 0 for pair in labels.items()):
        return EXISTING_ANTI_AFFINITY_REASON, True
    return None
