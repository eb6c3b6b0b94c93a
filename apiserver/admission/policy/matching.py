"""Which requests a policy or binding is about: upstream's ``MatchResources`` semantics.

Contracts (``k8s.io/apiserver/pkg/admission/plugin/policy/matching`` and
``webhook/predicates/rules``):

* a rule (``NamedRuleWithOperations``) matches when the operation, API group, version,
  resource (``pods``, ``pods/status``, ``*``: every main resource, ``*/*``, ``pods/*``,
  ``*/status``), scope (``Cluster``, ``Namespaced``, ``*``) and, if listed,
  ``resourceNames`` all match;
* ``matchPolicy: Equivalent`` (the default) also accepts a rule naming another served
  version of the same group and resource;
* a request matches :func:`matches` when a ``resourceRules`` entry matches, no
  ``excludeResourceRules`` entry does, the namespace's labels match ``namespaceSelector``
  (cluster-scoped requests always do; a Namespace is judged by its own labels) and the
  new or the old object's labels match ``objectSelector``. Absent selectors select
  everything; an empty ``resourceRules`` (a binding that does not narrow) matches every
  resource.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from apiserver.admission.attributes import AdmissionAttributes
from apiserver.api.labels import selector_from_label_selector_object
from apiserver.api.resources import NAMESPACES, served_resources


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _labels(obj: Mapping[str, Any] | None) -> dict[str, str]:
    if not isinstance(obj, Mapping):
        return {}
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def _in(values: list[Any], wanted: str) -> bool:
    return "*" in values or wanted in values


def _resource_ok(resources: list[Any], plural: str, subresource: str) -> bool:
    for entry in resources:
        res, _, sub = str(entry).partition("/")
        if (res == "*" or res == plural) and (sub == "*" or sub == subresource):
            return True
    return False


def _scope_ok(scope: Any, namespaced: bool) -> bool:
    if scope in (None, "*"):
        return True
    return bool((scope == "Namespaced") == namespaced)


def rule_matches(rule: Mapping[str, Any], attrs: AdmissionAttributes,
                 version: str | None = None) -> bool:
    """Whether ``rule`` covers the request (at ``version`` instead of the request's)."""
    info = attrs.info
    return (_in(_list(rule.get("operations")), attrs.operation.value)
            and _in(_list(rule.get("apiGroups")), info.group)
            and _in(_list(rule.get("apiVersions")), version or info.version)
            and _resource_ok(_list(rule.get("resources")), info.plural, attrs.subresource)
            and _scope_ok(rule.get("scope"), info.namespaced)
            and (not rule.get("resourceNames")
                 or attrs.name in _list(rule.get("resourceNames"))))


def _equivalent_versions(attrs: AdmissionAttributes) -> list[str]:
    info = attrs.info
    return [other.version for other in served_resources()
            if other.group == info.group and other.plural == info.plural
            and other.version != info.version]


def _any_rule(rules: Sequence[Any], attrs: AdmissionAttributes, equivalent: bool) -> bool:
    for rule in rules:
        if not isinstance(rule, Mapping):
            continue
        if rule_matches(rule, attrs):
            return True
        if equivalent and any(rule_matches(rule, attrs, v) for v in _equivalent_versions(attrs)):
            return True
    return False


def _selector_ok(selector: Any, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return True
    return selector_from_label_selector_object(selector).matches(labels)


def matches(constraints: Mapping[str, Any] | None, attrs: AdmissionAttributes,
            namespace: Mapping[str, Any] | None) -> bool:
    """Whether ``constraints`` (a ``MatchResources``; None: everything) select the request;
    ``namespace`` is the request's Namespace object (None when cluster-scoped or absent)."""
    if constraints is None:
        return True
    equivalent = constraints.get("matchPolicy", "Equivalent") != "Exact"
    rules = _list(constraints.get("resourceRules"))
    if rules and not _any_rule(rules, attrs, equivalent):
        return False
    if _any_rule(_list(constraints.get("excludeResourceRules")), attrs, equivalent):
        return False
    ns_selector = constraints.get("namespaceSelector")
    if attrs.info is NAMESPACES or (not attrs.group and attrs.resource == "namespaces"):
        if not _selector_ok(ns_selector, _labels(attrs.object or attrs.old_object)):
            return False
    elif attrs.namespace and not _selector_ok(ns_selector, _labels(namespace)):
        return False
    selector = constraints.get("objectSelector")
    if selector is not None:
        candidates = [o for o in (attrs.object, attrs.old_object) if o is not None]
        if not any(_selector_ok(selector, _labels(o)) for o in candidates):
            return False
    return True
