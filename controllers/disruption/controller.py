"""The disruption controller's sync: one PodDisruptionBudget's status from the caches.

Keyed by ``namespace/name``. The selected pods are those in the PDB's namespace its
``selector`` matches (an empty selector selects all). ``currentHealthy`` counts the ready,
not-terminating pods not listed in ``status.disruptedPods``; entries there expire 2 minutes
after the eviction and the PDB is synced again then. When a scale is needed but a pod's
controller is unknown, the status fails safe: ``disruptionsAllowed`` 0 and a
``DisruptionAllowed`` condition with reason ``SyncFailed``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from apiserver.api.labels import SelectorError, selector_from_label_selector_object
from apiserver.api.resources import served
from controllers.client.errors import is_not_found
from controllers.client.store import DeletedFinalStateUnknown, Store
from controllers.disruption.budget import (
    ScaleError,
    desired_and_expected,
    disruptions_allowed,
    live_disrupted,
)
from controllers.runtime.controller import KeyedController
from controllers.runtime.objects import is_ready, is_terminating, parse_time
from controllers.runtime.writer import Writer

__all__ = ["PODDISRUPTIONBUDGETS", "SCALED", "DisruptionController"]

PODDISRUPTIONBUDGETS = served("policy", "v1", "poddisruptionbudgets")
#: The controllers whose ``spec.replicas`` give a PDB's expected pods, by kind.
SCALED = {
    "ReplicaSet": served("apps", "v1", "replicasets"),
    "Deployment": served("apps", "v1", "deployments"),
    "StatefulSet": served("apps", "v1", "statefulsets"),
    "ReplicationController": served("", "v1", "replicationcontrollers"),
}

Obj = Mapping[str, Any]


def _healthy(pod: Obj) -> bool:
    return not is_terminating(pod) and is_ready(pod)


class DisruptionController(KeyedController):
    """Keeps every PodDisruptionBudget's status current."""

    name = "disruption"

    def __init__(self, pdbs: Store, pods: Store, scaled: Mapping[str, Store], writer: Writer,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.pdbs, self.pods, self.scaled = pdbs, pods, scaled
        self.writer = writer
        self.clock = clock

    # -- handlers ------------------------------------------------------------------

    @staticmethod
    def _obj(args: tuple[Any, ...]) -> Obj | None:
        obj = args[-1]
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        return obj if isinstance(obj, Mapping) else None

    def on_pdb(self, *args: Any) -> None:
        """PDB add/update/delete."""
        obj = self._obj(args)
        if obj is not None:
            md = obj.get("metadata", {})
            self.queue.add(f"{md.get('namespace', '')}/{md.get('name', '')}")

    def on_pod(self, *args: Any) -> None:
        """Pod add/update/delete: the PDBs selecting the pod (before or after) resync."""
        for raw in args:
            pod = self._obj((raw,))
            if pod is None:
                continue
            md = pod.get("metadata", {})
            for pdb in self.pdbs.in_namespace(str(md.get("namespace", ""))):
                try:
                    selector = selector_from_label_selector_object(pdb["spec"].get("selector"))
                except SelectorError:
                    continue
                if selector.matches(md.get("labels") or {}):
                    self.on_pdb(pdb)

    def on_scaled(self, *args: Any) -> None:
        """A controller's scale changed: every PDB of its namespace resyncs."""
        obj = self._obj(args)
        if obj is not None:
            for pdb in self.pdbs.in_namespace(str(obj.get("metadata", {}).get("namespace", ""))):
                self.on_pdb(pdb)

    # -- sync ----------------------------------------------------------------------

    def scale_of(self, namespace: str, ref: Mapping[str, Any]) -> tuple[str, int] | None:
        """``(uid, spec.replicas)`` of the object scaling a pod's controller ``ref``; a
        ReplicaSet owned by a Deployment answers with the Deployment."""
        store = self.scaled.get(str(ref.get("kind")))
        obj = store.get(namespace, str(ref.get("name"))) if store is not None else None
        if obj is None or obj["metadata"].get("uid") != ref.get("uid"):
            return None
        if ref.get("kind") == "ReplicaSet":
            owner = next((r for r in obj["metadata"].get("ownerReferences") or []
                          if r.get("controller") and r.get("kind") == "Deployment"), None)
            if owner is not None:
                return self.scale_of(namespace, owner)
        replicas = obj.get("spec", {}).get("replicas")
        return str(obj["metadata"]["uid"]), 1 if replicas is None else int(replicas)

    async def sync(self, key: str) -> None:
        pdb = self.pdbs.get_by_key(key)
        if pdb is None or pdb["metadata"].get("deletionTimestamp"):
            return
        namespace = str(pdb["metadata"].get("namespace", ""))
        now = datetime.fromtimestamp(self.clock(), UTC)
        old = dict(pdb.get("status") or {})
        status: dict[str, Any] = {"observedGeneration": pdb["metadata"].get("generation") or 1}
        try:
            selector = selector_from_label_selector_object(pdb["spec"].get("selector"))
            pods = [p for p in self.pods.in_namespace(namespace)
                    if selector.matches(p["metadata"].get("labels") or {})]
            desired, expected = desired_and_expected(pdb["spec"], pods, self.scale_of)
        except (ScaleError, SelectorError) as exc:
            status.update(disruptionsAllowed=0, currentHealthy=old.get("currentHealthy", 0),
                          desiredHealthy=old.get("desiredHealthy", 0),
                          expectedPods=old.get("expectedPods", 0))
            await self._write(pdb, old, status, "False", "SyncFailed", str(exc), now)
            return
        by_name = {str(p["metadata"]["name"]): p for p in pods}
        disrupted, expiry = live_disrupted(old.get("disruptedPods") or {}, by_name, now, parse_time)
        current = sum(1 for name, p in by_name.items() if _healthy(p) and name not in disrupted)
        allowed = disruptions_allowed(current, desired, expected)
        status.update(disruptionsAllowed=allowed, currentHealthy=current,
                      desiredHealthy=desired, expectedPods=expected)
        if disrupted:
            status["disruptedPods"] = disrupted
        reason = "SufficientPods" if allowed > 0 else "InsufficientPods"
        await self._write(pdb, old, status, "True" if allowed > 0 else "False", reason, "", now)
        if expiry is not None:
            self.queue.add_after(key, max(0.0, (expiry - now).total_seconds()) + 1.0)

    async def _write(self, pdb: Obj, old: Mapping[str, Any], status: dict[str, Any],
                     cond_status: str, reason: str, message: str, now: datetime) -> None:
        previous = next((c for c in old.get("conditions") or []
                         if c.get("type") == "DisruptionAllowed"), None)
        changed = previous is None or previous.get("status") != cond_status
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        condition = {"type": "DisruptionAllowed", "status": cond_status, "reason": reason,
                     "message": message,
                     "lastTransitionTime": stamp if changed or previous is None
                     else previous.get("lastTransitionTime", stamp),
                     "observedGeneration": status["observedGeneration"]}
        others = [c for c in old.get("conditions") or [] if c.get("type") != "DisruptionAllowed"]
        status["conditions"] = [*others, condition]
        if status == old:
            return
        try:
            await self.writer.update(PODDISRUPTIONBUDGETS, pdb["metadata"].get("namespace"),
                                     {**pdb, "status": status}, subresource="status")
            self.metrics.writes += 1
        except Exception as exc:
            if not is_not_found(exc):
                raise
