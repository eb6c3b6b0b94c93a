"""The clusterrole-aggregation controller's rule gathering."""

from __future__ import annotations

from typing import Any

from controllers.manager.clusterrole_aggregation import aggregated_rules

TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view"


def _role(name: str, labels: dict[str, str], *verbs: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": [v]} for v in verbs]}


def test_rules_are_gathered_by_selector_then_name_each_once() -> None:
    view = {"metadata": {"name": "view", "labels": {TO_VIEW: "true"}},
            "aggregationRule": {"clusterRoleSelectors": [
                {"matchLabels": {TO_VIEW: "true"}}, {"matchLabels": {"extra": "yes"}}]},
            "rules": []}
    roles = [view, _role("b", {TO_VIEW: "true"}, "list", "get"),
             _role("a", {TO_VIEW: "true"}, "get"), _role("c", {"extra": "yes"}, "watch", "get"),
             _role("d", {}, "delete")]
    assert [r["verbs"][0] for r in aggregated_rules(view, roles)] == ["get", "list", "watch"]


def test_nothing_matches_nothing_is_gathered() -> None:
    role = {"metadata": {"name": "x"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"none": "x"}}]}}
    assert aggregated_rules(role, [role, _role("a", {}, "get")]) == []
