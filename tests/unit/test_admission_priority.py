"""The Priority admission plugin: a pod's priority from its PriorityClass, upstream's
refusals, and one global default class at most."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from apiserver.admission import AdmissionAttributes, Operation
from apiserver.admission.priority import PriorityAdmission
from apiserver.api import errors
from apiserver.api.resources import PODS, ResourceInfo, lookup

PRIORITY_CLASSES = lookup("scheduling.k8s.io", "v1", "priorityclasses")


def _class(name: str, value: int, default: bool = False,
           policy: str | None = "PreemptLowerPriority") -> dict[str, Any]:
    pc: dict[str, Any] = {"metadata": {"name": name}, "value": value, "globalDefault": default}
    if policy is not None:
        pc["preemptionPolicy"] = policy
    return pc


class Source:
    def __init__(self, *classes: dict[str, Any]) -> None:
        self.classes = list(classes)

    def cached_list(self, info: ResourceInfo, namespace: str) -> Sequence[dict[str, Any]]:
        assert info is PRIORITY_CLASSES and namespace == ""
        return self.classes

    def generation(self, info: ResourceInfo) -> int:
        return len(self.classes)

    def cached(self, info: ResourceInfo, namespace: str, name: str) -> dict[str, Any] | None:
        assert info is PRIORITY_CLASSES and namespace == ""
        return next((c for c in self.classes if c["metadata"]["name"] == name), None)


SYSTEM = (_class("system-cluster-critical", 2_000_000_000),
          _class("system-node-critical", 2_000_001_000))


def _admit_pod(source: Source, spec: dict[str, Any], op: Operation = Operation.CREATE,
               old: dict[str, Any] | None = None) -> dict[str, Any]:
    pod = {"metadata": {"name": "p"}, "spec": spec}
    attrs = AdmissionAttributes(info=PODS, operation=op, namespace="ns", name="p", object=pod,
                                old_object=old)
    asyncio.run(PriorityAdmission(source).admit(attrs))  # type: ignore[arg-type]
    return spec


def test_a_named_class_gives_its_value_and_preemption_policy() -> None:
    spec = _admit_pod(Source(*SYSTEM, _class("low", 10, policy="Never")),
                      {"priorityClassName": "system-cluster-critical"})
    assert (spec["priority"], spec["preemptionPolicy"]) == (2_000_000_000, "PreemptLowerPriority")
    spec = _admit_pod(Source(*SYSTEM, _class("low", 10, policy="Never")),
                      {"priorityClassName": "low"})
    assert (spec["priority"], spec["preemptionPolicy"]) == (10, "Never")


def test_no_class_and_no_default_is_priority_zero() -> None:
    spec = _admit_pod(Source(*SYSTEM), {})
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    assert "priorityClassName" not in spec


def test_the_lowest_global_default_applies_and_is_named() -> None:
    spec = _admit_pod(Source(*SYSTEM, _class("b", 500, True), _class("a", 100, True)), {})
    assert (spec["priorityClassName"], spec["priority"]) == ("a", 100)


@pytest.mark.parametrize(("spec", "why"), [
    ({"priorityClassName": "missing"}, "no PriorityClass with name missing was found"),
    ({"priorityClassName": "system-node-critical", "priority": 5},
     "the integer value of priority (5) must not be provided in pod spec; priority admission "
     "controller computed 2000001000 from the given PriorityClass name"),
    ({"priorityClassName": "system-node-critical", "preemptionPolicy": "Never"},
     "the string value of PreemptionPolicy (Never) must not be provided in pod spec; priority "
     "admission controller computed PreemptLowerPriority from the given PriorityClass name"),
])
def test_refusals_are_upstreams(spec: dict[str, Any], why: str) -> None:
    with pytest.raises(errors.ApiError) as caught:
        _admit_pod(Source(*SYSTEM), spec)
    assert caught.value.code == 403
    assert caught.value.status["message"] == f'pods "p" is forbidden: {why}'


def test_an_update_keeps_the_priority_the_pod_was_created_with() -> None:
    old = {"spec": {"priority": 7, "preemptionPolicy": "Never"}}
    spec = _admit_pod(Source(), {}, Operation.UPDATE, old)
    assert (spec["priority"], spec["preemptionPolicy"]) == (7, "Never")


def test_only_one_global_default_class() -> None:
    assert PRIORITY_CLASSES is not None
    plugin = PriorityAdmission(Source(_class("first", 1, True)))  # type: ignore[arg-type]

    def validate(name: str, default: bool) -> None:
        obj = _class(name, 2, default)
        attrs = AdmissionAttributes(info=PRIORITY_CLASSES, operation=Operation.CREATE,
                                    namespace="", name=name, object=obj)
        asyncio.run(plugin.validate(attrs))

    validate("plain", False)
    validate("first", True)  # the default class itself, updated
    with pytest.raises(errors.ApiError) as caught:
        validate("second", True)
    assert caught.value.status["message"] == (
        'priorityclasses.scheduling.k8s.io "second" is forbidden: PriorityClass first is '
        "marked as default. Only one default can exist")
