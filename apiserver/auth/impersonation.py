"""Impersonation: acting as another user (upstream ``filters/impersonation.go``).

Headers ``Impersonate-User``, ``Impersonate-Group`` (repeatable), ``Impersonate-Uid``
and ``Impersonate-Extra-<key>`` (key lower-cased and URL-unescaped; repeatable).
:func:`impersonate` turns them into the acting user, asking the authorizer for verb
``impersonate`` on each item, in upstream's order: the user (``users``, or
``serviceaccounts`` in its namespace for ``system:serviceaccount:ns:name``), each
group (``groups``), each extra value (``userextras`` with the key as subresource,
API group ``authentication.k8s.io``) and the UID (``uids``, same group). The first
refusal is upstream's 403. Groups, extras or a UID without a user are a 500 (as
upstream). A ServiceAccount without explicit groups gets its two groups; then
``system:authenticated`` is added (``system:unauthenticated`` for
``system:anonymous``) unless one of the two is already there.

:func:`impersonate_request` is the request chain's check (:mod:`apiserver.chain`): it
returns the acting user and removes every ``Impersonate-*`` header.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from apiserver.api import errors
from apiserver.api.user import (
    ANONYMOUS_USER,
    AUTHENTICATED_GROUP,
    UNAUTHENTICATED_GROUP,
    UserInfo,
)
from apiserver.auth.serviceaccount_tokens import SA_GROUP, SA_PREFIX, split_service_account
from apiserver.handlers.http import Scope
from apiserver.handlers.refusal import NOSNIFF, Refusal
from apiserver.registry.reviews import Attributes, Authorizer

USER_HEADER = "impersonate-user"
GROUP_HEADER = "impersonate-group"
UID_HEADER = "impersonate-uid"
EXTRA_PREFIX = "impersonate-extra-"
_AUTHN_GROUP = "authentication.k8s.io"


class ImpersonationError(Exception):
    """A request that may not impersonate: ``status`` is the HTTP code, ``body`` the answer."""

    def __init__(self, status: int, error: errors.ApiError | None = None,
                 text: str = "") -> None:
        super().__init__(text or (error.message if error else ""))
        self.status = status
        self.error = error
        self.text = text


@dataclass(frozen=True)
class _Item:
    """One thing asked for (upstream builds an ObjectReference per item)."""

    kind: str
    name: str
    namespace: str = ""
    api_version: str = ""
    field_path: str = ""

    def go(self) -> str:
        """The ObjectReference as Go's ``%v`` prints it."""
        return "{" + " ".join((self.kind, self.namespace, self.name, "", self.api_version, "",
                               self.field_path)) + "}"


def _items(headers: Sequence[tuple[str, str]], uri: str) -> list[_Item]:
    user = next((v for k, v in headers if k == USER_HEADER), "")
    items: list[_Item] = []
    if user:
        sa = split_service_account(user)
        items.append(_Item("ServiceAccount", sa[1], sa[0]) if sa else _Item("User", user))
    groups = [v for k, v in headers if k == GROUP_HEADER]
    items += [_Item("Group", g) for g in groups]
    extras = [(unquote(k[len(EXTRA_PREFIX):].lower()), v) for k, v in headers
              if k.startswith(EXTRA_PREFIX)]
    items += [_Item("UserExtra", v, api_version=f"{_AUTHN_GROUP}/v1", field_path=key)
              for key, v in extras]
    uid = next((v for k, v in headers if k == UID_HEADER), "")
    if uid:
        items.append(_Item("UID", uid, api_version=f"{_AUTHN_GROUP}/v1"))
    if (groups or extras or uid) and not user:
        listed = "[" + " ".join(i.go() for i in items) + "]"
        raise ImpersonationError(500, text=f'Internal Server Error: "{uri}": requested '
                                 f"{listed} without impersonating a user")
    return items


