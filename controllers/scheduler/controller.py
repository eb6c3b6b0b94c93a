"""The kube-scheduler loop for kubemu, a :class:`~controllers.runtime.controller.KeyedController`.

Watches Pods and Nodes; every pod without ``spec.nodeName`` whose ``schedulerName`` is
ours is bound through ``POST pods/{name}/binding`` to the feasible node with the fewest
pods (see :mod:`controllers.scheduler.core`). When nothing fits, the pod gets
``PodScheduled=False`` (reason ``Unschedulable``, the FailedScheduling message) through
``/status`` and a ``FailedScheduling`` Warning Event. Unschedulable pods are retried when
the cluster changes in a way that may let them fit, as upstream's scheduling queue moves
them back to the active queue: a Node added, updated or deleted; a pod bound to a node
deleted or finished (freeing its resources and host ports); a pod bound (which a waiting
pod's affinity may need); a PersistentVolumeClaim added or changed (bound, or given a
node); and every
``retry_interval`` seconds regardless. Keys are ``namespace/name`` of pods;
:meth:`Scheduler.sync` schedules one pod. Run it with one worker: one binding at a time
keeps the node accounting exact.

When nothing fits, the scheduling cycle may instead choose lower-priority pods to preempt
(:mod:`controllers.scheduler.preemption`): they get the ``DisruptionTarget`` condition,
are deleted and get a ``Preempted`` Event (:mod:`controllers.scheduler.eviction`), and the
pod is nominated to their node (``status.nominatedNodeName``, written with its
``PodScheduled=False`` condition). The victims' deletion requeues it, as any bound pod
deleted does; while they terminate, the nominated pods' requests are counted on their
nodes for pods of lower or equal priority. PodDisruptionBudgets (an informer) decide which
victims are spared first. As upstream's queue, a pod waiting as unschedulable is not
retried when only its status changes (the scheduler's own condition and nomination
writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from apiserver.api.resources import NAMESPACES, NODES, PODS, served
from controllers.client.errors import ApiError
from controllers.client.informer import SharedInformerFactory
from controllers.client.rest import STRATEGIC_MERGE_PATCH, resource_path
from controllers.client.store import (
    DeletedFinalStateUnknown,
    Obj,
    Store,
    meta_namespace_key,
    split_key,
)
from controllers.runtime.controller import KeyedController
from controllers.runtime.events import EventRecorder
from controllers.scheduler.core import DEFAULT_SCHEDULER, Decision, needs_scheduling, schedule
from controllers.scheduler.eviction import preempt
from controllers.scheduler.nodeinfo import holds_resources
from controllers.scheduler.volumes import SELECTED_NODE

__all__ = ["Scheduler"]

log = logging.getLogger("controllers.scheduler")

PERSISTENTVOLUMECLAIMS = served("", "v1", "persistentvolumeclaims")
STORAGECLASSES = served("storage.k8s.io", "v1", "storageclasses")
PERSISTENTVOLUMES = served("", "v1", "persistentvolumes")
PODDISRUPTIONBUDGETS = served("policy", "v1", "poddisruptionbudgets")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _nominated_node(pod: Mapping[str, Any]) -> str:
    return str(_m(pod.get("status")).get("nominatedNodeName") or "")


def _spec_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Upstream's ``isPodUpdated``: anything but the status, resourceVersion, generation,
    managedFields and finalizers changed."""
    def strip(pod: Mapping[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in _m(pod.get("metadata")).items() if k not in (
            "resourceVersion", "generation", "managedFields", "finalizers")}
        return {**{k: v for k, v in pod.items() if k != "status"}, "metadata": meta}
    return strip(old) != strip(new)


class _NamespaceLabels(Mapping[str, Mapping[str, str]]):
    """Namespace name → labels over the namespace cache, without copying it per cycle."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __getitem__(self, name: str) -> Mapping[str, str]:
        namespace = self.store.get(None, name)
        if namespace is None:
            raise KeyError(name)
        return _m(_m(namespace.get("metadata")).get("labels"))

    def __iter__(self) -> Iterator[str]:
        return (str(_m(ns.get("metadata")).get("name")) for ns in self.store.list())

    def __len__(self) -> int:
        return len(self.store.list())


class Scheduler(KeyedController):
    """Binds the pods of ``scheduler_name``; one queue of pod keys.

    ``writer`` makes every write (``request`` for the binding, ``patch``, ``create``):
    the runtime's leader-guarded writer, or a ``RestClient``.
    """

    name = "scheduler"

    def __init__(self, writer: Any, factory: SharedInformerFactory,
                 scheduler_name: str = DEFAULT_SCHEDULER, retry_interval: float = 30.0) -> None:
        super().__init__()
        self.writer = writer
        self.scheduler_name = scheduler_name
        self.retry_interval = retry_interval
        self.pods = factory.informer_for(PODS)
        self.nodes = factory.informer_for(NODES)
        #: For pod affinity's ``namespaceSelector``.
        self.namespaces = factory.informer_for(NAMESPACES)
        #: Their labels by name, read from the cache only when a selector asks.
        self._namespace_labels = _NamespaceLabels(self.namespaces.store)
        #: For VolumeBinding's check that a pod's claims exist; a new claim may let a
        #: waiting pod go.
        self.claims = factory.informer_for(PERSISTENTVOLUMECLAIMS)
        #: Their classes' ``volumeBindingMode``, and their volumes' node affinity.
        self.classes = factory.informer_for(STORAGECLASSES)
        self.volumes = factory.informer_for(PERSISTENTVOLUMES)
        #: For preemption: victims violating a budget are spared first.
        self.pdbs = factory.informer_for(PODDISRUPTIONBUDGETS)
        self.claims.add_event_handler(lambda _c: self._requeue_all(),
                                      lambda _o, _n: self._requeue_all(), lambda _c: None)
        #: Pods bound by us that the informer has not shown bound yet: key → node.
        self.assumed: dict[str, str] = {}
        #: The pods waiting because they fit nowhere: key → their last FailedScheduling
        #: Event (message, monotonic time). A change that may make room requeues these.
        self._reported: dict[str, tuple[str, float]] = {}
        self._retry: asyncio.Task[None] | None = None
        #: Pods waiting for their WaitForFirstConsumer claims to be bound.
        self._volume_waiting: set[str] = set()
        #: The nominations we wrote (key → node, "" when cleared) that the informer may
        #: not show yet; dropped once it does, or the pod is bound or gone.
        self.nominations: dict[str, str] = {}
        self.host = socket.gethostname()
        self.events = EventRecorder(writer, scheduler_name, host=self.host,
                                    instance=f"{scheduler_name}-{self.host}")
        self.pods.add_event_handler(self._on_pod, self._on_pod_update, self._on_pod_delete)
        self.nodes.add_event_handler(self._on_node, lambda _o, _n: self._requeue_all(),
                                     lambda _n: self._requeue_all())

    # -- events ------------------------------------------------------------------------

    def _on_pod(self, pod: Obj, requeue: bool = True) -> None:
        key = meta_namespace_key(pod)
        if needs_scheduling(pod, self.scheduler_name):
            if self.nominations.get(key) == _nominated_node(pod):
                del self.nominations[key]  # the informer shows our write now
            if requeue:
                self.queue.add(key)
        else:
            self.assumed.pop(key, None)
            self._reported.pop(key, None)
            self._volume_waiting.discard(key)
            self.nominations.pop(key, None)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        # A waiting pod whose status alone changed (our condition or nomination) would
        # fail the same way: upstream's queue leaves it where it is.
        waiting = meta_namespace_key(new) in self._reported
        self._on_pod(new, requeue=not waiting or _spec_changed(old, new))
        if holds_resources(old) != holds_resources(new):
            # A bound pod finished: upstream's scheduler stops tracking terminal pods, an
            # AssignedPodDelete event that moves unschedulable pods back to the queue. Or
            # a pod was bound (AssignedPodAdd): a waiting pod's affinity may hold now.
            self._requeue_all()

    def _on_pod_delete(self, pod: Obj | DeletedFinalStateUnknown) -> None:
        key = meta_namespace_key(pod)
        node = self.assumed.pop(key, None)
        self._reported.pop(key, None)
        self._volume_waiting.discard(key)
        self.nominations.pop(key, None)
        last = pod.obj if isinstance(pod, DeletedFinalStateUnknown) else pod
        if node or (isinstance(last, Mapping) and holds_resources(last)):
            # Its resources and host ports are free now.
            self._requeue_all()

    def _on_node(self, _node: Obj) -> None:
        self._requeue_all()

    def _requeue_all(self) -> None:
        """Try every waiting pod again (the others are in the queue already, or bound)."""
        for key in [*self._reported, *self._volume_waiting]:
            self.queue.add(key)

    # -- work --------------------------------------------------------------------------

    def startup(self) -> None:
        """Start the periodic retry of every pod still waiting (every ``retry_interval``)."""
        self._retry = asyncio.create_task(self._periodic(), name="scheduler-retry")

    async def run(self, workers: int = 1) -> None:
        """The workers (see :meth:`KeyedController.run`) and the periodic retry, until
        cancelled."""
        try:
            await super().run(workers)
        finally:
            if self._retry is not None:
                self._retry.cancel()

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval)
            self._requeue_all()

    def _assumed(self) -> list[tuple[Obj, str]]:
        """``(pod, node)`` of our bindings the informer has not shown yet; forget the
        others (observed bound, or gone)."""
        out: list[tuple[Obj, str]] = []
        for key, node in list(self.assumed.items()):
            pod = self.pods.store.get_by_key(key)
            if pod is None or _m(pod.get("spec")).get("nodeName"):
                del self.assumed[key]
            else:
                out.append((pod, node))
        return out

    def _nominated(self) -> list[tuple[Obj, str]]:
        """``(pod, node)`` of our unbound pods nominated to a node (upstream's nominator):
        the informer's ``status.nominatedNodeName`` unless we wrote another since."""
        out: list[tuple[Obj, str]] = []
        for pod in self.pods.store.list():
            if not (self.nominations or _nominated_node(pod)):
                continue  # the common case, cheaply: nothing nominated
            key = meta_namespace_key(pod)
            node = self.nominations.get(key, _nominated_node(pod))
            if node and key not in self.assumed and needs_scheduling(pod, self.scheduler_name):
                out.append((pod, node))
        return out

    async def sync(self, key: str) -> None:
        """Schedule one pod (if it still needs it)."""
        pod = self.pods.store.get_by_key(key)
        if pod is None or not needs_scheduling(pod, self.scheduler_name) or key in self.assumed:
            return
        decision = schedule(pod, self.nodes.store.list(), self.pods.store.list(),
                            self._assumed(), self._namespace_labels, self.claims.store.get,
                            self._binding_mode, lambda name: self.volumes.store.get(None, name),
                            self._nominated(), self.pdbs.store.list())
        namespace, name = split_key(key)
        if decision.waiting:
            self._volume_waiting.add(key)  # its claims' binding requeues it
            return
        self._volume_waiting.discard(key)
        if decision.node is None:
            await self._preempt(pod, decision)
            await self._unschedulable(pod, namespace, name, decision)
            return
        if decision.select:
            await self._select_node(decision.select, decision.node)
            self._volume_waiting.add(key)
            return
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": name, "namespace": namespace,
                                "uid": _m(pod.get("metadata")).get("uid")},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": decision.node}}
        try:
            await self.writer.request(
                "POST", resource_path(PODS, namespace, name, "binding"), body=binding)
        except ApiError as exc:
            if exc.code in (404, 409):
                log.info("not binding %s: %s", key, exc)
                return
            raise
        self.metrics.writes += 1
        self.assumed[key] = decision.node
        self._reported.pop(key, None)
        log.info("bound %s to %s", key, decision.node)
        await self._event(pod, "Normal", "Scheduled",
                          f"Successfully assigned {namespace}/{name} to {decision.node}")

    def _binding_mode(self, class_name: str) -> str:
        found = self.classes.store.get(None, class_name)
        return str(_m(found).get("volumeBindingMode") or "Immediate")

    async def _select_node(self, claims: tuple[tuple[str, str], ...], node: str) -> None:
        """Give ``WaitForFirstConsumer`` claims the node chosen for their pod (upstream's
        VolumeBinding PreBind); the pod is bound once their volumes are."""
        for namespace, claim in claims:
            with contextlib.suppress(ApiError):
                await self.writer.patch(PERSISTENTVOLUMECLAIMS, namespace, claim, {
                    "metadata": {"annotations": {SELECTED_NODE: node}}})
                self.metrics.writes += 1

    async def _preempt(self, pod: Obj, decision: Decision) -> None:
        """Evict the victims the cycle chose; the pods whose nomination to that node is
        cleared are tried again at once (they may fit elsewhere)."""
        preemption = decision.preemption
        if preemption is None or preemption.candidate is None:
            return
        self.metrics.writes += await preempt(self.writer, self.events, pod, preemption)
        for other in preemption.lower_nominated:
            key = meta_namespace_key(other)
            self.nominations[key] = ""
            self.queue.add(key)

    async def _unschedulable(self, pod: Obj, namespace: str, name: str,
                             decision: Decision) -> None:
        """Record the failure: ``PodScheduled=False`` and the new nomination, if any, in
        one status patch (upstream's ``updatePod``), and the FailedScheduling Event."""
        key = f"{namespace}/{name}"
        message = decision.message
        last = self._reported.get(key)
        report = last is None or last[0] != message or time.monotonic() - last[1] >= 60.0
        if report:
            # Before the status write: its watch event must find the pod waiting (and
            # not requeue it, see _on_pod_update).
            self._reported[key] = (message, time.monotonic())
        nominate = decision.preemption.nominate if decision.preemption else None
        known = self.nominations.get(key, _nominated_node(pod))
        status: dict[str, Any] = {}
        if nominate is not None and nominate != known:
            status["nominatedNodeName"] = nominate or None
        current = next((c for c in _m(pod.get("status")).get("conditions") or []
                        if _m(c).get("type") == "PodScheduled"), None)
        if not (current and current.get("status") == "False"
                and current.get("message") == message):
            condition = {"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                         "lastTransitionTime": _now(), "reason": "Unschedulable",
                         "message": message}
            if current and current.get("status") == "False":
                condition["lastTransitionTime"] = current.get("lastTransitionTime")
            status["conditions"] = [condition]
        if "nominatedNodeName" in status:
            # Before the write, so that its watch event finds it (and drops it).
            self.nominations[key] = nominate or ""
        if status:
            try:
                await self.writer.patch(PODS, namespace, name, {"status": status},
                                        content_type=STRATEGIC_MERGE_PATCH, subresource="status")
            except ApiError as exc:
                log.info("could not record the failure of %s: %s", key, exc)
                self.nominations.pop(key, None)
        if report:
            log.info("cannot schedule %s: %s", key, message)
            await self._event(pod, "Warning", "FailedScheduling", message)

    async def _event(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        await self.events.event(pod, type_, reason, message,
                                action="Binding" if reason == "Scheduled" else "Scheduling")
