"""Encryption at rest: EncryptionConfiguration parsing, the providers' stored format, key
rotation, and the storage decorator over the in-memory backend."""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from apiserver.storage.encryption import (
    EncryptionConfigError,
    TransformError,
    ValueTransformer,
    parse_encryption_config,
)
from apiserver.storage.errors import CompactedError
from apiserver.storage.interface import EventType, StorageEvent
from apiserver.storage.memory import MemoryStorage
from apiserver.storage.transformed import TransformedStorage, group_resource

KEY1 = base64.b64encode(b"1" * 32).decode()
KEY2 = base64.b64encode(b"2" * 32).decode()
SECRET_KEY = "/registry/secrets/ns/s"


def config(*providers: dict[str, Any], resources: tuple[str, ...] = ("secrets",)) \
        -> dict[str, Any]:
    return {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
            "resources": [{"resources": list(resources), "providers": list(providers)}]}


def keyed(kind: str, *keys: tuple[str, str]) -> dict[str, Any]:
    return {kind: {"keys": [{"name": n, "secret": s} for n, s in keys]}}


def transformer(doc: dict[str, Any]) -> ValueTransformer:
    (rule,) = parse_encryption_config(doc)
    return ValueTransformer(rule.transformers)


@pytest.mark.parametrize("kind", ["aescbc", "aesgcm", "secretbox"])
def test_each_provider_round_trips_with_upstreams_prefix(kind: str) -> None:
    t = transformer(config(keyed(kind, ("key1", KEY1))))
    data = b'{"kind":"Secret","data":{"password":"aHVudGVyMg=="}}'
    stored = t.to_storage(data, SECRET_KEY)
    assert stored.startswith(f"k8s:enc:{kind}:v1:key1:".encode())
    assert b"aHVudGVyMg" not in stored
    assert stored != t.to_storage(data, SECRET_KEY)  # a fresh IV/nonce every time
    assert t.from_storage(stored, SECRET_KEY) == (data, False)


def test_stored_layouts_are_upstreams() -> None:
    """aescbc: IV + CBC(PKCS#7); aesgcm: nonce + GCM with the storage key as AAD."""
    data = b"hello world"
    cbc = transformer(config(keyed("aescbc", ("k", KEY1)))).to_storage(data, SECRET_KEY)
    body = cbc[len(b"k8s:enc:aescbc:v1:k:"):]
    dec = Cipher(algorithms.AES(b"1" * 32), modes.CBC(body[:16])).decryptor()
    plain = dec.update(body[16:]) + dec.finalize()
    assert plain == data + bytes([5]) * 5
    gcm = transformer(config(keyed("aesgcm", ("k", KEY1)))).to_storage(data, SECRET_KEY)
    body = gcm[len(b"k8s:enc:aesgcm:v1:k:"):]
    assert AESGCM(b"1" * 32).decrypt(body[:12], body[12:], SECRET_KEY.encode()) == data


def test_aesgcm_binds_the_value_to_its_key() -> None:
    t = transformer(config(keyed("aesgcm", ("k", KEY1))))
    stored = t.to_storage(b"x", SECRET_KEY)
    with pytest.raises(TransformError):
        t.from_storage(stored, "/registry/secrets/ns/other")


def test_rotation_reads_old_keys_and_writes_with_the_first() -> None:
    old = transformer(config(keyed("aescbc", ("key1", KEY1))))
    stored = old.to_storage(b"v", SECRET_KEY)
    rotated = transformer(config(keyed("aescbc", ("key2", KEY2), ("key1", KEY1))))
    assert rotated.from_storage(stored, SECRET_KEY) == (b"v", True)  # stale: rewrite it
    assert rotated.to_storage(b"v", SECRET_KEY).startswith(b"k8s:enc:aescbc:v1:key2:")
    new_only = transformer(config(keyed("aescbc", ("key2", KEY2))))
    with pytest.raises(TransformError, match="no matching prefix found"):
        new_only.from_storage(stored, SECRET_KEY)


