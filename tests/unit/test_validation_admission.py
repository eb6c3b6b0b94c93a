"""Webhook configurations, ValidatingAdmissionPolicies and bindings: upstream paths and messages."""

from __future__ import annotations

import copy
from typing import Any

from apiserver.api.resources import RESOURCES
from apiserver.registry.registry import strategy_for
from apiserver.registry.strategy import Strategy

_G = "admissionregistration.k8s.io"
HOOK: dict[str, Any] = {
    "name": "check.example.com",
    "clientConfig": {"url": "https://hooks.example.com/check"},
    "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
               "resources": ["pods"]}],
    "sideEffects": "None", "admissionReviewVersions": ["v1"],
}


def _strategy(plural: str) -> Strategy:
    return strategy_for(next(i for i in RESOURCES if i.group == _G and i.plural == plural))


def found(causes: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in causes]


def hooks(**changes: Any) -> dict[str, Any]:
    hook = copy.deepcopy(HOOK)
    for key, value in changes.items():
        if value is None:
            hook.pop(key, None)
        else:
            hook[key] = value
    return {"metadata": {"name": "w"}, "webhooks": [hook]}


def test_webhook_configurations() -> None:
    for plural in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
        s = _strategy(plural)
        assert s.validate(hooks()) == []
        assert found(s.validate(hooks(sideEffects=None))) == [
            ("webhooks[0].sideEffects", "Required value: must specify one of None, NoneOnDryRun")]
        assert found(s.validate(hooks(sideEffects="Some"))) == [
            ("webhooks[0].sideEffects",
             'Unsupported value: "Some": supported values: "None", "NoneOnDryRun"')]
        assert found(s.validate(hooks(admissionReviewVersions=None))) == [
            ("webhooks[0].admissionReviewVersions",
             "Required value: must specify one of v1, v1beta1")]
        assert found(s.validate(hooks(name="check"))) == [
            ("webhooks[0].name", 'Invalid value: "check": should be a domain with at least '
             "three segments separated by dots")]
        both = {"url": "https://a.b/c", "service": {"name": "s", "namespace": "n"}}
        assert found(s.validate(hooks(clientConfig=both))) == [
            ("webhooks[0].clientConfig",
             "Required value: exactly one of url or service is required")]
        assert found(s.validate(hooks(clientConfig={"url": "http://a.b/c"}))) == [
            ("webhooks[0].clientConfig.url",
             'Invalid value: "http": \'https\' is the only allowed URL scheme')]
        assert found(s.validate(hooks(timeoutSeconds=31))) == [
            ("webhooks[0].timeoutSeconds",
             "Invalid value: 31: the timeout value must be between 1 and 30 seconds")]
        assert [f for f, _ in found(s.validate(hooks(rules=[{}])))] == [
            "webhooks[0].rules[0].operations", "webhooks[0].rules[0].apiGroups",
            "webhooks[0].rules[0].apiVersions", "webhooks[0].rules[0].resources"]
        twice = {"metadata": {"name": "w"}, "webhooks": [HOOK, HOOK]}
        assert found(s.validate(twice)) == [
            ("webhooks[1].name", 'Duplicate value: "check.example.com"')]
        assert [f for f, _ in found(s.validate(hooks(failurePolicy="x", matchPolicy="y")))] == [
            "webhooks[0].failurePolicy", "webhooks[0].matchPolicy"]
    mutating = _strategy("mutatingwebhookconfigurations")
    assert [f for f, _ in found(mutating.validate(hooks(reinvocationPolicy="x")))] == [
        "webhooks[0].reinvocationPolicy"]


def test_validating_admission_policy() -> None:
    s = _strategy("validatingadmissionpolicies")
    rules = [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"],
              "resources": ["deployments"]}]
    good = {"matchConstraints": {"resourceRules": rules},
            "validations": [{"expression": "true"}]}
    assert s.validate({"spec": good}) == []
    assert found(s.validate({"spec": {**good, "failurePolicy": "Bogus"}})) == [
        ("spec.failurePolicy", 'Unsupported value: "Bogus": supported values: "Fail", "Ignore"')]
    assert found(s.validate({"spec": {"matchConstraints": {"resourceRules": rules}}})) == [
        ("spec.validations", "Required value: validations or auditAnnotations must contain "
         "at least one item")]
    assert found(s.validate({"spec": {"validations": [{"expression": ""}]}})) == [
        ("spec.matchConstraints", "Required value"),
        ("spec.validations[0].expression", "Required value: expression is not specified")]


def test_binding() -> None:
    s = _strategy("validatingadmissionpolicybindings")
    good = {"policyName": "p.example.com", "validationActions": ["Deny"]}
    assert s.validate({"spec": good}) == []
    assert found(s.validate({"spec": {"validationActions": ["Deny"]}})) == [
        ("spec.policyName", "Required value")]
    assert found(s.validate({"spec": {"policyName": "p"}})) == [
        ("spec.validationActions", "Required value: at least one validation action is required")]
    causes = s.validate({"spec": {"policyName": "p", "validationActions": ["Audit", "Audit",
                                                                           "Nope"]}})
    assert found(causes) == [
        ("spec.validationActions[1]", 'Duplicate value: "Audit"'),
        ("spec.validationActions[2]",
         'Unsupported value: "Nope": supported values: "Audit", "Deny", "Warn"')]
    assert [f for f, _ in found(s.validate({"spec": {**good, "paramRef": {"name": "x"}}}))] == [
        "spec.paramRef.parameterNotFoundAction"]
