"""PodDisruptionBudgets, PriorityClasses and HorizontalPodAutoscalers.

Counterparts of ``ValidatePodDisruptionBudgetSpec`` (``pkg/apis/policy/validation``),
``ValidatePriorityClass``/``Update`` (``pkg/apis/scheduling/validation``) and the
``scaleTargetRef``/replica bounds of ``ValidateHorizontalPodAutoscalerSpec``
(``pkg/apis/autoscaling/validation``).
"""

from __future__ import annotations

from typing import Any

from apiserver.api import meta
from apiserver.api.hpaconversion import drop_round_trip_annotations
from apiserver.registry import common as c
from apiserver.registry.strategy import Cause
from apiserver.registry.table_strategy import TableStrategy
from apiserver.registry.workloads.validation import spec_of

HIGHEST_USER_PRIORITY = 1_000_000_000
#: The priority classes the apiserver itself creates; only these may use the prefix.
SYSTEM_PRIORITY_CLASSES = {"system-cluster-critical": 2_000_000_000,
                           "system-node-critical": 2_000_001_000}


def _go_budget_spec(spec: dict[str, Any]) -> str:
    def shown(value: Any) -> str:
        return "nil" if value is None else f"&{c.go_int_or_string(value)}"

    return (f"policy.PodDisruptionBudgetSpec{{MinAvailable:{shown(spec.get('minAvailable'))}, "
            f"Selector:(*v1.LabelSelector)(…), "
            f"MaxUnavailable:{shown(spec.get('maxUnavailable'))}}}")


def validate_pdb(obj: dict[str, Any]) -> list[Cause]:
    """``ValidatePodDisruptionBudgetSpec``."""
    spec = spec_of(obj)
    causes: list[Cause] = []
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    if min_available is not None and max_unavailable is not None:
        causes.append(c.invalid("spec", _go_budget_spec(spec),
                                "minAvailable and maxUnavailable cannot be both set"))
    causes += c.int_or_percent("spec.minAvailable", min_available)
    causes += c.int_or_percent("spec.maxUnavailable", max_unavailable)
    causes += c.label_selector(spec.get("selector"), "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("AlwaysAllow", "IfHealthyBudget"):
        causes.append(c.not_supported("spec.unhealthyPodEvictionPolicy", policy,
                                      ("AlwaysAllow", "IfHealthyBudget")))
    return causes


class PodDisruptionBudgetStrategy(TableStrategy):
    """policy/v1 PodDisruptionBudgets."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_pdb(obj)


def validate_priority_class(obj: dict[str, Any]) -> list[Cause]:
    """``ValidatePriorityClass`` without the generic metadata checks."""
    causes: list[Cause] = []
    name = str(meta.metadata(obj).get("name") or "")
    value = obj.get("value")
    if name.startswith("system-"):
        if SYSTEM_PRIORITY_CLASSES.get(name) is None:
            causes.append(c.forbidden("metadata.name", "priority class names with 'system-' "
                                      "prefix are reserved for system use only"))
    elif c.is_int(value) and value > HIGHEST_USER_PRIORITY:
        causes.append(c.forbidden("value", "maximum allowed value of a user defined priority "
                                  f"is {HIGHEST_USER_PRIORITY}"))
    policy = obj.get("preemptionPolicy")
    if policy is not None and policy not in ("Never", "PreemptLowerPriority"):
        causes.append(c.not_supported("preemptionPolicy", policy,
                                      ("Never", "PreemptLowerPriority")))
    return causes


class PriorityClassStrategy(TableStrategy):
    """scheduling.k8s.io/v1 PriorityClasses: ``value`` and ``preemptionPolicy`` are fixed."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_priority_class(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        causes = validate_priority_class(new)
        if new.get("value") != old.get("value"):
            causes.append(c.forbidden("value", "may not be changed in an update."))
        causes += c.immutable("preemptionPolicy", new.get("preemptionPolicy"),
                              old.get("preemptionPolicy"))
        return causes


def validate_hpa(obj: dict[str, Any]) -> list[Cause]:
    """``scaleTargetRef`` kind and name, ``minReplicas`` ≥ 1, ``maxReplicas`` ≥ min and > 0."""
    spec = spec_of(obj)
    causes: list[Cause] = []
    ref = spec.get("scaleTargetRef")
    ref = ref if isinstance(ref, dict) else {}
    if not ref.get("kind"):
        causes.append(c.required("spec.scaleTargetRef.kind"))
    if not ref.get("name"):
        causes.append(c.required("spec.scaleTargetRef.name"))
    low = spec.get("minReplicas")
    high = spec.get("maxReplicas")
    if c.is_int(low) and low < 1:
        causes.append(c.invalid("spec.minReplicas", c.go_value(low),
                                "must be greater than or equal to 1"))
    if c.is_int(high):
        if high < 1:
            causes.append(c.invalid("spec.maxReplicas", c.go_value(high),
                                    "must be greater than 0"))
        if c.is_int(low) and high < low:
            causes.append(c.invalid("spec.maxReplicas", c.go_value(high),
                                    "must be greater than or equal to `minReplicas`"))
    return causes


class HorizontalPodAutoscalerStrategy(TableStrategy):
    """autoscaling HorizontalPodAutoscalers (v1 and v2 share the checked fields)."""

    def default(self, obj: dict[str, Any]) -> None:
        super().default(obj)
        if obj.get("apiVersion") == "autoscaling/v2":
            # Upstream's v2 decoding drops v1's round-trip annotations: only a v1 object
            # may carry them (apiserver.api.hpaconversion).
            drop_round_trip_annotations(obj)

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_hpa(obj)
