"""Admission webhook matching, reviews and refusals, without a webhook server.

The parts a request decides before any call: rules, scopes, equivalent versions,
selectors, match conditions, dry run against ``sideEffects``; and the review's checks and
refusal messages. Calls themselves are covered by the integration tests.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apiserver.admission import AdmissionAttributes, Operation
from apiserver.admission.webhook.config import parse_webhook
from apiserver.admission.webhook.dispatch import ValidatingWebhooks
from apiserver.admission.webhook.matching import (
    ConditionError,
    conditions_match,
    invocation,
    rule_matches,
    selectors_match,
)
from apiserver.admission.webhook.review import InvalidResponse, denial, request, verify
from apiserver.api import errors
from apiserver.api.resources import CONFIGMAPS, NAMESPACES, PODS, lookup
from apiserver.api.user import UserInfo
from apiserver.registry.admission_source import RegistrySource
from apiserver.webhook.resolve import resolve_service

USER = UserInfo("alice", groups=("devs",))


def attrs(info: Any = PODS, op: Operation = Operation.CREATE, namespace: str = "ns",
          sub: str = "", obj: dict[str, Any] | None = None,
          dry_run: bool = False) -> AdmissionAttributes:
    return AdmissionAttributes(info=info, operation=op, namespace=namespace, name="x",
                               object=obj if obj is not None else {"metadata": {"name": "x"}},
                               subresource=sub, dry_run=dry_run, user=USER)


def hook(**raw: Any) -> Any:
    base: dict[str, Any] = {
        "name": "h.example.com", "clientConfig": {"url": "https://127.0.0.1:1/"},
        "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                   "resources": ["pods"]}],
        "sideEffects": "None", "admissionReviewVersions": ["v1"]}
    return parse_webhook("config", 0, {**base, **raw})


@pytest.mark.parametrize(("resources", "sub", "matched"), [
    (["pods"], "", True), (["pods"], "status", False), (["pods/status"], "status", True),
    (["*/status"], "status", True), (["*/status"], "", False), (["pods/*"], "", True),
    (["pods/*"], "log", True), (["*"], "status", False), (["*/*"], "exec", True),
    (["services"], "", False),
])
def test_resources_and_subresources_match_as_upstream(resources: list[str], sub: str,
                                                      matched: bool) -> None:
    h = hook(rules=[{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"],
                     "resources": resources}])
    assert rule_matches(h.rules[0], attrs(sub=sub), PODS) is matched


def test_scopes_and_operations() -> None:
    def rule(scope: str, ops: tuple[str, ...] = ("*",)) -> Any:
        return hook(rules=[{"operations": list(ops), "apiGroups": ["*"], "apiVersions": ["*"],
                            "resources": ["*"], "scope": scope}]).rules[0]

    assert rule_matches(rule("Namespaced"), attrs(), PODS)
    assert not rule_matches(rule("Cluster"), attrs(), PODS)
    namespace = attrs(NAMESPACES, namespace="x")  # a Namespace names itself, yet is cluster-wide
    assert rule_matches(rule("Cluster"), namespace, NAMESPACES)
    assert not rule_matches(rule("Namespaced"), namespace, NAMESPACES)
    assert not rule_matches(rule("*", ("UPDATE", "DELETE")), attrs(), PODS)


def test_match_policy_equivalent_calls_with_another_served_version() -> None:
    v1 = lookup("autoscaling", "v1", "horizontalpodautoscalers")
    v2 = lookup("autoscaling", "v2", "horizontalpodautoscalers")
    assert v1 is not None and v2 is not None
    rules = [{"operations": ["CREATE"], "apiGroups": ["autoscaling"], "apiVersions": ["v1"],
              "resources": ["horizontalpodautoscalers"]}]
    request_v2 = attrs(v2)
    assert invocation(hook(rules=rules), request_v2) is v1
    assert invocation(hook(rules=rules, matchPolicy="Exact"), request_v2) is None
    assert invocation(hook(rules=rules), attrs(v1)) is v1


def test_selectors() -> None:
    source = RegistrySource({})
    labelled = attrs(obj={"metadata": {"name": "x", "labels": {"app": "web"}}})
    by_label = hook(objectSelector={"matchLabels": {"app": "web"}})
    assert selectors_match(by_label, labelled, source)
    assert not selectors_match(by_label, attrs(), source)
    # The old object's labels count too (a label removed by an update still matches).
    update = attrs(op=Operation.UPDATE)
    update.old_object = {"metadata": {"labels": {"app": "web"}}}
    assert selectors_match(by_label, update, source)
    in_ns = hook(namespaceSelector={"matchLabels": {"team": "a"}})
    assert selectors_match(in_ns, attrs(CONFIGMAPS, namespace=""), source)  # cluster-scoped
    assert not selectors_match(in_ns, attrs(), source)  # namespace unknown: no labels
    ns_object = attrs(NAMESPACES, namespace="", obj={"metadata": {"labels": {"team": "a"}}})
    assert selectors_match(in_ns, ns_object, source)


def test_match_conditions_false_skips_and_errors_raise() -> None:
    source = RegistrySource({})
    a = attrs(obj={"metadata": {"name": "x"}})
    req = request(a, PODS, a.object, None)
    yes = hook(matchConditions=[{"name": "user", "expression":
                                 "request.userInfo.username == 'alice'"}])
    assert conditions_match(yes, a, req, source)
    no = hook(matchConditions=[{"name": "op", "expression": "request.operation == 'DELETE'"},
                               {"name": "bad", "expression": "object.nothere == 1"}])
    assert not conditions_match(no, a, req, source)  # a false one wins over an error
    with pytest.raises(ConditionError, match="expression 'bad' resulted in error"):
        conditions_match(hook(matchConditions=[{"name": "bad",
                                                "expression": "object.nothere == 1"}]),
                         a, req, source)


def test_review_request_fields() -> None:
    a = attrs(sub="status", op=Operation.UPDATE, obj={"metadata": {"name": "x"}})
    a.options = {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1"}
    req = request(a, PODS, a.object, {"metadata": {"name": "x"}})
    assert req["subResource"] == req["requestSubResource"] == "status"
    assert req["userInfo"] == {"username": "alice", "groups": ["devs"]}
    assert (req["operation"], req["namespace"], req["name"], req["dryRun"]) == (
        "UPDATE", "ns", "x", False)
    assert req["options"] == a.options


def test_dry_run_refused_by_webhooks_with_side_effects_whatever_the_policy() -> None:
    plugin = ValidatingWebhooks(RegistrySource({}))
    for policy in ("Fail", "Ignore"):
        h = hook(sideEffects="Unknown", failurePolicy=policy)
        with pytest.raises(errors.ApiError) as caught:
            asyncio.run(plugin.call(h, PODS, attrs(dry_run=True)))
        assert (caught.value.code, caught.value.message) == (
            400, 'admission webhook "h.example.com" does not support dry run')


def test_denials_read_as_upstream() -> None:
    err = denial("d.example.com", {"code": 403, "message": "no thanks", "reason": "Forbidden"})
    assert (err.code, err.reason, err.message) == (
        403, "Forbidden", 'admission webhook "d.example.com" denied the request: no thanks')
    err = denial("d", {"code": 200})
    assert (err.code, err.message) == (400, 'admission webhook "d" denied the request '
                                             "without explanation")
    assert denial("d", None).code == 400
    assert denial("d", {"reason": "Because"}).message == \
        'admission webhook "d" denied the request: Because'


@pytest.mark.parametrize(("answer", "mutating", "message"), [
    ({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}, True,
     "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got "
     "admission.k8s.io/v1beta1, Kind=AdmissionReview"),
    ({"response": None}, True, "webhook response was absent"),
    ({"response": {"uid": "other"}}, True, 'expected response.uid="u", got "other"'),
    ({"response": {"uid": "u", "patch": "W10="}}, False,
     "validating webhooks may not return patches"),
    ({"response": {"uid": "u", "patch": "W10="}}, True,
     "webhook returned response.patch but not response.patchType"),
    ({"response": {"uid": "u", "patch": "W10=", "patchType": "Merge"}}, True,
     'webhook returned invalid response.patchType of "Merge"'),
])
def test_invalid_responses(answer: dict[str, Any], mutating: bool, message: str) -> None:
    full = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", **answer}
    with pytest.raises(InvalidResponse) as caught:
        verify(full, "u", mutating)
    assert str(caught.value) == message


def test_service_resolution_through_endpoints_and_slices() -> None:
    objects = {
        ("services", "ns", "svc"): {"spec": {"ports": [{"name": "https", "port": 443}]}},
        ("endpoints", "ns", "svc"): {"subsets": [
            {"addresses": [{"ip": "127.0.0.9"}], "ports": [{"name": "other", "port": 1}]},
            {"addresses": [{"ip": "127.0.0.8"}], "ports": [{"name": "https", "port": 8443}]}]},
    }
    slices = [{"ports": [{"name": "https", "port": 9443}],
               "endpoints": [{"addresses": ["127.0.0.7"], "conditions": {"ready": False}},
                             {"addresses": ["127.0.0.6"], "conditions": {"ready": True}}]}]

    def lookup_obj(resource: str, ns: str, name: str) -> Any:
        return objects.get((resource, ns, name))

    assert resolve_service(lookup_obj, lambda ns, name: slices, "ns", "svc", 443) == \
        ("127.0.0.8", 8443)
    del objects[("endpoints", "ns", "svc")]
    assert resolve_service(lookup_obj, lambda ns, name: slices, "ns", "svc", 443) == \
        ("127.0.0.6", 9443)
    with pytest.raises(LookupError, match='no endpoints available for service "svc"'):
        resolve_service(lookup_obj, lambda ns, name: [], "ns", "svc", 443)
    with pytest.raises(LookupError, match="no service port 80 found"):
        resolve_service(lookup_obj, lambda ns, name: [], "ns", "svc", 80)
    with pytest.raises(LookupError, match='service "nope" not found'):
        resolve_service(lookup_obj, lambda ns, name: [], "ns", "nope", 443)
