"""Go's ``%+v`` of a patch map and the unstructured converter's type errors."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.patch.gofmt import conversion_error, go_value


@pytest.mark.parametrize(("value", "text"), [
    ({"metadata": {"labels": "x"}}, "map[metadata:map[labels:x]]"),
    ({"b": [1, "two", None, True], "a": {}}, "map[a:map[] b:[1 two <nil> true]]"),
    (1.5, "1.5"),
    (1e8, "1e+08"),
    (123456.0, "123456"),
    (0.0001, "0.0001"),
    (0.00001, "1e-05"),
    (-2.5e-7, "-2.5e-07"),
])
def test_go_value(value: Any, text: str) -> None:
    assert go_value(value) == text


@pytest.mark.parametrize(("json_type", "go_type", "message"), [
    ("string", "map[string]string", "cannot restore map from string"),
    ("array", "map[string]string", "cannot restore map from slice"),
    ("string", "[]v1.ServicePort", "cannot restore slice from string"),
    ("object", "[]string", "cannot restore slice from map"),
    ("string", "v1.ServiceSpec", "cannot restore struct from: string"),
    ("number", "string", "cannot convert int64 to string"),
    ("bool", "string", "unrecognized type: string"),
    ("string", "int32", "unrecognized type: int32"),
    ("number 1.5", "int32", "cannot convert float64 to int32"),
    ("number 99999999999", "int32", None),
    ("number", "intstr.IntOrString", None),
    ("number", "[]uint8", "cannot restore slice from int64"),
    ("string", "[]uint8", None),
])
def test_conversion_error(json_type: str, go_type: str, message: str | None) -> None:
    assert conversion_error(json_type, go_type) == message
