"""FlowSchemas and PriorityLevelConfigurations (flowcontrol.apiserver.k8s.io/v1).

Counterparts of ``ValidateFlowSchemaSpec`` and ``ValidatePriorityLevelConfigurationSpec``
(``pkg/apis/flowcontrol/validation``), with upstream's field paths and messages. The
queuing entropy check and the mandatory-object rules of ``exempt``/``catch-all`` are not
implemented.
"""

from __future__ import annotations

from typing import Any

from apiserver.registry import common as c
from apiserver.registry.strategy import Cause
from apiserver.registry.table_strategy import TableStrategy

SUBJECT_KINDS = ("Group", "ServiceAccount", "User")
DISTINGUISHERS = ("ByNamespace", "ByUser")
PRIORITY_TYPES = ("Exempt", "Limited")
LIMIT_TYPES = ("Queue", "Reject")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _verbs(path: str, verbs: list[Any]) -> list[Cause]:
    if not verbs:
        return [c.required(path, "verbs must contain at least one value")]
    if len(verbs) > 1 and "*" in verbs:
        return [c.invalid(path, c.go_list(verbs), "if '*' is present, must not specify other "
                          "verbs")]
    return []


def _subject(subject: Any, path: str) -> list[Cause]:
    s = _dict(subject)
    kind = s.get("kind")
    if kind == "User":
        if not _dict(s.get("user")).get("name"):
            return [c.required(f"{path}.user.name", "username is required")]
    elif kind == "Group":
        if not _dict(s.get("group")).get("name"):
            return [c.required(f"{path}.group.name", "name is required")]
    elif kind == "ServiceAccount":
        sa = _dict(s.get("serviceAccount"))
        causes: list[Cause] = []
        if not sa.get("name"):
            causes.append(c.required(f"{path}.serviceAccount.name",
                                     "name is required (use '*' to match all)"))
        if not sa.get("namespace"):
            causes.append(c.required(f"{path}.serviceAccount.namespace", "namespace is required"))
        return causes
    elif kind is None:
        return [c.required(f"{path}.kind")]
    else:
        return [c.not_supported(f"{path}.kind", kind, SUBJECT_KINDS)]
    return []


def _resource_rule(rule: Any, path: str) -> list[Cause]:
    r = _dict(rule)
    causes = _verbs(f"{path}.verbs", _list(r.get("verbs")))
    if not _list(r.get("apiGroups")):
        causes.append(c.required(f"{path}.apiGroups",
                                 "resource rules must supply at least one api group"))
    if not _list(r.get("resources")):
        causes.append(c.required(f"{path}.resources",
                                 "resource rules must supply at least one resource"))
    if not _list(r.get("namespaces")) and not r.get("clusterScope"):
        causes.append(c.required(f"{path}.namespaces", "resource rules that are not cluster "
                                 "scoped must supply at least one namespace"))
    return causes


def _non_resource_rule(rule: Any, path: str) -> list[Cause]:
    r = _dict(rule)
    causes = _verbs(f"{path}.verbs", _list(r.get("verbs")))
    if not _list(r.get("nonResourceURLs")):
        causes.append(c.required(f"{path}.nonResourceURLs",
                                 "nonResourceURLs must contain at least one value"))
    return causes


def validate_flow_schema(obj: dict[str, Any]) -> list[Cause]:
    """Precedence range, distinguisher, priority level reference and rules."""
    spec = _dict(obj.get("spec"))
    causes: list[Cause] = []
    precedence = spec.get("matchingPrecedence")
    if c.is_int(precedence):
        if precedence <= 0:
            causes.append(c.invalid("spec.matchingPrecedence", c.go_value(precedence),
                                    "must be a positive value"))
        elif precedence > 10000:
            causes.append(c.invalid("spec.matchingPrecedence", c.go_value(precedence),
                                    "must not be greater than 10000"))
    method = spec.get("distinguisherMethod")
    if method is not None:
        kind = _dict(method).get("type")
        if kind not in DISTINGUISHERS:
            causes.append(c.not_supported("spec.distinguisherMethod.type", kind, DISTINGUISHERS))
    if not _dict(spec.get("priorityLevelConfiguration")).get("name"):
        causes.append(c.required("spec.priorityLevelConfiguration.name",
                                 "must reference a priority level"))
    for i, rule in enumerate(_list(spec.get("rules"))):
        rpath = f"spec.rules[{i}]"
        r = _dict(rule)
        subjects = _list(r.get("subjects"))
        if not subjects:
            causes.append(c.required(f"{rpath}.subjects",
                                     "subjects must contain at least one value"))
        for j, subject in enumerate(subjects):
            causes += _subject(subject, f"{rpath}.subjects[{j}]")
        resource_rules = _list(r.get("resourceRules"))
        non_resource_rules = _list(r.get("nonResourceRules"))
        if not resource_rules and not non_resource_rules:
            causes.append(c.required(rpath, "at least one of resourceRules and "
                                     "nonResourceRules has to be non-empty"))
        for j, rr in enumerate(resource_rules):
            causes += _resource_rule(rr, f"{rpath}.resourceRules[{j}]")
        for j, nr in enumerate(non_resource_rules):
            causes += _non_resource_rule(nr, f"{rpath}.nonResourceRules[{j}]")
    return causes


