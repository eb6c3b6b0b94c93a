"""The authorization attributes of a request: its shared
:class:`~apiserver.handlers.requestinfo.RequestInfo` (parsed once per request, see
:mod:`apiserver.handlers.requestinfo` for the rules) plus the requester."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import replace
from typing import Any

from apiserver.api.user import UserInfo
from apiserver.handlers.requestinfo import RequestInfo, scope_request_info
from apiserver.registry.reviews import Attributes

#: Attributes kept at most (the memo starts over past it).
_MEMO_LIMIT = 4096
#: (id(info), id(user)) -> (info, user, attributes). Request infos are shared per
#: request line and cached authentications return the same user object, so the same
#: pair comes again and again; holding both objects keeps their ids from being reused.
_memo: dict[tuple[int, int], tuple[RequestInfo, UserInfo, Attributes]] = {}


def attributes_of(info: RequestInfo, user: UserInfo) -> Attributes:
    """What ``user`` asks for with the request ``info`` (memoised per object pair)."""
    key = (id(info), id(user))
    found = _memo.get(key)
    if found is not None:
        return found[2]
    attributes = replace(info, user=user)
    if len(_memo) >= _MEMO_LIMIT:
        _memo.clear()
    _memo[key] = (info, user, attributes)
    return attributes


def request_attributes(scope: MutableMapping[str, Any], user: UserInfo) -> Attributes:
    """The authorization attributes of the request ``scope`` made by ``user``."""
    return attributes_of(scope_request_info(scope), user)
