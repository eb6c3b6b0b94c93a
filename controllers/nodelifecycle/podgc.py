"""The ``pod-garbage-collector``: force-deletes pods nobody else will clean up.

Every ``gc_period`` (20 s, upstream ``gcCheckPeriod``) one pass, in upstream's order:

1. terminated pods (phase Succeeded or Failed) beyond ``--terminated-pod-gc-threshold``
   (0 turns this off) are deleted, evicted pods first, then oldest first;
2. orphaned pods — bound to a node the cache does not have — are deleted once the node has
   been missing for ``quarantine`` seconds (40 s upstream) *and* a GET confirms it is gone;
   a pod not yet terminal is first marked Failed with a ``DisruptionTarget`` condition
   (reason ``DeletionByPodGC``);
3. unscheduled pods that are terminating are deleted.

Every deletion is a force delete (grace period 0) with a uid precondition. Pods on
out-of-service nodes (``node.kubernetes.io/out-of-service``) are not collected.

:meth:`PodGC.choose` makes the decisions from the caches alone; :meth:`PodGC.gc` acts.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from apiserver.api.resources import NODES, PODS
from controllers.client.errors import is_not_found
from controllers.client.rest import STRATEGIC_MERGE_PATCH, RestClient
from controllers.client.store import Store, meta_namespace_key, split_key
from controllers.nodelifecycle.util import format_time, m, parse_time
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.writer import Writer

__all__ = ["PODGC", "Choice", "PodGC"]

log = logging.getLogger(__name__)


def _terminated(pod: dict[str, Any]) -> bool:
    return m(pod.get("status")).get("phase") in ("Succeeded", "Failed")


def _evicted(pod: dict[str, Any]) -> bool:
    status = m(pod.get("status"))
    return status.get("phase") == "Failed" and status.get("reason") == "Evicted"


@dataclass
class Choice:
    """One pass's decisions: pod keys to delete, and orphans waiting for confirmation."""

    terminated: list[str] = field(default_factory=list)
    orphaned: dict[str, str] = field(default_factory=dict)
    unscheduled: list[str] = field(default_factory=list)


class PodGC(KeyedController):
    """Pod garbage collection; its queue holds the pod keys chosen for deletion."""

    name = "pod-garbage-collector"

    def __init__(
        self, nodes: Store, pods: Store, writer: Writer,
        node_exists: Callable[[str], Awaitable[bool]], *, threshold: int = 12500,
        gc_period: float = 20.0, quarantine: float = 40.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.nodes = nodes
        self.pods = pods
        self.writer = writer
        self.node_exists = node_exists
        self.threshold = threshold
        self.gc_period = gc_period
        self.quarantine = quarantine
        self.clock = clock
        #: Node name → when the controller first missed it.
        self.missing_since: dict[str, float] = {}
        #: Pod key → the condition reason to mark it Failed with before deleting.
        self.reasons: dict[str, str] = {}

    def choose(self) -> Choice:
        """The pass's decisions from the caches (updates the missing-node quarantine)."""
        now = self.clock()
        choice = Choice()
        pods = self.pods.list()
        if self.threshold > 0:
            terminated = [p for p in pods if _terminated(p)]
            excess = len(terminated) - self.threshold
            if excess > 0:
                terminated.sort(key=lambda p: (
                    not _evicted(p),
                    parse_time(m(p.get("metadata")).get("creationTimestamp")) or 0.0,
                    meta_namespace_key(p)))
                choice.terminated = [meta_namespace_key(p) for p in terminated[:excess]]
        known = set(self.nodes.list_keys())
        missing: set[str] = set()
        for pod in pods:
            node = str(m(pod.get("spec")).get("nodeName") or "")
            if node and node not in known:
                missing.add(node)
                since = self.missing_since.setdefault(node, now)
                if now - since >= self.quarantine:
                    choice.orphaned[meta_namespace_key(pod)] = node
            elif not node and m(pod.get("metadata")).get("deletionTimestamp"):
                choice.unscheduled.append(meta_namespace_key(pod))
        for node in set(self.missing_since) - missing:
            del self.missing_since[node]
        return choice

    async def gc(self) -> None:
        """One pass: queue the chosen pods (orphans only once their node's absence is
        confirmed by the apiserver)."""
        choice = self.choose()
        for key in choice.terminated:
            self.queue.add(key)
        confirmed: dict[str, bool] = {}
        for key, node in choice.orphaned.items():
            if node not in confirmed:
                confirmed[node] = not await self.node_exists(node)
            if confirmed[node]:
                self.reasons[key] = "PodGC: node no longer exists"
                self.queue.add(key)
        for key in choice.unscheduled:
            self.queue.add(key)

    async def run(self, workers: int) -> None:
        """The workers plus the periodic pass."""
        ticker = asyncio.create_task(self._loop(), name=f"{self.name}-loop")
        try:
            await super().run(workers)
        finally:
            ticker.cancel()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.gc_period)
            try:
                await self.gc()
            except Exception as exc:
                log.warning("pod gc pass failed: %s", exc)

    async def sync(self, key: str) -> None:
        pod = self.pods.get_by_key(key)
        message = self.reasons.pop(key, None)
        if pod is None:
            return
        namespace, name = split_key(key)
        uid = str(m(pod.get("metadata")).get("uid") or "")
        try:
            if message is not None and not _terminated(pod):
                condition = {"type": "DisruptionTarget", "status": "True",
                             "reason": "DeletionByPodGC", "message": message,
                             "lastTransitionTime": format_time(self.clock())}
                await self.writer.patch(
                    PODS, namespace, name,
                    {"status": {"phase": "Failed", "conditions": [condition]}},
                    content_type=STRATEGIC_MERGE_PATCH, subresource="status")
            log.info("garbage collecting pod %s", key)
            await self.writer.delete(PODS, namespace, name, grace_period_seconds=0,
                                     preconditions={"uid": uid} if uid else None)
            self.metrics.writes += 1
        except Exception as exc:
            if not is_not_found(exc):
                raise


def _build(ctx: ControllerContext) -> KeyedController:
    nodes = ctx.informers.informer_for(NODES)
    pods = ctx.informers.informer_for(PODS)
    client: RestClient = ctx.client

    async def node_exists(name: str) -> bool:
        try:
            await client.get(NODES, None, name)
        except Exception as exc:
            if is_not_found(exc):
                return False
            raise
        return True

    return PodGC(nodes.store, pods.store, ctx.writer, node_exists,
                 threshold=int(ctx.args.terminated_pod_gc_threshold))


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--terminated-pod-gc-threshold", type=int, default=12500,
                        help="terminated pods that may exist before the pod garbage "
                        "collector deletes the oldest (0: never; default 12500)")


PODGC = ControllerSpec("pod-garbage-collector", _build, lambda _args: 5, add_flags=_flags)
