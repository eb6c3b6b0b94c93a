"""The ``taint-eviction-controller``: deletes pods from nodes with NoExecute taints.

Keyed by pod (``namespace/name``). A sync looks at the pod's node's NoExecute taints
(:func:`~controllers.nodelifecycle.util.min_toleration_seconds`):

* no such taints, or all tolerated without ``tolerationSeconds`` → any pending eviction
  is cancelled;
* a taint the pod does not tolerate → the pod is evicted now;
* all tolerated, the shortest ``tolerationSeconds`` being *s* → the pod is evicted *s*
  seconds after the controller first saw it under the taints (a timer re-queues the pod
  then); the timer goes when the taints go or the pod does.

Evicting, as upstream 1.33: a ``DisruptionTarget`` condition (reason
``DeletionByTaintManager``) is patched into the pod's status, then the pod is deleted with
its own grace period (a uid precondition guards against a namesake). A pod on a dead node
therefore stays Terminating until something force-deletes it (pod GC or a person).
Terminating and unbound pods are left alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from apiserver.api.resources import NODES, PODS
from controllers.client.errors import is_not_found
from controllers.client.rest import STRATEGIC_MERGE_PATCH
from controllers.client.store import (
    DeletedFinalStateUnknown,
    Store,
    meta_namespace_key,
    split_key,
)
from controllers.nodelifecycle.util import (
    ensure_node_index,
    format_time,
    m,
    min_toleration_seconds,
    no_execute_taints,
    pods_on_node,
)
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.events import EventRecorder
from controllers.runtime.writer import Writer

__all__ = ["TAINT_EVICTION", "TaintEvictionController"]

log = logging.getLogger(__name__)


class TaintEvictionController(KeyedController):
    """Evicts pods from NoExecute-tainted nodes; see the module docstring."""

    name = "taint-eviction-controller"

    def __init__(
        self, nodes: Store, pods: Store, writer: Writer, *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.nodes = nodes
        self.pods = pods
        self.writer = writer
        self.events = EventRecorder(writer, "taint-eviction-controller")
        self.clock = clock
        #: Pod key → when the controller first saw it under tolerated NoExecute taints.
        self.started: dict[str, float] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        ensure_node_index(pods)

    # -- event handlers ------------------------------------------------------------

    def on_pod(self, obj: Any) -> None:
        """Handler for pod adds and deletes."""
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        if isinstance(obj, dict):
            self.queue.add(meta_namespace_key(obj))

    def on_pod_update(self, _old: Any, new: Any) -> None:
        """Handler for pod updates."""
        self.on_pod(new)

    def on_node_update(self, old: Any, new: Any) -> None:
        """A node whose NoExecute taints changed: sync every pod on it."""
        if no_execute_taints(m(old)) != no_execute_taints(m(new)):
            self.on_node(new)

    def on_node(self, obj: Any) -> None:
        """Handler for node adds and deletes: sync every pod on the node."""
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        if isinstance(obj, dict):
            name = str(m(obj.get("metadata")).get("name") or "")
            for pod in pods_on_node(self.pods, name):
                self.queue.add(meta_namespace_key(pod))

    # -- decisions -------------------------------------------------------------------

    def due(self, key: str) -> float | None:
        """When the pod ``key`` is to be evicted (seconds since the epoch; now or earlier
        means at once), None when it is not. Starts or cancels the pod's clock."""
        pod = self.pods.get_by_key(key)
        md = m(pod.get("metadata")) if pod else {}
        node_name = m(pod.get("spec")).get("nodeName") if pod else None
        if pod is None or md.get("deletionTimestamp") or not node_name:
            self.cancel(key)
            return None
        taints = no_execute_taints(self.nodes.get(None, str(node_name)))
        if not taints:
            self.cancel(key)
            return None
        seconds = min_toleration_seconds(pod, taints)
        now = self.clock()
        if seconds is False:
            self.cancel(key)
            return now
        if seconds is None:
            self.cancel(key)
            return None
        start = self.started.setdefault(key, now)
        return start + float(seconds)

    def cancel(self, key: str) -> None:
        """Forget the pod's eviction clock and timer."""
        self.started.pop(key, None)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _schedule(self, key: str, delay: float) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(max(0.0, delay), self.queue.add, key)

    async def sync(self, key: str) -> None:
        when = self.due(key)
        if when is None:
            return
        now = self.clock()
        if when > now:
            self._schedule(key, when - now)
            return
        self.cancel(key)
        await self.evict(key, now)

    async def evict(self, key: str, now: float) -> None:
        """Mark the pod ``DisruptionTarget`` and delete it (gone already: done)."""
        namespace, name = split_key(key)
        pod = self.pods.get_by_key(key) or {}
        uid = str(m(pod.get("metadata")).get("uid") or "")
        log.info("evicting pod %s: NoExecute taint on node %s", key,
                 m(pod.get("spec")).get("nodeName"))
        condition = {"type": "DisruptionTarget", "status": "True",
                     "reason": "DeletionByTaintManager",
                     "message": "Taint manager: deleting due to NoExecute taint",
                     "lastTransitionTime": format_time(now)}
        if pod:
            await self.events.event(pod, "Normal", "TaintManagerEviction",
                                    f"Marking for deletion Pod {namespace}/{name}")
        try:
            await self.writer.patch(PODS, namespace, name,
                                    {"status": {"conditions": [condition]}},
                                    content_type=STRATEGIC_MERGE_PATCH, subresource="status")
            await self.writer.delete(PODS, namespace, name,
                                     preconditions={"uid": uid} if uid else None)
            self.metrics.writes += 2
        except Exception as exc:
            if not is_not_found(exc):
                raise


def _build(ctx: ControllerContext) -> KeyedController:
    nodes = ctx.informers.informer_for(NODES)
    pods = ctx.informers.informer_for(PODS)
    controller = TaintEvictionController(nodes.store, pods.store, ctx.writer)
    pods.add_event_handler(controller.on_pod, controller.on_pod_update, controller.on_pod)
    nodes.add_event_handler(controller.on_node, controller.on_node_update, controller.on_node)
    return controller


TAINT_EVICTION = ControllerSpec("taint-eviction-controller", _build, lambda _args: 8)
