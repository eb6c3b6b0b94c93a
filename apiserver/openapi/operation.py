"""One REST operation, as the OpenAPI builders render it (see :mod:`.operations`)."""

from __future__ import annotations

from dataclasses import dataclass

from apiserver.openapi.params import Param

__all__ = ["JSON_TYPES", "Operation"]

#: Content types of ordinary responses.
JSON_TYPES: tuple[str, ...] = ("application/json",)


@dataclass(frozen=True)
class Operation:
    """One HTTP operation.

    ``doc`` is the OpenAPI v3 document it belongs to (``api/v1``,
    ``apis/<group>/<version>``, ``api``, ``apis``, ``apis/<group>`` or
    ``version``). ``request`` and ``response`` name upstream definitions
    (``None``: no body; see ``response_type``). ``gvk`` is ``(group, version, kind)`` for operations
    on a kind, ``action`` the ``x-kubernetes-action``.
    """

    doc: str
    path: str
    method: str
    operation_id: str
    tag: str
    description: str
    action: str | None = None
    gvk: tuple[str, str, str] | None = None
    params: tuple[Param, ...] = ()
    path_params: tuple[Param, ...] = ()
    request: str | None = None
    request_types: tuple[str, ...] = ()
    response: str | None = None
    codes: tuple[str, ...] = ("200",)
    produces: tuple[str, ...] = JSON_TYPES
    #: A plain schema type of the response body (``string`` for the connect operations)
    #: instead of the ``response`` definition.
    response_type: str = ""
