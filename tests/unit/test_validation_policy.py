"""PDBs, PriorityClasses, HPAs, Ingresses and IngressClasses: upstream paths and messages."""

from __future__ import annotations

from typing import Any

from apiserver.api.resources import RESOURCES
from apiserver.registry.registry import strategy_for
from apiserver.registry.strategy import Strategy


def _strategy(group: str, plural: str) -> Strategy:
    return strategy_for(next(i for i in RESOURCES if i.group == group and i.plural == plural))


def found(causes: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in causes]


def pdb(**spec: Any) -> dict[str, Any]:
    spec.setdefault("selector", {"matchLabels": {"app": "web"}})
    return {"metadata": {"name": "p"}, "spec": spec}


def test_pdb() -> None:
    s = _strategy("policy", "poddisruptionbudgets")
    assert s.has_status_subresource and s.tracks_generation
    assert s.validate(pdb(minAvailable=1)) == []
    assert s.validate(pdb(maxUnavailable="50%")) == []
    (both,) = s.validate(pdb(minAvailable=1, maxUnavailable=1))
    assert both["field"] == "spec"
    assert both["message"].endswith("minAvailable and maxUnavailable cannot be both set")
    assert found(s.validate(pdb(minAvailable=-1))) == [
        ("spec.minAvailable", "Invalid value: -1: must be greater than or equal to 0")]
    assert found(s.validate(pdb(maxUnavailable="150%"))) == [
        ("spec.maxUnavailable", 'Invalid value: "150%": must not be greater than 100%')]
    bad_sel = pdb(selector={"matchExpressions": [{"key": "a", "operator": "In"}]})
    assert found(s.validate(bad_sel)) == [(
        "spec.selector.matchExpressions[0].values",
        "Required value: must be specified when `operator` is 'In' or 'NotIn'")]


def test_priority_class() -> None:
    s = _strategy("scheduling.k8s.io", "priorityclasses")
    assert s.validate({"metadata": {"name": "high"}, "value": 1000}) == []
    assert found(s.validate({"metadata": {"name": "high"}, "value": 2_000_000_000})) == [
        ("value", "Forbidden: maximum allowed value of a user defined priority is 1000000000")]
    assert found(s.validate({"metadata": {"name": "system-mine"}, "value": 1})) == [
        ("metadata.name", "Forbidden: priority class names with 'system-' prefix are reserved "
         "for system use only")]
    old = {"metadata": {"name": "high"}, "value": 1}
    assert found(s.validate_update({"metadata": {"name": "high"}, "value": 2}, old)) == [
        ("value", "Forbidden: may not be changed in an update.")]


def test_hpa() -> None:
    for version_info in [i for i in RESOURCES if i.plural == "horizontalpodautoscalers"]:
        s = strategy_for(version_info)
        causes = found(s.validate({"spec": {"minReplicas": 0, "maxReplicas": 0}}))
        assert causes == [
            ("spec.scaleTargetRef.kind", "Required value"),
            ("spec.scaleTargetRef.name", "Required value"),
            ("spec.minReplicas", "Invalid value: 0: must be greater than or equal to 1"),
            ("spec.maxReplicas", "Invalid value: 0: must be greater than 0"),
        ]
        low = found(s.validate({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"},
                                          "minReplicas": 5, "maxReplicas": 2}}))
        assert low == [("spec.maxReplicas",
                        "Invalid value: 2: must be greater than or equal to `minReplicas`")]


def test_ingress() -> None:
    s = _strategy("networking.k8s.io", "ingresses")
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    ok = {"spec": {"rules": [{"http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": backend}]}}]}}
    assert s.validate(ok) == []
    bad = {"spec": {"rules": [{"http": {"paths": [
        {"path": "/", "backend": backend},
        {"path": "x", "pathType": "Exact", "backend": {**backend, "resource": {}}},
        {"path": "/", "pathType": "Glob", "backend": {}}]}}]}}
    causes = found(s.validate(bad))
    assert ("spec.rules[0].http.paths[0].pathType",
            "Required value: pathType must be specified") in causes
    assert ("spec.rules[0].http.paths[1].path",
            'Invalid value: "x": must be an absolute path') in causes
    assert ("spec.rules[0].http.paths[1].backend",
            'Invalid value: "": cannot set both resource and service backends') in causes
    assert ("spec.rules[0].http.paths[2].pathType", 'Unsupported value: "Glob": supported '
            'values: "Exact", "ImplementationSpecific", "Prefix"') in causes


def test_ingress_class() -> None:
    s = _strategy("networking.k8s.io", "ingressclasses")
    assert found(s.validate({"spec": {}})) == [("spec.controller", "Required value")]
    old = {"spec": {"controller": "a/b"}}
    assert found(s.validate_update({"spec": {"controller": "a/c"}}, old)) == [
        ("spec.controller", 'Invalid value: "a/c": field is immutable')]
