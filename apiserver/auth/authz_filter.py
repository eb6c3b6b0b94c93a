"""The authorization stage of the request chain (upstream ``WithAuthorization``).

Every HTTP and WebSocket request is turned into attributes
(:func:`~apiserver.auth.request_attributes.request_attributes`) for the requester the
authentication stage left in :data:`~apiserver.api.user.REQUEST_USER`, and asked of the
configured authorizer. Allowed requests pass on; anything else is answered 403 with
upstream's ``Status`` (:func:`forbidden`), an authorizer's evaluation error with 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

import orjson

from apiserver.api import errors
from apiserver.api.user import REQUEST_USER
from apiserver.auth.request_attributes import request_attributes
from apiserver.handlers.http import Receive, Scope, Send
from apiserver.registry.reviews import Attributes, Authorizer

log = logging.getLogger(__name__)

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SANITIZE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def forbidden_message(attributes: Attributes) -> str:
    """Upstream ``forbiddenMessage``: who cannot do what, where."""
    user = attributes.user.username
    if not attributes.resource_request:
        return f'User "{user}" cannot {attributes.verb} path "{attributes.path}"'
    resource = attributes.resource
    if attributes.subresource:
        resource = f"{resource}/{attributes.subresource}"
    where = (f'in the namespace "{attributes.namespace}"' if attributes.namespace
             else "at the cluster scope")
    return (f'User "{user}" cannot {attributes.verb} resource "{resource}" in API group '
            f'"{attributes.api_group}" {where}')


def forbidden(attributes: Attributes, reason: str) -> errors.ApiError:
    """The 403 of a denied request (upstream ``responsewriters.Forbidden``)."""
    message = forbidden_message(attributes).translate(_SANITIZE)
    if reason:
        message = f"{message}: {reason}"
    resource, group, name = attributes.resource, attributes.api_group, attributes.name
    if not attributes.resource_request or not (resource or group):
        return errors.ApiError(403, "Forbidden", f"forbidden: {message}", {})
    qualified = f"{resource}.{group}" if group else resource
    details: dict[str, str] = {}
    if name:
        details["name"] = name
        text = f'{qualified} "{name}" is forbidden: {message}'
    else:
        text = f"{qualified} is forbidden: {message}"
    if group:
        details["group"] = group
    if resource:
        details["kind"] = resource
    return errors.ApiError(403, "Forbidden", text, details)


async def _answer(scope: Scope, send: Send, error: errors.ApiError) -> None:
    body = orjson.dumps(error.status, option=orjson.OPT_APPEND_NEWLINE)
    headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-cache, private"),
               (b"x-content-type-options", b"nosniff"),
               (b"content-length", str(len(body)).encode())]
    if scope["type"] == "websocket":
        if "websocket.http.response" not in (scope.get("extensions") or {}):
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.http.response.start", "status": error.code,
                    "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "http.response.start", "status": error.code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def authorization_filter(authorizer: Authorizer) -> Callable[[ASGIApp], ASGIApp]:
    """The stage for :class:`~apiserver.chain.ChainStages` ``authorization``."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def authorize(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] not in ("http", "websocket"):
                await app(scope, receive, send)
                return
            user = REQUEST_USER.get()
            attributes = request_attributes(scope, user)
            decision = authorizer.authorize(attributes)
            path = scope.get("path", "")
            if decision.allowed and "%" in path:
                # A handler that decodes the path a second time would act on another
                # object than the one authorized: that reading must be allowed too.
                twice = request_attributes({**scope, "path": unquote(path)}, user)
                decision = authorizer.authorize(twice)
                attributes = twice if not decision.allowed else attributes
            if decision.allowed:
                await app(scope, receive, send)
                return
            if decision.evaluation_error:
                # Upstream answers an authorizer's error with 500 unless it allowed.
                log.error("authorization of %s %s failed: %s", attributes.verb,
                          attributes.path, decision.evaluation_error)
                await _answer(scope, send, errors.internal(decision.evaluation_error))
                return
            await _answer(scope, send, forbidden(attributes, decision.reason))

        return authorize

    return wrap
