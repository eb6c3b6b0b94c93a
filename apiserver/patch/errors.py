"""The one exception the patch functions raise, carrying the upstream HTTP status.

Contract: ``code`` is the HTTP status upstream kube-apiserver answers with, ``reason``
the ``metav1.StatusReason`` (``""`` is upstream's ``Unknown``), ``message`` the Status
message to send.  ``detail`` is the underlying cause for logs; upstream hides it for
some 422s (``NewGenericServerResponse``), so it is not part of the response.
"""

from __future__ import annotations

GENERIC_INVALID_MESSAGE = "the server rejected our request due to an error in our request"
"""Upstream's message for a 422 built by ``errors.NewGenericServerResponse``."""


class PatchError(Exception):
    """A patch could not be applied; see the module docstring for the attributes."""

    def __init__(self, message: str, code: int, reason: str = "", detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.detail = detail if detail is not None else message

    def __repr__(self) -> str:
        return f"PatchError(code={self.code}, reason={self.reason!r}, message={self.message!r})"


def bad_request(message: str) -> PatchError:
    """400 BadRequest, as ``errors.NewBadRequest(message)``."""
    return PatchError(message, 400, "BadRequest")


def generic_invalid(detail: str) -> PatchError:
    """422 Invalid with upstream's generic message, hiding ``detail`` from the client."""
    return PatchError(GENERIC_INVALID_MESSAGE, 422, "Invalid", detail=detail)
