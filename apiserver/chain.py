"""The request chain in front of the handlers, in kube-apiserver's order — fixed here only.

::

    request timeout (504) → authentication → impersonation → max-in-flight (429)
        → authorization → handlers

Each stage is an ASGI middleware factory (``Filter``): it takes the next app and
returns an app. A stage that is not configured is left out. Stages live in their own
modules (:mod:`apiserver.auth` and friends) with contracts testable without HTTP; this
module only orders them. The authentication stage sets
:data:`apiserver.api.user.REQUEST_USER` for the request's task; every later stage and
the registry read the requester from there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Filter = Callable[[ASGIApp], ASGIApp]


@dataclass(frozen=True, slots=True)
class ChainStages:
    """The configured stages; None leaves a stage out."""

    request_timeout: Filter | None = None
    authentication: Filter | None = None
    impersonation: Filter | None = None
    max_in_flight: Filter | None = None
    authorization: Filter | None = None


def build_chain(app: ASGIApp, stages: ChainStages) -> ASGIApp:
    """``app`` behind the configured stages, outermost first in upstream's order."""
    ordered = (stages.request_timeout, stages.authentication, stages.impersonation,
               stages.max_in_flight, stages.authorization)
    for stage in reversed(ordered):
        if stage is not None:
            app = stage(app)
    return app
