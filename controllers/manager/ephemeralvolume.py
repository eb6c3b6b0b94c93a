"""The ephemeral-volume controller: the claims of generic ephemeral volumes.

As kube-controller-manager's ``ephemeral-volume-controller``: keyed by pod, for each
volume with an ``ephemeral.volumeClaimTemplate`` of a pod that is not being deleted, it
creates the PersistentVolumeClaim ``<pod>-<volume>`` from the template (its labels,
annotations and spec) with the pod as controlling owner, so the claim goes with the pod.
A claim of that name that is not the pod's is left alone: a ``FailedBinding`` Warning
(``ephemeral volume scratch: PVC ns/web-scratch was not created for pod ns/web (pod is
not owner)``), as for a failed create, and the pod is tried again later (the scheduler
refuses it meanwhile). A pod waits in the scheduler until its claims exist.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from apiserver.api.resources import PODS, served
from controllers.client.errors import is_already_exists
from controllers.client.store import DeletedFinalStateUnknown, Store, meta_namespace_key
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.events import EventRecorder
from controllers.runtime.writer import ObjectWriter

__all__ = ["EPHEMERAL_VOLUME", "EphemeralVolumeController", "ephemeral_claims"]

PERSISTENTVOLUMECLAIMS = served("", "v1", "persistentvolumeclaims")


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def ephemeral_claims(pod: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(volume name, PersistentVolumeClaim) of each of ``pod``'s generic ephemeral
    volumes."""
    md = _m(pod.get("metadata"))
    out = []
    for volume in _m(pod.get("spec")).get("volumes") or []:
        template = _m(_m(_m(volume).get("ephemeral")).get("volumeClaimTemplate"))
        if not template:
            continue
        meta = _m(template.get("metadata"))
        claim_md: dict[str, Any] = {
            "name": f"{md.get('name')}-{_m(volume).get('name')}",
            "namespace": md.get("namespace"),
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": md.get("name"),
                                 "uid": md.get("uid"), "controller": True,
                                 "blockOwnerDeletion": True}]}
        for field in ("labels", "annotations"):
            if meta.get(field):
                claim_md[field] = dict(_m(meta[field]))
        out.append((str(_m(volume).get("name")),
                    {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                     "metadata": claim_md, "spec": dict(_m(template.get("spec")))}))
    return out


class EphemeralVolumeController(KeyedController):
    """Creates the claims of pods' generic ephemeral volumes (see the module docstring)."""

    name = "ephemeral-volume"

    def __init__(self, pods: Store, claims: Store, writer: ObjectWriter) -> None:
        super().__init__()
        self.pods = pods
        self.claims = claims
        self.writer = writer
        self.recorder = EventRecorder(writer, "ephemeral_volume")

    def on_pod(self, obj: Any, new: Any = None) -> None:
        """Handler for pod adds and updates."""
        obj = new if new is not None else obj
        if isinstance(obj, Mapping) and any(
                "ephemeral" in _m(v) for v in _m(obj.get("spec")).get("volumes") or []):
            self.queue.add(meta_namespace_key(obj))

    def on_claim_delete(self, obj: Any) -> None:
        """A deleted claim of a live pod is made again."""
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        for ref in _m(_m(obj).get("metadata")).get("ownerReferences") or []:
            if _m(ref).get("kind") == "Pod" and _m(ref).get("controller"):
                self.queue.add(f"{_m(obj)['metadata'].get('namespace')}/{ref.get('name')}")

    async def sync(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        pod = self.pods.get(namespace, name)
        if pod is None or _m(pod.get("metadata")).get("deletionTimestamp"):
            return
        uid = _m(pod.get("metadata")).get("uid")
        for volume, claim in ephemeral_claims(pod):
            try:
                await self._ensure(namespace, name, uid, claim)
            except Exception as exc:
                # Upstream's words; the pod is tried again after the rate limit.
                await self.recorder.event(pod, "Warning", "FailedBinding",
                                          f"ephemeral volume {volume}: {exc}")
                raise

    async def _ensure(self, namespace: str, pod_name: str, uid: Any,
                      claim: dict[str, Any]) -> None:
        claim_name = claim["metadata"]["name"]
        existing = self.claims.get(namespace, claim_name)
        if existing is not None:
            if not any(_m(r).get("uid") == uid and _m(r).get("controller")
                       for r in _m(existing.get("metadata")).get("ownerReferences") or []):
                raise ValueError(f"PVC {namespace}/{claim_name} was not created for pod "
                                 f"{namespace}/{pod_name} (pod is not owner)")
            return
        try:
            await self.writer.create(PERSISTENTVOLUMECLAIMS, namespace, claim)
            self.metrics.writes += 1
        except Exception as exc:
            if is_already_exists(exc):
                return  # the cache lags a claim made meanwhile; checked at the next sync
            raise ValueError(f"create PVC {claim_name}: {exc}") from exc


def _build(ctx: ControllerContext) -> KeyedController:
    pods = ctx.informers.informer_for(PODS)
    claims = ctx.informers.informer_for(PERSISTENTVOLUMECLAIMS)
    controller = EphemeralVolumeController(pods.store, claims.store, ctx.writer)
    pods.add_event_handler(controller.on_pod, controller.on_pod)
    claims.add_event_handler(on_delete=controller.on_claim_delete)
    return controller


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrent-ephemeralvolume-syncs", type=int, default=5,
                        help="ephemeral-volume workers (default 5)")


EPHEMERAL_VOLUME = ControllerSpec(
    "ephemeral-volume-controller", _build,
    lambda args: int(args.concurrent_ephemeralvolume_syncs), add_flags=_flags)
