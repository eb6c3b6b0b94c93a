"""The authentication check of the request chain (upstream ``filters/authentication.go``
with kube-apiserver's authenticator union).

:class:`RequestAuthenticator` decides who sent a request, testable without HTTP:

0. a front proxy's certificate (``--requestheader-client-ca-file``) vouching for the
   user in its ``X-Remote-*`` headers — :mod:`apiserver.auth.requestheader`;
1. the TLS client certificate (verified by the handshake) — :mod:`apiserver.auth.x509`;
2. a bearer token (``Authorization: Bearer``, or for WebSockets the
   ``base64url.bearer.authorization.k8s.io.`` subprotocol) tried on every token
   authenticator in order (token file, then ServiceAccount tokens);
3. anonymous (``system:anonymous`` in ``system:unauthenticated``) when nothing was
   presented and ``--anonymous-auth`` is on.

A credential that was presented but authenticates no one makes the request fail with
401 even when anonymous is on (upstream's ``union.NewFailOnError``). Every
authenticated user gets ``system:authenticated`` (upstream's group adder).

:func:`authenticate_request` is the request chain's check (:mod:`apiserver.chain`): it
returns the requester, removes the ``Authorization`` header once it was used, and refuses
with 401 and upstream's Status — for WebSocket upgrades as an HTTP response before the
upgrade. Successful token and certificate authentications are cached for a few seconds
(:mod:`apiserver.auth.token_cache`), as upstream's cached token authenticator.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

import orjson

from apiserver.api.user import (
    ANONYMOUS,
    AUTHENTICATED_GROUP,
    UNAUTHENTICATED_GROUP,
    UserInfo,
)
from apiserver.auth.credentials import (
    BEARER_PROTOCOL_PREFIX,
    CredentialError,
    bearer_token,
    websocket_bearer_token,
)
from apiserver.auth.requestheader import RequestHeaderAuthenticator, strip_headers
from apiserver.auth.x509 import X509Authenticator
from apiserver.handlers.http import Scope
from apiserver.handlers.refusal import Refusal
from apiserver.registry.reviews import TokenAuthenticator, TokenResult

log = logging.getLogger(__name__)

#: Key of the verified client certificate (DER) in the ASGI scope's ``state``
#: (put there per connection by :mod:`apiserver.auth.tls`).
PEER_CERTIFICATE = "kubemu.peer_certificate"
UNAUTHORIZED_BODY = orjson.dumps(
    {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
     "message": "Unauthorized", "reason": "Unauthorized", "code": 401},
    option=orjson.OPT_APPEND_NEWLINE)


def with_authenticated_group(user: UserInfo) -> UserInfo:
    """``user`` plus ``system:authenticated`` unless it is already (un)authenticated."""
    if AUTHENTICATED_GROUP in user.groups or UNAUTHENTICATED_GROUP in user.groups:
        return user
    return replace(user, groups=(*user.groups, AUTHENTICATED_GROUP))


def _go_errors(messages: Sequence[str]) -> str:
    """An aggregate error as upstream prints it (``[a, b]``; one error alone)."""
    if len(messages) == 1:
        return messages[0]
    return "[" + ", ".join(messages) + "]"


class TokenChain:
    """Token authenticators tried in order; the first that authenticates wins.

    It is the ``TokenReview`` authenticator too: its result carries the authenticated
    group, and the errors of all authenticators when none succeeded.
    """

    def __init__(self, authenticators: Sequence[TokenAuthenticator]) -> None:
        self.authenticators = tuple(authenticators)

    def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult:
        """The first success among the authenticators, else their errors."""
        failures: list[str] = []
        for authenticator in self.authenticators:
            result = authenticator.authenticate_token(token, audiences)
            if result.authenticated and result.user is not None:
                return replace(result, user=with_authenticated_group(result.user))
            if result.error:
                failures.append(result.error)
        return TokenResult(authenticated=False, error=_go_errors(failures) if failures else "")


class AudienceAgnostic:
    """A token authenticator that knows nothing of audiences (the token file), made
    audience-aware as upstream's ``WrapAudienceAgnosticToken``: it answers only for the
    API audiences, and reports those it was asked for among them."""

    def __init__(self, delegate: TokenAuthenticator, api_audiences: Sequence[str]) -> None:
        self.delegate = delegate
        self.api_audiences = tuple(api_audiences)

    def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult:
        """The delegate's answer, if ``audiences`` (default: the API's) meet the API's."""
        wanted = tuple(audiences) or self.api_audiences
        matched = tuple(a for a in self.api_audiences if a in wanted)
        if self.api_audiences and not matched:
            return TokenResult(authenticated=False)
        result = self.delegate.authenticate_token(token, audiences)
        if result.authenticated and not result.audiences:
            return replace(result, audiences=matched)
        return result


