"""Tables of PodDisruptionBudgets, ResourceQuotas, ComponentStatuses, PriorityClasses
and RuntimeClasses (upstream ``printers.go``).

LimitRanges have no printer upstream; they get the default table.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apiserver.printing.cells import age, condition, i, int_or_string, m, name, quantity, s
from apiserver.printing.spec import AGE, NAME, Col, Doc, KindTable

__all__ = ["TABLES", "quota_columns"]


def _int_or_string_or_na(value: Any) -> str:
    return "N/A" if value is None else int_or_string(value)


def print_pdb(pdb: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Min Available, Max Unavailable (``N/A`` when unset), Allowed Disruptions, Age."""
    spec = m(pdb.get("spec"))
    return [
        name(pdb),
        _int_or_string_or_na(spec.get("minAvailable")),
        _int_or_string_or_na(spec.get("maxUnavailable")),
        i(m(pdb.get("status")).get("disruptionsAllowed")),
        age(pdb, now),
    ]


def quota_columns(status: Any) -> tuple[str, str]:
    """Request and Limit texts: ``resource: used/hard`` for each hard limit, sorted by
    resource name and ``", "``-joined; ``limits.*`` resources go to the Limit text."""
    hard, used = m(m(status).get("hard")), m(m(status).get("used"))
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        pieces = resource.split(".")
        target = limits if len(pieces) > 1 and pieces[0] == "limits" else requests
        target.append(f"{resource}: {quantity(used.get(resource))}/{quantity(hard[resource])}")
    return ", ".join(requests), ", ".join(limits)


def print_resourcequota(quota: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Request, Limit, Age."""
    requests, limits = quota_columns(quota.get("status"))
    return [name(quota), requests, limits, age(quota, now)]


def print_componentstatus(cs: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Status (Healthy/Unhealthy/Unknown), Message, Error of the Healthy condition."""
    healthy = condition(cs.get("conditions"), "Healthy")
    if healthy is None:
        return [name(cs), "Unknown", "", ""]
    status = "Healthy" if healthy.get("status") == "True" else "Unhealthy"
    return [name(cs), status, s(healthy.get("message")), s(healthy.get("error"))]


def print_priorityclass(pc: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Value, Global-Default, Age, PreemptionPolicy."""
    return [
        name(pc),
        i(pc.get("value")),
        pc.get("globalDefault") is True,
        age(pc, now),
        s(pc.get("preemptionPolicy")),
    ]


def print_runtimeclass(rc: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Handler, Age."""
    return [name(rc), s(rc.get("handler")), age(rc, now)]


_SCHED = "scheduling.v1.PriorityClass"

TABLES = (
    KindTable("policy", "PodDisruptionBudget", (
        NAME,
        Col("Min Available", "The minimum number of pods that must be available."),
        Col("Max Unavailable", "The maximum number of pods that may be unavailable."),
        Col("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time.",
            "integer"),
        AGE,
    ), print_pdb),
    KindTable("", "ResourceQuota", (
        NAME,
        Col("Request", "Request represents a minimum amount of cpu/memory that a container may "
            "consume."),
        Col("Limit", "Limits control the maximum amount of cpu/memory that a container may use "
            "independent of contention on the node."),
        AGE,
    ), print_resourcequota),
    KindTable("", "ComponentStatus", (
        NAME,
        Col("Status", "Status of the component conditions"),
        Col("Message", "Message of the component conditions"),
        Col("Error", "Error of the component conditions"),
    ), print_componentstatus),
    KindTable("scheduling.k8s.io", "PriorityClass", (
        NAME,
        Col("Value", Doc(_SCHED, "value"), "integer"),
        Col("Global-Default", Doc(_SCHED, "globalDefault"), "boolean"),
        AGE,
        Col("PreemptionPolicy", Doc(_SCHED, "preemptionPolicy")),
    ), print_priorityclass),
    # Upstream looks the Handler doc up on ObjectMeta, which has no such field: "".
    KindTable("node.k8s.io", "RuntimeClass", (
        NAME, Col("Handler", ""), AGE,
    ), print_runtimeclass),
)
