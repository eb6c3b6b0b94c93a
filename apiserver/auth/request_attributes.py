"""The authorization attributes of a request: its shared
:class:`~apiserver.handlers.requestinfo.RequestInfo` (parsed once per request, see
:mod:`apiserver.handlers.requestinfo` for the rules) plus the requester."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from apiserver.api.user import UserInfo
from apiserver.handlers.requestinfo import RequestInfo, scope_request_info
from apiserver.registry.reviews import Attributes


def attributes_of(info: RequestInfo, user: UserInfo) -> Attributes:
    """What ``user`` asks for with the request ``info``."""
    return Attributes(user, info.verb, info.is_resource_request, info.namespace,
                      info.api_group, info.api_version, info.resource, info.subresource,
                      info.name, info.path, info.field_selector)


def request_attributes(scope: MutableMapping[str, Any], user: UserInfo) -> Attributes:
    """The authorization attributes of the request ``scope`` made by ``user``."""
    return attributes_of(scope_request_info(scope), user)
