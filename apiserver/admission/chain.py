"""The admission chain: every mutating plugin in order, then every validating plugin.

Upstream's ``chainAdmissionHandler``: the generic store calls :meth:`AdmissionChain.admit`
once an object is decoded and defaulted (before the kind's validation) and
:meth:`AdmissionChain.validate` once it is validated (before it is stored), so the order
of a write is mutating admission → validation → validating admission → storage. The first
plugin that raises ends the request with its error. Webhooks and
ValidatingAdmissionPolicy join as more plugins at their upstream places in
:data:`apiserver.admission.plugins.ORDER`.

A plugin that acts only on the main resource (no subresource) of some core kinds says so
with a ``core_resources`` attribute (a set of plural names); a plugin without it may act
on any resource. Which plugins take part in a phase depends only on the request's
resource, subresource and operation (and ``handles``, which depends only on the
operation), so the chain works each such list out once and reuses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apiserver.admission.attributes import (
    AdmissionAttributes,
    MutatingPlugin,
    Operation,
    ValidatingPlugin,
)

_Route = tuple[str, str, str, Operation]


class AdmissionChain:
    """Plugins in their fixed order; a plugin may take part in one phase or both."""

    def __init__(self, plugins: Sequence[object] = ()) -> None:
        self.plugins = tuple(plugins)
        self.mutating = tuple(p for p in plugins if isinstance(p, MutatingPlugin))
        self.validating = tuple(p for p in plugins if isinstance(p, ValidatingPlugin))
        self._routes: dict[_Route, tuple[tuple[MutatingPlugin, ...],
                                         tuple[ValidatingPlugin, ...]]] = {}

    def _for(self, attrs: AdmissionAttributes) \
            -> tuple[tuple[MutatingPlugin, ...], tuple[ValidatingPlugin, ...]]:
        """The plugins of each phase that may act on ``attrs``' resource and operation."""
        route = (attrs.info.group, attrs.info.plural, attrs.subresource, attrs.operation)
        found = self._routes.get(route)
        if found is None:
            group, plural, subresource, operation = route

            def acts(plugin: Any) -> bool:
                core: frozenset[str] | None = getattr(plugin, "core_resources", None)
                if core is not None and (group or subresource or plural not in core):
                    return False
                return bool(plugin.handles(operation))

            found = self._routes[route] = (tuple(p for p in self.mutating if acts(p)),
                                           tuple(p for p in self.validating if acts(p)))
        return found

    @property
    def names(self) -> tuple[str, ...]:
        """The plugins' names, in order."""
        return tuple(str(getattr(p, "name", type(p).__name__)) for p in self.plugins)

    async def admit(self, attrs: AdmissionAttributes) -> None:
        """The mutating phase: plugins may change ``attrs.object``."""
        for plugin in self._for(attrs)[0]:
            await plugin.admit(attrs)

    async def validate(self, attrs: AdmissionAttributes) -> None:
        """The validating phase: plugins only accept or refuse."""
        for plugin in self._for(attrs)[1]:
            await plugin.validate(attrs)
