"""ASGI types of the chain stages in this package (the same shapes as
:mod:`apiserver.chain`'s, which sits above this layer)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from apiserver.handlers.http import Receive, Scope, Send

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Filter = Callable[[ASGIApp], ASGIApp]

__all__ = ["ASGIApp", "Filter", "Receive", "Scope", "Send"]
