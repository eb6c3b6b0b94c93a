"""API errors carrying an upstream-shaped ``Status`` (apimachinery ``api/errors``).

Every failure that reaches a client is one :class:`ApiError`; the HTTP layer
serialises ``status`` as the response body and ``code`` as its status code.
"""

from __future__ import annotations

from typing import Any

from apiserver.api.resources import ResourceInfo

OPTIMISTIC_LOCK_MESSAGE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


class ApiError(Exception):
    """An error answered with a ``Status`` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    @property
    def status(self) -> dict[str, Any]:
        """The ``Status`` object (kind Status, apiVersion v1, status Failure)."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def qualified(info: ResourceInfo) -> str:
    """``plural`` or ``plural.group``, as upstream names resources in messages."""
    return f"{info.plural}.{info.group}" if info.group else info.plural


def _details(info: ResourceInfo, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if info.group:
        details["group"] = info.group
    details["kind"] = info.plural
    return details


def not_found(info: ResourceInfo, name: str) -> ApiError:
    """404 NotFound: ``pods "x" not found``."""
    return ApiError(404, "NotFound", f'{qualified(info)} "{name}" not found', _details(info, name))


def already_exists(info: ResourceInfo, name: str) -> ApiError:
    """409 AlreadyExists: ``pods "x" already exists``."""
    return ApiError(
        409, "AlreadyExists", f'{qualified(info)} "{name}" already exists', _details(info, name)
    )


def conflict(info: ResourceInfo, name: str, why: str = OPTIMISTIC_LOCK_MESSAGE) -> ApiError:
    """409 Conflict: ``Operation cannot be fulfilled on pods "x": <why>``."""
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(info)} "{name}": {why}',
        _details(info, name),
    )


def invalid(info: ResourceInfo, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 Invalid with one cause per field error (``details.kind`` is the Kind)."""
    summary = ", ".join(f"{c['field']}: {c['message']}" if c.get("field") else c["message"]
                        for c in causes)
    kind = info.kind if not info.group else f"{info.kind}.{info.group}"
    message = f'{kind} "{name}" is invalid: '
    if len(causes) > 1:
        message += f"[{summary}]"
    else:
        message += summary
    details: dict[str, Any] = {"name": name}
    if info.group:
        details["group"] = info.group
    details["kind"] = info.kind
    details["causes"] = causes
    return ApiError(422, "Invalid", message, details)


def field_cause(reason: str, field: str, message: str) -> dict[str, str]:
    """One ``StatusCause``; ``message`` is the full upstream field error text."""
    return {"reason": reason, "message": message, "field": field}


def required(field: str) -> dict[str, str]:
    """``field: Required value``."""
    return field_cause("FieldValueRequired", field, "Required value")


def invalid_value(field: str, value: Any, detail: str) -> dict[str, str]:
    """``field: Invalid value: "v": detail``."""
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    return field_cause("FieldValueInvalid", field, f"Invalid value: {shown}: {detail}")


def forbidden_field(field: str, detail: str) -> dict[str, str]:
    """``field: Forbidden: detail``."""
    return field_cause("FieldValueForbidden", field, f"Forbidden: {detail}")


def bad_request(message: str) -> ApiError:
    """400 BadRequest."""
    return ApiError(400, "BadRequest", message)


def forbidden(info: ResourceInfo, name: str, why: str) -> ApiError:
    """403 Forbidden: ``pods "x" is forbidden: <why>``."""
    return ApiError(
        403, "Forbidden", f'{qualified(info)} "{name}" is forbidden: {why}', _details(info, name)
    )


#: Upstream's message for a path that names no resource it serves.
PATH_NOT_FOUND = "the server could not find the requested resource"


def path_not_found() -> ApiError:
    """404 NotFound for a path that names no resource served (upstream's generic 404, with
    empty ``details``: kubectl reads ``details.name`` from it without a nil check)."""
    return ApiError(404, "NotFound", PATH_NOT_FOUND, {})


def method_not_allowed(message: str) -> ApiError:
    """405 MethodNotAllowed."""
    return ApiError(405, "MethodNotAllowed", message)


def not_acceptable(message: str) -> ApiError:
    """406 NotAcceptable."""
    return ApiError(406, "NotAcceptable", message)


def expired(message: str) -> ApiError:
    """410 Expired (too old resource version, expired continue token)."""
    return ApiError(410, "Expired", message)


def entity_too_large(message: str = "Request entity too large: limit is 3145728") -> ApiError:
    """413 RequestEntityTooLarge."""
    return ApiError(413, "RequestEntityTooLarge", message)


def unsupported_media_type(content_type: str) -> ApiError:
    """415 UnsupportedMediaType."""
    return ApiError(
        415, "UnsupportedMediaType", f'the body of the request was in an unknown format '
        f'- accepted media types include: application/json-patch+json, '
        f'application/merge-patch+json, application/apply-patch+yaml, '
        f'application/strategic-merge-patch+json (got "{content_type}")'
    )


def unprocessable(message: str) -> ApiError:
    """422 with no reason (as upstream answers some request-level errors)."""
    return ApiError(422, "Invalid", message)


def timeout(message: str, cause: str | None = None) -> ApiError:
    """504 Timeout (e.g. ``Too large resource version``)."""
    details: dict[str, Any] | None = None
    if cause is not None:
        details = {"causes": [{"reason": cause, "message": message}], "retryAfterSeconds": 1}
    return ApiError(504, "Timeout", message, details)


def internal(message: str) -> ApiError:
    """500 InternalError (never expected; a bug if seen)."""
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")


def service_unavailable(message: str) -> ApiError:
    """503 ServiceUnavailable (storage down)."""
    return ApiError(503, "ServiceUnavailable", message)
