"""apps/v1 workloads and ReplicationControllers: upstream field paths and messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apiserver.api.resources import RESOURCES
from apiserver.registry.registry import strategy_for
from apiserver.registry.strategy import Strategy


def _strategy(group: str, plural: str) -> Strategy:
    return strategy_for(next(i for i in RESOURCES if i.group == group and i.plural == plural))


def _template(labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "c", "image": "nginx"}])
    return {"metadata": {"labels": labels if labels is not None else {"app": "web"}},
            "spec": spec}


def workload(**spec: Any) -> dict[str, Any]:
    spec.setdefault("selector", {"matchLabels": {"app": "web"}})
    spec.setdefault("template", _template())
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": spec}


def found(causes: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in causes]


APPS = [("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"),
        ("apps", "daemonsets")]


@pytest.mark.parametrize(("group", "plural"), APPS)
def test_valid_workload_has_no_errors(group: str, plural: str) -> None:
    assert _strategy(group, plural).validate(workload(replicas=1)) == []


@pytest.mark.parametrize(("group", "plural"), APPS)
def test_selector_required(group: str, plural: str) -> None:
    obj = workload()
    del obj["spec"]["selector"]
    assert ("spec.selector", "Required value") in found(_strategy(group, plural).validate(obj))


@pytest.mark.parametrize(("group", "plural"), APPS)
def test_selector_must_match_template_labels(group: str, plural: str) -> None:
    obj = workload(template=_template({"app": "other", "tier": "x"}))
    assert found(_strategy(group, plural).validate(obj)) == [(
        "spec.template.metadata.labels",
        'Invalid value: map[string]string{"app":"other", "tier":"x"}: '
        "`selector` does not match template `labels`")]


def test_empty_selector_is_invalid() -> None:
    causes = _strategy("apps", "deployments").validate(workload(selector={}))
    assert causes[0]["field"] == "spec.selector"
    assert causes[0]["message"].endswith("empty selector is invalid for deployment")


@pytest.mark.parametrize(("group", "plural"), [a for a in APPS if a[1] != "statefulsets"])
def test_selector_immutable(group: str, plural: str) -> None:
    old = workload()
    new = workload(selector={"matchLabels": {"app": "web", "x": "y"}},
                   template=_template({"app": "web", "x": "y"}))
    causes = found(_strategy(group, plural).validate_update(new, old))
    assert any(f == "spec.selector" and m.endswith("field is immutable") for f, m in causes)


def test_replicas_and_limits_nonnegative() -> None:
    causes = found(_strategy("apps", "deployments").validate(
        workload(replicas=-1, revisionHistoryLimit=-2)))
    assert ("spec.replicas", "Invalid value: -1: must be greater than or equal to 0") in causes
    assert ("spec.revisionHistoryLimit",
            "Invalid value: -2: must be greater than or equal to 0") in causes


def test_rolling_update_bounds() -> None:
    s = _strategy("apps", "deployments")
    both_zero = workload(strategy={"type": "RollingUpdate",
                                   "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}})
    assert found(s.validate(both_zero)) == [(
        "spec.strategy.rollingUpdate.maxUnavailable",
        'Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: '
        "may not be 0 when `maxSurge` is 0")]
    too_big = workload(strategy={"type": "RollingUpdate",
                                 "rollingUpdate": {"maxUnavailable": "120%", "maxSurge": "x"}})
    causes = found(s.validate(too_big))
    assert ("spec.strategy.rollingUpdate.maxUnavailable",
            'Invalid value: "120%": must not be greater than 100%') in causes
    assert causes[1][0] == "spec.strategy.rollingUpdate.maxSurge"
    assert "a valid percent string" in causes[1][1]
    recreate = workload(strategy={"type": "Recreate", "rollingUpdate": {}})
    assert found(s.validate(recreate)) == [(
        "spec.strategy.rollingUpdate",
        "Forbidden: may not be specified when strategy `type` is 'Recreate'")]
    bad = workload(strategy={"type": "Blue"})
    assert found(s.validate(bad)) == [(
        "spec.strategy.type",
        'Unsupported value: "Blue": supported values: "Recreate", "RollingUpdate"')]


def test_progress_deadline_after_min_ready() -> None:
    causes = found(_strategy("apps", "deployments").validate(
        workload(minReadySeconds=10, progressDeadlineSeconds=5)))
    assert causes == [("spec.progressDeadlineSeconds",
                       "Invalid value: 5: must be greater than minReadySeconds")]


def test_template_containers_use_pod_checks_and_restart_policy() -> None:
    obj = workload(template=_template(containers=[{"name": "Bad_Name"}],
                                      restartPolicy="Never"))
    causes = found(_strategy("apps", "deployments").validate(obj))
    fields = [f for f, _ in causes]
    assert "spec.template.spec.containers[0].name" in fields
    assert ("spec.template.spec.containers[0].image", "Required value") in causes
    assert ("spec.template.spec.restartPolicy",
            'Unsupported value: "Never": supported values: "Always"') in causes


def test_statefulset_rules() -> None:
    s = _strategy("apps", "statefulsets")
    causes = found(s.validate(workload(podManagementPolicy="Random",
                                       updateStrategy={"type": "Sometimes"})))
    assert ("spec.podManagementPolicy",
            "Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'") in causes
    assert ("spec.updateStrategy",
            "Invalid value: \"Sometimes\": must be 'RollingUpdate' or 'OnDelete'") in causes
    old = workload(serviceName="a", replicas=1)
    ok = copy.deepcopy(old)
    ok["spec"]["replicas"] = 3
    assert s.validate_update(ok, old) == []
    bad = copy.deepcopy(old)
    bad["spec"]["serviceName"] = "b"
    (cause,) = s.validate_update(bad, old)
    assert cause["field"] == "spec"
    assert cause["message"].startswith(
        "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals'")


def test_daemonset_update_strategy() -> None:
    causes = found(_strategy("apps", "daemonsets").validate(
        workload(updateStrategy={"type": "Never"})))
    assert causes == [("spec.updateStrategy.type",
                       'Unsupported value: "Never": supported values: "OnDelete", '
                       '"RollingUpdate"')]


def test_missing_defaults_do_not_error() -> None:
    obj = workload()
    for plural in ("deployments", "statefulsets", "daemonsets", "replicasets"):
        assert _strategy("apps", plural).validate(obj) == []


def test_replication_controller() -> None:
    s = _strategy("", "replicationcontrollers")
    ok = {"metadata": {"name": "rc"}, "spec": {"selector": {"app": "web"},
                                                "template": _template()}}
    assert s.validate(ok) == []
    causes = found(s.validate({"metadata": {"name": "rc"}, "spec": {"replicas": -1}}))
    assert causes == [("spec.replicas", "Invalid value: -1: must be greater than or equal to 0"),
                      ("spec.selector", "Required value"), ("spec.template", "Required value")]
    mismatch = {"metadata": {"name": "rc"}, "spec": {"selector": {"app": "x"},
                                                      "template": _template()}}
    assert found(s.validate(mismatch))[0][0] == "spec.template.metadata.labels"


def test_malformed_input_never_raises() -> None:
    for plural in ("deployments", "statefulsets", "daemonsets", "replicasets"):
        s = _strategy("apps", plural)
        for spec in (None, "x", {"selector": "x", "template": 3, "strategy": 1,
                                 "updateStrategy": {"rollingUpdate": 5}}):
            s.validate({"metadata": {"name": "x"}, "spec": spec})
