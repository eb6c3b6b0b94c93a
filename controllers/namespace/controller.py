"""The ``namespace`` controller (upstream ``pkg/controller/namespace``).

Keyed by namespace name, fed by the namespace informer: a namespace that carries a
``deletionTimestamp`` is queued :data:`DELETION_GRACE` seconds later (upstream's
``namespaceDeletionGracePeriod``, which lets HA apiservers observe the deletion and
last-moment creations land first), and each sync is one
:class:`~controllers.namespace.deleter.NamespacedResourcesDeleter` pass. Content still
going away requeues after half its estimate plus a second; any other error retries
rate-limited, without ever giving up (a namespace must not stay Terminating for ever).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from apiserver.api.resources import NAMESPACES
from controllers.client.store import DeletedFinalStateUnknown, Store
from controllers.namespace.content import RestContentAPI
from controllers.namespace.deleter import NamespacedResourcesDeleter, ResourcesRemaining
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController

__all__ = ["DELETION_GRACE", "NAMESPACE", "NamespaceController"]

log = logging.getLogger(__name__)

#: Upstream ``namespaceDeletionGracePeriod``.
DELETION_GRACE = 5.0


class NamespaceController(KeyedController):
    """Empties and finalizes terminating namespaces."""

    name = "namespace"

    def __init__(self, namespaces: Store, deleter: NamespacedResourcesDeleter,
                 deletion_grace: float = DELETION_GRACE) -> None:
        super().__init__()
        self.namespaces = namespaces
        self.deleter = deleter
        self.deletion_grace = deletion_grace

    def on_namespace(self, obj: Any) -> None:
        """Handler for adds: a namespace being deleted is queued after the grace period."""
        if isinstance(obj, DeletedFinalStateUnknown):
            return
        md = obj.get("metadata") if isinstance(obj, dict) else None
        if isinstance(md, dict) and md.get("deletionTimestamp"):
            self.queue.add_after(str(md.get("name", "")), self.deletion_grace)

    def on_namespace_update(self, _old: Any, new: Any) -> None:
        """Handler for updates."""
        self.on_namespace(new)

    async def sync(self, key: str) -> None:
        if self.namespaces.get(None, key) is None:
            return
        await self.deleter.delete(key)

    def handle_err(self, key: str, err: BaseException | None) -> None:
        """Forget on success; wait for remaining content; otherwise retry for ever."""
        if err is None:
            self.queue.forget(key)
        elif isinstance(err, ResourcesRemaining):
            delay = err.estimate // 2 + 1
            log.info("namespace %s: content remaining, looking again in %ds", key, delay)
            self.queue.add_after(key, float(delay))
        else:
            log.warning("deletion of namespace %s failed: %s", key, err)
            self.queue.add_rate_limited(key)


def _build(ctx: ControllerContext) -> KeyedController:
    informer = ctx.informers.informer_for(NAMESPACES)
    deleter = NamespacedResourcesDeleter(RestContentAPI(ctx.client, ctx.writer))
    controller = NamespaceController(informer.store, deleter)
    informer.add_event_handler(controller.on_namespace, controller.on_namespace_update)
    return controller


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrent-namespace-syncs", type=int, default=10,
                        help="namespace workers (default 10)")


NAMESPACE = ControllerSpec(
    "namespace", _build, lambda args: int(args.concurrent_namespace_syncs), add_flags=_flags,
)
