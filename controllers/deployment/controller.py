"""The deployment controller (kube-controller-manager's ``deployment``).

Keyed by ``namespace/name`` of Deployments. A sync claims the ReplicaSets the selector
picks (adopting orphans, releasing owned ones that no longer match), then: deleted →
status only; paused or a ``spec.replicas`` change → scale and status; otherwise one step
of the strategy (:mod:`.rolling`, :mod:`.recreate`). ReplicaSet and pod events requeue
their Deployment; ReplicaSets are never turned into pods here.
"""

from __future__ import annotations

import argparse
import copy
import logging
from typing import Any

from apiserver.api.labels import selector_from_label_selector_object
from apiserver.api.resources import served
from controllers.client.errors import is_not_found
from controllers.client.store import DeletedFinalStateUnknown, Store, split_key
from controllers.deployment.history import cleanup
from controllers.deployment.progress import paused_condition
from controllers.deployment.recreate import rollout_recreate
from controllers.deployment.rolling import delete_rs, rollout_rolling
from controllers.deployment.sync import DEPLOYMENTS, REPLICASETS, Rollout, controller_ref
from controllers.deployment.util import Obj, is_rolling, set_condition
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.events import EventRecorder
from controllers.runtime.writer import Writer

__all__ = ["DEPLOYMENT", "DeploymentController"]

log = logging.getLogger(__name__)

PODS = served("", "v1", "pods")


def _owner(obj: Obj) -> Obj | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def _unwrap(obj: Any) -> Obj | None:
    if isinstance(obj, DeletedFinalStateUnknown):
        obj = obj.obj
    return obj if isinstance(obj, dict) else None