def forbidden(attrs: Attributes, reason: str) -> errors.ApiError:
    """Upstream's 403 for a refused request (``responsewriters.Forbidden``)."""
    resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    if attrs.resource_request:
        where = (f'in the namespace "{attrs.namespace}"' if attrs.namespace
                 else "at the cluster scope")
        msg = (f'User "{attrs.user.username}" cannot {attrs.verb} resource "{resource}" in '
               f'API group "{attrs.api_group}" {where}')
    else:
        msg = f'User "{attrs.user.username}" cannot {attrs.verb} path "{attrs.path}"'
    if reason:
        msg += f": {reason}"
    msg = html.escape(msg, quote=False)
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    if attrs.resource and attrs.name:
        outer = f'{qualified} "{attrs.name}" is forbidden: {msg}'
    elif attrs.resource:
        outer = f"{qualified} is forbidden: {msg}"
    else:
        outer = f"forbidden: {msg}"
    details: dict[str, Any] = {}
    if attrs.name:
        details["name"] = attrs.name
    if attrs.api_group:
        details["group"] = attrs.api_group
    if attrs.resource:
        details["kind"] = attrs.resource
    return errors.ApiError(403, "Forbidden", outer, details)


def impersonate(requester: UserInfo, headers: Sequence[tuple[str, str]], authorizer: Authorizer,
                uri: str = "") -> UserInfo:
    """The user ``requester`` acts as (``headers`` lower-cased names, in order).

    Raises :class:`ImpersonationError` (403 or 500) when it may not.
    """
    items = _items(headers, uri)
    username, uid = "", ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    groups_given = any(k == GROUP_HEADER for k, _ in headers)
    for item in items:
        api_group = _AUTHN_GROUP if item.api_version else ""
        resource, subresource = "", ""
        if item.kind == "ServiceAccount":
            resource = "serviceaccounts"
            username = f"{SA_PREFIX}{item.namespace}:{item.name}"
            if not groups_given:
                groups = [SA_GROUP, f"{SA_GROUP}:{item.namespace}"]
        elif item.kind == "User":
            resource, username = "users", item.name
        elif item.kind == "Group":
            resource = "groups"
            groups.append(item.name)
        elif item.kind == "UserExtra":
            resource, subresource = "userextras", item.field_path
            extra.setdefault(item.field_path, []).append(item.name)
        else:
            resource, uid = "uids", item.name
        attrs = Attributes(user=requester, verb="impersonate", resource_request=True,
                           namespace=item.namespace, api_group=api_group,
                           api_version="v1" if api_group else "", resource=resource,
                           subresource=subresource, name=item.name)
        decision = authorizer.authorize(attrs)
        if not decision.allowed:
            raise ImpersonationError(403, forbidden(attrs, decision.reason))
    if username != ANONYMOUS_USER:
        if AUTHENTICATED_GROUP not in groups and UNAUTHENTICATED_GROUP not in groups:
            groups.append(AUTHENTICATED_GROUP)
    elif UNAUTHENTICATED_GROUP not in groups:
        groups.append(UNAUTHENTICATED_GROUP)
    return UserInfo(username=username, uid=uid, groups=tuple(groups),
                    extra={k: tuple(v) for k, v in extra.items()})


def impersonate_request(scope: Scope, requester: UserInfo, authorizer: Authorizer) -> UserInfo:
    """The chain's impersonation check: the user the request ``scope`` of ``requester``
    acts as (``requester`` when it asks for nobody). Removes every ``Impersonate-*``
    header; raises :class:`~apiserver.handlers.refusal.Refusal` (403 or 500) when it may
    not impersonate."""
    raw = scope.get("headers", [])
    for key, _ in raw:  # ASGI header names are lower-case
        if key.startswith(b"impersonate-"):
            break
    else:
        return requester
    headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw]
    uri = scope.get("path", "") + (
        "?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
    try:
        user = impersonate(requester, headers, authorizer, uri)
    except ImpersonationError as exc:
        if exc.error is not None:
            raise Refusal.of_status(exc.error) from None
        raise Refusal(exc.status, (exc.text + "\n").encode(), "text/plain; charset=utf-8",
                      NOSNIFF) from None
    scope["headers"] = [(k, v) for k, v in raw if not k.startswith(b"impersonate-")]
    return user
