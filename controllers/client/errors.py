"""The client's one error type: an HTTP error answered by the apiserver.

Every non-2xx response becomes an :class:`ApiError` carrying the decoded
``metav1.Status`` (or a synthesized one when the body is not a Status), so
callers branch on ``code`` and ``reason`` exactly as client-go's
``apierrors.IsNotFound`` & co. do.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError", "is_already_exists", "is_conflict", "is_gone", "is_not_found"]


class ApiError(Exception):
    """A failed API call; ``status`` is the ``metav1.Status`` the server sent."""

    def __init__(self, code: int, status: dict[str, Any]) -> None:
        self.code = code
        self.status = status
        super().__init__(f"{code} {self.reason}: {self.message}")

    @property
    def reason(self) -> str:
        """``Status.reason`` (``NotFound``, ``Conflict``, ``Expired`` …)."""
        return str(self.status.get("reason") or "")

    @property
    def message(self) -> str:
        """``Status.message``."""
        return str(self.status.get("message") or "")

    def has_cause(self, cause_type: str) -> bool:
        """Whether ``Status.details.causes`` has a cause of type ``cause_type``."""
        details = self.status.get("details") or {}
        return any(
            isinstance(c, dict) and c.get("reason") == cause_type
            for c in details.get("causes") or []
        )

    @classmethod
    def from_response(cls, code: int, body: Any, text: str = "") -> ApiError:
        """Build from a response: the body's Status, or a generic one."""
        if isinstance(body, dict) and body.get("kind") == "Status":
            return cls(code, body)
        return cls(
            code,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "message": text or f"the server responded with status {code}",
                "reason": _REASONS.get(code, "Unknown"),
                "code": code,
            },
        )


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def is_not_found(exc: BaseException) -> bool:
    """A 404 ``ApiError``."""
    return isinstance(exc, ApiError) and exc.code == 404


def is_conflict(exc: BaseException) -> bool:
    """A 409 ``ApiError`` with reason Conflict (an optimistic-lock failure)."""
    return isinstance(exc, ApiError) and exc.code == 409 and exc.reason == "Conflict"


def is_already_exists(exc: BaseException) -> bool:
    """A 409 ``ApiError`` with reason AlreadyExists."""
    return isinstance(exc, ApiError) and exc.code == 409 and exc.reason == "AlreadyExists"


def is_gone(exc: BaseException) -> bool:
    """A 410 ``ApiError`` (resourceVersion too old)."""
    return isinstance(exc, ApiError) and exc.code == 410
