"""``x-kubernetes-validations``: CEL rules of a CRD's schema, checked on every write.

Rules run on the CEL engine of the ``common-expression-language`` package (Rust, through
Python bindings: about 40 µs per rule evaluation here, against about 3 ms for the
pure-Python ``cel-python``). Each rule is compiled once and cached by its text.

Semantics, as apiextensions-apiserver's validator:

* ``self`` is the value of the node the rule sits on; a rule mentioning ``oldSelf`` is a
  transition rule, evaluated only on an update where the old object has that node (for
  object properties and map entries: same key; not inside lists);
* a rule that is false yields ``message`` (default ``failed rule: <rule>``), or the string
  ``messageExpression`` evaluates to; ``reason`` picks the cause (``FieldValueInvalid``
  by default, ``FieldValueForbidden``, ``FieldValueRequired``, ``FieldValueDuplicate``);
  ``fieldPath`` (``.spec.x``) is appended to the node's path;
* a rule that cannot be evaluated (no such key…) is an Invalid error naming the cause;
* a rule estimated to cost more than upstream's per-call limit
  (:func:`apiserver.schema.cellib.over_cost_limit`) is not evaluated: ``call cost exceeds
  limit for rule: <rule>``.

The Kubernetes CEL libraries and the compiled-expression cache are
:mod:`apiserver.schema.cellib`'s, shared with the admission policies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cel

from apiserver.api import errors
from apiserver.schema import cellib

Cause = dict[str, str]
_MAX_DEPTH = 1000
_REASONS = {
    "FieldValueForbidden": "Forbidden",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
}


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def compile_rule(rule: str) -> cel.Program:
    """The compiled rule; ``ValueError`` with the parser's message when it does not parse."""
    return cellib.compile_expression(rule)


def compile_error(rule: str) -> str | None:
    """Why ``rule`` does not compile (None when it does)."""
    return cellib.compile_error(rule)


def _context(value: Any, old: Any, transition: bool) -> cel.Context:
    return cellib.new_context({"self": value, "oldSelf": old} if transition
                              else {"self": value})


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    if isinstance(value, str):
        return '"' + value + '"'
    return str(value).lower() if isinstance(value, bool) else str(value)


def _check(rule: Mapping[str, Any], path: str, value: Any, old: Any,
           has_old: bool, contexts: dict[bool, cel.Context]) -> Cause | None:
    text = str(rule.get("rule") or "")
    transition = "oldSelf" in text
    if transition and not has_old:
        return None
    where = path + str(rule.get("fieldPath") or "")
    if cellib.comprehension_depth(text) and cellib.over_cost_limit(
            text, cellib.largest_collection((value, old))):
        return errors.invalid_value(where, "object" if isinstance(value, dict) else value,
                                    f"call cost exceeds limit for rule: {text}")
    try:
        # The rules of one node share an activation: converting ``self`` is most of a
        # rule's cost.
        ctx = contexts.get(transition)
        if ctx is None:
            ctx = contexts[transition] = _context(value, old, transition)
        passed = compile_rule(text).execute(ctx)
    except Exception as exc:  # evaluation errors are validation errors, as upstream
        return errors.invalid_value(where, "object" if isinstance(value, dict) else value,
                                    f"{exc}: evaluating rule: {text}")
    if passed is True:
        return None
    message = str(rule.get("message") or f"failed rule: {text}")
    if rule.get("messageExpression"):
        try:
            produced = compile_rule(str(rule["messageExpression"])).execute(ctx)
            if isinstance(produced, str) and produced.strip():
                message = produced
        except Exception:
            pass
    reason = str(rule.get("reason") or "FieldValueInvalid")
    if reason in _REASONS:
        return errors.field_cause(reason, where, f"{_REASONS[reason]}: {message}")
    return errors.field_cause("FieldValueInvalid", where,
                              f"Invalid value: {_shown(value)}: {message}")


def rule_nodes(schema: Mapping[str, Any]) -> frozenset[int]:
    """The ids of the schema nodes with a rule on them or below them (the only ones
    :func:`rule_causes` needs to visit)."""
    order: list[Mapping[str, Any]] = []
    work: list[tuple[Mapping[str, Any], int]] = [(schema, 0)]
    children: dict[int, list[Mapping[str, Any]]] = {}
    while work:
        node, depth = work.pop()
        order.append(node)
        subs = [_m(s) for s in _m(node.get("properties")).values()]
        subs += [_m(node[k]) for k in ("items", "additionalProperties")
                 if isinstance(node.get(k), dict)]
        children[id(node)] = subs
        if depth < _MAX_DEPTH:
            work.extend((sub, depth + 1) for sub in subs)
    found: set[int] = set()
    for node in reversed(order):
        if node.get("x-kubernetes-validations") or any(
                id(sub) in found for sub in children[id(node)]):
            found.add(id(node))
    return frozenset(found)


def rule_causes(obj: Any, old: Any, schema: Mapping[str, Any],
                relevant: frozenset[int] | None = None) -> list[Cause]:
    """The failed ``x-kubernetes-validations`` of ``obj`` (``old``: the stored object on an
    update, else None), in document order; ``relevant`` (:func:`rule_nodes` of ``schema``)
    lets the walk skip the parts of the object no rule can see."""
    causes: list[Cause] = []
    work: list[tuple[str, Any, Any, bool, Mapping[str, Any], int]] = [
        ("", obj, old, old is not None, schema, 0)]
    while work:
        path, value, before, has_old, node, depth = work.pop()
        if depth > _MAX_DEPTH or value is None:
            continue
        contexts: dict[bool, cel.Context] = {}
        for rule in node.get("x-kubernetes-validations") or []:
            cause = _check(_m(rule), path or "<nil>", value, before, has_old, contexts)
            if cause is not None:
                causes.append(cause)
        children: list[tuple[str, Any, Any, bool, Mapping[str, Any], int]] = []
        if isinstance(value, dict):
            props = _m(node.get("properties"))
            extra = node.get("additionalProperties")
            old_map = before if isinstance(before, dict) else {}
            for key, item in value.items():
                sub = props.get(key) if key in props else extra
                if isinstance(sub, dict) and not (depth == 0 and key == "metadata") \
                        and (relevant is None or id(sub) in relevant):
                    children.append((f"{path}.{key}" if path else key, item, old_map.get(key),
                                     has_old and key in old_map, sub, depth + 1))
        elif isinstance(value, list) and isinstance(node.get("items"), dict) \
                and (relevant is None or id(node["items"]) in relevant):
            for index, item in enumerate(value):
                children.append((f"{path}[{index}]", item, None, False, _m(node["items"]),
                                 depth + 1))
        work.extend(reversed(children))
    return causes


def rules_in(schema: Mapping[str, Any], path: str) -> list[tuple[str, str]]:
    """Every rule of a CRD schema with the path of its ``rule`` field (for CRD validation)."""
    found: list[tuple[str, str]] = []
    work: list[tuple[Mapping[str, Any], str, int]] = [(schema, path, 0)]
    while work:
        node, where, depth = work.pop()
        if depth > _MAX_DEPTH:
            continue
        for index, rule in enumerate(node.get("x-kubernetes-validations") or []):
            found.append((f"{where}.x-kubernetes-validations[{index}].rule",
                          str(_m(rule).get("rule") or "")))
        for key, sub in _m(node.get("properties")).items():
            work.append((_m(sub), f"{where}.properties[{key}]", depth + 1))
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                work.append((_m(node[key]), f"{where}.{key}", depth + 1))
    return found
