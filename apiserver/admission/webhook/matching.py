"""Which webhooks a request calls (upstream ``webhook/predicates`` and ``matchconditions``).

Contracts:

* :func:`rule_matches` — ``operations``, ``apiGroups``, ``apiVersions``, ``resources``
  (``*``, ``*/*``, ``pods/status``, ``*/status``, ``pods/*``) and ``scope``, as upstream's
  rule matcher (a Namespace is cluster-scoped even though it names itself).
* :func:`invocation` — the resource a webhook is called with: the request's own when a
  rule matches it, else (``matchPolicy: Equivalent``) another served version of the same
  group and resource that a rule matches; None when the webhook does not apply.
* :func:`selectors_match` — ``namespaceSelector`` (the labels of the request's namespace,
  of the Namespace itself for namespaces; cluster-scoped objects always match) and
  ``objectSelector`` (the new or the old object's labels).
* :func:`conditions_match` — ``matchConditions`` in CEL over ``object``, ``oldObject``
  (as the review sends them), ``request`` and ``namespaceObject``: False when one is
  false; otherwise an error evaluating one raises :class:`ConditionError`; True when all
  are true.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import cel

from apiserver.admission.attributes import AdmissionAttributes, ObjectSource
from apiserver.admission.webhook.config import Rule, Webhook
from apiserver.api.labels import SelectorError, selector_from_label_selector_object
from apiserver.api.resources import NAMESPACES, ResourceInfo, served_resources


class ConditionError(Exception):
    """A match condition could not be evaluated."""


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _in(values: tuple[str, ...], value: str) -> bool:
    return "*" in values or value in values


def _resource_matches(rule: Rule, resource: str, subresource: str) -> bool:
    for item in rule.resources:
        res, _, sub = item.partition("/")
        if (res in ("*", resource)) and (sub in ("*", subresource)):
            return True
    return False


def _scope_matches(rule: Rule, attrs: AdmissionAttributes) -> bool:
    is_namespace = attrs.info.group == "" and attrs.info.plural == "namespaces"
    if rule.scope == "Cluster":
        return is_namespace or not attrs.namespace
    if rule.scope == "Namespaced":
        return not is_namespace and bool(attrs.namespace)
    return True


def rule_matches(rule: Rule, attrs: AdmissionAttributes, info: ResourceInfo,
                 any_version: bool = False) -> bool:
    """Whether ``rule`` covers the request, as a request on ``info``'s version (on any
    version of its group and resource with ``any_version``)."""
    return (_in(rule.operations, attrs.operation.value) and _in(rule.groups, info.group)
            and (any_version or _in(rule.versions, info.version))
            and _resource_matches(rule, info.plural, attrs.subresource)
            and _scope_matches(rule, attrs))


def _equivalents(info: ResourceInfo) -> list[ResourceInfo]:
    return [r for r in served_resources() if r.group == info.group and r.plural == info.plural
            and r.version != info.version]


def invocation(hook: Webhook, attrs: AdmissionAttributes) -> ResourceInfo | None:
    """The resource version ``hook`` is called with, or None (see the module docstring)."""
    if any(rule_matches(rule, attrs, attrs.info) for rule in hook.rules):
        return attrs.info
    if hook.match_policy != "Equivalent" or not any(
            rule_matches(rule, attrs, attrs.info, any_version=True) for rule in hook.rules):
        return None
    for other in _equivalents(attrs.info):
        if any(rule_matches(rule, attrs, other) for rule in hook.rules):
            return other
    return None


def _labels(obj: Mapping[str, Any] | None) -> Mapping[str, str] | None:
    if obj is None:
        return None
    labels = _m(obj.get("metadata")).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def namespace_object(attrs: AdmissionAttributes, source: ObjectSource) \
        -> Mapping[str, Any] | None:
    """The Namespace of a namespaced request, from the watch cache."""
    if not attrs.namespace or attrs.info is NAMESPACES:
        return None
    return source.cached(NAMESPACES, "", attrs.namespace)


def selectors_match(hook: Webhook, attrs: AdmissionAttributes, source: ObjectSource) -> bool:
    """``namespaceSelector`` and ``objectSelector``; a bad selector raises SelectorError."""
    objects = [o for o in (attrs.object, attrs.old_object) if o is not None]
    if hook.namespace_selector:
        selector = selector_from_label_selector_object(hook.namespace_selector)
        if attrs.info.group == "" and attrs.info.plural == "namespaces":
            if not any(selector.matches(_labels(o)) for o in objects):
                return False
        elif attrs.namespace:
            namespace = namespace_object(attrs, source)
            if not selector.matches(_labels(namespace) if namespace is not None else {}):
                return False
    if hook.object_selector:
        selector = selector_from_label_selector_object(hook.object_selector)
        if not any(selector.matches(_labels(o)) for o in objects or [{}]):
            return False
    return True


@functools.lru_cache(maxsize=1024)
def _program(expression: str) -> cel.Program:
    return cel.compile(expression)


def conditions_match(hook: Webhook, attrs: AdmissionAttributes, request: Mapping[str, Any],
                     source: ObjectSource) -> bool:
    """``matchConditions``; see the module docstring."""
    if not hook.match_conditions:
        return True
    ctx = cel.Context()
    ctx.add_variable("object", request.get("object"))
    ctx.add_variable("oldObject", request.get("oldObject"))
    ctx.add_variable("request", dict(request))
    ctx.add_variable("namespaceObject", namespace_object(attrs, source))
    failure: str | None = None
    for name, expression in hook.match_conditions:
        try:
            result = _program(expression).execute(ctx)
        except Exception as exc:
            failure = failure or f"expression '{name}' resulted in error: {exc}"
            continue
        if result is False:
            return False
        if result is not True:
            failure = failure or (f"expression '{name}' resulted in error: "
                                  "no such overload")
    if failure is not None:
        raise ConditionError(failure)
    return True


__all__ = ["ConditionError", "SelectorError", "conditions_match", "invocation",
           "rule_matches", "selectors_match"]
