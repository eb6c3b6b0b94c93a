"""The ``resourcequota`` controller: ``status.hard`` from the spec, ``status.used`` counted.

As kube-controller-manager's: a quota is synced when it is created or its ``spec.hard``
changes, when usage may have been released in its namespace (replenishment: an object
deleted, a pod turning terminal or marked for deletion, a Service changing type or ports),
and every ``--resource-quota-sync-period`` (5 m). It does not recount when objects are
added: admission charged those already, and a recount racing a charged-but-not-yet-stored
object would give the quota back. A sync sets ``status.hard`` to ``spec.hard`` and
``status.used`` to the usage :func:`apiserver.api.quota.total_usage` counts (zero where
nothing counts, masked to the hard resources), and writes ``/status`` only when it
changed. Usage evaluation is the same code the ResourceQuota admission plugin charges
with, so the two agree. Pods, Services, claims, ConfigMaps, Secrets,
ReplicationControllers and ResourceQuotas are read from informers; other
``count/<resource>.<group>`` quotas are counted with a LIST at sync time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from apiserver.api import quota as q
from apiserver.api.podresources import ResourceList, resource_list
from apiserver.api.resources import RESOURCES, ResourceInfo, served
from controllers.client.informer import SharedInformer
from controllers.client.store import DeletedFinalStateUnknown, Store, split_key
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.flags import duration

__all__ = ["RESOURCEQUOTA", "RESOURCEQUOTAS", "ResourceQuotaController"]

log = logging.getLogger(__name__)

RESOURCEQUOTAS = served("", "v1", "resourcequotas")
#: Resources counted from informers (upstream's core evaluators and legacy counts).
WATCHED = tuple(served("", "v1", plural) for plural in (
    "pods", "services", "persistentvolumeclaims", "configmaps", "secrets",
    "replicationcontrollers", "resourcequotas"))
DEFAULT_SYNC_PERIOD = 300.0

def _now() -> datetime:
    return datetime.now(UTC)


def _counted_resource(name: str) -> ResourceInfo | None:
    """The served resource a ``count/<plural>[.<group>]`` name counts, if any."""
    if not name.startswith("count/"):
        return None
    plural, _, group = name[len("count/"):].partition(".")
    return next((i for i in RESOURCES if i.plural == plural and i.group == group
                 and i.namespaced), None)


class ResourceQuotaController(KeyedController):
    """Keeps each ResourceQuota's status in step with its namespace."""

    name = "resourcequota"

    def __init__(self, quotas: Store, stores: dict[tuple[str, str], Store], writer: Any,
                 reader: Any = None, clock: Callable[[], datetime] = _now,
                 sync_period: float = DEFAULT_SYNC_PERIOD) -> None:
        super().__init__()
        self.quotas = quotas
        self.stores = stores
        self.writer = writer
        self.reader = reader
        self.clock = clock
        self.sync_period = sync_period
        self._resync: asyncio.Task[None] | None = None

    # -- handlers ----------------------------------------------------------------

    def on_quota(self, obj: Any) -> None:
        """A quota was added (or relisted)."""
        if isinstance(obj, DeletedFinalStateUnknown):
            return
        md = obj.get("metadata") or {}
        self.queue.add(f"{md.get('namespace', '')}/{md.get('name', '')}")

    def on_quota_update(self, old: Any, new: Any) -> None:
        """Only a change of ``spec.hard`` needs a sync."""
        if (old.get("spec") or {}).get("hard") != (new.get("spec") or {}).get("hard"):
            self.on_quota(new)

    def on_object(self, obj: Any) -> None:
        """An object a quota may count went away: sync its namespace's quotas."""
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        namespace = (obj.get("metadata") or {}).get("namespace") if isinstance(obj, dict) \
            else None
        if namespace:
            for quota in self.quotas.in_namespace(namespace):
                self.on_quota(quota)

    def on_pod_update(self, old: Any, new: Any) -> None:
        """A pod stopped counting for compute resources (terminal, or being deleted)."""
        now = self.clock()
        if (q.pod_counts_compute(old, now) and not q.pod_counts_compute(new, now)) \
                or ((new.get("metadata") or {}).get("deletionTimestamp")
                    and not (old.get("metadata") or {}).get("deletionTimestamp")):
            self.on_object(new)

    def on_service_update(self, old: Any, new: Any) -> None:
        """A Service's type or ports changed (node ports, load balancers)."""
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        if old_spec.get("type") != new_spec.get("type") \
                or len(old_spec.get("ports") or []) != len(new_spec.get("ports") or []):
            self.on_object(new)

    def startup(self) -> None:
        if self.sync_period > 0:
            self._resync = asyncio.create_task(self._full_resync(), name="resourcequota-resync")

    async def _full_resync(self) -> None:
        while True:
            await asyncio.sleep(self.sync_period)
            for quota in self.quotas.list():
                self.on_quota(quota)

    async def stop(self) -> None:
        """Stop the periodic resync (tests)."""
        if self._resync is not None:
            self._resync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resync

    # -- sync --------------------------------------------------------------------

    async def _objects(self, namespace: str, hard: Iterable[str]) \
            -> dict[tuple[str, str], list[dict[str, Any]]]:
        objects = {key: store.in_namespace(namespace) for key, store in self.stores.items()}
        for name in hard:
            info = _counted_resource(name)
            if info is None or (info.group, info.plural) in objects or self.reader is None:
                continue
            items, _ = await self.reader.list_all(info, namespace)
            objects[(info.group, info.plural)] = items
        return objects

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        quota = self.quotas.get(namespace, name)
        if quota is None:
            return
        hard = resource_list((quota.get("spec") or {}).get("hard"))
        status = quota.get("status") or {}
        counted = q.total_usage(quota, hard, await self._objects(namespace, hard),
                                self.clock())
        used: ResourceList = resource_list(status.get("used"))
        used.update(counted)
        wanted = {"hard": q.to_api(hard), "used": q.to_api(q.mask(used, hard))}
        if status.get("hard") == wanted["hard"] and status.get("used") == wanted["used"]:
            return
        await self.writer.update(RESOURCEQUOTAS, namespace, {**quota, "status": wanted},
                                 subresource="status")
        self.metrics.writes += 1


def _build(ctx: ControllerContext) -> KeyedController:
    quotas = ctx.informers.informer_for(RESOURCEQUOTAS)
    informers: dict[tuple[str, str], SharedInformer] = {
        (info.group, info.plural): ctx.informers.informer_for(info) for info in WATCHED}
    controller = ResourceQuotaController(
        quotas.store, {key: inf.store for key, inf in informers.items()}, ctx.writer,
        ctx.client, sync_period=float(ctx.args.resource_quota_sync_period))
    quotas.add_event_handler(controller.on_quota, controller.on_quota_update)
    updates = {("", "pods"): controller.on_pod_update,
               ("", "services"): controller.on_service_update}
    for key, informer in informers.items():
        informer.add_event_handler(on_update=updates.get(key), on_delete=controller.on_object)
    return controller


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrent-resource-quota-syncs", type=int, default=5,
                        help="resourcequota workers (default 5)")
    parser.add_argument("--resource-quota-sync-period", type=duration,
                        default=DEFAULT_SYNC_PERIOD,
                        help="how often every quota is recounted, as a Go duration "
                        "(default 5m)")


RESOURCEQUOTA = ControllerSpec(
    "resourcequota", _build, lambda args: int(args.concurrent_resource_quota_syncs),
    add_flags=_flags,
)
