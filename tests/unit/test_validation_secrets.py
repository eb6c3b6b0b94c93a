"""Secrets and ConfigMaps: keys, size, typed Secrets, immutability."""

from __future__ import annotations

import base64
from typing import Any

from apiserver.api.resources import RESOURCES
from apiserver.registry.registry import strategy_for
from apiserver.registry.strategy import Strategy


def _strategy(plural: str) -> Strategy:
    return strategy_for(next(i for i in RESOURCES if i.group == "" and i.plural == plural))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def found(causes: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in causes]


def secret(kind: str = "Opaque", **data: str) -> dict[str, Any]:
    return {"metadata": {"name": "s"}, "type": kind,
            "data": {k.replace("_", "."): b64(v) for k, v in data.items()}}


def test_keys_and_size() -> None:
    s = _strategy("secrets")
    assert s.validate(secret(a="b")) == []
    causes = found(s.validate({"data": {"bad key": b64("x")}}))
    assert causes[0][0] == "data[bad key]"
    assert causes[0][1].startswith('Invalid value: "bad key": a valid config key must consist '
                                   "of alphanumeric characters, '-', '_' or '.'")
    big = {"data": {"k": base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()}}
    assert found(s.validate(big)) == [("data", "Too long: may not be more than 1048576 bytes")]


def test_typed_secrets() -> None:
    s = _strategy("secrets")
    assert found(s.validate(secret("kubernetes.io/service-account-token"))) == [
        ("metadata.annotations[kubernetes.io/service-account.name]", "Required value")]
    assert found(s.validate(secret("kubernetes.io/dockerconfigjson"))) == [
        ("data[.dockerconfigjson]", "Required value")]
    bad_json = secret("kubernetes.io/dockerconfigjson", _dockerconfigjson="{")
    assert found(s.validate(bad_json))[0][0] == "data[.dockerconfigjson]"
    assert s.validate(secret("kubernetes.io/dockerconfigjson", _dockerconfigjson="{}")) == []
    assert found(s.validate(secret("kubernetes.io/dockercfg"))) == [
        ("data[.dockercfg]", "Required value")]
    assert found(s.validate(secret("kubernetes.io/tls"))) == [
        ("data[tls.key]", "Required value"), ("data[tls.crt]", "Required value")]
    assert found(s.validate(secret("kubernetes.io/ssh-auth"))) == [
        ("data[ssh-privatekey]", "Required value")]
    assert found(s.validate(secret("kubernetes.io/basic-auth"))) == [
        ("data[username]", "Required value"), ("data[password]", "Required value")]


def test_secret_updates() -> None:
    s = _strategy("secrets")
    old = secret(a="b")
    assert found(s.validate_update(secret("Other", a="b"), old)) == [
        ("type", 'Invalid value: "Other": field is immutable')]
    frozen = {**old, "immutable": True}
    changed = {**secret(a="c"), "immutable": True}
    assert found(s.validate_update(changed, frozen)) == [
        ("data", "Forbidden: field is immutable when `immutable` is set")]
    assert found(s.validate_update(old, frozen)) == [
        ("immutable", "Forbidden: field is immutable when `immutable` is set")]


def test_config_maps() -> None:
    s = _strategy("configmaps")
    assert s.validate({"data": {"a.b": "x"}, "binaryData": {"c": b64("y")}}) == []
    causes = found(s.validate({"data": {"a": "x"}, "binaryData": {"a": b64("y")}}))
    assert causes == [("data[a]", 'Invalid value: "a": duplicate of key present in binaryData')]
    big = found(s.validate({"data": {"a": "x" * (1024 * 1024 + 1)}}))
    assert big == [("", "Too long: may not be more than 1048576 bytes")]
    old = {"data": {"a": "x"}, "immutable": True}
    assert found(s.validate_update({"data": {"a": "y"}, "immutable": True}, old)) == [
        ("data", "Forbidden: field is immutable when `immutable` is set")]


def test_malformed_never_raises() -> None:
    for obj in ({"data": "x"}, {"data": {"a": 5}}, {"type": 3, "data": None},
                {"type": "kubernetes.io/dockercfg", "data": {".dockercfg": "!!"}}):
        _strategy("secrets").validate(obj)
        _strategy("configmaps").validate(obj)


def test_string_data_folds_into_data() -> None:
    from apiserver.registry.secrets import merge_string_data

    obj: dict[str, Any] = {"data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "zz", "c": "ü"}}
    merge_string_data(obj)
    assert obj == {"data": {"a": "eA==", "b": "eno=", "c": "w7w="}}
    bad: dict[str, Any] = {"stringData": {"x": 1}}
    merge_string_data(bad)
    assert bad == {"stringData": {"x": 1}}
