"""The ValidatingAdmissionPolicy plugin over a real registry on memory storage (no HTTP):
Audit annotations, published audit annotations, Warn through the request's warning
recorder, and one compilation per policy version."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from apiserver.admission import AdmissionAttributes, Operation
from apiserver.admission.policy import ValidatingAdmissionPolicyPlugin
from apiserver.admission.policy.plugin import BINDINGS, FAILURE_KEY, POLICIES
from apiserver.api.resources import CONFIGMAPS
from apiserver.api.warnings import REQUEST_WARNINGS
from apiserver.registry.registry import Registry
from apiserver.registry.store import DeleteOptions
from apiserver.storage.cache import WatchCache
from apiserver.storage.memory import MemoryStorage


def _run(scenario: Callable[[Registry, ValidatingAdmissionPolicyPlugin], Awaitable[None]]) \
        -> None:
    async def run() -> None:
        storage = MemoryStorage()
        await storage.start()
        registry = Registry(storage, WatchCache(storage))
        await registry.start()
        plugin = next(p for p in registry.admission.plugins
                      if isinstance(p, ValidatingAdmissionPolicyPlugin))
        try:
            await scenario(registry, plugin)
        finally:
            await registry.stop()
            await storage.close()

    asyncio.run(run())


def _attrs(name: str) -> AdmissionAttributes:
    return AdmissionAttributes(info=CONFIGMAPS, operation=Operation.CREATE, namespace="default",
                               name=name, object={"metadata": {"name": name},
                                                  "data": {"k": "v"}})


async def _policy(registry: Registry, actions: list[str], **spec: Any) -> None:
    await registry.store(POLICIES).create(None, {"metadata": {"name": "p"}, "spec": {
        "matchConstraints": {"resourceRules": [{
            "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
            "resources": ["configmaps"]}]},
        "validations": [{"expression": "object.metadata.name.startsWith('ok')",
                         "messageExpression": "'bad name ' + object.metadata.name"}],
        **spec}})
    await registry.store(BINDINGS).create(None, {"metadata": {"name": "b"}, "spec": {
        "policyName": "p", "validationActions": actions}})


def test_audit_and_warn_actions_and_audit_annotations() -> None:
    async def scenario(registry: Registry, plugin: ValidatingAdmissionPolicyPlugin) -> None:
        await _policy(registry, ["Warn", "Audit"], auditAnnotations=[
            {"key": "size", "valueExpression": "string(size(object.data))"}])
        attrs = _attrs("bad")
        warnings: list[str] = []
        token = REQUEST_WARNINGS.set(warnings)
        try:
            await plugin.validate(attrs)
        finally:
            REQUEST_WARNINGS.reset(token)
        assert warnings == ["Validation failed for ValidatingAdmissionPolicy 'p' with binding "
                            "'b': bad name bad"]
        assert json.loads(attrs.audit_annotations[FAILURE_KEY]) == [{
            "message": "bad name bad", "policy": "p", "binding": "b", "expressionIndex": 0,
            "validationActions": ["Warn", "Audit"]}]
        assert attrs.audit_annotations["p/size"] == "1"
        fine = _attrs("ok-1")
        await plugin.validate(fine)
        assert fine.audit_annotations == {"p/size": "1"}

    _run(scenario)


def test_each_policy_version_is_compiled_once() -> None:
    async def scenario(registry: Registry, plugin: ValidatingAdmissionPolicyPlugin) -> None:
        await _policy(registry, ["Deny"])
        await plugin.validate(_attrs("ok-1"))
        (first,) = plugin._compiled.values()
        await plugin.validate(_attrs("ok-2"))
        assert plugin._compiled["p"] is first
        policies = registry.store(POLICIES)
        stored = dict((await policies.get(None, "p")).obj)
        stored["spec"] = {**stored["spec"], "failurePolicy": "Ignore"}
        await policies.update(None, "p", stored)
        await plugin.validate(_attrs("ok-3"))
        assert plugin._compiled["p"] is not first
        assert plugin._compiled["p"].failure_policy == "Ignore"
        await policies.delete(None, "p", DeleteOptions())
        await plugin.validate(_attrs("ok-4"))
        assert plugin._compiled == {}

    _run(scenario)
