"""ServiceAccount token keys: signing, verifying, JWKS and OIDC discovery documents.

As kube-apiserver: tokens are JWS-signed with ``--service-account-signing-key-file``
(RSA → RS256, EC P-256/384/521 → ES256/384/512) and carry ``kid`` = the unpadded
base64url SHA-256 of the public key's PKIX DER (upstream ``keyIDFromPublicKey``).
They are verified with every key of ``--service-account-key-file`` (PEM files of
public keys, private keys or certificates) plus the signing key's public half.

:class:`ServiceAccountKeys` also renders ``/openid/v1/jwks`` (upstream
``openidmetadata.go``: ``use: sig``, ``kty``, ``kid``, ``alg`` and the key's public
numbers) and ``/.well-known/openid-configuration``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

_EC_ALGORITHMS = {"secp256r1": ("ES256", "P-256", 32), "secp384r1": ("ES384", "P-384", 48),
                  "secp521r1": ("ES512", "P-521", 66)}


class KeyFileError(ValueError):
    """A key file cannot be used."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_bytes(value: int, size: int | None = None) -> bytes:
    length = size or max(1, (value.bit_length() + 7) // 8)
    return value.to_bytes(length, "big")


def key_id(key: PublicKey) -> str:
    """Upstream's ``kid``: unpadded base64url SHA-256 of the PKIX DER public key."""
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64(hashlib.sha256(der).digest())


def algorithm(key: PublicKey) -> str:
    """The JWS algorithm of ``key`` (RS256 for RSA, ES256/384/512 by EC curve)."""
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    name = key.curve.name
    if name not in _EC_ALGORITHMS:
        raise KeyFileError(f"unsupported elliptic curve {name}")
    return _EC_ALGORITHMS[name][0]


def load_private_key(path: Path) -> PrivateKey:
    """The RSA or EC private key in the PEM file ``path``."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise KeyFileError(f"cannot load private key {path}: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyFileError(f"{path}: only RSA and EC keys can sign service account tokens")
    return key


def load_public_keys(path: Path) -> list[PublicKey]:
    """Every public key of the PEM file ``path`` (public/private keys, certificates)."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
    keys: list[PublicKey] = []
    for block in text.split(b"-----END ")[:-1]:
        start = block.find(b"-----BEGIN ")
        if start < 0:
            continue
        label = block[start + 11:block.find(b"-----", start + 11)]
        pem = block[start:] + b"-----END " + label + b"-----\n"
        key: Any
        if label == b"CERTIFICATE":
            key = x509.load_pem_x509_certificate(pem).public_key()
        elif label.endswith(b"PRIVATE KEY"):
            key = serialization.load_pem_private_key(pem, password=None).public_key()
        else:
            key = serialization.load_pem_public_key(pem)
        if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            keys.append(key)
    if not keys:
        raise KeyFileError(f"data does not contain any valid RSA or ECDSA public keys: {path}")
    return keys


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    """A new P-256 key (ES256; what the apiserver signs with when given no key: quick to make)."""
    return ec.generate_private_key(ec.SECP256R1())


def _jwk(key: PublicKey) -> dict[str, str]:
    out = {"use": "sig", "kty": "RSA" if isinstance(key, rsa.RSAPublicKey) else "EC",
           "kid": key_id(key), "alg": algorithm(key)}
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        out["n"] = _b64(_int_bytes(numbers.n))
        out["e"] = _b64(_int_bytes(numbers.e))
    else:
        ec_numbers = key.public_numbers()
        _, curve, size = _EC_ALGORITHMS[key.curve.name]
        out["crv"] = curve
        out["x"] = _b64(_int_bytes(ec_numbers.x, size))
        out["y"] = _b64(_int_bytes(ec_numbers.y, size))
    return out


@dataclass
class ServiceAccountKeys:
    """The signing key and the verification keys, with their ``kid``s."""

    signing_key: PrivateKey
    verify_keys: Sequence[PublicKey] = ()

    def __post_init__(self) -> None:
        public = [self.signing_key.public_key(), *self.verify_keys]
        self._by_kid: dict[str, PublicKey] = {}
        for key in public:
            self._by_kid.setdefault(key_id(key), key)
        self.kid = key_id(self.signing_key.public_key())
        self.algorithm = algorithm(self.signing_key.public_key())

    def sign(self, claims: dict[str, Any]) -> str:
        """The compact JWS of ``claims`` (header: ``alg`` and ``kid``, as upstream)."""
        return jwt.encode(claims, self.signing_key, algorithm=self.algorithm,
                          headers={"kid": self.kid, "typ": None})

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of ``token`` if a known key signed it (no claim is checked here)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        kid = header.get("kid")
        candidates = [self._by_kid[kid]] if isinstance(kid, str) and kid in self._by_kid \
            else list(self._by_kid.values())
        for key in candidates:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token, key, algorithms=[algorithm(key)],
                    options={"verify_signature": True, "verify_exp": False,
                             "verify_nbf": False, "verify_iat": False, "verify_aud": False,
                             "verify_iss": False, "verify_sub": False, "verify_jti": False})
            except jwt.PyJWTError:
                continue
            return claims
        return None

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set of ``/openid/v1/jwks``."""
        return {"keys": [_jwk(key) for key in self._by_kid.values()]}

    def openid_configuration(self, issuer: str, jwks_uri: str) -> dict[str, Any]:
        """The document of ``/.well-known/openid-configuration``."""
        algs = sorted({algorithm(key) for key in self._by_kid.values()})
        return {"issuer": issuer, "jwks_uri": jwks_uri, "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": algs}


def peek_issuer(token: str) -> str | None:
    """The ``iss`` of a JWT-shaped token, unverified (None: not a JWT)."""
    if token.count(".") != 2:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None
