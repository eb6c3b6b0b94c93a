"""The registry layer of scale, eviction, the review kinds and componentstatuses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from apiserver.api import errors
from apiserver.api.resources import PODS, lookup, served
from apiserver.registry import eviction, reviews, scale
from apiserver.registry.componentstatus import ComponentStatusREST
from apiserver.registry.registry import Registry
from apiserver.registry.store import DeleteOptions
from apiserver.storage.cache import WatchCache
from apiserver.storage.memory import MemoryStorage

DEPLOYMENTS = lookup("apps", "v1", "deployments")
RCS = lookup("", "v1", "replicationcontrollers")
SAR = lookup("authorization.k8s.io", "v1", "subjectaccessreviews")
SSAR = lookup("authorization.k8s.io", "v1", "selfsubjectaccessreviews")
LSAR = lookup("authorization.k8s.io", "v1", "localsubjectaccessreviews")
SSRR = lookup("authorization.k8s.io", "v1", "selfsubjectrulesreviews")
SSR = lookup("authentication.k8s.io", "v1", "selfsubjectreviews")
CS = lookup("", "v1", "componentstatuses")
NOW = "2025-01-02T03:04:05Z"


def _deployment(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1",
                         "resourceVersion": "7", "creationTimestamp": NOW,
                         "labels": {"x": "y"}},
            "spec": spec, "status": {"replicas": 2}}


# -- scale ----------------------------------------------------------------------------


def test_scale_of_a_deployment() -> None:
    assert DEPLOYMENTS is not None
    dep = _deployment(replicas=3, selector={
        "matchLabels": {"b": "2", "a": "1"},
        "matchExpressions": [{"key": "t", "operator": "In", "values": ["z", "y"]}]})
    assert scale.to_scale(DEPLOYMENTS, dep) == {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "resourceVersion": "7",
                     "creationTimestamp": NOW},
        "spec": {"replicas": 3},
        "status": {"replicas": 2, "selector": "a=1,b=2,t in (y,z)"},
    }


def test_scale_of_zero_replicas_and_an_rc_selector_map() -> None:
    assert RCS is not None
    rc = _deployment(replicas=0, selector={"app": "web", "tier": "fe"})
    rc["status"] = {}
    out = scale.to_scale(RCS, rc)
    assert out["spec"] == {}
    assert out["status"] == {"replicas": 0, "selector": "app=web,tier=fe"}


def test_apply_scale_moves_replicas_and_preconditions() -> None:
    assert DEPLOYMENTS is not None
    dep = _deployment(replicas=1, selector={"matchLabels": {"a": "1"}})
    new = scale.to_scale(DEPLOYMENTS, dep)
    new["spec"] = {"replicas": 4}
    new["metadata"]["resourceVersion"] = "5"
    scale.apply_scale(DEPLOYMENTS, dep, new)
    assert dep["spec"]["replicas"] == 4
    assert dep["metadata"]["resourceVersion"] == "5"
    new["spec"] = {}
    scale.apply_scale(DEPLOYMENTS, dep, new)
    assert dep["spec"]["replicas"] == 0


def test_apply_scale_rejects_negative_replicas_and_a_foreign_uid() -> None:
    assert DEPLOYMENTS is not None
    dep = _deployment(replicas=1)
    with pytest.raises(errors.ApiError) as caught:
        scale.apply_scale(DEPLOYMENTS, dep, {"metadata": {}, "spec": {"replicas": -1}})
    assert caught.value.code == 422
    assert caught.value.message == ('Scale.autoscaling "web" is invalid: spec.replicas: '
                                    "Invalid value: -1: must be greater than or equal to 0")
    with pytest.raises(errors.ApiError) as caught:
        scale.apply_scale(DEPLOYMENTS, dep, {"metadata": {"uid": "other"},
                                             "spec": {"replicas": 1}})
    assert caught.value.code == 409
    assert 'deployments/scale.apps "web"' in caught.value.message


# -- eviction -------------------------------------------------------------------------


def _pod(phase: str = "Running", ready: bool = True, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default", "labels": labels,
                         "resourceVersion": "3"},
            "status": {"phase": phase,
                       "conditions": [{"type": "Ready", "status": str(ready)}]}}


def _pdb(name: str = "budget", allowed: int = 1, current: int = 3, desired: int = 2,
         selector: Any = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default", "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": "web"}} if selector is None
                     else selector, **spec},
            "status": {"disruptionsAllowed": allowed, "currentHealthy": current,
                       "desiredHealthy": desired, "observedGeneration": 1}}


def test_which_pods_skip_the_budget() -> None:
    assert eviction.can_ignore_budget(_pod("Succeeded"))
    assert eviction.can_ignore_budget(_pod("Pending"))
    deleting = _pod()
    deleting["metadata"]["deletionTimestamp"] = NOW
    assert eviction.can_ignore_budget(deleting)
    assert not eviction.can_ignore_budget(_pod())
    assert eviction.enforces_resource_version(_pod("Pending"))
    assert not eviction.enforces_resource_version(_pod("Failed"))


def test_matching_budgets_ignore_empty_invalid_and_foreign_selectors() -> None:
    pod = _pod(app="web")
    budgets = [
        _pdb("match"),
        _pdb("empty", selector={}),
        _pdb("invalid", selector={"matchExpressions": [{"key": "a", "operator": "Foo"}]}),
        _pdb("other", selector={"matchLabels": {"app": "db"}}),
    ]
    foreign = _pdb("foreign")
    foreign["metadata"]["namespace"] = "elsewhere"
    budgets.append(foreign)
    assert [b["metadata"]["name"] for b in eviction.matching_budgets(pod, budgets)] == ["match"]


def test_unready_pods_spend_the_budget_only_when_it_is_short() -> None:
    assert eviction.spends_budget(_pod(), _pdb())
    assert not eviction.spends_budget(_pod(ready=False), _pdb(current=2, desired=2))
    assert eviction.spends_budget(_pod(ready=False), _pdb(current=1, desired=2))
    assert not eviction.spends_budget(
        _pod(ready=False), _pdb(current=1, desired=2, unhealthyPodEvictionPolicy="AlwaysAllow"))


def test_take_disruption_decrements_and_records_the_pod() -> None:
    pdb = eviction.take_disruption(_pdb(allowed=2), "p", NOW)
    assert pdb["status"]["disruptionsAllowed"] == 1
    assert pdb["status"]["disruptedPods"] == {"p": NOW}
    assert "conditions" not in pdb["status"]
    pdb = eviction.take_disruption(pdb, "q", NOW)
    assert pdb["status"]["disruptionsAllowed"] == 0
    assert pdb["status"]["conditions"] == [{
        "type": "DisruptionAllowed", "status": "False", "observedGeneration": 1,
        "lastTransitionTime": NOW, "reason": "InsufficientPods", "message": ""}]


def test_take_disruption_refusals() -> None:
    with pytest.raises(errors.ApiError) as caught:
        eviction.take_disruption(_pdb(allowed=0, current=2, desired=2), "p", NOW)
    assert caught.value.code == 429
    assert caught.value.status["details"] == {"causes": [{
        "reason": "DisruptionBudget",
        "message": "The disruption budget budget needs 2 healthy pods and has 2 currently"}]}
    unobserved = _pdb()
    unobserved["status"]["observedGeneration"] = 0
    with pytest.raises(errors.ApiError) as caught:
        eviction.take_disruption(unobserved, "p", NOW)
    assert caught.value.code == 429
    assert caught.value.status["details"]["retryAfterSeconds"] == 10
    with pytest.raises(errors.ApiError) as caught:
        eviction.take_disruption(_pdb(allowed=-1), "p", NOW)
    assert caught.value.code == 403


def test_eviction_delete_options() -> None:
    opts = eviction.delete_options({"deleteOptions": {
        "gracePeriodSeconds": 5, "preconditions": {"uid": "u", "resourceVersion": "9"},
        "dryRun": ["All"]}}, False)
    assert opts == DeleteOptions(grace_period_seconds=5, precondition_uid="u",
                                 precondition_resource_version="9", dry_run=True)
    assert eviction.delete_options({}, True).dry_run
    with pytest.raises(errors.ApiError):
        eviction.delete_options({"deleteOptions": {"dryRun": ["Some"]}}, False)


def test_evict_over_the_stores() -> None:
    async def scenario() -> None:
        storage = MemoryStorage()
        await storage.start()
        registry = Registry(storage, WatchCache(storage))
        await registry.start()
        try:
            pods = registry.store(PODS)
            budgets = registry.store(eviction.budgets_info())
            # What the serviceaccount controller makes; ServiceAccount admission needs it.
            await registry.store(served("", "v1", "serviceaccounts")).create(
                "default", {"metadata": {"name": "default"}})
            for name in ("a", "b"):
                await pods.create("default", {"metadata": {"name": name,
                                                           "labels": {"app": "web"}},
                                              "spec": {"containers": [{"name": "c",
                                                                       "image": "i"}]}})
                await pods.guaranteed_update(
                    "default", name, lambda p: {**p, "status": _pod()["status"]},
                    subresource="status")
            await budgets.create("default", _pdb())
            await budgets.guaranteed_update(
                "default", "budget", lambda b: {**b, "status": _pdb()["status"]},
                subresource="status")
            rest = eviction.EvictionREST(pods, budgets, lambda: datetime(2025, 1, 1, tzinfo=UTC))
            await rest.evict("default", "a", {"metadata": {"name": "a"}}, True)
            assert (await budgets.get("default", "budget")).obj["status"][
                "disruptionsAllowed"] == 1
            await rest.evict("default", "a", {"metadata": {"name": "a"}}, False)
            status = (await budgets.get("default", "budget")).obj["status"]
            assert status["disruptionsAllowed"] == 0
            assert status["disruptedPods"] == {"a": "2025-01-01T00:00:00Z"}
            with pytest.raises(errors.ApiError) as caught:
                await pods.get("default", "a")
            assert caught.value.code == 404
            with pytest.raises(errors.ApiError) as caught:
                await rest.evict("default", "b", {"metadata": {"name": "b"}}, False)
            assert caught.value.code == 429
            await budgets.create("default", _pdb("second"))
            with pytest.raises(errors.ApiError) as caught:
                await rest.evict("default", "b", {"metadata": {"name": "b"}}, False)
            assert caught.value.code == 500
            assert caught.value.status["message"].startswith("This pod has more than one")
        finally:
            await registry.stop()
            await storage.close()

    asyncio.run(scenario())


# -- reviews --------------------------------------------------------------------------


def _review(kind: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "authorization.k8s.io/v1", "kind": kind, "metadata": {},
            "spec": spec}


def test_always_allow_answers_access_reviews() -> None:
    assert SAR is not None and SSAR is not None
    answer = reviews.Reviews().access_review(
        SSAR, _review("SelfSubjectAccessReview", resourceAttributes={"verb": "create",
                                                                     "resource": "pods"}),
        reviews.ANONYMOUS)
    assert answer["status"] == {"allowed": True}
    assert answer["metadata"] == {"creationTimestamp": None}
    assert list(answer) == [
        "kind", "apiVersion", "metadata", "spec", "status"]
    sar = reviews.Reviews().access_review(
        SAR, _review("SubjectAccessReview", user="bob",
                     nonResourceAttributes={"path": "/healthz", "verb": "get"}),
        reviews.ANONYMOUS)
    assert sar["status"] == {"allowed": True}


def test_access_review_validation() -> None:
    assert SAR is not None and LSAR is not None
    causes = reviews.validation_causes("SubjectAccessReview", _review(
        "SubjectAccessReview", resourceAttributes={}, nonResourceAttributes={"path": "/x",
                                                                             "verb": "get"}))
    assert [c["message"] for c in causes] == [
        'Invalid value: authorization.NonResourceAttributes{Path:"/x", Verb:"get"}: cannot be '
        "specified in combination with resourceAttributes",
        'Invalid value: "": at least one of user or group must be specified',
    ]
    with pytest.raises(errors.ApiError) as caught:
        reviews.Reviews().access_review(SAR, _review("SubjectAccessReview", user="u"),
                                        reviews.ANONYMOUS)
    assert caught.value.code == 422
    assert caught.value.message == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
        'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes '
        "must be specified")
    local = _review("LocalSubjectAccessReview", user="u",
                    resourceAttributes={"namespace": "other", "verb": "get"})
    with pytest.raises(errors.ApiError) as caught:
        reviews.Reviews().access_review(LSAR, local, reviews.ANONYMOUS, "ns")
    assert caught.value.code == 422
    local["metadata"] = {"namespace": "other"}
    with pytest.raises(errors.ApiError) as caught:
        reviews.Reviews().access_review(LSAR, local, reviews.ANONYMOUS, "ns")
    assert caught.value.code == 400


def test_rules_token_and_self_subject_reviews() -> None:
    assert SSRR is not None and SSR is not None
    rules = reviews.Reviews().rules_review(
        SSRR, _review("SelfSubjectRulesReview", namespace="default"), reviews.ANONYMOUS)
    assert rules["status"] == {
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
        "incomplete": False,
    }
    with pytest.raises(errors.ApiError) as caught:
        reviews.Reviews().rules_review(SSRR, _review("SelfSubjectRulesReview"),
                                       reviews.ANONYMOUS)
    assert caught.value.message == "no namespace on request"
    token = reviews.Reviews().token_review({"kind": "TokenReview", "spec": {"token": "t"}})
    assert token["status"] == {"user": {}}
    with pytest.raises(errors.ApiError) as caught:
        reviews.Reviews().token_review({"kind": "TokenReview", "spec": {}})
    assert caught.value.code == 400
    me = reviews.Reviews.self_subject_review(SSR, reviews.ANONYMOUS, NOW)
    assert me["status"] == {"userInfo": {"username": "system:anonymous",
                                         "groups": ["system:unauthenticated"]}}


def test_plugged_token_authenticator() -> None:
    class Tokens:
        def authenticate_token(self, token: str, audiences: Any) -> reviews.TokenResult:
            return reviews.TokenResult(True, reviews.UserInfo("alice", groups=("g",)),
                                       ("api",))

    answer = reviews.Reviews(tokens=Tokens()).token_review(
        {"kind": "TokenReview", "spec": {"token": "t"}})
    assert answer["status"] == {"authenticated": True,
                                "user": {"username": "alice", "groups": ["g"]},
                                "audiences": ["api"]}


# -- componentstatuses ----------------------------------------------------------------


def test_component_status_of_the_storage() -> None:
    assert CS is not None

    async def scenario() -> None:
        storage = MemoryStorage()
        await storage.start()
        rest = ComponentStatusREST(CS, storage)
        assert await rest.list() == [{
            "kind": "ComponentStatus", "apiVersion": "v1",
            "metadata": {"name": "memory-0", "creationTimestamp": None},
            "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]}]
        with pytest.raises(errors.ApiError) as caught:
            await rest.get("scheduler")
        assert caught.value.code == 404

    asyncio.run(scenario())
