"""ServiceAccount token authentication: bound tokens and legacy Secret-based tokens.

Counterpart of upstream ``pkg/serviceaccount`` (``jwt.go``, ``claims.go``,
``legacy.go``). A token is only considered when its unverified ``iss`` is one of the
configured ``--service-account-issuer`` values (bound tokens) or
``kubernetes/serviceaccount`` (legacy tokens); other tokens are left to the other
authenticators. Then:

* the signature must verify with a known key;
* audiences: a token without ``aud`` (legacy) is valid for the API audiences; the
  token's audiences must intersect the requested ones (default: the API audiences);
* bound tokens: ``exp``/``nbf`` with upstream's one-minute leeway, then the
  ServiceAccount and the bound Pod/Secret/Node must still exist with the UIDs of the
  claims (deleted — or being deleted for longer than the leeway — means
  ``service account token has been invalidated``);
* legacy tokens: the Secret must still exist and hold this very token, and the
  ServiceAccount must exist with the claimed UID.

Objects are read through :class:`ObjectGetter` (the apiserver's watch cache), as
upstream reads them from informers.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apiserver.api.user import UserInfo
from apiserver.auth.serviceaccount_keys import ServiceAccountKeys, peek_issuer
from apiserver.registry.reviews import TokenResult

LEGACY_ISSUER = "kubernetes/serviceaccount"
SA_PREFIX = "system:serviceaccount:"
SA_GROUP = "system:serviceaccounts"
PRIVATE_CLAIM = "kubernetes.io"
EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"
EXTRA_NODE_NAME = "authentication.kubernetes.io/node-name"
EXTRA_NODE_UID = "authentication.kubernetes.io/node-uid"
EXTRA_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
#: go-jose's default leeway for exp/nbf and for "deleted before".
LEEWAY = timedelta(minutes=1)
_INVALIDATED = "service account token has been invalidated"


class ObjectGetter(Protocol):
    """Reads one object (``resource`` is ``serviceaccounts``, ``pods``, ``secrets`` or
    ``nodes``; ``namespace`` is empty for nodes); None when it does not exist."""

    def __call__(self, resource: str, namespace: str, name: str) -> Mapping[str, Any] | None: ...


def service_account_user(namespace: str, name: str, uid: str = "",
                         extra: Mapping[str, tuple[str, ...]] | None = None) -> UserInfo:
    """A ServiceAccount's user (upstream ``serviceaccount.UserInfo``)."""
    return UserInfo(username=f"{SA_PREFIX}{namespace}:{name}", uid=uid,
                    groups=(SA_GROUP, f"{SA_GROUP}:{namespace}"), extra=dict(extra or {}))


def split_service_account(username: str) -> tuple[str, str] | None:
    """``(namespace, name)`` of a ``system:serviceaccount:ns:name`` username."""
    if not username.startswith(SA_PREFIX):
        return None
    parts = username[len(SA_PREFIX):].split(":")
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    md = obj.get("metadata")
    return md if isinstance(md, dict) else {}


def _ref(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, dict):
        return None
    return str(value.get("name") or ""), str(value.get("uid") or "")


def _audiences(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(a) for a in value)
    return ()


def _time(value: Any) -> datetime | None:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return None


class TokenError(Exception):
    """A service account token that is not (or no longer) valid."""


