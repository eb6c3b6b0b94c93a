"""Unit tests for RFC 7386 JSON Merge Patch (apiserver.patch.apply_merge_patch)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apiserver.patch import PatchError, apply_merge_patch, merge_values


def test_null_deletes_objects_merge_and_lists_replace() -> None:
    doc: dict[str, Any] = {
        "metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x", "y"]},
        "spec": {"ports": [{"port": 80}], "type": "ClusterIP"},
    }
    before = copy.deepcopy(doc)
    patch = {
        "metadata": {"labels": {"a": None, "c": "3"}, "finalizers": ["z"]},
        "spec": {"ports": [{"port": 81}]},
    }
    assert apply_merge_patch(doc, patch) == {
        "metadata": {"labels": {"b": "2", "c": "3"}, "finalizers": ["z"]},
        "spec": {"ports": [{"port": 81}], "type": "ClusterIP"},
    }
    assert doc == before


def test_new_objects_drop_nested_nulls_and_scalars_replace_objects() -> None:
    assert apply_merge_patch({"a": 1}, {"b": {"c": None, "d": 1}}) == {"a": 1, "b": {"d": 1}}
    assert apply_merge_patch({"a": {"x": 1}}, {"a": "s"}) == {"a": "s"}
    assert apply_merge_patch({"a": "s"}, {"a": {"x": None, "y": 2}}) == {"a": {"y": 2}}


def test_result_does_not_alias_patch() -> None:
    patch: dict[str, Any] = {"spec": {"list": [{"a": 1}]}}
    result = apply_merge_patch({}, patch)
    result["spec"]["list"][0]["a"] = 2
    assert patch == {"spec": {"list": [{"a": 1}]}}


def test_rfc7386_examples() -> None:
    assert merge_values({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_values({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert merge_values({"a": ["b"]}, {"a": "c"}) == {"a": "c"}
    assert merge_values({"a": "foo"}, None) is None
    assert merge_values({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    assert merge_values([1, 2], {"a": "b", "c": None}) == {"a": "b"}


def test_accepts_bytes_and_rejects_bad_bodies() -> None:
    assert apply_merge_patch({"a": 1}, b'{"a":2}') == {"a": 2}
    with pytest.raises(PatchError) as info:
        apply_merge_patch({"a": 1}, b"{oops")
    assert info.value.code == 400
    with pytest.raises(PatchError) as info:
        apply_merge_patch({"a": 1}, b"[1]")
    assert info.value.code == 400
    assert "cannot unmarshal array" in info.value.message
