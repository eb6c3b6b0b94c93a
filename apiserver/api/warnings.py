"""The warnings of the request being served (upstream ``k8s.io/apiserver/pkg/warning``).

The HTTP layer installs the request's warning list with :func:`recording`; any layer below
adds a text with :func:`add_warning` (upstream ``warning.AddWarning``), which becomes one
``Warning: 299 - "..."`` header of the response. Outside a request, warnings are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_RECORDER: ContextVar[list[str] | None] = ContextVar("kubemu_request_warnings", default=None)


@contextmanager
def recording(warnings: list[str]) -> Iterator[None]:
    """Collect the warnings added while the block runs into ``warnings``."""
    token = _RECORDER.set(warnings)
    try:
        yield
    finally:
        _RECORDER.reset(token)


def add_warning(text: str) -> None:
    """Add ``text`` to the current request's warnings (if any request is being served)."""
    recorder = _RECORDER.get()
    if recorder is not None and text:
        recorder.append(text)
