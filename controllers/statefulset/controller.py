"""The statefulset controller: keys, event handlers and its place in the manager.

As kube-controller-manager's ``statefulset`` controller (``stateful_set.go``): a set is
queued when it changes and when a pod it controls is added, changed or deleted; each key
is reconciled by :class:`~controllers.statefulset.control.StatefulSetControl` from the
shared pod, ControllerRevision and PersistentVolumeClaim caches. ``--concurrent-statefulset-syncs``
(default 5) sets the number of workers.
"""

from __future__ import annotations

import argparse
from typing import Any

from controllers.client.store import DeletedFinalStateUnknown, Store, split_key
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.writer import Writer
from controllers.statefulset.control import (
    CLAIMS,
    PODS,
    REVISIONS,
    STATEFULSETS,
    StatefulSetControl,
)
from controllers.statefulset.pods import meta

__all__ = ["STATEFULSET", "StatefulSetController"]


def _unwrap(obj: Any) -> dict[str, Any] | None:
    if isinstance(obj, DeletedFinalStateUnknown):
        obj = obj.obj
    return obj if isinstance(obj, dict) else None


def _owner_key(pod: dict[str, Any]) -> str | None:
    md = meta(pod)
    for ref in md.get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "StatefulSet" and \
                str(ref.get("apiVersion", "")).startswith("apps/"):
            return f"{md.get('namespace')}/{ref.get('name')}"
    return None


class StatefulSetController(KeyedController):
    """Queues ``namespace/name`` of StatefulSets and reconciles them."""

    name = "statefulset"

    def __init__(self, sets: Store, pods: Store, revisions: Store, claims: Store,
                 writer: Writer) -> None:
        super().__init__()
        self.sets = sets
        self.control = StatefulSetControl(pods, revisions, claims, writer)

    # -- handlers -----------------------------------------------------------------

    def on_set(self, obj: Any) -> None:
        """A set was added or deleted."""
        sts = _unwrap(obj)
        if sts is not None:
            md = meta(sts)
            self.queue.add(f"{md.get('namespace')}/{md.get('name')}")

    def on_set_update(self, _old: Any, new: Any) -> None:
        """A set changed."""
        self.on_set(new)

    def on_pod(self, obj: Any) -> None:
        """A pod was added or deleted: its controlling set looks again."""
        pod = _unwrap(obj)
        key = _owner_key(pod) if pod is not None else None
        if key is not None:
            self.queue.add(key)

    def on_pod_update(self, old: Any, new: Any) -> None:
        """A pod changed: its old and new controlling sets look again."""
        for key in {_owner_key(old), _owner_key(new)}:
            if key is not None:
                self.queue.add(key)

    # -- sync ---------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        sts = self.sets.get(namespace, name)
        if sts is None or meta(sts).get("deletionTimestamp"):
            return
        before = self.control.writes
        try:
            requeue = await self.control.sync(sts)
        finally:
            self.metrics.writes += self.control.writes - before
        if requeue is not None:
            self.queue.add_after(key, requeue)


def _build(ctx: ControllerContext) -> KeyedController:
    sets = ctx.informers.informer_for(STATEFULSETS)
    pods = ctx.informers.informer_for(PODS)
    revisions = ctx.informers.informer_for(REVISIONS)
    claims = ctx.informers.informer_for(CLAIMS)
    controller = StatefulSetController(sets.store, pods.store, revisions.store, claims.store,
                                       ctx.writer)
    sets.add_event_handler(controller.on_set, controller.on_set_update, controller.on_set)
    pods.add_event_handler(controller.on_pod, controller.on_pod_update, controller.on_pod)
    return controller


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrent-statefulset-syncs", type=int, default=5,
                        help="statefulset workers (default 5)")


STATEFULSET = ControllerSpec(
    "statefulset", _build, lambda args: int(args.concurrent_statefulset_syncs),
    add_flags=_flags,
)
