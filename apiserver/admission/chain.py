"""The admission chain: every mutating plugin in order, then every validating plugin.

Upstream's ``chainAdmissionHandler``: the generic store calls :meth:`AdmissionChain.admit`
once an object is decoded and defaulted (before the kind's validation) and
:meth:`AdmissionChain.validate` once it is validated (before it is stored), so the order
of a write is mutating admission → validation → validating admission → storage. The first
plugin that raises ends the request with its error. Webhooks and
ValidatingAdmissionPolicy join as more plugins at their upstream places in
:data:`apiserver.admission.plugins.ORDER`.
"""

from __future__ import annotations

from collections.abc import Sequence

from apiserver.admission.attributes import (
    AdmissionAttributes,
    MutatingPlugin,
    ValidatingPlugin,
)


class AdmissionChain:
    """Plugins in their fixed order; a plugin may take part in one phase or both."""

    def __init__(self, plugins: Sequence[object] = ()) -> None:
        self.plugins = tuple(plugins)
        self.mutating = tuple(p for p in plugins if isinstance(p, MutatingPlugin))
        self.validating = tuple(p for p in plugins if isinstance(p, ValidatingPlugin))

    @property
    def names(self) -> tuple[str, ...]:
        """The plugins' names, in order."""
        return tuple(str(getattr(p, "name", type(p).__name__)) for p in self.plugins)

    async def admit(self, attrs: AdmissionAttributes) -> None:
        """The mutating phase: plugins may change ``attrs.object``."""
        for plugin in self.mutating:
            if plugin.handles(attrs.operation):
                await plugin.admit(attrs)

    async def validate(self, attrs: AdmissionAttributes) -> None:
        """The validating phase: plugins only accept or refuse."""
        for plugin in self.validating:
            if plugin.handles(attrs.operation):
                await plugin.validate(attrs)
