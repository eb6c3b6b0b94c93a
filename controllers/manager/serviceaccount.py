"""The serviceaccount controller: a ``default`` ServiceAccount in every namespace.

As kube-controller-manager's ``serviceaccount`` controller: keyed by namespace, it creates
``default`` in every active namespace that lacks it, and again when someone deletes it.
Terminating namespaces are left alone (creating there is refused anyway).
"""

from __future__ import annotations

import argparse
from typing import Any

from apiserver.api.resources import NAMESPACES, served
from controllers.client.errors import is_already_exists, is_not_found
from controllers.client.store import DeletedFinalStateUnknown, Store
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.writer import ObjectWriter

__all__ = ["SERVICEACCOUNT", "ServiceAccountsController"]

SERVICEACCOUNTS = served("", "v1", "serviceaccounts")
#: The ServiceAccounts every namespace gets.
MANAGED = ("default",)


class ServiceAccountsController(KeyedController):
    """Ensures :data:`MANAGED` ServiceAccounts exist in each active namespace."""

    name = "serviceaccount"

    def __init__(self, namespaces: Store, accounts: Store, writer: ObjectWriter) -> None:
        super().__init__()
        self.namespaces = namespaces
        self.accounts = accounts
        self.writer = writer

    def on_namespace(self, obj: Any) -> None:
        """Handler for namespace adds and updates."""
        if isinstance(obj, dict):
            self.queue.add(str(obj.get("metadata", {}).get("name", "")))

    def on_namespace_update(self, _old: Any, new: Any) -> None:
        """Handler for namespace updates."""
        self.on_namespace(new)

    def on_account_delete(self, obj: Any) -> None:
        """A deleted managed ServiceAccount is made again."""
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        if isinstance(obj, dict):
            md = obj.get("metadata", {})
            if md.get("name") in MANAGED:
                self.queue.add(str(md.get("namespace", "")))

    async def sync(self, key: str) -> None:
        namespace = self.namespaces.get(None, key)
        if namespace is None:
            return
        status = namespace.get("status") or {}
        if namespace["metadata"].get("deletionTimestamp") or status.get("phase") == "Terminating":
            return
        for name in MANAGED:
            if self.accounts.get(key, name) is not None:
                continue
            account = {"apiVersion": "v1", "kind": "ServiceAccount",
                       "metadata": {"name": name, "namespace": key}}
            try:
                await self.writer.create(SERVICEACCOUNTS, key, account)
                self.metrics.writes += 1
            except Exception as exc:
                # Someone made it meanwhile, or the namespace went away: nothing to do.
                if not (is_already_exists(exc) or is_not_found(exc)):
                    raise


def _build(ctx: ControllerContext) -> KeyedController:
    namespaces = ctx.informers.informer_for(NAMESPACES)
    accounts = ctx.informers.informer_for(SERVICEACCOUNTS)
    controller = ServiceAccountsController(namespaces.store, accounts.store, ctx.writer)
    namespaces.add_event_handler(controller.on_namespace, controller.on_namespace_update)
    accounts.add_event_handler(on_delete=controller.on_account_delete)
    return controller


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrent-serviceaccount-syncs", type=int, default=1,
                        help="serviceaccount workers (default 1)")


SERVICEACCOUNT = ControllerSpec(
    "serviceaccount", _build, lambda args: int(args.concurrent_serviceaccount_syncs),
    add_flags=_flags,
)
