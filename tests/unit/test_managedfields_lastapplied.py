"""The client-side → server-side apply upgrade for the ``kubectl`` field manager."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from apiserver.api import errors
from apiserver.registry import managedfields
from apiserver.registry.managedfields.lastapplied import LAST_APPLIED

_SCOPE = managedfields.Scope(
    "io.k8s.api.core.v1.ConfigMap", "v1", now=lambda: datetime(2026, 1, 1, tzinfo=UTC)
)


def _manifest(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "default"}, "data": data}


def _client_side_applied(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` as ``kubectl apply`` (client-side) creates it."""
    live = copy.deepcopy(manifest)
    live["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(manifest) + "\n"}
    managedfields.record_update(None, live, "kubectl-client-side-apply", _SCOPE)
    return live


def _annotation(obj: dict[str, Any]) -> Any:
    return json.loads(obj["metadata"]["annotations"][LAST_APPLIED])


def test_kubectl_apply_over_client_side_apply_is_not_a_conflict() -> None:
    live = _client_side_applied(_manifest(a="1", b="2"))
    applied = managedfields.apply(live, _manifest(a="changed", b="2"), "kubectl", _SCOPE,
                                  force=False)
    assert applied["data"] == {"a": "changed", "b": "2"}
    managers = {(e["manager"], e["operation"]) for e in applied["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers


def test_other_managers_still_conflict() -> None:
    live = _client_side_applied(_manifest(a="1"))
    with pytest.raises(errors.ApiError) as caught:
        managedfields.apply(live, _manifest(a="changed"), "someone", _SCOPE, force=False)
    assert caught.value.code == 409


def test_only_conflicts_outside_the_annotation_are_reported() -> None:
    live = _client_side_applied(_manifest(a="1"))
    live["data"]["b"] = "edited"  # set by an update, not recorded in the annotation
    managedfields.record_update(copy.deepcopy(live), live, "editor", _SCOPE)
    live["data"]["a"] = "drifted"  # no longer the annotation's value
    managedfields.record_update(_client_side_applied(_manifest(a="1")), live, "editor",
                                _SCOPE)
    with pytest.raises(errors.ApiError) as caught:
        managedfields.apply(live, _manifest(a="x", b="y"), "kubectl", _SCOPE, force=False)
    fields = sorted(c["field"] for c in caught.value.status["details"]["causes"])
    assert fields == [".data.a", ".data.b"]


def test_kubectl_apply_rewrites_an_existing_annotation() -> None:
    live = _client_side_applied(_manifest(a="1"))
    config = _manifest(a="<2>")
    config["metadata"]["annotations"] = {"keep": "me"}
    applied = managedfields.apply(live, config, "kubectl", _SCOPE, force=False)
    text = applied["metadata"]["annotations"][LAST_APPLIED]
    assert text == (
        '{"apiVersion":"v1","data":{"a":"\\u003c2\\u003e"},"kind":"ConfigMap",'
        '"metadata":{"annotations":{"keep":"me"},"name":"c","namespace":"default"}}\n'
    )


def test_the_server_never_adds_the_annotation() -> None:
    live = _manifest(a="1")
    managedfields.record_update(None, live, "creator", _SCOPE)
    applied = managedfields.apply(live, _manifest(b="2"), "kubectl", _SCOPE, force=False)
    assert "annotations" not in applied["metadata"]
    other = _client_side_applied(_manifest(a="1"))
    applied = managedfields.apply(other, _manifest(a="1", b="2"), "not-kubectl", _SCOPE,
                                  force=False)
    assert _annotation(applied) == _manifest(a="1")
