"""Strategies built from :mod:`apiserver.registry.kinds_table`.

:class:`TableStrategy` is the strategy of every resource whose rules are only the table's
write policy; per-family subclasses (workloads, batch, RBAC, …) add validation. The
flags are instance attributes so one class can serve several resources.
"""

from __future__ import annotations

from typing import Any

from apiserver.api import meta
from apiserver.api.resources import ResourceInfo
from apiserver.registry.kinds_table import has_status_subresource, spec_for
from apiserver.registry.strategy import Strategy


def configure(strategy: Strategy, info: ResourceInfo) -> Strategy:
    """Set ``strategy``'s write-policy flags from the table row of ``info``; returns it."""
    spec = spec_for(info)
    strategy.has_status_subresource = has_status_subresource(info)
    strategy.tracks_generation = spec.tracks_generation
    strategy.allow_create_on_update = spec.allow_create_on_update
    strategy.allow_unconditional_update = spec.allow_unconditional_update
    return strategy


class TableStrategy(Strategy):
    """A strategy whose flags come from the table row of one resource.

    Generation is bumped when any of the row's ``generation_fields`` changes, not only
    ``spec``.
    """

    def __init__(self, info: ResourceInfo) -> None:
        self.info = info
        self.generation_fields = spec_for(info).generation_fields
        configure(self, info)

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Keep the stored status (status subresource); bump generation on a spec change."""
        if self.has_status_subresource:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if self.tracks_generation:
            generation = meta.metadata(old).get("generation", 1)
            if any(new.get(f) != old.get(f) for f in self.generation_fields):
                generation += 1
            meta.metadata(new)["generation"] = generation
