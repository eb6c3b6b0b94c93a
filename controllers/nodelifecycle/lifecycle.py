"""The ``nodelifecycle`` controller: node health, Unknown conditions and node taints.

Every ``--node-monitor-period`` every node is synced (and any node on its own events):

1. its health record is updated from the cached Node and its Lease in
   ``kube-node-lease`` (:class:`~controllers.nodelifecycle.health.HealthTracker`);
2. once the grace period ran out, its conditions are set Unknown through ``/status``;
3. when that turned Ready from True to not True, its pods' Ready conditions are set False
   (upstream ``MarkPodsNotReady``), retried until done;
4. its taints are patched to :func:`~controllers.nodelifecycle.health.desired_taints`
   (merge patch with the node's resourceVersion, so a concurrent change is a conflict and a
   retry, never a lost update).

Upstream's zone disruption rate limiting of NoExecute tainting is not modelled: every
node is tainted as soon as its condition says so.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from apiserver.api.resources import LEASES, NODES, PODS
from controllers.client.errors import is_not_found
from controllers.client.rest import STRATEGIC_MERGE_PATCH
from controllers.client.store import DeletedFinalStateUnknown, Store
from controllers.nodelifecycle.health import (
    HealthTracker,
    desired_taints,
    ready_status,
    unknown_conditions,
)
from controllers.nodelifecycle.util import ensure_node_index, format_time, m, pods_on_node
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.events import EventRecorder
from controllers.runtime.flags import duration
from controllers.runtime.writer import Writer

__all__ = ["NODELIFECYCLE", "NodeLifecycleController"]

log = logging.getLogger(__name__)

NODE_LEASE_NAMESPACE = "kube-node-lease"


class NodeLifecycleController(KeyedController):
    """Keyed by node name; see the module docstring for what one sync does."""

    name = "nodelifecycle"

    def __init__(
        self, nodes: Store, leases: Store, pods: Store, writer: Writer, *,
        monitor_period: float = 5.0, grace_period: float = 50.0,
        startup_grace_period: float = 60.0, clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.nodes = nodes
        self.leases = leases
        self.pods = pods
        self.writer = writer
        self.monitor_period = monitor_period
        self.grace_period = grace_period
        self.startup_grace_period = startup_grace_period
        self.clock = clock
        self.health = HealthTracker()
        self.events = EventRecorder(writer, "node-controller")
        #: Nodes whose pods still have to be marked not ready.
        self.mark_pending: set[str] = set()
        #: Nodes this controller has announced (upstream's ``RegisteredNode`` Event).
        self.registered: set[str] = set()
        ensure_node_index(pods)

    def on_node(self, obj: Any) -> None:
        """Handler for node adds, updates and deletes: sync the node."""
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        if isinstance(obj, dict):
            self.queue.add(str(m(obj.get("metadata")).get("name") or ""))

    def on_node_update(self, _old: Any, new: Any) -> None:
        """Handler for node updates."""
        self.on_node(new)

    async def run(self, workers: int) -> None:
        """The workers plus the monitor loop that queues every node each period."""
        ticker = asyncio.create_task(self._monitor(), name=f"{self.name}-monitor")
        try:
            await super().run(workers)
        finally:
            ticker.cancel()

    async def _monitor(self) -> None:
        while True:
            for key in self.nodes.list_keys():
                self.queue.add(key)
            await asyncio.sleep(self.monitor_period)

    async def sync(self, key: str) -> None:
        node = self.nodes.get(None, key)
        if node is None:
            self.health.forget(key)
            self.mark_pending.discard(key)
            self.registered.discard(key)
            return
        if key not in self.registered:
            self.registered.add(key)
            await self.events.event(node, "Normal", "RegisteredNode",
                                    f"Node {key} event: Registered Node {key} in Controller")
        now = self.clock()
        record = self.health.observe(node, self.leases.get(NODE_LEASE_NAMESPACE, key), now)
        conditions = unknown_conditions(node, record, now, self.grace_period,
                                        self.startup_grace_period)
        if conditions is not None:
            before = ready_status(node)
            updated = {**node, "status": {**m(node.get("status")), "conditions": conditions}}
            node = await self.writer.update(NODES, None, updated, subresource="status")
            self.metrics.writes += 1
            log.info("node %s: status unknown (Ready was %s)", key, before)
            if before == "True":
                self.mark_pending.add(key)
                await self.events.event(node, "Normal", "NodeNotReady",
                                        f"Node {key} status is now: NodeNotReady")
        if key in self.mark_pending:
            await self.mark_pods_not_ready(key, now)
            self.mark_pending.discard(key)
        await self.update_taints(node, now)

    async def mark_pods_not_ready(self, node_name: str, now: float) -> None:
        """Set the Ready condition of every pod on ``node_name`` that is Ready to False."""
        for pod in pods_on_node(self.pods, node_name):
            conditions = [m(c) for c in m(pod.get("status")).get("conditions") or []]
            if not any(c.get("type") == "Ready" and c.get("status") == "True"
                       for c in conditions):
                continue
            md = m(pod.get("metadata"))
            patch = {"status": {"conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": format_time(now)},
            ]}}
            try:
                await self.writer.patch(PODS, str(md.get("namespace") or ""),
                                        str(md.get("name") or ""), patch,
                                        content_type=STRATEGIC_MERGE_PATCH,
                                        subresource="status")
                self.metrics.writes += 1
            except Exception as exc:
                if not is_not_found(exc):
                    raise
                continue
            await self.events.event(pod, "Warning", "NodeNotReady", "Node is not ready")

    async def update_taints(self, node: dict[str, Any], now: float) -> None:
        """Patch the node's taints to :func:`desired_taints` when they differ."""
        current = [dict(m(t)) for t in m(node.get("spec")).get("taints") or []]
        wanted = desired_taints(node, now)
        if wanted == current:
            return
        md = m(node.get("metadata"))
        patch = {"metadata": {"resourceVersion": md.get("resourceVersion")},
                 "spec": {"taints": wanted or None}}
        await self.writer.patch(NODES, None, str(md.get("name") or ""), patch)
        self.metrics.writes += 1


def _build(ctx: ControllerContext) -> KeyedController:
    nodes = ctx.informers.informer_for(NODES)
    leases = ctx.informers.informer_for(LEASES)
    pods = ctx.informers.informer_for(PODS)
    args = ctx.args
    controller = NodeLifecycleController(
        nodes.store, leases.store, pods.store, ctx.writer,
        monitor_period=args.node_monitor_period, grace_period=args.node_monitor_grace_period,
        startup_grace_period=args.node_startup_grace_period,
    )
    nodes.add_event_handler(controller.on_node, controller.on_node_update, controller.on_node)
    return controller


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--node-monitor-period", type=duration, default=5.0,
                        help="how often node health is checked (default 5s)")
    parser.add_argument("--node-monitor-grace-period", type=duration, default=50.0,
                        help="how long a node may go without a heartbeat or Lease renewal "
                        "before it is marked Unknown (default 50s)")
    parser.add_argument("--node-startup-grace-period", type=duration, default=60.0,
                        help="how long a new node may take to post its first status "
                        "(default 60s)")


NODELIFECYCLE = ControllerSpec("nodelifecycle", _build, lambda _args: 1, add_flags=_flags)
