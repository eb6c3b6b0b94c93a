"""The ``replicaset`` and ``replicationcontroller`` controllers (upstream ``replica_set.go``).

One :class:`ReplicaSetController` serves both kinds; a :class:`Kind` says which resource it
owns and how to read its selector (a ``metav1.LabelSelector`` for ReplicaSets, a plain map for
ReplicationControllers). A sync of ``namespace/name``:

1. claims the namespace's active pods (not terminal, not terminating): adopts orphans the
   selector matches, releases owned pods it no longer matches (:mod:`.claim`);
2. when the owner's :class:`~controllers.workloads.expectations.Expectations` are satisfied,
   creates ``replicas - active`` pods in slow-start batches or deletes the surplus, ranked as
   upstream, at most ``burst_replicas`` per sync;
3. writes ``status`` (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
   observedGeneration, the ``ReplicaFailure`` condition) through ``/status`` when it changed.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apiserver.api.labels import (
    LabelSelector,
    SelectorError,
    selector_from_label_selector_object,
    selector_from_set,
)
from apiserver.api.resources import PODS, ResourceInfo, served
from controllers.client.errors import ApiError, is_not_found
from controllers.client.store import DeletedFinalStateUnknown, Store, split_key
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.events import EventRecorder
from controllers.runtime.writer import Writer
from controllers.workloads.claim import claim_pods
from controllers.workloads.expectations import Expectations
from controllers.workloads.pods import (
    controller_ref,
    is_active,
    is_available,
    is_ready,
    pod_from_template,
    pod_key,
    pods_to_delete,
    slow_start_batch,
)
from controllers.workloads.status import compute_status, status_changed

__all__ = ["BURST_REPLICAS", "RC_KIND", "REPLICASET", "REPLICATIONCONTROLLER", "RS_KIND",
           "Kind", "ReplicaSetController"]

#: Upstream ``BurstReplicas``: creations or deletions per sync.
BURST_REPLICAS = 500

Obj = dict[str, Any]


def _rs_selector(owner: Mapping[str, Any]) -> LabelSelector:
    return selector_from_label_selector_object((owner.get("spec") or {}).get("selector"))


def _rc_selector(owner: Mapping[str, Any]) -> LabelSelector:
    selector = (owner.get("spec") or {}).get("selector")
    return selector_from_set(selector) if selector else LabelSelector.nothing()


@dataclass(frozen=True)
class Kind:
    """The owner resource a :class:`ReplicaSetController` manages."""

    name: str
    info: ResourceInfo
    kind: str
    api_version: str
    selector: Callable[[Mapping[str, Any]], LabelSelector]
    #: The Events' source component, as upstream's controller names itself.
    component: str


RS_KIND = Kind("replicaset", served("apps", "v1", "replicasets"), "ReplicaSet", "apps/v1",
               _rs_selector, "replicaset-controller")
RC_KIND = Kind("replicationcontroller", served("", "v1", "replicationcontrollers"),
               "ReplicationController", "v1", _rc_selector, "replication-controller")


def _md(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    md = obj.get("metadata")
    return md if isinstance(md, Mapping) else {}


class ReplicaSetController(KeyedController):
    """Keeps ``spec.replicas`` pods of each owner of :attr:`kind` running."""

    def __init__(self, kind: Kind, owners: Store, pods: Store, writer: Writer,
                 reader: Any = None, *, burst_replicas: int = BURST_REPLICAS,
                 expectations: Expectations | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.name = kind.name
        super().__init__()
        self.kind = kind
        self.owners = owners
        self.pods = pods
        self.writer = writer
        self.reader = reader
        self.burst_replicas = burst_replicas
        self.expectations = expectations or Expectations()
        self.now = now
        self.events = EventRecorder(writer, kind.component)

    # --- event handlers -------------------------------------------------------------

    def enqueue(self, owner: Mapping[str, Any]) -> None:
        """Queue the owner's key."""
        self.queue.add(f"{_md(owner).get('namespace', '')}/{_md(owner).get('name', '')}")

    def on_owner_add(self, owner: Obj) -> None:
        """Owner added."""
        self.enqueue(owner)

    def on_owner_update(self, _old: Obj, new: Obj) -> None:
        """Owner changed (scale, template, status)."""
        self.enqueue(new)

    def on_owner_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        """Owner deleted: its expectations go; its pods are the garbage collector's."""
        owner = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        key = f"{_md(owner).get('namespace', '')}/{_md(owner).get('name', '')}"
        self.expectations.forget(key)
        self.queue.add(key)

    def resolve(self, namespace: str, ref: Mapping[str, Any] | None) -> Obj | None:
        """The owner ``ref`` names, if it is of our kind and still the same object."""
        if ref is None or ref.get("kind") != self.kind.kind:
            return None
        if str(ref.get("apiVersion", "")).split("/")[0] != self.kind.api_version.split("/")[0]:
            return None
        owner = self.owners.get(namespace, str(ref.get("name", "")))
        if owner is None or _md(owner).get("uid") != ref.get("uid"):
            return None
        return owner

    def matching_owners(self, pod: Mapping[str, Any]) -> list[Obj]:
        """Owners in the pod's namespace whose (non-empty) selector matches its labels."""
        labels = _md(pod).get("labels") or {}
        found = []
        for owner in self.owners.in_namespace(str(_md(pod).get("namespace", ""))):
            try:
                selector = self.kind.selector(owner)
            except SelectorError:
                continue
            if not selector.empty and selector.matches(labels):
                found.append(owner)
        return found

    def on_pod_add(self, pod: Obj) -> None:
        """A pod appeared: one expected creation of its owner happened."""
        if _md(pod).get("deletionTimestamp"):
            self.on_pod_delete(pod)
            return
        ns = str(_md(pod).get("namespace", ""))
        ref = controller_ref(pod)
        if ref is not None:
            owner = self.resolve(ns, ref)
            if owner is not None:
                self.expectations.creation_observed(f"{ns}/{_md(owner).get('name')}")
                self.enqueue(owner)
            return
        for owner in self.matching_owners(pod):
            self.enqueue(owner)

    def on_pod_update(self, old: Obj, new: Obj) -> None:
        """A pod changed: its owners (old and new) and, for orphans, every matching owner."""
        if _md(old).get("resourceVersion") == _md(new).get("resourceVersion"):
            return
        labels_changed = _md(old).get("labels") != _md(new).get("labels")
        if _md(new).get("deletionTimestamp"):
            self.on_pod_delete(new)
            if labels_changed:
                self.on_pod_delete(old)
            return
        ns = str(_md(new).get("namespace", ""))
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        ref_changed = old_ref != new_ref
        if ref_changed and old_ref is not None:
            previous = self.resolve(ns, old_ref)
            if previous is not None:
                self.enqueue(previous)
        if new_ref is not None:
            owner = self.resolve(ns, new_ref)
            if owner is None:
                return
            self.enqueue(owner)
            min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not is_ready(old) and is_ready(new):
                key = f"{ns}/{_md(owner).get('name')}"
                self.queue.add_after(key, min_ready + 1.0)
            return
        if labels_changed or ref_changed:
            for owner in self.matching_owners(new):
                self.enqueue(owner)

    def on_pod_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        """A pod went (or started terminating): one expected deletion of its owner happened."""
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        ns = str(_md(pod).get("namespace", ""))
        owner = self.resolve(ns, controller_ref(pod))
        if owner is None:
            return
        key = f"{ns}/{_md(owner).get('name')}"
        self.expectations.deletion_observed(key, pod_key(pod))
        self.queue.add(key)

    # --- sync -----------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        owner = self.owners.get(namespace, name)
        if owner is None:
            self.expectations.forget(key)
            return
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = self.kind.selector(owner)
        except SelectorError:
            return
        candidates = [p for p in self.pods.in_namespace(namespace) if is_active(p)]
        pods = await claim_pods(self.kind.info, owner, selector, candidates, self.writer,
                                self.reader)
        manage_err: BaseException | None = None
        diff = 0
        if needs_sync and not _md(owner).get("deletionTimestamp"):
            diff = len(pods) - int((owner.get("spec") or {}).get("replicas", 1))
            try:
                await self.manage(key, owner, pods, diff)
            except Exception as exc:  # reported in status, then retried
                manage_err = exc
        await self.write_status(owner, pods, manage_err, diff)
        if manage_err is not None:
            raise manage_err
        self.requeue_for_availability(key, owner, pods)

    async def manage(self, key: str, owner: Obj, pods: list[Obj], diff: int) -> None:
        """Create ``-diff`` pods or delete ``diff`` of ``pods`` (at most the burst)."""
        if diff < 0:
            count = min(-diff, self.burst_replicas)
            self.expectations.expect_creations(key, count)
            template = (owner.get("spec") or {}).get("template") or {}
            namespace = str(_md(owner).get("namespace", ""))

            async def create() -> None:
                try:
                    pod = await self.writer.create(PODS, namespace,
                                                   pod_from_template(owner, template))
                    self.metrics.writes += 1
                except ApiError as exc:
                    if exc.has_cause("NamespaceTerminating"):
                        return
                    await self.events.event(owner, "Warning", "FailedCreate",
                                            f"Error creating: {exc.message}")
                    raise
                await self.events.event(owner, "Normal", "SuccessfulCreate",
                                        f"Created pod: {_md(pod).get('name')}")

            done, err = await slow_start_batch(count, 1, create)
            for _ in range(count - done):
                self.expectations.creation_observed(key)
            if err is not None:
                raise err
        elif diff > 0:
            count = min(diff, self.burst_replicas)
            victims = pods_to_delete(pods, pods, count, self.now())
            self.expectations.expect_deletions(key, [pod_key(p) for p in victims])
            results = await asyncio.gather(*(self._delete(key, owner, p) for p in victims),
                                           return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                raise errors[0]

    async def _delete(self, key: str, owner: Obj, pod: Mapping[str, Any]) -> None:
        md = _md(pod)
        try:
            await self.writer.delete(PODS, str(md.get("namespace")), str(md.get("name")))
            self.metrics.writes += 1
        except Exception as exc:
            self.expectations.deletion_observed(key, pod_key(pod))
            if not is_not_found(exc):
                await self.events.event(owner, "Warning", "FailedDelete",
                                        f"Error deleting: {getattr(exc, 'message', exc)}")
                raise
            return
        await self.events.event(owner, "Normal", "SuccessfulDelete",
                                f"Deleted pod: {md.get('name')}")

    async def write_status(self, owner: Obj, pods: list[Obj],
                           manage_err: BaseException | None, diff: int) -> None:
        """PUT ``/status`` when the computed status differs from the stored one."""
        new = compute_status(owner, pods, manage_err, diff, self.now())
        if not status_changed(owner.get("status") or {}, new):
            return
        updated = dict(owner)
        updated["status"] = new
        await self.writer.update(self.kind.info, str(_md(owner).get("namespace")), updated,
                                 subresource="status")
        self.metrics.writes += 1

    def requeue_for_availability(self, key: str, owner: Obj, pods: list[Obj]) -> None:
        """With ``minReadySeconds``, look again once ready pods may have become available."""
        spec = owner.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        if min_ready <= 0:
            return
        now = self.now()
        ready = sum(1 for p in pods if is_ready(p))
        available = sum(1 for p in pods if is_available(p, min_ready, now))
        if ready == int(spec.get("replicas", 1)) and available != ready:
            self.queue.add_after(key, float(min_ready))


def _builder(kind: Kind, burst: int = BURST_REPLICAS) -> Callable[[ControllerContext],
                                                                   KeyedController]:
    def build(ctx: ControllerContext) -> KeyedController:
        owners = ctx.informers.informer_for(kind.info)
        pods = ctx.informers.informer_for(PODS)
        controller = ReplicaSetController(kind, owners.store, pods.store, ctx.writer,
                                          ctx.client, burst_replicas=burst)
        owners.add_event_handler(controller.on_owner_add, controller.on_owner_update,
                                 controller.on_owner_delete)
        pods.add_event_handler(controller.on_pod_add, controller.on_pod_update,
                               controller.on_pod_delete)
        return controller
    return build


def _rs_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrent-replicaset-syncs", type=int, default=5,
                        help="replicaset workers (default 5)")


def _rc_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrent-rc-syncs", type=int, default=5,
                        help="replicationcontroller workers (default 5)")


REPLICASET = ControllerSpec("replicaset", _builder(RS_KIND),
                            lambda args: int(args.concurrent_replicaset_syncs),
                            add_flags=_rs_flags)
REPLICATIONCONTROLLER = ControllerSpec("replicationcontroller", _builder(RC_KIND),
                                       lambda args: int(args.concurrent_rc_syncs),
                                       add_flags=_rc_flags)
