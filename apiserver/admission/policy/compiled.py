"""One ValidatingAdmissionPolicy compiled, and its evaluation against one request.

Contracts (upstream ``policy/validating/validator.go`` and the CEL condition filter):

* every expression is compiled once per policy version (:class:`CompiledPolicy` is keyed
  by the policy's resourceVersion by its owner); a policy with an expression that does
  not compile, or that reads an undeclared variable, carries a configuration
  :attr:`CompiledPolicy.error` instead;
* :meth:`CompiledPolicy.evaluate` runs, in order: ``matchConditions`` (any false: the
  request is not the policy's business; an error: a decision per ``failurePolicy``),
  ``variables`` (each sees the earlier ones as ``variables.<name>``; one that fails makes
  the expressions reading it fail with its error), ``validations`` and
  ``auditAnnotations``;
* a validation that is not ``true`` is a denial with its message: ``messageExpression``'s
  string (trimmed; ignored when empty, multi-line or longer than 5120 bytes), else
  ``message``, else ``failed expression: <expression>``; its reason defaults to
  ``Invalid``. An evaluation error is ``expression '<e>' resulted in error: <why>``, a
  denial under ``failurePolicy: Fail`` and nothing under ``Ignore``;
* an audit annotation's ``valueExpression`` yields a string (published when not blank) or
  null; another type or an error is a denial under ``Fail``;
* an expression estimated to cost more than upstream's per-call limit
  (:func:`apiserver.schema.cellib.over_cost_limit`) is not evaluated: it fails with
  ``operation cancelled: actual cost limit exceeded``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cel

from apiserver.schema import cellib

#: The variables a policy's expressions may read. ``authorizer`` is declared (a policy
#: using it is valid) but not provided: reading it is an evaluation error.
DECLARED = ("object", "oldObject", "request", "params", "namespaceObject", "variables",
            "authorizer")
#: ``matchConditions`` do not see ``variables``.
MATCH_DECLARED = ("object", "oldObject", "request", "params", "namespaceObject", "authorizer")
MAX_MESSAGE_BYTES = 5 * 1024


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def compile_checked(text: str, declared: tuple[str, ...]) -> tuple[cel.Program | None, str]:
    """The program of ``text`` and "" or None and upstream-style compile error text."""
    try:
        program = cellib.compile_expression(text)
    except ValueError as exc:
        return None, f"compilation failed: {exc}"
    unknown = cellib.undeclared(text, declared)
    if unknown:
        return None, (f"compilation failed: ERROR: <input>:1:1: undeclared reference to "
                      f"'{unknown[0]}' (in container '')")
    return program, ""


@dataclass(slots=True)
class Decision:
    """One failed validation (or error) of one evaluation: ``deny`` or ``admit``."""

    action: str
    message: str
    reason: str = ""
    index: int = 0
    error: bool = False


@dataclass(slots=True)
class Outcome:
    """What one evaluation decided: denials and the audit annotations to publish."""

    decisions: list[Decision] = field(default_factory=list)
    #: Audit annotations that failed under ``failurePolicy: Fail`` (denials whatever the
    #: binding's actions).
    audit_errors: list[Decision] = field(default_factory=list)
    annotations: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class _Validation:
    text: str
    program: cel.Program | None
    message: str
    message_program: cel.Program | None
    reason: str


class CompiledPolicy:
    """The compiled expressions and settings of one policy object."""

    def __init__(self, policy: Mapping[str, Any]) -> None:
        spec = _m(policy.get("spec"))
        md = _m(policy.get("metadata"))
        self.name = str(md.get("name") or "")
        self.resource_version = str(md.get("resourceVersion") or "")
        self.failure_policy = str(spec.get("failurePolicy") or "Fail")
        self.constraints: Mapping[str, Any] | None = (
            _m(spec["matchConstraints"]) if isinstance(spec.get("matchConstraints"), Mapping)
            else None)
        self.param_kind: Mapping[str, Any] | None = (
            _m(spec["paramKind"]) if isinstance(spec.get("paramKind"), Mapping) else None)
        errors: list[str] = []

        def program(text: Any, declared: tuple[str, ...] = DECLARED) -> cel.Program | None:
            compiled, error = compile_checked(str(text or ""), declared)
            if error:
                errors.append(error)
            return compiled

        self.match_conditions = [
            (str(_m(c).get("name") or ""), str(_m(c).get("expression") or ""),
             program(_m(c).get("expression"), MATCH_DECLARED))
            for c in _list(spec.get("matchConditions"))]
        self.variables = [
            (str(_m(v).get("name") or ""), str(_m(v).get("expression") or ""),
             program(_m(v).get("expression")))
            for v in _list(spec.get("variables"))]
        self.validations = [
            _Validation(str(_m(v).get("expression") or ""), program(_m(v).get("expression")),
                        str(_m(v).get("message") or ""),
                        program(_m(v)["messageExpression"])
                        if _m(v).get("messageExpression") else None,
                        str(_m(v).get("reason") or "Invalid"))
            for v in _list(spec.get("validations"))]
        self.audit_annotations = [
            (str(_m(a).get("key") or ""), str(_m(a).get("valueExpression") or ""),
             program(_m(a).get("valueExpression")))
            for a in _list(spec.get("auditAnnotations"))]
        self.error = errors[0] if errors else ""
        texts = [t for _n, t, _p in (*self.match_conditions, *self.variables,
                                     *self.audit_annotations)]
        texts += [v.text for v in self.validations]
        #: Whether any expression has comprehensions (whose cost depends on the input).
        self.comprehensions = any(cellib.comprehension_depth(t) for t in texts)

    def _on_error(self) -> str:
        return "admit" if self.failure_policy == "Ignore" else "deny"

    def matches_conditions(self, base: Mapping[str, Any]) -> tuple[bool, str]:
        """Whether every match condition holds (False as soon as one is false), and the
        error text when none was false but some could not be evaluated."""
        if not self.match_conditions:
            return True, ""
        ctx = cellib.new_context(base)
        largest = self._largest(base)
        failures: list[str] = []
        for _name, text, prog in self.match_conditions:
            try:
                if cellib.over_cost_limit(text, largest):
                    raise RuntimeError(cellib.COST_EXCEEDED)
                result = prog.execute(ctx) if prog is not None else None
            except Exception as exc:  # evaluation errors follow the failure policy
                failures.append(f"expression '{text}' resulted in error: "
                                f"{cellib.error_text(exc)}")
                continue
            if result is False:
                return False, ""
            if result is not True:
                failures.append(f"expression '{text}' resulted in error: no such overload")
        return True, "; ".join(failures)

    def _largest(self, base: Mapping[str, Any]) -> int:
        """The largest collection of the input, when some expression needs it (for the cost
        estimate of :func:`apiserver.schema.cellib.over_cost_limit`)."""
        return cellib.largest_collection(base.values()) if self.comprehensions else 0

    def _variables(self, ctx: cel.Context, largest: int) -> dict[str, str]:
        values: dict[str, Any] = {}
        failed: dict[str, str] = {}
        ctx.add_variable("variables", values)
        for name, text, prog in self.variables:
            try:
                assert prog is not None
                if cellib.over_cost_limit(text, largest):
                    raise RuntimeError(cellib.COST_EXCEEDED)
                values[name] = prog.execute(ctx)
            except Exception as exc:  # a variable's error surfaces where it is read
                failed[name] = (f"expression '{text}' resulted in error: "
                                f"{cellib.error_text(exc)}")
            ctx.add_variable("variables", values)
        return failed

    def _run(self, ctx: cel.Context, prog: cel.Program | None, text: str,
             failed: Mapping[str, str], largest: int = 0) -> tuple[Any, str]:
        try:
            assert prog is not None
            if cellib.over_cost_limit(text, largest):
                raise RuntimeError(cellib.COST_EXCEEDED)
            return prog.execute(ctx), ""
        except Exception as exc:  # evaluation errors follow the failure policy
            if isinstance(exc, KeyError) and exc.args and exc.args[0] in failed \
                    and f"variables.{exc.args[0]}" in text:
                return None, failed[exc.args[0]]
            return None, f"expression '{text}' resulted in error: {cellib.error_text(exc)}"

    def _message(self, ctx: cel.Context, v: _Validation, failed: Mapping[str, str]) -> str:
        if v.message_program is not None:
            produced, error = self._run(ctx, v.message_program, "", failed)
            if not error and isinstance(produced, str):
                text = produced.strip()
                if text and "\n" not in text and len(text.encode()) <= MAX_MESSAGE_BYTES:
                    return text
        if v.message.strip():
            return v.message.strip()
        return f"failed expression: {v.text.strip()}"

    def evaluate(self, base: Mapping[str, Any]) -> Outcome:
        """Run variables, validations and audit annotations over ``base`` (``object``,
        ``oldObject``, ``request``, ``params``, ``namespaceObject``)."""
        outcome = Outcome()
        ctx = cellib.new_context(base)
        largest = self._largest(base)
        failed = self._variables(ctx, largest) if self.variables else {}
        for index, v in enumerate(self.validations):
            result, error = self._run(ctx, v.program, v.text, failed, largest)
            if error:
                outcome.decisions.append(Decision(self._on_error(), error, "", index, True))
            elif result is not True:
                outcome.decisions.append(Decision("deny", self._message(ctx, v, failed),
                                                  v.reason, index))
        for key, text, prog in self.audit_annotations:
            value, error = self._run(ctx, prog, text, failed, largest)
            if not error and value is not None and not isinstance(value, str):
                error = (f"valueExpression '{text}' resulted in unsupported return type: "
                         f"{type(value).__name__}. Return type must be either string or null.")
            if error:
                if self.failure_policy != "Ignore":
                    outcome.audit_errors.append(Decision("deny", error, "", 0, True))
            elif isinstance(value, str) and value.strip():
                outcome.annotations.append((key, value.strip()))
        return outcome
