"""The admission chain: every mutating plugin in order, then every validating plugin.

Upstream's ``chainAdmissionHandler``: the generic store calls :meth:`AdmissionChain.admit`
once an object is decoded and defaulted (before the kind's validation) and
:meth:`AdmissionChain.validate` once it is validated (before it is stored), so the order
of a write is mutating admission → validation → validating admission → storage. The first
plugin that raises ends the request with its error. Webhooks and
ValidatingAdmissionPolicy join as more plugins at their upstream places in
:data:`apiserver.admission.plugins.ORDER`.

Plugins may declare what they can act on, and the chain skips them otherwise (the same
results as calling them):

* ``core_resources`` (a set of plural names): the plugin acts only on the main resource
  (no subresource) of those core kinds;
* ``config_resources`` (a tuple of :class:`~apiserver.api.resources.ResourceInfo`): the
  plugin does nothing while none of these resources has an object (no webhook
  configurations, policies, quotas, limit ranges), as the chain's ``source`` tells
  (:meth:`~apiserver.admission.attributes.ObjectSource.populated`).

So which plugins take part in a phase depends only on the request's resource,
subresource and operation (``handles`` depends only on the operation) and on which
configuration resources are populated: the chain works each such list out once and
reuses it, and a configuration resource gaining its first object or losing its last
selects another list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apiserver.admission.attributes import (
    AdmissionAttributes,
    MutatingPlugin,
    ObjectSource,
    Operation,
    ValidatingPlugin,
)
from apiserver.api.resources import ResourceInfo

_Route = tuple[str, str, str, Operation, tuple[bool, ...]]


class AdmissionChain:
    """Plugins in their fixed order; a plugin may take part in one phase or both."""

    def __init__(self, plugins: Sequence[object] = (),
                 source: ObjectSource | None = None) -> None:
        self.plugins = tuple(plugins)
        self.source = source
        configs: dict[tuple[str, str], ResourceInfo] = {}
        if source is not None:
            for plugin in self.plugins:
                for info in getattr(plugin, "config_resources", ()):
                    configs.setdefault((info.group, info.plural), info)
        #: The configuration resources some plugin depends on (see the module docstring).
        self.configs = tuple(configs.values())
        self.mutating = tuple(p for p in plugins if isinstance(p, MutatingPlugin))
        self.validating = tuple(p for p in plugins if isinstance(p, ValidatingPlugin))
        self._routes: dict[_Route, tuple[tuple[MutatingPlugin, ...],
                                         tuple[ValidatingPlugin, ...]]] = {}

    def _for(self, attrs: AdmissionAttributes) \
            -> tuple[tuple[MutatingPlugin, ...], tuple[ValidatingPlugin, ...]]:
        """The plugins of each phase that may act on ``attrs``' resource and operation."""
        populated: tuple[bool, ...] = ()
        if self.source is not None:
            populated = tuple(map(self.source.populated, self.configs))
        route = (attrs.info.group, attrs.info.plural, attrs.subresource, attrs.operation,
                 populated)
        found = self._routes.get(route)
        if found is None:
            group, plural, subresource, operation, _ = route
            idle = {(info.group, info.plural)
                    for info, on in zip(self.configs, populated, strict=True) if not on}

            def acts(plugin: Any) -> bool:
                core: frozenset[str] | None = getattr(plugin, "core_resources", None)
                if core is not None and (group or subresource or plural not in core):
                    return False
                needs: tuple[ResourceInfo, ...] = getattr(plugin, "config_resources", ())
                if needs and all((i.group, i.plural) in idle for i in needs):
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
