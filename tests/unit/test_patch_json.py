"""Unit tests for RFC 6902 JSON Patch (apiserver.patch.apply_json_patch)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from apiserver.patch import GENERIC_INVALID_MESSAGE, PatchError, apply_json_patch

DOC: dict[str, Any] = {
    "metadata": {"name": "cm", "labels": {"a": "1"}},
    "data": {"k": "v"},
    "list": [1, 2, 3],
}


def test_operations_apply_to_a_copy() -> None:
    before = copy.deepcopy(DOC)
    result = apply_json_patch(
        DOC,
        [
            {"op": "add", "path": "/metadata/labels/b", "value": "2"},
            {"op": "replace", "path": "/data/k", "value": "w"},
            {"op": "remove", "path": "/list/0"},
            {"op": "add", "path": "/list/-", "value": 4},
            {"op": "copy", "from": "/data/k", "path": "/data/k2"},
            {"op": "move", "from": "/data/k2", "path": "/data/k3"},
            {"op": "test", "path": "/data/k3", "value": "w"},
        ],
    )
    assert result == {
        "metadata": {"name": "cm", "labels": {"a": "1", "b": "2"}},
        "data": {"k": "w", "k3": "w"},
        "list": [2, 3, 4],
    }
    assert before == DOC


def test_accepts_bytes() -> None:
    patch = orjson.dumps([{"op": "replace", "path": "/data/k", "value": "x"}])
    assert apply_json_patch(DOC, patch)["data"] == {"k": "x"}


@pytest.mark.parametrize(
    "patch",
    [
        [{"op": "test", "path": "/data/k", "value": "other"}],
        [{"op": "remove", "path": "/data/missing"}],
        [{"op": "replace", "path": "/nope/deeper", "value": 1}],
        [{"op": "frobnicate", "path": "/data/k"}],
        [{"path": "/data/k"}],
        [{"op": "add", "path": "", "value": [1]}],
    ],
)
def test_application_failures_are_generic_422(patch: list[Any]) -> None:
    with pytest.raises(PatchError) as info:
        apply_json_patch(DOC, patch)
    assert info.value.code == 422
    assert info.value.reason == "Invalid"
    assert info.value.message == GENERIC_INVALID_MESSAGE
    assert info.value.detail


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        (b"{not json", "invalid JSON"),
        (b'{"op":"add"}', "cannot unmarshal object into Go value of type jsonpatch.Patch"),
        ([1], "cannot unmarshal number into Go value of type jsonpatch.Operation"),
    ],
)
def test_undecodable_patch_is_400(patch: Any, fragment: str) -> None:
    with pytest.raises(PatchError) as info:
        apply_json_patch(DOC, patch)
    assert info.value.code == 400
    assert info.value.reason == "BadRequest"
    assert fragment in info.value.message


def test_too_many_operations_is_413() -> None:
    ops = [{"op": "test", "path": "/data/k", "value": "v"}] * 10001
    with pytest.raises(PatchError) as info:
        apply_json_patch(DOC, ops)
    assert info.value.code == 413
    assert info.value.message == (
        "The allowed maximum operations in a JSON patch is 10000, got 10001"
    )
