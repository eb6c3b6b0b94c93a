"""ValidatingAdmissionPolicy's pure parts: matching rules and selectors, compiling and
evaluating a policy (messages, variables, audit annotations, failure policy)."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.admission import AdmissionAttributes, Operation
from apiserver.admission.policy.compiled import CompiledPolicy, compile_checked
from apiserver.admission.policy.matching import matches, rule_matches
from apiserver.admission.policy.plugin import admission_request
from apiserver.api.resources import CONFIGMAPS, NAMESPACES, PODS, served
from apiserver.api.user import UserInfo

HPA_V1 = served("autoscaling", "v1", "horizontalpodautoscalers")


def _attrs(info: Any = CONFIGMAPS, op: Operation = Operation.CREATE, name: str = "c",
           labels: dict[str, str] | None = None, subresource: str = "",
           namespace: str = "ns") -> AdmissionAttributes:
    obj = {"metadata": {"name": name, "labels": labels or {}}, "data": {"a": "1"}}
    return AdmissionAttributes(info=info, operation=op, namespace=namespace, name=name,
                               object=obj, subresource=subresource,
                               user=UserInfo("alice", groups=("dev",)))


def _rule(resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"apiGroups": ["", "autoscaling"], "apiVersions": ["v1"], "operations": ["CREATE"],
            "resources": resources, **extra}


@pytest.mark.parametrize(("resources", "subresource", "expected"), [
    (["configmaps"], "", True), (["*"], "", True), (["*"], "status", False),
    (["*/*"], "status", True), (["pods/*"], "status", True), (["*/status"], "status", True),
    (["pods/status"], "", False), (["secrets"], "", False),
])
def test_resource_rules(resources: list[str], subresource: str, expected: bool) -> None:
    info = PODS if subresource or "pods" in resources[0] else CONFIGMAPS
    assert rule_matches(_rule(resources), _attrs(info, subresource=subresource)) is expected


def test_operation_scope_and_resource_names() -> None:
    attrs = _attrs()
    assert not rule_matches(_rule(["*"], operations=["UPDATE"]), attrs)
    assert rule_matches(_rule(["*"], scope="Namespaced"), attrs)
    assert not rule_matches(_rule(["*"], scope="Cluster"), attrs)
    assert rule_matches(_rule(["*"], resourceNames=["c"]), attrs)
    assert not rule_matches(_rule(["*"], resourceNames=["d"]), attrs)


def test_match_policy_equivalent_accepts_another_served_version() -> None:
    hpa_v2 = served("autoscaling", "v2", "horizontalpodautoscalers")
    constraints: dict[str, Any] = {"resourceRules": [_rule(["horizontalpodautoscalers"])]}
    assert matches(constraints, _attrs(HPA_V1), None)
    assert matches(constraints, _attrs(hpa_v2), None)
    assert not matches({**constraints, "matchPolicy": "Exact"}, _attrs(hpa_v2), None)


def test_exclusions_and_selectors() -> None:
    constraints: dict[str, Any] = {
        "resourceRules": [_rule(["*"])],
        "excludeResourceRules": [_rule(["configmaps"], resourceNames=["skip"])],
        "namespaceSelector": {"matchLabels": {"team": "a"}},
        "objectSelector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}}
    team_a = {"metadata": {"name": "ns", "labels": {"team": "a"}}}
    assert matches(constraints, _attrs(labels={"tier": "x"}), team_a)
    assert not matches(constraints, _attrs(labels={}), team_a)
    assert not matches(constraints, _attrs(labels={"tier": "x"}), {"metadata": {}})
    assert not matches(constraints, _attrs(name="skip", labels={"tier": "x"}), team_a)
    # A Namespace is judged by its own labels; cluster-scoped requests always match.
    ns = _attrs(NAMESPACES, labels={"team": "a", "tier": "t"}, namespace="")
    assert matches({**constraints, "resourceRules": [_rule(["namespaces"])]}, ns, None)


def _policy(**spec: Any) -> CompiledPolicy:
    return CompiledPolicy({"metadata": {"name": "p", "resourceVersion": "1"}, "spec": spec})


def _base(attrs: AdmissionAttributes, params: Any = None) -> dict[str, Any]:
    return {"object": attrs.object, "oldObject": None, "request": admission_request(attrs),
            "params": params, "namespaceObject": None}


def test_messages_reasons_and_variables() -> None:
    policy = _policy(
        variables=[{"name": "keys", "expression": "size(object.data)"},
                   {"name": "many", "expression": "variables.keys > 0"}],
        validations=[
            {"expression": "!variables.many", "messageExpression": "'keys: ' + "
             "string(variables.keys)", "reason": "Forbidden"},
            {"expression": "request.userInfo.username == 'bob'", "message": " only bob "},
            {"expression": "  request.operation == 'DELETE' "},
            {"expression": "false", "messageExpression": "'two\\nlines'", "message": "fallback"},
            {"expression": "object.metadata.name == params.name"}])
    assert not policy.error
    decisions = policy.evaluate(_base(_attrs(), {"name": "c"})).decisions
    assert [(d.action, d.message, d.reason, d.index) for d in decisions] == [
        ("deny", "keys: 1", "Forbidden", 0), ("deny", "only bob", "Invalid", 1),
        ("deny", "failed expression: request.operation == 'DELETE'", "Invalid", 2),
        ("deny", "fallback", "Invalid", 3)]


def test_evaluation_errors_follow_the_failure_policy() -> None:
    failing = [{"expression": "object.data.nope == '1'"}]
    decision = _policy(validations=failing).evaluate(_base(_attrs())).decisions[0]
    assert (decision.action, decision.error) == ("deny", True)
    assert decision.message == ("expression 'object.data.nope == '1'' resulted in error: "
                                "no such key: nope")
    ignored = _policy(validations=failing, failurePolicy="Ignore")
    assert ignored.evaluate(_base(_attrs())).decisions[0].action == "admit"


def test_a_failed_variable_fails_the_expressions_reading_it() -> None:
    policy = _policy(variables=[{"name": "v", "expression": "object.nope"}],
                     validations=[{"expression": "variables.v == 1"}])
    decision = policy.evaluate(_base(_attrs())).decisions[0]
    assert decision.message == "expression 'object.nope' resulted in error: no such key: nope"


def test_match_conditions() -> None:
    policy = _policy(matchConditions=[
        {"name": "a", "expression": "object.metadata.name == 'c'"},
        {"name": "b", "expression": "request.operation == 'CREATE'"}],
        validations=[{"expression": "true"}])
    assert policy.matches_conditions(_base(_attrs())) == (True, "")
    assert policy.matches_conditions(_base(_attrs(name="d"))) == (False, "")
    broken = _policy(matchConditions=[{"name": "x", "expression": "object.nope == 1"}],
                     validations=[{"expression": "true"}])
    assert broken.matches_conditions(_base(_attrs())) == (
        True, "expression 'object.nope == 1' resulted in error: no such key: nope")


def test_audit_annotations() -> None:
    policy = _policy(auditAnnotations=[
        {"key": "name", "valueExpression": "' ' + object.metadata.name + ' '"},
        {"key": "none", "valueExpression": "null"},
        {"key": "blank", "valueExpression": "''"}])
    outcome = policy.evaluate(_base(_attrs()))
    assert outcome.annotations == [("name", "c")] and not outcome.decisions
    wrong = _policy(auditAnnotations=[{"key": "n", "valueExpression": "1"}])
    assert wrong.evaluate(_base(_attrs())).audit_errors[0].message.startswith(
        "valueExpression '1' resulted in unsupported return type")


def test_compile_errors() -> None:
    assert compile_checked("object.x >", ("object",))[1].startswith("compilation failed: ")
    assert compile_checked("variables.x", ("object",))[1] == (
        "compilation failed: ERROR: <input>:1:1: undeclared reference to 'variables' "
        "(in container '')")
    policy = _policy(validations=[{"expression": "1 +"}])
    assert policy.error.startswith("compilation failed: ")
    # Names a macro binds are not variables.
    assert compile_checked("object.m.all(k, object.m.exists(j, j == k)) && "
                           "object.l.map(i, v, v).size() > 0", ("object",))[1] == ""


def test_authorizer_is_declared_but_not_provided() -> None:
    text = "authorizer.group('').resource('pods').check('get').allowed()"
    policy = _policy(validations=[{"expression": text}])
    assert not policy.error
    decision = policy.evaluate(_base(_attrs())).decisions[0]
    assert decision.error and decision.message.startswith(
        f"expression '{text}' resulted in error: ")


def test_expressions_estimated_over_the_cost_limit_are_not_evaluated() -> None:
    nested = "object.data.all(k, object.data.all(j, k != j || true))"
    policy = _policy(validations=[{"expression": nested}, {"expression": "object.data.all("
                                                           "k, k != '')"}])
    attrs = _attrs()
    assert policy.evaluate(_base(attrs)).decisions == []
    assert attrs.object is not None
    attrs.object["data"] = {f"k{i}": "v" for i in range(1001)}
    (decision,) = policy.evaluate(_base(attrs)).decisions
    assert decision.error and decision.index == 0
    assert decision.message == (f"expression '{nested}' resulted in error: operation "
                                "cancelled: actual cost limit exceeded")
