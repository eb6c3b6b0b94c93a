"""The daemonset controller's sync: revisions, one pod per eligible node, rolling updates,
status.

Keyed by ``namespace/name``. Each sync (level-triggered, from the caches):

1. makes sure a ControllerRevision exists for the current template (the newest number);
2. unless writes of an earlier sync are still unseen in the caches, places pods: a node
   that should run the pod and has none gets one, failed pods are replaced, extra pods
   and pods on nodes they must leave (untolerated ``NoExecute``, no longer selected) are
   deleted; when nothing was placed, runs one step of the RollingUpdate strategy;
3. writes ``status`` when it changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from apiserver.api.resources import PODS, served
from controllers.client.errors import is_already_exists, is_not_found
from controllers.client.store import DeletedFinalStateUnknown, Store
from controllers.daemonset.history import (
    GENERATION_LABEL,
    HASH_LABEL,
    controller_ref,
    new_revision,
    owned_by,
    revision_data,
)
from controllers.daemonset.placement import pod_for_node, should_run
from controllers.daemonset.pods import is_available, is_ready, is_terminating
from controllers.daemonset.rolling import plan_rolling_update, strategy_limits
from controllers.runtime.controller import KeyedController
from controllers.runtime.events import EventRecorder
from controllers.runtime.writer import Writer

__all__ = ["CONTROLLERREVISIONS", "DAEMONSETS", "DaemonSetsController"]

log = logging.getLogger(__name__)

DAEMONSETS = served("apps", "v1", "daemonsets")
CONTROLLERREVISIONS = served("apps", "v1", "controllerrevisions")
#: How long unseen writes hold placement back (upstream ``ExpectationsTimeout``).
EXPECTATIONS_TIMEOUT = 300.0

Obj = Mapping[str, Any]


def _created(pod: Obj) -> tuple[str, str]:
    md = pod.get("metadata", {})
    return str(md.get("creationTimestamp") or ""), str(md.get("name") or "")


class DaemonSetsController(KeyedController):
    """Keeps one pod of each DaemonSet on every node it should run on."""

    name = "daemonset"

    def __init__(self, daemonsets: Store, pods: Store, nodes: Store, revisions: Store,
                 writer: Writer, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.daemonsets, self.pods, self.nodes, self.revisions = (
            daemonsets, pods, nodes, revisions)
        self.writer = writer
        self.clock = clock
        self.events = EventRecorder(writer, "daemonset-controller")
        #: key -> (pod keys to appear, pod keys to go, deadline)
        self.pending: dict[str, tuple[set[str], set[str], float]] = {}

    # -- handlers ------------------------------------------------------------------

    def on_daemonset(self, obj: Any, *rest: Any) -> None:
        """DaemonSet add/update/delete (an update passes old and new: the new one counts)."""
        obj = rest[-1] if rest else obj
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        if isinstance(obj, Mapping):
            md = obj.get("metadata", {})
            self.queue.add(f"{md.get('namespace', '')}/{md.get('name', '')}")

    def on_pod(self, obj: Any, *rest: Any) -> None:
        """Pod events enqueue the owning DaemonSet."""
        pod = rest[-1] if rest else obj
        if isinstance(pod, DeletedFinalStateUnknown):
            pod = pod.obj
        if not isinstance(pod, Mapping):
            return
        md = pod.get("metadata", {})
        for ref in md.get("ownerReferences") or []:
            if ref.get("controller") and ref.get("kind") == "DaemonSet":
                self.queue.add(f"{md.get('namespace', '')}/{ref.get('name', '')}")

    def on_node(self, *_: Any) -> None:
        """Node events can change placement of every DaemonSet."""
        for key in self.daemonsets.list_keys():
            self.queue.add(key)

    # -- sync ----------------------------------------------------------------------

    def _satisfied(self, key: str) -> bool:
        entry = self.pending.get(key)
        if entry is None:
            return True
        appear, go, deadline = entry
        if self.clock() > deadline:
            del self.pending[key]
            return True
        appear -= {k for k in appear if self.pods.get_by_key(k) is not None}
        go -= {k for k in go if (p := self.pods.get_by_key(k)) is None or is_terminating(p)}
        if appear or go:
            return False
        del self.pending[key]
        return True

    async def sync(self, key: str) -> None:
        ds = self.daemonsets.get_by_key(key)
        if ds is None:
            self.pending.pop(key, None)
            return
        if ds["metadata"].get("deletionTimestamp"):
            return
        current = await self._current_revision(ds)
        namespace = ds["metadata"].get("namespace", "")
        uid = ds["metadata"].get("uid", "")
        by_node: dict[str, list[Obj]] = {}
        for pod in self.pods.in_namespace(namespace):
            if owned_by(pod, uid):
                node = str(pod.get("spec", {}).get("nodeName") or "")
                by_node.setdefault(node, []).append(pod)
        now = datetime.fromtimestamp(self.clock(), UTC)
        min_ready = int(ds.get("spec", {}).get("minReadySeconds") or 0)
        template = ds.get("spec", {}).get("template") or {}
        rolling = (ds.get("spec", {}).get("updateStrategy") or {}).get(
            "type", "RollingUpdate") == "RollingUpdate"
        nodes = sorted(self.nodes.list(), key=lambda n: str(n["metadata"].get("name")))
        placement = {str(n["metadata"]["name"]): should_run(template, n) for n in nodes}
        desired = sum(1 for run, _ in placement.values() if run)
        surge, _unavailable = strategy_limits(ds, desired) if rolling else (0, 1)

        creates: list[str] = []
        deletes: list[Obj] = []
        live_on: dict[str, list[Obj]] = {}
        for name, (run, stay) in placement.items():
            pods = by_node.get(name, [])
            live = sorted((p for p in pods if not is_terminating(p)), key=_created)
            failed = [p for p in live if p.get("status", {}).get("phase") == "Failed"]
            live = [p for p in live if p not in failed]
            deletes.extend(failed)
            if run and not pods:
                creates.append(name)
            elif not stay:
                deletes.extend(live)
                continue
            elif stay and live:
                keep = self._keep(live, current, surge > 0)
                deletes.extend(p for p in live if p not in keep)
                live = keep
            if run:
                live_on[name] = live

        if self._satisfied(key):
            if not creates and not deletes and rolling:
                plan = plan_rolling_update(
                    live_on, current, surge, _unavailable,
                    lambda p: is_available(p, min_ready, now))
                creates, deletes = plan.create, plan.delete
            await self._write(key, ds, current, creates, deletes)
        await self._update_status(ds, placement, by_node, current, min_ready, now)

    @staticmethod
    def _keep(live: list[Obj], current: str, surge: bool) -> list[Obj]:
        """The pods a node keeps: the oldest, or with surge the oldest new and old one."""
        if not surge:
            return live[:1]
        new = [p for p in live if p["metadata"].get("labels", {}).get(HASH_LABEL) == current]
        old = [p for p in live if p not in new]
        return new[:1] + old[:1]

    async def _write(self, key: str, ds: Obj, current: str, creates: list[str],
                     deletes: list[Obj]) -> None:
        if not creates and not deletes:
            return
        namespace = ds["metadata"].get("namespace", "")
        appear: set[str] = set()
        go: set[str] = set()
        self.pending[key] = (appear, go, self.clock() + EXPECTATIONS_TIMEOUT)
        for node in creates:
            try:
                stored = await self.writer.create(PODS, namespace, self._pod(ds, current, node))
            except Exception as exc:
                await self.events.event(ds, "Warning", "FailedCreate",
                                        f"Error creating: {getattr(exc, 'message', exc)}")
                raise
            self.metrics.writes += 1
            appear.add(f"{namespace}/{stored['metadata']['name']}")
            await self.events.event(ds, "Normal", "SuccessfulCreate",
                                    f"Created pod: {stored['metadata']['name']}")
        for pod in deletes:
            name = pod["metadata"]["name"]
            try:
                await self.writer.delete(PODS, namespace, name)
                self.metrics.writes += 1
            except Exception as exc:
                if not is_not_found(exc):
                    await self.events.event(ds, "Warning", "FailedDelete",
                                            f"Error deleting: {getattr(exc, 'message', exc)}")
                    raise
                continue
            go.add(f"{namespace}/{name}")
            await self.events.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

    @staticmethod
    def _pod(ds: Obj, current: str, node: str) -> dict[str, Any]:
        template = ds.get("spec", {}).get("template") or {}
        tmd = template.get("metadata") or {}
        labels = dict(tmd.get("labels") or {})
        labels[HASH_LABEL] = current
        labels[GENERATION_LABEL] = str(ds["metadata"].get("generation") or 1)
        metadata: dict[str, Any] = {
            "generateName": f"{ds['metadata']['name']}-", "labels": labels,
            "ownerReferences": [controller_ref(ds)],
        }
        if tmd.get("annotations"):
            metadata["annotations"] = dict(tmd["annotations"])
        return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
                "spec": pod_for_node(template, node)}

    async def _current_revision(self, ds: Obj) -> str:
        """The hash of the current template's revision, creating or renumbering it."""
        namespace = ds["metadata"].get("namespace", "")
        uid = ds["metadata"].get("uid", "")
        owned = [r for r in self.revisions.in_namespace(namespace) if owned_by(r, uid)]
        data = revision_data(ds)
        wanted = new_revision(ds, owned)
        digest = str(wanted["metadata"]["labels"][HASH_LABEL])
        top = max((int(r.get("revision") or 0) for r in owned), default=0)
        for rev in owned:
            if rev.get("data") == data:
                if int(rev.get("revision") or 0) < top:
                    await self.writer.update(CONTROLLERREVISIONS, namespace,
                                             {**rev, "revision": top + 1})
                return str(rev["metadata"].get("labels", {}).get(HASH_LABEL) or digest)
        try:
            await self.writer.create(CONTROLLERREVISIONS, namespace, wanted)
            self.metrics.writes += 1
        except Exception as exc:
            if not is_already_exists(exc):
                raise
        return digest

    async def _update_status(self, ds: Obj, placement: Mapping[str, tuple[bool, bool]],
                             by_node: Mapping[str, list[Obj]], current: str,
                             min_ready: int, now: datetime) -> None:
        desired = scheduled = misscheduled = ready = available = updated = 0
        generation = str(ds["metadata"].get("generation") or 1)
        for name, (run, _stay) in placement.items():
            pods = sorted((p for p in by_node.get(name, []) if not is_terminating(p)),
                          key=_created)
            if run:
                desired += 1
            if not pods:
                continue
            if not run:
                misscheduled += 1
                continue
            scheduled += 1
            pod = pods[0]
            ready += is_ready(pod)
            available += is_available(pod, min_ready, now)
            labels = pod["metadata"].get("labels", {})
            if labels.get(HASH_LABEL) == current or labels.get(GENERATION_LABEL) == generation:
                updated += 1
        old = dict(ds.get("status") or {})
        status = {**old, "currentNumberScheduled": scheduled,
                  "numberMisscheduled": misscheduled, "desiredNumberScheduled": desired,
                  "numberReady": ready, "numberAvailable": available,
                  "numberUnavailable": desired - available, "updatedNumberScheduled": updated,
                  "observedGeneration": ds["metadata"].get("generation") or 1}
        for zero in ("numberAvailable", "numberUnavailable", "updatedNumberScheduled"):
            if not status[zero]:
                status.pop(zero)
        if status != old:
            namespace = ds["metadata"].get("namespace", "")
            try:
                await self.writer.update(DAEMONSETS, namespace, {**ds, "status": status},
                                         subresource="status")
                self.metrics.writes += 1
            except Exception as exc:
                if not is_not_found(exc):
                    raise
        if min_ready > 0 and ready > available:
            self.queue.add_after(f"{ds['metadata'].get('namespace', '')}/"
                                 f"{ds['metadata']['name']}", float(min_ready))

