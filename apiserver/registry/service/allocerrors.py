"""The API errors the Service allocation flow raises (upstream ``storage/alloc.go``).

A request that asks for an address or port it cannot have gets a 422 Invalid
Status naming the field; running out of a range is the server's problem and a
500 InternalError, as upstream.
"""

from __future__ import annotations

from typing import Any

from apiserver.api import errors


def internal_error(message: str) -> errors.ApiError:
    """Upstream's ``NewInternalError`` (500, with the cause in details)."""
    return errors.ApiError(500, "InternalError", f"Internal error occurred: {message}",
                           {"causes": [{"message": message}]})


def invalid_service(svc: dict[str, Any], causes: list[dict[str, str]]) -> errors.ApiError:
    """A 422 Invalid Status for the Service ``svc`` with these field causes."""
    from apiserver.api.resources import SERVICES

    name = str((svc.get("metadata") or {}).get("name") or "")
    return errors.invalid(SERVICES, name, causes)