class FlowSchemaStrategy(TableStrategy):
    """flowcontrol.apiserver.k8s.io/v1 FlowSchemas."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_flow_schema(obj)


def _shares_and_percent(cfg: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    shares = cfg.get("nominalConcurrencyShares")
    if c.is_int(shares) and shares < 0:
        causes.append(c.invalid(f"{path}.nominalConcurrencyShares", c.go_value(shares),
                                "must be a non-negative integer"))
    lendable = cfg.get("lendablePercent")
    if c.is_int(lendable) and not 0 <= lendable <= 100:
        causes.append(c.invalid(f"{path}.lendablePercent", c.go_value(lendable),
                                "must be between 0 and 100, inclusive"))
    return causes


def _queuing(queuing: Any, path: str) -> list[Cause]:
    q = _dict(queuing)
    causes: list[Cause] = []
    for key in ("queueLengthLimit", "queues", "handSize"):
        value = q.get(key)
        if c.is_int(value) and value <= 0:
            causes.append(c.invalid(f"{path}.{key}", c.go_value(value), "must be positive"))
    queues, hand = q.get("queues"), q.get("handSize")
    if c.is_int(queues) and c.is_int(hand) and 0 < queues < hand:
        causes.append(c.invalid(f"{path}.handSize", c.go_value(hand),
                                f"should not be greater than queues ({queues})"))
    return causes


def _limited(limited: dict[str, Any]) -> list[Cause]:
    causes = _shares_and_percent(limited, "spec.limited")
    borrowing = limited.get("borrowingLimitPercent")
    if c.is_int(borrowing) and borrowing < 0:
        causes.append(c.invalid("spec.limited.borrowingLimitPercent", c.go_value(borrowing),
                                "if specified, must be a non-negative integer"))
    response = _dict(limited.get("limitResponse"))
    kind = response.get("type")
    rpath = "spec.limited.limitResponse"
    if kind == "Queue":
        if response.get("queuing") is None:
            causes.append(c.required(f"{rpath}.queuing", "must not be empty if the type is "
                                     "Queue"))
        else:
            causes += _queuing(response["queuing"], f"{rpath}.queuing")
    elif kind == "Reject":
        if response.get("queuing") is not None:
            causes.append(c.forbidden(f"{rpath}.queuing", "must be nil if limited."
                                      "limitResponse.type is not Limited"))
    else:
        causes.append(c.not_supported(f"{rpath}.type", kind, LIMIT_TYPES))
    return causes


def validate_priority_level(obj: dict[str, Any]) -> list[Cause]:
    """Type Exempt or Limited, with exactly the matching sub-struct."""
    spec = _dict(obj.get("spec"))
    kind = spec.get("type")
    causes: list[Cause] = []
    if kind == "Exempt":
        if spec.get("limited") is not None:
            causes.append(c.forbidden("spec.limited", "must be nil if the type is not Limited"))
        if spec.get("exempt") is not None:
            causes += _shares_and_percent(_dict(spec["exempt"]), "spec.exempt")
    elif kind == "Limited":
        if spec.get("exempt") is not None:
            causes.append(c.forbidden("spec.exempt", "must be nil if the type is Limited"))
        if spec.get("limited") is None:
            causes.append(c.required("spec.limited", "must not be empty when type is Limited"))
        else:
            causes += _limited(_dict(spec["limited"]))
    else:
        causes.append(c.not_supported("spec.type", kind, PRIORITY_TYPES))
    return causes


class PriorityLevelConfigurationStrategy(TableStrategy):
    """flowcontrol.apiserver.k8s.io/v1 PriorityLevelConfigurations."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_priority_level(obj)