class ServiceAccountTokenAuthenticator:
    """Bound and legacy ServiceAccount tokens (see the module docstring)."""

    def __init__(self, keys: ServiceAccountKeys, issuers: Sequence[str],
                 api_audiences: Sequence[str], getter: ObjectGetter,
                 clock: Callable[[], datetime], legacy: bool = True) -> None:
        self.keys = keys
        self.issuers = tuple(issuers)
        self.api_audiences = tuple(api_audiences)
        self.getter = getter
        self.clock = clock
        self.legacy = legacy

    def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult:
        """Authenticate ``token`` for ``audiences`` (empty: the API audiences)."""
        issuer = peek_issuer(token)
        is_legacy = issuer == LEGACY_ISSUER and self.legacy
        if issuer is None or (issuer not in self.issuers and not is_legacy):
            return TokenResult(authenticated=False)
        claims = self.keys.verify(token)
        if claims is None:
            return TokenResult(authenticated=False,
                               error="square/go-jose: error in cryptographic primitive")
        token_auds = _audiences(claims.get("aud")) or self.api_audiences
        wanted = tuple(audiences) or self.api_audiences
        matched = tuple(a for a in token_auds if a in wanted)
        if not matched and self.api_audiences:
            return TokenResult(authenticated=False, error=(
                f"token audiences {_go_list(token_auds)} is invalid for the target audiences "
                f"{_go_list(wanted)}"))
        try:
            user = self._legacy(token, claims) if is_legacy else self._bound(claims)
        except TokenError as exc:
            return TokenResult(authenticated=False, error=str(exc))
        return TokenResult(authenticated=True, user=user, audiences=matched)

    # -- bound tokens ------------------------------------------------------------------

    def _bound(self, claims: dict[str, Any]) -> UserInfo:
        now = self.clock()
        expiry, not_before = _time(claims.get("exp")), _time(claims.get("nbf"))
        if expiry is not None and now > expiry + LEEWAY:
            raise TokenError("service account token has expired")
        if not_before is not None and now < not_before - LEEWAY:
            raise TokenError("service account token is not valid yet")
        private = claims.get(PRIVATE_CLAIM)
        if not isinstance(private, dict):
            raise TokenError("service account token claims could not be validated due to "
                             "unexpected private claim")
        namespace = str(private.get("namespace") or "")
        sa_ref = _ref(private.get("serviceaccount")) or ("", "")
        sa = self._existing("serviceaccounts", namespace, sa_ref[0], now)
        if sa is None:
            raise TokenError(f'serviceaccounts "{sa_ref[0]}" not found')
        if _meta(sa).get("uid") != sa_ref[1]:
            raise TokenError(f"service account UID ({_meta(sa).get('uid')}) does not match "
                             f"claim ({sa_ref[1]})")
        extra: dict[str, tuple[str, ...]] = {}
        for resource, kind, key in (("secrets", "secret", ""), ("pods", "pod", "pod"),
                                    ("nodes", "node", "node")):
            ref = _ref(private.get(kind))
            if ref is None:
                continue
            bound_to = kind == "secret" or kind == "pod" or "pod" not in private
            obj = self._existing(resource, "" if kind == "node" else namespace, ref[0], now)
            if obj is None and bound_to:
                raise TokenError(_INVALIDATED)
            if obj is not None and bound_to and _meta(obj).get("uid") != ref[1]:
                what = "secret" if kind == "secret" else kind
                raise TokenError(f"{what} UID ({_meta(obj).get('uid')}) does not match "
                                 f"service account {what} ref claim ({ref[1]})")
            if key:
                extra[f"authentication.kubernetes.io/{key}-name"] = (ref[0],)
                extra[f"authentication.kubernetes.io/{key}-uid"] = (ref[1],)
        jti = claims.get("jti")
        if isinstance(jti, str) and jti:
            extra[EXTRA_CREDENTIAL_ID] = (f"JTI={jti}",)
        return service_account_user(namespace, sa_ref[0], sa_ref[1], extra)

    def _existing(self, resource: str, namespace: str, name: str,
                  now: datetime) -> Mapping[str, Any] | None:
        """The object, unless missing or deleted (deletionTimestamp) before now - leeway."""
        if not name:
            return None
        obj = self.getter(resource, namespace, name)
        if obj is None:
            return None
        deleted = _meta(obj).get("deletionTimestamp")
        if isinstance(deleted, str) and deleted:
            when = datetime.fromisoformat(deleted.replace("Z", "+00:00"))
            if when < now - LEEWAY:
                return None
        return obj

    # -- legacy tokens -----------------------------------------------------------------

    def _legacy(self, token: str, claims: dict[str, Any]) -> UserInfo:
        namespace = str(claims.get("kubernetes.io/serviceaccount/namespace") or "")
        secret_name = str(claims.get("kubernetes.io/serviceaccount/secret.name") or "")
        sa_name = str(claims.get("kubernetes.io/serviceaccount/service-account.name") or "")
        sa_uid = str(claims.get("kubernetes.io/serviceaccount/service-account.uid") or "")
        if not (namespace and secret_name and sa_name and sa_uid):
            raise TokenError("Token could not be validated.")
        secret = self.getter("secrets", namespace, secret_name)
        if secret is None or _meta(secret).get("deletionTimestamp"):
            raise TokenError("Token has been invalidated")
        data = secret.get("data")
        stored = data.get("token") if isinstance(data, dict) else None
        try:
            matches = isinstance(stored, str) and base64.b64decode(stored).decode() == token
        except (binascii.Error, UnicodeDecodeError):
            matches = False
        if not matches:
            raise TokenError("Token does not match server's copy")
        sa = self.getter("serviceaccounts", namespace, sa_name)
        if sa is None or _meta(sa).get("deletionTimestamp"):
            raise TokenError(f"ServiceAccount {namespace}/{sa_name} has been deleted")
        if _meta(sa).get("uid") != sa_uid:
            raise TokenError(f"ServiceAccount UID ({_meta(sa).get('uid')}) does not match "
                             f"claim ({sa_uid})")
        return service_account_user(namespace, sa_name, sa_uid)


def _go_list(values: Sequence[str]) -> str:
    """A string slice as Go's ``%q`` prints it: ``["a" "b"]``."""
    return "[" + " ".join(f'"{v}"' for v in values) + "]"

