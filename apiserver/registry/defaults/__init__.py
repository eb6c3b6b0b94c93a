"""Field defaults of every served kind, as upstream's ``SetDefaults_*`` functions set them.

Contract: :func:`apply_defaults` fills, in place, every field upstream defaults and the
object leaves unset; it never overwrites a value the client set and never raises on
malformed input (validation reports that afterwards). The store calls it on create and
on every update, before the kind's strategy runs its own ``default``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apiserver.api.resources import ResourceInfo

Defaulter = Callable[[dict[str, Any]], None]

#: Defaulters by (group, kind).
DEFAULTERS: dict[tuple[str, str], Defaulter] = {}


def apply_defaults(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """Set upstream's defaults on ``obj``, an object of ``info``'s kind, in place."""
    defaulter = DEFAULTERS.get((info.group, info.kind))
    if defaulter is not None:
        defaulter(obj)
