"""The authorization check of the request chain (upstream ``WithAuthorization``).

Every HTTP and WebSocket request's parsed info is turned into attributes
(:func:`~apiserver.auth.request_attributes.attributes_of`) for the requester the
authentication and impersonation checks found, and asked of the configured authorizer.
Allowed requests pass on; anything else is refused 403 with upstream's ``Status``
(:func:`forbidden`), an authorizer's evaluation error with 500.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote

from apiserver.api import errors
from apiserver.api.user import UserInfo
from apiserver.auth.request_attributes import attributes_of
from apiserver.handlers.http import Scope
from apiserver.handlers.refusal import Refusal
from apiserver.handlers.requestinfo import RequestInfo, request_info
from apiserver.registry.reviews import Attributes, Authorizer

log = logging.getLogger(__name__)

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


def authorize_request(authorizer: Authorizer, scope: Scope, info: RequestInfo,
                      user: UserInfo) -> None:
    """The chain's authorization check: returns when ``user`` may make the request
    ``scope`` (whose parsed ``info`` it is); raises
    :class:`~apiserver.handlers.refusal.Refusal` otherwise — 403, or 500 for an
    authorizer's evaluation error."""
    attributes = attributes_of(info, user)
    decision = authorizer.authorize(attributes)
    if decision.allowed and "%" in info.path:
        # A handler that decodes the path a second time would act on another object than
        # the one authorized: that reading must be allowed too.
        method = scope.get("method", "GET") if scope["type"] != "websocket" else "GET"
        twice = attributes_of(request_info(method, unquote(info.path),
                                           scope.get("query_string", b"")), user)
        decision = authorizer.authorize(twice)
        attributes = twice if not decision.allowed else attributes
    if decision.allowed:
        return
    if decision.evaluation_error:
        # Upstream answers an authorizer's error with 500 unless it allowed.
        log.error("authorization of %s %s failed: %s", attributes.verb, attributes.path,
                  decision.evaluation_error)
        raise Refusal.of_status(errors.internal(decision.evaluation_error))
    raise Refusal.of_status(forbidden(attributes, decision.reason))
