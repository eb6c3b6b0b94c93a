"""Node affinity as kube-scheduler's NodeAffinity plugin evaluates it.

Upstream's ``component-helpers/scheduling/corev1/nodeaffinity``:

* ``spec.nodeSelector`` and ``requiredDuringSchedulingIgnoredDuringExecution`` must both
  match (:func:`required_matches`). The required ``nodeSelectorTerms`` are ORed; a term
  with neither ``matchExpressions`` nor ``matchFields`` selects nothing; within a term all
  requirements are ANDed.
* ``matchExpressions`` compare node labels: ``In``, ``NotIn``, ``Exists``,
  ``DoesNotExist``, ``Gt`` and ``Lt`` (integers). ``matchFields`` compare the node's
  fields (only ``metadata.name``) with ``In``/``NotIn`` and exactly one value.
* A term that does not parse (an unknown operator, a wrong number of values, a
  non-integer ``Gt``) never matches, while the other terms still may (upstream's "lazy
  error" selector, whose error the filter ignores).
* PreFilter (:func:`required_node_names`): when every term names nodes through
  ``matchFields metadata.name In``, only those nodes are candidates.
* Score (:func:`preferred_score`): the sum of the weights of the
  ``preferredDuringSchedulingIgnoredDuringExecution`` terms the node matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "CONFLICT_REASON",
    "MISMATCH_REASON",
    "preferred_score",
    "required_matches",
    "required_node_names",
]

#: ``ErrReasonPod``: the node fails the pod's nodeSelector or required affinity.
MISMATCH_REASON = "node(s) didn't match Pod's node affinity/selector"
#: ``errReasonConflict``: the ``metadata.name`` terms exclude every node.
CONFLICT_REASON = "pod affinity terms conflict"

NAME_FIELD = "metadata.name"


class _ParseError(ValueError):
    """A requirement upstream refuses to build a selector from."""


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()


def _node_affinity(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    return _m(_m(_m(pod.get("spec")).get("affinity")).get("nodeAffinity"))


def _label_requirement(expr: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """One ``matchExpressions`` entry against the node labels (``labels.Requirement``)."""
    key = str(expr.get("key") or "")
    op = str(expr.get("operator") or "")
    values = [str(v) for v in _seq(expr.get("values"))]
    if op in ("In", "NotIn"):
        if not values:
            raise _ParseError(f"{op} needs values")
        has = key in labels and str(labels[key]) in values
        return has == (op == "In")
    if op in ("Exists", "DoesNotExist"):
        if values:
            raise _ParseError(f"{op} takes no values")
        return (key in labels) == (op == "Exists")
    if op in ("Gt", "Lt"):
        if len(values) != 1:
            raise _ParseError(f"{op} needs one value")
        try:
            limit = int(values[0])
        except ValueError as exc:
            raise _ParseError(f"{op} needs an integer") from exc
        try:
            have = int(str(labels[key]))
        except (KeyError, ValueError):
            return False
        return have > limit if op == "Gt" else have < limit
    raise _ParseError(f"unknown operator {op!r}")


def _field_requirement(expr: Mapping[str, Any], fields: Mapping[str, str]) -> bool:
    """One ``matchFields`` entry: a one-value field selector (``fields.Set`` lookup, so an
    unknown field reads as the empty string)."""
    op = expr.get("operator")
    values = [str(v) for v in _seq(expr.get("values"))]
    if op not in ("In", "NotIn"):
        raise _ParseError(f"{op!r} is not a valid node field selector operator")
    if len(values) != 1:
        raise _ParseError(f"{op} needs exactly one value")
    equal = fields.get(str(expr.get("key") or ""), "") == values[0]
    return equal if op == "In" else not equal


def _is_empty_term(term: Mapping[str, Any]) -> bool:
    return not _seq(term.get("matchExpressions")) and not _seq(term.get("matchFields"))


def _term_matches(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """A non-empty term: every requirement matches; False when any does not parse."""
    meta = _m(node.get("metadata"))
    labels = _m(meta.get("labels"))
    name = str(meta.get("name") or "")
    fields = {NAME_FIELD: name} if name else {}
    try:
        # Parse every requirement (a bad one spoils the term even after a mismatch).
        label_ok = [_label_requirement(_m(e), labels) for e in _seq(term.get("matchExpressions"))]
        field_ok = [_field_requirement(_m(f), fields) for f in _seq(term.get("matchFields"))]
    except _ParseError:
        return False
    # Upstream skips the field selector for a node without fields (no name).
    return all(label_ok) and (not fields or all(field_ok))


def _terms_match(terms: Sequence[Any], node: Mapping[str, Any]) -> bool:
    return any(_term_matches(_m(t), node) for t in terms if not _is_empty_term(_m(t)))


def selector_matches(selector: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """A ``NodeSelector`` (a PersistentVolume's ``nodeAffinity.required``): one of its
    non-empty terms matches ``node``."""
    return _terms_match(_seq(selector.get("nodeSelectorTerms")), node)


def required_matches(pod: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """Upstream ``RequiredNodeAffinity.Match``: the nodeSelector and the required terms."""
    selector = _m(_m(pod.get("spec")).get("nodeSelector"))
    labels = _m(_m(node.get("metadata")).get("labels"))
    if any(k not in labels or str(labels[k]) != str(v) for k, v in selector.items()):
        return False
    required = _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
    if not isinstance(required, Mapping):
        return True
    return _terms_match(_seq(required.get("nodeSelectorTerms")), node)


def required_node_names(pod: Mapping[str, Any]) -> set[str] | None:
    """The PreFilter's node set: ``None`` when any node may match; else the names the
    required terms allow through ``matchFields metadata.name In`` (the union over terms
    of each term's intersection). An empty set means the terms conflict."""
    required = _m(_node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution"))
    terms = _seq(required.get("nodeSelectorTerms"))
    if not terms:
        return None
    names: set[str] = set()
    for raw in terms:
        term_names: set[str] | None = None
        for expr in _seq(_m(raw).get("matchFields")):
            expr = _m(expr)
            if expr.get("key") == NAME_FIELD and expr.get("operator") == "In":
                values = {str(v) for v in _seq(expr.get("values"))}
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            # This term does not pin node names, and terms are ORed: any node may match.
            return None
        names |= term_names
    return names


def preferred_score(pod: Mapping[str, Any], node: Mapping[str, Any]) -> int:
    """Upstream NodeAffinity ``Score`` before normalization: the summed weights of the
    matching preferred terms (terms with weight 0 or an empty preference count for
    nothing)."""
    total = 0
    for raw in _seq(_node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution")):
        term = _m(raw)
        weight = term.get("weight")
        preference = _m(term.get("preference"))
        if not isinstance(weight, int) or not weight or _is_empty_term(preference):
            continue
        if _term_matches(preference, node):
            total += weight
    return total
