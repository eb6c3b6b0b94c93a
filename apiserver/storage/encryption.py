"""Encryption of stored values at rest: upstream's ``EncryptionConfiguration``
(``--encryption-provider-config``, k8s.io/apiserver ``pkg/server/options/encryptionconfig``
and ``pkg/storage/value/encrypt``).

A configuration lists, for groups of resources, an ordered list of providers; each
provider has one or more named keys. The first key of the first provider encrypts every
write; a read picks the key whose prefix the stored bytes carry, so old keys keep working
until every object was rewritten (key rotation). Stored bytes are upstream's:

* ``aescbc``:    ``k8s:enc:aescbc:v1:<key>:``    + 16-byte IV + AES-CBC(PKCS#7 padded data)
* ``aesgcm``:    ``k8s:enc:aesgcm:v1:<key>:``    + 12-byte nonce + AES-GCM(data, AAD = storage key)
* ``secretbox``: ``k8s:enc:secretbox:v1:<key>:`` + 24-byte nonce + NaCl secretbox(data)
* ``identity``:  the data as is (it refuses bytes starting ``k8s:enc:``, so a later provider
  can still read them — the way back from encryption).

The primitives come from ``cryptography`` (AES) and PyNaCl (XSalsa20-Poly1305).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import nacl.exceptions
import nacl.secret
import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"
ENCRYPTED_PREFIX = b"k8s:enc:"


class EncryptionConfigError(ValueError):
    """The configuration file is invalid (the server refuses to start, as upstream)."""


class TransformError(Exception):
    """Stored bytes could not be decrypted (upstream answers 500 for the object)."""


class Transformer(Protocol):
    """One key of one provider: bytes to and from storage."""

    prefix: bytes

    def encrypt(self, data: bytes, context: bytes) -> bytes:
        """``data`` sealed (without the prefix); ``context`` is the storage key."""

    def decrypt(self, data: bytes, context: bytes) -> bytes:
        """``data`` (after the prefix) opened; raises :class:`TransformError`."""


class _Identity:
    prefix = b""

    def encrypt(self, data: bytes, context: bytes) -> bytes:
        return data

    def decrypt(self, data: bytes, context: bytes) -> bytes:
        if data.startswith(ENCRYPTED_PREFIX):
            raise TransformError("identity transformer tried to read encrypted data")
        return data


class _AesCbc:
    def __init__(self, prefix: bytes, key: bytes) -> None:
        self.prefix = prefix
        self._key = key

    def encrypt(self, data: bytes, context: bytes) -> bytes:
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        padded = padder.update(data) + padder.finalize()
        enc = Cipher(algorithms.AES(self._key), modes.CBC(iv)).encryptor()
        return iv + enc.update(padded) + enc.finalize()

    def decrypt(self, data: bytes, context: bytes) -> bytes:
        if len(data) < 32 or len(data) % 16:
            raise TransformError("the stored data is not a multiple of the block size")
        dec = Cipher(algorithms.AES(self._key), modes.CBC(data[:16])).decryptor()
        padded = dec.update(data[16:]) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            raise TransformError("invalid padding on input") from None


class _AesGcm:
    def __init__(self, prefix: bytes, key: bytes) -> None:
        self.prefix = prefix
        self._aead = AESGCM(key)

    def encrypt(self, data: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, data, context)

    def decrypt(self, data: bytes, context: bytes) -> bytes:
        if len(data) < 12 + 16:
            raise TransformError("the stored data was shorter than the required size")
        try:
            return self._aead.decrypt(data[:12], data[12:], context)
        except InvalidTag:
            raise TransformError("cipher: message authentication failed") from None


class _SecretBox:
    def __init__(self, prefix: bytes, key: bytes) -> None:
        self.prefix = prefix
        self._box = nacl.secret.SecretBox(key)

    def encrypt(self, data: bytes, context: bytes) -> bytes:
        return bytes(self._box.encrypt(data))  # nonce + tag + ciphertext, as upstream

    def decrypt(self, data: bytes, context: bytes) -> bytes:
        try:
            return self._box.decrypt(data)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise TransformError("output array too small / decryption failed") from None


_KEY_SIZES = {"aescbc": (16, 24, 32), "aesgcm": (16, 24, 32), "secretbox": (32,)}
_CIPHERS: dict[str, type[_AesCbc] | type[_AesGcm] | type[_SecretBox]] = {
    "aescbc": _AesCbc, "aesgcm": _AesGcm, "secretbox": _SecretBox}


@dataclass(frozen=True, slots=True)
class ResourceRule:
    """Which resources (``secrets``, ``deployments.apps``, ``*.apps``, ``*.``, ``*.*``) use
    which transformers (in the configuration's order)."""

    resources: tuple[tuple[str, str], ...]  # (group, plural), "*" a wildcard
    transformers: tuple[Transformer, ...]

    def matches(self, group: str, plural: str) -> bool:
        """Whether this rule covers ``plural`` in ``group`` ("" = core)."""
        return any((g == "*" or g == group) and (r == "*" or r == plural)
                   for g, r in self.resources)


class ValueTransformer:
    """The transformers of one resource: the first one writes, any one reads."""

    def __init__(self, transformers: Sequence[Transformer]) -> None:
        self._transformers = tuple(transformers)
        self._writer = self._transformers[0]

    def to_storage(self, data: bytes, key: str) -> bytes:
        """``data`` as stored under ``key``."""
        return self._writer.prefix + self._writer.encrypt(data, key.encode())

    def from_storage(self, data: bytes, key: str) -> tuple[bytes, bool]:
        """The stored bytes of ``key`` opened with the key their prefix names, and whether
        they are stale (not written by the first transformer: rewrite them to rotate)."""
        for index, transformer in enumerate(self._transformers):
            if data.startswith(transformer.prefix):
                try:
                    opened = transformer.decrypt(data[len(transformer.prefix):], key.encode())
                    return opened, index != 0
                except TransformError:
                    if transformer.prefix:
                        raise
                    continue  # identity before an encrypting provider: let it try
        raise TransformError("no matching prefix found")


def load_encryption_config(path: Path) -> list[ResourceRule]:
    """Parse and validate an ``EncryptionConfiguration`` file."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EncryptionConfigError(f"error reading encryption provider configuration "
                                    f"file {str(path)!r}: {exc}") from None
    return parse_encryption_config(doc)


def parse_encryption_config(doc: Any) -> list[ResourceRule]:
    """The rules of an ``EncryptionConfiguration`` document (already decoded)."""
    if not isinstance(doc, dict):
        raise EncryptionConfigError("encryption provider configuration must be an object")
    if doc.get("kind") != KIND or doc.get("apiVersion") != API_VERSION:
        raise EncryptionConfigError(
            f"encryption provider configuration must be kind {KIND} in {API_VERSION}, got "
            f"{doc.get('kind')!r} in {doc.get('apiVersion')!r}")
    entries = doc.get("resources")
    if not isinstance(entries, list) or not entries:
        raise EncryptionConfigError("resources: Required value: resources must be specified")
    rules = []
    for i, entry in enumerate(entries):
        where = f"resources[{i}]"
        if not isinstance(entry, dict):
            raise EncryptionConfigError(f"{where}: must be an object")
        names = entry.get("resources")
        if not isinstance(names, list) or not names or not all(
                isinstance(n, str) and n for n in names):
            raise EncryptionConfigError(f"{where}.resources: Required value: at least one "
                                        "resource is required")
        providers = entry.get("providers")
        if not isinstance(providers, list) or not providers:
            raise EncryptionConfigError(f"{where}.providers: Required value: at least one "
                                        "provider is required")
        transformers: list[Transformer] = []
        for j, provider in enumerate(providers):
            transformers.extend(_provider(provider, f"{where}.providers[{j}]"))
        rules.append(ResourceRule(tuple(_group_resource(n) for n in names), tuple(transformers)))
    return rules


def _group_resource(name: str) -> tuple[str, str]:
    """``secrets`` → ("", "secrets"); ``deployments.apps`` → ("apps", "deployments");
    ``*.`` → ("", "*"); ``*.*`` → ("*", "*")."""
    plural, dot, group = name.partition(".")
    return (group if dot else "", plural)


def _provider(provider: Any, where: str) -> list[Transformer]:
    if not isinstance(provider, dict) or len(provider) != 1:
        raise EncryptionConfigError(f"{where}: Invalid value: exactly one provider must be "
                                    "configured for each entry")
    (kind, spec), = provider.items()
    if kind == "identity":
        return [_Identity()]
    if kind not in _CIPHERS:
        raise EncryptionConfigError(f"{where}: provider {kind!r} is not supported "
                                    "(aescbc, aesgcm, secretbox, identity)")
    keys = spec.get("keys") if isinstance(spec, dict) else None
    if not isinstance(keys, list) or not keys:
        raise EncryptionConfigError(f"{where}.{kind}.keys: Required value: at least one key "
                                    "is required")
    out: list[Transformer] = []
    for k, key in enumerate(keys):
        at = f"{where}.{kind}.keys[{k}]"
        name = key.get("name") if isinstance(key, dict) else None
        secret = key.get("secret") if isinstance(key, dict) else None
        if not isinstance(name, str) or not name:
            raise EncryptionConfigError(f"{at}.name: Required value: key name is required")
        if ":" in name:
            raise EncryptionConfigError(f"{at}.name: Invalid value: {name!r}: should not "
                                        "contain ':'")
        try:
            raw = base64.b64decode(secret or "", validate=True)
        except (binascii.Error, ValueError):
            raise EncryptionConfigError(f"{at}.secret: Invalid value: REDACTED: secrets must "
                                        "be base64 encoded") from None
        if len(raw) not in _KEY_SIZES[kind]:
            sizes = ", ".join(str(s) for s in _KEY_SIZES[kind])
            raise EncryptionConfigError(f"{at}.secret: Invalid value: REDACTED: secret is not "
                                        f"of the expected length, got {len(raw)}, expected "
                                        f"one of [{sizes}]")
        prefix = f"k8s:enc:{kind}:v1:{name}:".encode()
        out.append(_CIPHERS[kind](prefix, raw))
    return out