class DeploymentController(KeyedController):
    """Rolls Deployments out through ReplicaSets (see the module docstring)."""

    name = "deployment"

    def __init__(self, deployments: Store, replicasets: Store, pods: Store,
                 writer: Writer) -> None:
        super().__init__()
        self.deployments = deployments
        self.replicasets = replicasets
        self.pods = pods
        self.writer = writer
        self.events = EventRecorder(writer, "deployment-controller")

    # ---- event handlers ---------------------------------------------------------

    def enqueue(self, obj: Any) -> None:
        """Queue a Deployment."""
        d = _unwrap(obj)
        if d is not None:
            md = d["metadata"]
            self.queue.add(f"{md.get('namespace', '')}/{md['name']}")

    def on_deployment_update(self, _old: Any, new: Any) -> None:
        """Any change of a Deployment syncs it."""
        self.enqueue(new)

    def _enqueue_for_rs(self, rs: Obj) -> None:
        ref = _owner(rs)
        namespace = rs["metadata"].get("namespace", "")
        if ref is not None:
            if ref.get("kind") != "Deployment":
                return
            d = self.deployments.get(namespace, str(ref.get("name")))
            if d is not None and d["metadata"].get("uid") == ref.get("uid"):
                self.enqueue(d)
            return
        labels = rs["metadata"].get("labels") or {}
        for d in self.deployments.in_namespace(namespace):
            selector = d["spec"].get("selector")
            if selector and selector_from_label_selector_object(selector).matches(labels):
                self.enqueue(d)

    def on_rs(self, obj: Any) -> None:
        """A ReplicaSet added or deleted: its owner, or for an orphan every Deployment
        whose selector matches it (to adopt it)."""
        rs = _unwrap(obj)
        if rs is not None:
            self._enqueue_for_rs(rs)

    def on_rs_update(self, old: Any, new: Any) -> None:
        """A changed ReplicaSet requeues its new and its former owner."""
        self.on_rs(new)
        if isinstance(old, dict) and _owner(old) != _owner(new):
            self.on_rs(old)

    def on_pod_delete(self, obj: Any) -> None:
        """A pod gone may unblock a Recreate rollout: requeue the Deployment of its RS."""
        pod = _unwrap(obj)
        ref = _owner(pod) if pod is not None else None
        if pod is None or ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replicasets.get(pod["metadata"].get("namespace", ""), str(ref.get("name")))
        if rs is not None and rs["metadata"].get("uid") == ref.get("uid"):
            d_ref = _owner(rs)
            if d_ref is not None:
                d = self.deployments.get(rs["metadata"].get("namespace", ""),
                                         str(d_ref.get("name")))
                if d is not None and not is_rolling(d):
                    self.enqueue(d)

    # ---- sync -----------------------------------------------------------------

    async def claim(self, d: Obj) -> list[Obj]:
        """The ReplicaSets ``d`` controls after adopting matching orphans and releasing
        owned ones its selector no longer matches (both by patching ownerReferences)."""
        md = d["metadata"]
        selector = selector_from_label_selector_object(d["spec"].get("selector"))
        deleting = bool(md.get("deletionTimestamp"))
        claimed: list[Obj] = []
        for rs in self.replicasets.in_namespace(md["namespace"]):
            ref = _owner(rs)
            matches = selector.matches(rs["metadata"].get("labels") or {})
            if ref is not None:
                if ref.get("uid") != md.get("uid"):
                    continue
                if matches or deleting:
                    claimed.append(rs)
                    continue
                await self._set_owners(rs, [r for r in rs["metadata"]["ownerReferences"]
                                            if r.get("uid") != md.get("uid")])
                continue
            if not matches or deleting or rs["metadata"].get("deletionTimestamp"):
                continue
            owners = [*(rs["metadata"].get("ownerReferences") or []), controller_ref(d)]
            adopted = await self._set_owners(rs, owners)
            if adopted is not None:
                claimed.append(adopted)
        return claimed

    async def _set_owners(self, rs: Obj, owners: list[Obj]) -> Obj | None:
        patch = {"metadata": {"ownerReferences": owners or None,
                              "resourceVersion": rs["metadata"].get("resourceVersion")}}
        try:
            return await self.writer.patch(REPLICASETS, rs["metadata"]["namespace"],
                                           rs["metadata"]["name"], patch)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise

    def pods_by_rs(self, rses: list[Obj]) -> dict[str, list[Obj]]:
        """The pods of each ReplicaSet (by uid), from the pod informer."""
        result: dict[str, list[Obj]] = {str(rs["metadata"].get("uid")): [] for rs in rses}
        if not rses:
            return result
        for pod in self.pods.in_namespace(rses[0]["metadata"]["namespace"]):
            ref = _owner(pod)
            if ref is not None and ref.get("uid") in result:
                result[str(ref["uid"])].append(pod)
        return result

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        cached = self.deployments.get(namespace, name)
        if cached is None:
            return
        d = copy.deepcopy(cached)
        selector = d["spec"].get("selector") or {}
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            # An empty selector would select every pod: refuse to act on it.
            status = d.setdefault("status", {})
            if status.get("observedGeneration") != d["metadata"].get("generation"):
                status["observedGeneration"] = d["metadata"].get("generation")
                await self.writer.update(DEPLOYMENTS, namespace, d, subresource="status")
            return
        rses = await self.claim(d)
        rollout = Rollout(d, self.writer, self.replicasets,
                          lambda after: self.queue.add_after(key, after), self.events)
        if d["metadata"].get("deletionTimestamp"):
            new_rs, olds = await rollout.new_and_old(rses, create=False)
            await rollout.sync_status([*olds, new_rs], new_rs)
            return
        cond = paused_condition(rollout.d)
        if cond is not None:
            set_condition(rollout.d.setdefault("status", {}), cond)
            await rollout.update_status()
        if rollout.d["spec"].get("paused"):
            await self._scale_only(rollout, rses)
            return
        new_rs, olds = await rollout.new_and_old(rses, create=False)
        if rollout.is_scaling_event(new_rs, olds):
            await self._scale_only(rollout, rses)
            return
        if is_rolling(rollout.d):
            await rollout_rolling(rollout, rses)
        else:
            await rollout_recreate(rollout, rses, self.pods_by_rs(rses))

    async def _scale_only(self, rollout: Rollout, rses: list[Obj]) -> None:
        """Scaling (proportional mid-rollout) and status, without rollout progress."""
        new_rs, olds = await rollout.new_and_old(rses, create=False)
        new_rs, olds = await rollout.scale(new_rs, olds)
        if rollout.d["spec"].get("paused"):
            await cleanup(rollout.d, olds, lambda rs: delete_rs(rollout, rs))
        await rollout.sync_status([*olds, new_rs], new_rs)


def _build(ctx: ControllerContext) -> KeyedController:
    deployments = ctx.informers.informer_for(DEPLOYMENTS)
    replicasets = ctx.informers.informer_for(REPLICASETS)
    pods = ctx.informers.informer_for(PODS)
    controller = DeploymentController(deployments.store, replicasets.store, pods.store,
                                      ctx.writer)
    deployments.add_event_handler(controller.enqueue, controller.on_deployment_update,
                                  controller.enqueue)
    replicasets.add_event_handler(controller.on_rs, controller.on_rs_update, controller.on_rs)
    pods.add_event_handler(on_delete=controller.on_pod_delete)
    return controller


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrent-deployment-syncs", type=int, default=5,
                        help="deployment workers (default 5)")


DEPLOYMENT = ControllerSpec(
    "deployment", _build, lambda args: int(args.concurrent_deployment_syncs),
    add_flags=_flags,
)
