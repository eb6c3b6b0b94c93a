"""The credentials a request presents, and the error for a presented but invalid one.

kube-apiserver reads a bearer token from ``Authorization: Bearer <token>`` and, for
WebSocket upgrades (browsers cannot set headers), from a ``Sec-WebSocket-Protocol``
entry ``base64url.bearer.authorization.k8s.io.<base64url token>`` (upstream
``request/websocket``). A header that is present but is not a usable bearer token
(``Basic …``, an empty token) is ignored by the bearer authenticator, as upstream:
the request then goes on to the other authenticators or anonymous.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

BEARER_PROTOCOL_PREFIX = "base64url.bearer.authorization.k8s.io."


class CredentialError(Exception):
    """A credential was presented but is not valid: the request gets 401."""


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer`` header (None: none, or not bearer)."""
    value = headers.get("authorization", "").strip()
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None


def websocket_bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token carried in ``Sec-WebSocket-Protocol`` (None when there is none).

    Raises :class:`CredentialError` when the entry is there but not base64url.
    """
    for entry in headers.get("sec-websocket-protocol", "").split(","):
        entry = entry.strip()
        if not entry.startswith(BEARER_PROTOCOL_PREFIX):
            continue
        encoded = entry[len(BEARER_PROTOCOL_PREFIX):]
        try:
            token = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise CredentialError("invalid bearer token") from None
        if not token:
            raise CredentialError("invalid bearer token")
        return token
    return None
