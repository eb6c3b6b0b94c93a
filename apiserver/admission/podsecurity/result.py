"""What a Pod Security check answers, how answers are joined into upstream's messages, and
the small helpers every check words its details with (``policy/checks.go``,
``policy/helpers.go``, ``policy/visitor.go``).

Checks read pods as decoded JSON (``dict``): a field that is absent or ``null`` is Go's
nil. :func:`containers` visits init containers, containers, then ephemeral containers,
as upstream's ``visitContainers``; details name containers in that order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

Obj = dict[str, Any]

#: A check: (pod metadata, pod spec) → result.
CheckFn = Callable[[Obj, Obj], "CheckResult"]


class CheckResult(NamedTuple):
    """One check's answer; ``reason`` and ``detail`` are set when not ``allowed``."""

    allowed: bool
    reason: str = ""
    detail: str = ""


ALLOWED = CheckResult(True)

#: Upstream's reason for a check that refused without one.
UNKNOWN_FORBIDDEN_REASON = "unknown forbidden reason"


class Aggregate(NamedTuple):
    """The refusals of several checks, in check order (upstream ``AggregateCheckResult``)."""

    reasons: tuple[str, ...] = ()
    details: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        """Whether no check refused the pod."""
        return not self.reasons

    def forbidden_reason(self) -> str:
        """``host ports, privileged`` — what namespace-wide summaries show."""
        return ", ".join(self.reasons)

    def forbidden_detail(self) -> str:
        """``hostPort (container "a" uses hostPort 80), privileged (…)`` — what a refusal or
        warning for one object shows."""
        return ", ".join(f"{reason} ({detail})" if detail else reason
                         for reason, detail in zip(self.reasons, self.details, strict=True))


def aggregate(results: Iterable[CheckResult]) -> Aggregate:
    """The refusals among ``results``."""
    reasons: list[str] = []
    details: list[str] = []
    for result in results:
        if not result.allowed:
            reasons.append(result.reason or UNKNOWN_FORBIDDEN_REASON)
            details.append(result.detail)
    return Aggregate(tuple(reasons), tuple(details))


def pluralize(singular: str, plural: str, count: int) -> str:
    """``singular`` for a count of one, else ``plural`` (upstream's message wording)."""
    return singular if count == 1 else plural


def join_quote(items: Sequence[str]) -> str:
    """``"a", "b"`` — upstream's ``joinQuote`` (it escapes nothing)."""
    return '"' + '", "'.join(items) + '"' if items else ""


def containers_phrase(names: Sequence[str]) -> str:
    """``container "a"`` / ``containers "a", "b"``."""
    return f"{pluralize('container', 'containers', len(names))} {join_quote(names)}"


def _dicts(value: Any) -> Iterator[Obj]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def containers(spec: Obj) -> Iterator[Obj]:
    """Init containers, containers, then ephemeral containers."""
    yield from _dicts(spec.get("initContainers"))
    yield from _dicts(spec.get("containers"))
    yield from _dicts(spec.get("ephemeralContainers"))


def volumes(spec: Obj) -> Iterator[Obj]:
    yield from _dicts(spec.get("volumes"))


def name(obj: Obj) -> str:
    return str(obj.get("name") or "")


def field(obj: Obj | None, key: str) -> Obj | None:
    """``obj[key]`` when it is an object (Go: a non-nil struct pointer), else None."""
    if obj is None:
        return None
    value = obj.get(key)
    return value if isinstance(value, dict) else None


def security_context(obj: Obj) -> Obj | None:
    """A container's or pod spec's ``securityContext``, None when unset."""
    return field(obj, "securityContext")


def strings(value: Any) -> list[str]:
    """A list of strings (``capabilities.add`` …); anything else is empty."""
    return [str(v) for v in value] if isinstance(value, list) else []


def is_windows(spec: Obj) -> bool:
    """``spec.os.name == "windows"``: from policy v1.25 on, Linux-only checks skip it."""
    return (field(spec, "os") or {}).get("name") == "windows"
