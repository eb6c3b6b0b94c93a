"""Warnings of the current request (upstream's ``warning.AddWarning(ctx, …)``).

The resource handler installs the request's warning list with :func:`collect` for the
task serving it; layers below (admission webhooks) call :func:`add_warning`, and the
handler sends the list as ``Warning`` headers. Outside a request, warnings are dropped.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

REQUEST_WARNINGS: ContextVar[list[str] | None] = ContextVar("kubemu_request_warnings",
                                                            default=None)


def collect(warnings: list[str]) -> Token[list[str] | None]:
    """Send warnings added from now on (in this task) to ``warnings``."""
    return REQUEST_WARNINGS.set(warnings)


def add_warning(text: str) -> None:
    """Add a warning to the current request's response (no-op outside a request)."""
    warnings = REQUEST_WARNINGS.get()
    if warnings is not None and text:
        warnings.append(text)