def test_identity_first_decrypts_through_a_later_provider_and_reads_plain_data() -> None:
    enc = transformer(config(keyed("secretbox", ("k", KEY1))))
    stored = enc.to_storage(b"v", SECRET_KEY)
    back = transformer(config({"identity": {}}, keyed("secretbox", ("k", KEY1))))
    assert back.from_storage(stored, SECRET_KEY) == (b"v", True)
    assert back.from_storage(b"plain", SECRET_KEY) == (b"plain", False)
    assert back.to_storage(b"v", SECRET_KEY) == b"v"
    with pytest.raises(TransformError, match="no matching prefix found"):
        enc.from_storage(b"plain", SECRET_KEY)


@pytest.mark.parametrize(("doc", "message"), [
    ({"kind": "EncryptionConfig", "apiVersion": "v1"}, "must be kind EncryptionConfiguration"),
    (config(keyed("aescbc", ("k", base64.b64encode(b"short").decode()))),
     "expected one of \\[16, 24, 32\\]"),
    (config(keyed("secretbox", ("k", base64.b64encode(b"1" * 16).decode()))),
     "expected one of \\[32\\]"),
    (config(keyed("aesgcm", ("k", "not base64!"))), "must be base64 encoded"),
    (config(keyed("aescbc", ("a:b", KEY1))), "should not contain ':'"),
    (config({"kms": {"name": "x"}}), "not supported"),
    (config({"aescbc": {"keys": []}}), "at least one key"),
    (config({"identity": {}, "aescbc": {}}), "exactly one provider"),
])
def test_invalid_configurations_are_refused(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(EncryptionConfigError, match=message):
        parse_encryption_config(doc)


def test_group_resource_of_storage_keys() -> None:
    assert group_resource("/registry/secrets/ns/s") == ("", "secrets")
    assert group_resource("/registry/namespaces/ns") == ("", "namespaces")
    assert group_resource("/registry/apps/deployments/ns/d") == ("apps", "deployments")
    assert group_resource("/registry/autoscaling/v1/horizontalpodautoscalers/ns/h") == \
        ("autoscaling", "horizontalpodautoscalers")
    assert group_resource("/registry/example.com/widgets/ns/w") == ("example.com", "widgets")


def test_wildcard_rules() -> None:
    (rule,) = parse_encryption_config(config({"identity": {}}, resources=("*.apps", "*.")))
    assert rule.matches("apps", "deployments") and rule.matches("", "configmaps")
    assert not rule.matches("batch", "jobs")
    (rule,) = parse_encryption_config(config({"identity": {}}, resources=("*.*",)))
    assert rule.matches("batch", "jobs")


def test_storage_encrypts_configured_resources_only() -> None:
    async def run() -> None:
        inner = MemoryStorage()
        storage = TransformedStorage(inner, parse_encryption_config(
            config(keyed("aesgcm", ("key1", KEY1)), {"identity": {}})))
        seen: list[StorageEvent] = []
        storage.subscribe(seen.append)
        await storage.start()
        rev = await storage.create(SECRET_KEY, b"secret-1")
        await storage.update(SECRET_KEY, b"secret-2", rev)
        await storage.create("/registry/configmaps/ns/c", b"config")
        raw = await inner.get(SECRET_KEY)
        assert raw is not None and raw.value.startswith(b"k8s:enc:aesgcm:v1:key1:")
        assert b"secret" not in raw.value
        assert (await inner.get("/registry/configmaps/ns/c")).value == b"config"  # type: ignore[union-attr]
        assert (await storage.get(SECRET_KEY)).value == b"secret-2"  # type: ignore[union-attr]
        items, _ = await storage.list_prefix("/registry/")
        assert sorted(kv.value for kv in items) == [b"config", b"secret-2"]
        assert [(e.value, e.prev_value) for e in seen] == [
            (b"secret-1", None), (b"secret-2", b"secret-1"), (b"config", None)]
        history = await storage.history(0)
        assert [e.value for e in history] == [b"secret-1", b"secret-2", b"config"]
        await storage.delete(SECRET_KEY)
        assert seen[-1].value == b"secret-2"
        await storage.close()

    asyncio.run(run())


def test_a_delete_without_its_value_passes_through_unopened() -> None:
    """etcd's feed brings deletes without the last value (see StorageEvent): nothing to open,
    and the key no longer needs rewriting under the newest key."""
    inner = MemoryStorage()
    rules = parse_encryption_config(config(keyed("aesgcm", ("key2", KEY2), ("key1", KEY1))))
    storage = TransformedStorage(inner, rules)
    seen: list[StorageEvent] = []
    storage.subscribe(seen.append)
    (feed,) = inner._subscribers
    sealed = transformer(config(keyed("aesgcm", ("key1", KEY1)))).to_storage(b"s", SECRET_KEY)
    feed(StorageEvent(EventType.UPDATE, SECRET_KEY, sealed, None, 6))
    assert storage.needs_rewrite(SECRET_KEY)  # sealed with the older key
    feed(StorageEvent(EventType.DELETE, SECRET_KEY, b"", None, 7))
    assert [(e.type, e.value, e.prev_value) for e in seen] == [
        (EventType.UPDATE, b"s", None), (EventType.DELETE, b"", None)]
    assert not storage.needs_rewrite(SECRET_KEY)


def test_random_keys_of_every_size() -> None:
    for size in (16, 24, 32):
        key = base64.b64encode(os.urandom(size)).decode()
        for kind in ("aescbc", "aesgcm"):
            t = transformer(config(keyed(kind, ("k", key))))
            stored = t.to_storage(b"x" * 100, SECRET_KEY)
            assert t.from_storage(stored, SECRET_KEY) == (b"x" * 100, False)


def encrypted(inner: MemoryStorage, *keys: tuple[str, str]) -> TransformedStorage:
    """``inner`` behind an aescbc provider with ``keys`` (the first one writes)."""
    return TransformedStorage(inner, parse_encryption_config(config(keyed("aescbc", *keys))))


def test_values_under_an_old_key_need_a_rewrite_until_written_again() -> None:
    async def run() -> None:
        inner = MemoryStorage()
        await inner.start()
        rev = await encrypted(inner, ("key1", KEY1)).create(SECRET_KEY, b"v")
        rotated = encrypted(inner, ("key2", KEY2), ("key1", KEY1))
        rotated.subscribe(lambda event: None)
        assert not rotated.needs_rewrite(SECRET_KEY)
        assert (await rotated.get(SECRET_KEY)).value == b"v"  # type: ignore[union-attr]
        assert rotated.needs_rewrite(SECRET_KEY)
        await rotated.update(SECRET_KEY, b"v", rev)
        assert not rotated.needs_rewrite(SECRET_KEY)
        raw = await inner.get(SECRET_KEY)
        assert raw is not None and raw.value.startswith(b"k8s:enc:aescbc:v1:key2:")

    asyncio.run(run())


def test_history_under_a_removed_key_counts_as_compacted() -> None:
    async def run() -> None:
        inner = MemoryStorage()
        await inner.start()
        rev = await encrypted(inner, ("key1", KEY1)).create(SECRET_KEY, b"v1")
        new = encrypted(inner, ("key2", KEY2), ("key1", KEY1))
        rewritten = await new.update(SECRET_KEY, b"v1", rev)
        last = await new.update(SECRET_KEY, b"v2", rewritten)
        only_new = encrypted(inner, ("key2", KEY2))
        with pytest.raises(CompactedError) as caught:
            await only_new.history(0)
        assert caught.value.compacted == rewritten  # its previous value is under key1
        assert [e.value for e in await only_new.history(rewritten)] == [b"v2"]
        assert only_new.compacted_revision() == rewritten
        with pytest.raises(CompactedError):
            await only_new.check_revision(rev)
        assert (await only_new.get(SECRET_KEY)).value == b"v2"  # type: ignore[union-attr]
        assert last > rewritten

    asyncio.run(run())