class RequestAuthenticator:
    """Who sent a request (see the module docstring)."""

    def __init__(self, x509: X509Authenticator | None = None,
                 tokens: TokenAuthenticator | None = None, anonymous: bool = True,
                 requestheader: RequestHeaderAuthenticator | None = None) -> None:
        self.x509 = x509
        self.requestheader = requestheader
        self.tokens = tokens or TokenChain(())
        self.anonymous = anonymous

    def authenticate(self, headers: Mapping[str, str], peer_certificate: bytes | None = None,
                     websocket: bool = False) -> UserInfo | None:
        """The requester; None when nobody is identified and anonymous is off.

        Raises :class:`CredentialError` when a credential was presented but is invalid.
        """
        failures: list[str] = []
        if peer_certificate is not None and self.x509 is not None:
            try:
                user = self.x509.authenticate_certificate(peer_certificate)
            except CredentialError as exc:
                failures.append(str(exc))
            else:
                if user is not None:
                    return with_authenticated_group(user)
        token = bearer_token(headers)
        if token is None and websocket:
            try:
                token = websocket_bearer_token(headers)
            except CredentialError as exc:
                    failures.append(str(exc))
        if token is not None:
            result = self.tokens.authenticate_token(token, ())
            if result.authenticated and result.user is not None:
                return result.user
            failures.append("invalid bearer token")
            if result.error:
                failures.append(result.error)
        if failures:
            raise CredentialError(_go_errors(failures))
        return ANONYMOUS if self.anonymous else None


_CREDENTIAL_HEADERS = {b"authorization": "authorization",
                       b"sec-websocket-protocol": "sec-websocket-protocol"}


def _credential_headers(scope: Scope) -> tuple[dict[str, str], list[tuple[bytes, bytes]]]:
    """The headers that can carry credentials, and every header but ``Authorization``
    (one pass: it runs per request; ASGI header names are lower-case)."""
    out: dict[str, str] = {}
    rest: list[tuple[bytes, bytes]] = []
    for pair in scope.get("headers", []):
        name = _CREDENTIAL_HEADERS.get(pair[0])
        if name is not None:
            out[name] = pair[1].decode("latin-1")
            if name == "authorization":
                continue
        rest.append(pair)
    return out, rest


def _strip_bearer_protocol(scope: Scope) -> None:
    """Drop the bearer-token subprotocol once used (upstream does, so the handler
    negotiates only the real subprotocols)."""
    offered = scope.get("subprotocols") or []
    if any(p.startswith(BEARER_PROTOCOL_PREFIX) for p in offered):
        scope["subprotocols"] = [p for p in offered if not p.startswith(BEARER_PROTOCOL_PREFIX)]
        rest = ", ".join(scope["subprotocols"]).encode("latin-1")
        headers = [(k, v) for k, v in scope.get("headers", [])
                   if k.lower() != b"sec-websocket-protocol"]
        scope["headers"] = headers + ([(b"sec-websocket-protocol", rest)] if rest else [])


def authenticate_request(authenticator: RequestAuthenticator, scope: Scope) -> UserInfo:
    """The chain's authentication check: who sent the HTTP or WebSocket request ``scope``.

    Removes the ``Authorization`` header once used (and a WebSocket's bearer-token
    subprotocol); raises :class:`~apiserver.handlers.refusal.Refusal` (401) when a
    credential does not authenticate or nobody is identified and anonymous is off.
    """
    state = scope.get("state") or {}
    proxied = _front_proxy_user(authenticator, scope, state.get(PEER_CERTIFICATE))
    if proxied is not None:
        return proxied
    headers, rest = _credential_headers(scope)
    websocket = scope["type"] == "websocket"
    try:
        user = authenticator.authenticate(headers, state.get(PEER_CERTIFICATE), websocket)
    except CredentialError as exc:
        log.debug("Unable to authenticate the request: %s", exc)
        raise Refusal(401, UNAUTHORIZED_BODY) from None
    if user is None:
        raise Refusal(401, UNAUTHORIZED_BODY)
    if "authorization" in headers:
        scope["headers"] = rest
    if websocket:
        _strip_bearer_protocol(scope)
    return user


def _front_proxy_user(authenticator: RequestAuthenticator, scope: Scope,
                      der: bytes | None) -> UserInfo | None:
    """The user a front proxy's certificate vouches for (its headers and any
    ``Authorization`` removed), or None: then the other authenticators run."""
    requestheader = authenticator.requestheader
    if requestheader is None or der is None:
        return None
    try:
        requestheader.verify_proxy(der)
    except CredentialError as exc:
        log.debug("request header authentication: %s", exc)
        if authenticator.x509 is None:
            # No other authenticator can take a client certificate: upstream's union
            # fails on the error (401) before anonymous is tried.
            raise Refusal(401, UNAUTHORIZED_BODY) from None
        return None  # a client certificate of --client-ca-file, perhaps: tried next
    # Only a front proxy's headers are read.
    user = requestheader.user_of([(k.decode("latin-1").lower(), v.decode("latin-1"))
                                  for k, v in scope.get("headers", [])])
    if user is None:
        return None
    scope["headers"] = strip_headers(list(scope.get("headers", [])),
                                     (*requestheader.exact, "authorization"),
                                     requestheader.prefixes)
    return with_authenticated_group(user)
