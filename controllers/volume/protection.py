"""kube-controller-manager's ``pvc-protection`` and ``pv-protection`` controllers.

The StorageObjectInUseProtection admission plugin puts ``kubernetes.io/pvc-protection``
on every new claim and ``kubernetes.io/pv-protection`` on every new volume. Once such an
object is being deleted, these controllers remove the finalizer when it is no longer in
use, and the deletion completes:

* a claim, when no pod of its namespace that has not finished (``Succeeded``/``Failed``)
  uses it (a ``persistentVolumeClaim`` volume naming it, or the generic ephemeral volume
  it was made for);
* a volume, when it is not ``Bound``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from apiserver.api.podclaims import pod_claims
from apiserver.api.resources import served
from controllers.client.errors import ApiError
from controllers.client.store import DeletedFinalStateUnknown, Store, meta_namespace_key
from controllers.runtime.controller import KeyedController
from controllers.runtime.writer import Writer

__all__ = ["PVCProtectionController", "PVProtectionController", "claims_used_by"]

PERSISTENTVOLUMES = served("", "v1", "persistentvolumes")
PERSISTENTVOLUMECLAIMS = served("", "v1", "persistentvolumeclaims")
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def claims_used_by(pod: Mapping[str, Any]) -> list[str]:
    """The claim names ``pod`` uses (its own and those of its ephemeral volumes)."""
    return [claim for _, claim, _ in pod_claims(pod)]


async def _drop_finalizer(writer: Writer, info: Any, obj: Mapping[str, Any],
                          finalizer: str) -> None:
    updated = copy.deepcopy(dict(obj))
    md = updated["metadata"]
    md["finalizers"] = [f for f in md.get("finalizers") or [] if f != finalizer]
    try:
        await writer.update(info, md.get("namespace"), updated)
    except ApiError as exc:
        if exc.code != 404:  # a conflict retries with the newer object
            raise


class PVCProtectionController(KeyedController):
    """Releases deleted claims no running pod uses (key ``namespace/name``)."""

    name = "pvc-protection"

    def __init__(self, claims: Store, pods: Store, writer: Writer) -> None:
        super().__init__()
        self.claims, self.pods, self.writer = claims, pods, writer

    def on_claim(self, obj: Any, new: Any = None) -> None:
        """Handler for claim adds and updates."""
        obj = new if new is not None else obj
        if not isinstance(obj, DeletedFinalStateUnknown):
            self.queue.add(meta_namespace_key(obj))

    def on_pod(self, obj: Any, new: Any = None) -> None:
        """A pod changed or went away: the claims it used may be free now."""
        obj = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else (new or obj)
        namespace = _m(_m(obj).get("metadata")).get("namespace")
        for name in claims_used_by(_m(obj)):
            self.queue.add(f"{namespace}/{name}")

    async def sync(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        claim = self.claims.get(namespace, name)
        md = _m(_m(claim).get("metadata"))
        if claim is None or not md.get("deletionTimestamp") or \
                PVC_PROTECTION not in (md.get("finalizers") or []):
            return
        for pod in self.pods.in_namespace(namespace):
            if _m(pod.get("status")).get("phase") in ("Succeeded", "Failed"):
                continue
            if name in claims_used_by(pod):
                return  # in use: the pod's deletion requeues the claim
        await _drop_finalizer(self.writer, PERSISTENTVOLUMECLAIMS, claim, PVC_PROTECTION)
        self.metrics.writes += 1


class PVProtectionController(KeyedController):
    """Releases deleted volumes that are not bound (key: the volume's name)."""

    name = "pv-protection"

    def __init__(self, volumes: Store, writer: Writer) -> None:
        super().__init__()
        self.volumes, self.writer = volumes, writer

    def on_volume(self, obj: Any, new: Any = None) -> None:
        """Handler for volume adds and updates."""
        obj = new if new is not None else obj
        if not isinstance(obj, DeletedFinalStateUnknown):
            self.queue.add(str(_m(_m(obj).get("metadata")).get("name")))

    async def sync(self, key: str) -> None:
        volume = self.volumes.get(None, key)
        md = _m(_m(volume).get("metadata"))
        if volume is None or not md.get("deletionTimestamp") or \
                PV_PROTECTION not in (md.get("finalizers") or []):
            return
        if _m(volume.get("status")).get("phase") == "Bound":
            return
        await _drop_finalizer(self.writer, PERSISTENTVOLUMES, volume, PV_PROTECTION)
        self.metrics.writes += 1
