"""Compilation of a ValidatingAdmissionPolicy's CEL expressions when it is written.

Upstream's ``ValidateValidatingAdmissionPolicy`` compiles every expression against the
policy's environment; one that does not parse, or reads a variable the environment does
not declare, is ``<path>: Invalid value: "<expression>": compilation failed: …``.
Paths: ``spec.validations[i].expression``, ``spec.validations[i].messageExpression``,
``spec.variables[i].expression``, ``spec.matchConditions[i].expression`` (which cannot
read ``variables``) and ``spec.auditAnnotations[i].valueExpression``.
"""

from __future__ import annotations

from typing import Any

from apiserver.admission.policy.compiled import DECLARED, MATCH_DECLARED, compile_checked
from apiserver.registry import common as c
from apiserver.registry.strategy import Cause

_FIELDS = (
    ("validations", "expression", DECLARED),
    ("validations", "messageExpression", DECLARED),
    ("variables", "expression", DECLARED),
    ("matchConditions", "expression", MATCH_DECLARED),
    ("auditAnnotations", "valueExpression", DECLARED),
)


def expression_causes(spec: dict[str, Any]) -> list[Cause]:
    """The compilation errors of the policy ``spec``'s expressions."""
    causes: list[Cause] = []
    for list_name, key, declared in _FIELDS:
        items = spec.get(list_name)
        for i, item in enumerate(items if isinstance(items, list) else []):
            text = item.get(key) if isinstance(item, dict) else None
            if not isinstance(text, str) or not text.strip():
                continue
            _program, error = compile_checked(text, declared)
            if error:
                causes.append(c.invalid(f"spec.{list_name}[{i}].{key}", c.go_value(text),
                                        error))
    return causes
