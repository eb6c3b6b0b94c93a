"""Who sent a request: upstream's ``user.Info``, and the request-scoped current user.

The request chain (:mod:`apiserver.chain`) sets :data:`REQUEST_USER` to the
authenticated (or impersonated) requester for the task serving a request, so layers
below the handlers (admission, the review kinds) read the requester without it being
threaded through every call.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

ANONYMOUS_USER = "system:anonymous"
UNAUTHENTICATED_GROUP = "system:unauthenticated"
AUTHENTICATED_GROUP = "system:authenticated"
MASTERS_GROUP = "system:masters"


@dataclass(frozen=True)
class UserInfo:
    """An authenticated (or anonymous) user, as upstream ``user.Info``."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        """The ``authentication.k8s.io/v1`` UserInfo (empty fields omitted)."""
        out: dict[str, Any] = {"username": self.username} if self.username else {}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


ANONYMOUS = UserInfo(ANONYMOUS_USER, groups=(UNAUTHENTICATED_GROUP,))

#: The user the current request acts as (after impersonation); anonymous by default.
REQUEST_USER: ContextVar[UserInfo] = ContextVar("kubemu_request_user", default=ANONYMOUS)
