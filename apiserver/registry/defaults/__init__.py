"""Field defaults of every served kind, as upstream's ``SetDefaults_*`` functions set them.

Contract: :func:`apply_defaults` fills, in place, every field upstream defaults and the
object leaves unset; it never overwrites a value the client set and never raises on
malformed input (validation reports that afterwards). The store calls it on create and
on every update, before the kind's strategy runs its own ``default``.

The table is :data:`DEFAULTERS`, assembled from one small module per area:
:mod:`.podspec` (Pod and everything in a PodSpec), :mod:`.workloads`, :mod:`.core` and
:mod:`.other`. It is keyed by version too, because upstream defaults each version on its
own (autoscaling/v1 and v2 HorizontalPodAutoscalers differ). A kind without an entry
has no defaults upstream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apiserver.api.resources import ResourceInfo
from apiserver.registry.defaults import core, other, podspec, workloads

Defaulter = Callable[[dict[str, Any]], None]

#: Defaulters by (group, version, kind).
DEFAULTERS: dict[tuple[str, str, str], Defaulter] = {
    **podspec.DEFAULTERS,
    **workloads.DEFAULTERS,
    **core.DEFAULTERS,
    **other.DEFAULTERS,
}


def apply_defaults(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """Set upstream's defaults on ``obj``, an object of ``info``'s kind, in place."""
    defaulter = DEFAULTERS.get((info.group, info.version, info.kind))
    if defaulter is not None:
        defaulter(obj)
