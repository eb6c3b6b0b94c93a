"""RBAC Roles and bindings: upstream field paths and messages."""

from __future__ import annotations

from typing import Any

from apiserver.api.resources import RESOURCES
from apiserver.registry.registry import strategy_for
from apiserver.registry.strategy import Strategy

GROUP = "rbac.authorization.k8s.io"


def _strategy(plural: str) -> Strategy:
    return strategy_for(next(i for i in RESOURCES if i.group == GROUP and i.plural == plural))


def found(causes: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in causes]


def binding(kind: str = "Role", **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": "b"}, "roleRef": {"apiGroup": GROUP, "kind": kind, "name": "r"},
            "subjects": [{"kind": "User", "apiGroup": GROUP, "name": "alice"}], **extra}


def test_rules() -> None:
    s = _strategy("roles")
    assert s.validate({"rules": [{"apiGroups": [""], "resources": ["pods"],
                                  "verbs": ["get"]}]}) == []
    assert found(s.validate({"rules": [{}]})) == [
        ("rules[0].verbs", "Required value: verbs must contain at least one value"),
        ("rules[0].apiGroups", "Required value: resource rules must supply at least one api group"),
        ("rules[0].resources", "Required value: resource rules must supply at least one resource"),
    ]
    urls = found(s.validate({"rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}))
    assert urls == [("rules[0].nonResourceURLs", 'Invalid value: []string{"/healthz"}: '
                     "namespaced rules cannot apply to non-resource URLs")]
    assert _strategy("clusterroles").validate(
        {"rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}) == []


def test_cluster_role_aggregation() -> None:
    causes = found(_strategy("clusterroles").validate({"aggregationRule": {}}))
    assert causes == [("aggregationRule.clusterRoleSelectors", "Required value: at least one "
                       "clusterRoleSelector required if aggregationRule is non-nil")]


def test_binding_role_ref_and_subjects() -> None:
    s = _strategy("rolebindings")
    assert s.validate(binding()) == []
    assert s.validate(binding("ClusterRole")) == []
    assert found(s.validate(binding("Pod"))) == [
        ("roleRef.kind", 'Unsupported value: "Pod": supported values: "Role", "ClusterRole"')]
    assert found(_strategy("clusterrolebindings").validate(binding())) == [
        ("roleRef.kind", 'Unsupported value: "Role": supported values: "ClusterRole"')]
    bad = binding(subjects=[{"kind": "Robot", "name": "x"},
                            {"kind": "ServiceAccount", "name": "", "apiGroup": GROUP}])
    causes = found(s.validate(bad))
    assert ("subjects[0].kind", 'Unsupported value: "Robot": supported values: '
            '"ServiceAccount", "User", "Group"') in causes
    assert ("subjects[1].name", "Required value") in causes
    assert ("subjects[1].apiGroup", f'Unsupported value: "{GROUP}": supported values: ""'
            ) in causes
    crb = binding("ClusterRole", subjects=[{"kind": "ServiceAccount", "name": "sa"}])
    assert found(_strategy("clusterrolebindings").validate(crb)) == [
        ("subjects[0].namespace", "Required value")]


def test_role_ref_immutable() -> None:
    s = _strategy("rolebindings")
    causes = found(s.validate_update(binding("ClusterRole"), binding()))
    assert causes == [("roleRef", 'Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io"'
                       ', Kind:"ClusterRole", Name:"r"}: cannot change roleRef')]


def test_malformed_never_raises() -> None:
    for obj in ({"rules": "x"}, {"rules": [1]}, {"roleRef": 3, "subjects": [None]},
                {"aggregationRule": {"clusterRoleSelectors": [3]}}):
        for plural in ("roles", "clusterroles", "rolebindings", "clusterrolebindings"):
            _strategy(plural).validate(obj)
