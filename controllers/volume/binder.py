"""kube-controller-manager's ``persistentvolume-binder``: claims bound to volumes.

Keys are ``claim:<namespace>/<name>`` and ``volume:<name>``.

A pending claim (:meth:`PersistentVolumeBinder.sync_claim`) binds to the volume it names
(``spec.volumeName``), else to the smallest Available volume that fits: the same
``storageClassName`` (``""`` for none), every requested access mode, at least the
requested storage, the same ``volumeMode``, and labels its ``selector`` selects; a volume
pre-bound to the claim (``claimRef``) first. Binding writes both sides as upstream does:
the volume's ``claimRef`` and phase ``Bound``, the claim's ``volumeName``, the
``pv.kubernetes.io/bind-completed`` and ``…/bound-by-controller`` annotations, and its
status (``Bound``, the volume's access modes and capacity). With no volume:

* a class with a provisioner: the claim is annotated
  ``volume.kubernetes.io/storage-provisioner`` (and the beta key) for the external
  provisioner, with upstream's ``ExternalProvisioning`` Event;
* a class that does not exist: ``ProvisioningFailed``;
* no class: ``FailedBinding`` (``no persistent volumes available for this claim and no
  storage class is set``).

A claim of a ``WaitForFirstConsumer`` class waits for the scheduler's
``volume.kubernetes.io/selected-node`` before anything (``WaitForFirstConsumer`` Event).
A bound claim whose volume is gone is ``Lost`` (``ClaimLost``). A volume
(:meth:`PersistentVolumeBinder.sync_volume`) is ``Available`` without a claim, ``Bound``
while its claim names it and ``Released`` once the claim it was bound to is gone; a
released volume is then its reclaim policy's: ``Retain`` keeps it, ``Delete`` leaves it
to its provisioner.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from apiserver.api.labels import SelectorError, selector_from_label_selector_object
from apiserver.api.quantity import parse_quantity
from apiserver.api.resources import served
from controllers.client.errors import ApiError
from controllers.client.store import DeletedFinalStateUnknown, Store
from controllers.runtime.controller import KeyedController
from controllers.runtime.events import EventRecorder
from controllers.runtime.writer import Writer

__all__ = ["PROVISIONER_ANNOTATIONS", "SELECTED_NODE", "PersistentVolumeBinder", "fits"]

PERSISTENTVOLUMES = served("", "v1", "persistentvolumes")
PERSISTENTVOLUMECLAIMS = served("", "v1", "persistentvolumeclaims")
STORAGECLASSES = served("storage.k8s.io", "v1", "storageclasses")
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
#: Where the binder names the external provisioner of a claim (current and beta keys).
PROVISIONER_ANNOTATIONS = ("volume.kubernetes.io/storage-provisioner",
                           "volume.beta.kubernetes.io/storage-provisioner")
NO_PROVISIONER = "kubernetes.io/no-provisioner"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _size(obj: Mapping[str, Any], *path: str) -> float:
    value: Any = obj
    for key in path:
        value = _m(value).get(key)
    parsed = parse_quantity(str(value)) if value is not None else None
    return float(parsed) if parsed is not None else 0.0


def fits(volume: Mapping[str, Any], claim: Mapping[str, Any]) -> bool:
    """Whether ``volume`` can serve ``claim`` (class, modes, size, volume mode, labels)."""
    vspec, cspec = _m(volume.get("spec")), _m(claim.get("spec"))
    if str(vspec.get("storageClassName") or "") != str(cspec.get("storageClassName") or ""):
        return False
    if not set(cspec.get("accessModes") or []) <= set(vspec.get("accessModes") or []):
        return False
    if (vspec.get("volumeMode") or "Filesystem") != (cspec.get("volumeMode") or "Filesystem"):
        return False
    if _size(volume, "spec", "capacity", "storage") < _size(
            claim, "spec", "resources", "requests", "storage"):
        return False
    selector = cspec.get("selector")
    if isinstance(selector, Mapping):
        try:
            chosen = selector_from_label_selector_object(selector)
        except SelectorError:
            return False
        return chosen.matches(_m(_m(volume.get("metadata")).get("labels")))
    return True


class PersistentVolumeBinder(KeyedController):
    """Binds claims and volumes (see the module docstring)."""

    name = "persistentvolume-binder"

    def __init__(self, volumes: Store, claims: Store, classes: Store, writer: Writer) -> None:
        super().__init__()
        self.volumes, self.claims, self.classes = volumes, claims, classes
        self.writer = writer
        self.recorder = EventRecorder(writer, "persistentvolume-controller")

    # -- events -----------------------------------------------------------------------

    def on_volume(self, obj: Any, new: Any = None) -> None:
        """A volume changed: it, and the claim it names."""
        obj = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else (new or obj)
        md, ref = _m(_m(obj).get("metadata")), _m(_m(_m(obj).get("spec")).get("claimRef"))
        self.queue.add(f"volume:{md.get('name')}")
        if ref.get("name"):
            self.queue.add(f"claim:{ref.get('namespace')}/{ref.get('name')}")
        for claim in self.claims.list():  # a new volume may fit a waiting claim
            if _m(claim.get("status")).get("phase") in (None, "Pending"):
                self.queue.add(f"claim:{claim['metadata']['namespace']}/"
                               f"{claim['metadata']['name']}")

    def on_claim(self, obj: Any, new: Any = None) -> None:
        """A claim changed: it, and the volume it names (or was bound to)."""
        obj = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else (new or obj)
        md = _m(_m(obj).get("metadata"))
        self.queue.add(f"claim:{md.get('namespace')}/{md.get('name')}")
        for volume in self.volumes.list():
            ref = _m(_m(volume.get("spec")).get("claimRef"))
            if ref.get("name") == md.get("name") and ref.get("namespace") == md.get(
                    "namespace"):
                self.queue.add(f"volume:{volume['metadata']['name']}")

    async def sync(self, key: str) -> None:
        kind, _, rest = key.partition(":")
        if kind == "volume":
            volume = self.volumes.get(None, rest)
            if volume is not None:
                await self.sync_volume(copy.deepcopy(dict(volume)))
            return
        namespace, _, name = rest.partition("/")
        claim = self.claims.get(namespace, name)
        if claim is not None:
            await self.sync_claim(copy.deepcopy(dict(claim)))

    # -- claims -----------------------------------------------------------------------

    async def sync_claim(self, claim: dict[str, Any]) -> None:
        """Bind a pending claim, or notice that a bound one lost its volume."""
        md, spec = claim["metadata"], _m(claim.get("spec"))
        if md.get("deletionTimestamp"):
            return
        name = str(spec.get("volumeName") or "")
        if _m(claim.get("status")).get("phase") == "Bound":
            if name and self.volumes.get(None, name) is None:
                await self._claim_status(claim, {"phase": "Lost"})
                await self.recorder.event(claim, "Warning", "ClaimLost",
                                          "Bound claim has lost its PersistentVolume. Data "
                                          "on the volume is lost!")
            return
        if name:
            volume = self.volumes.get(None, name)
            if volume is not None and self._free_for(volume, claim):
                await self._bind(copy.deepcopy(dict(volume)), claim, by_controller=False)
            return
        if self._delayed(claim):
            await self.recorder.event(claim, "Normal", "WaitForFirstConsumer",
                                      "waiting for first consumer to be created before "
                                      "binding")
            return
        candidates = [v for v in self.volumes.list()
                      if self._free_for(v, claim) and fits(v, claim)]
        if candidates:
            prebound = [v for v in candidates if _m(_m(v.get("spec")).get("claimRef"))]
            chosen = min(prebound or candidates,
                         key=lambda v: _size(v, "spec", "capacity", "storage"))
            await self._bind(copy.deepcopy(dict(chosen)), claim, by_controller=True)
            return
        await self._no_volume(claim)

    def _delayed(self, claim: Mapping[str, Any]) -> bool:
        """Binding waits for the pod's node (upstream ``shouldDelayBinding``): a
        ``WaitForFirstConsumer`` class and no ``volume.kubernetes.io/selected-node``."""
        storage_class = self.classes.get(
            None, str(_m(claim.get("spec")).get("storageClassName") or ""))
        return (_m(storage_class).get("volumeBindingMode") == "WaitForFirstConsumer"
                and SELECTED_NODE not in _m(_m(claim.get("metadata")).get("annotations")))

    def _free_for(self, volume: Mapping[str, Any], claim: Mapping[str, Any]) -> bool:
        """Not being deleted, not released, and unclaimed or pre-bound to ``claim``."""
        if _m(volume.get("metadata")).get("deletionTimestamp") or _m(
                volume.get("status")).get("phase") in ("Released", "Failed"):
            return False
        ref, cmd = _m(_m(volume.get("spec")).get("claimRef")), _m(claim.get("metadata"))
        if not ref:
            return True
        return (ref.get("name") == cmd.get("name") and ref.get("namespace") ==
                cmd.get("namespace") and ref.get("uid") in (None, "", cmd.get("uid")))

    async def _no_volume(self, claim: dict[str, Any]) -> None:
        class_name = str(_m(claim.get("spec")).get("storageClassName") or "")
        if not class_name:
            await self.recorder.event(claim, "Normal", "FailedBinding",
                                      "no persistent volumes available for this claim and "
                                      "no storage class is set")
            return
        storage_class = self.classes.get(None, class_name)
        if storage_class is None:
            await self.recorder.event(claim, "Warning", "ProvisioningFailed",
                                      f'storageclass.storage.k8s.io "{class_name}" not found')
            return
        provisioner = str(storage_class.get("provisioner") or "")
        annotations = _m(claim["metadata"].get("annotations"))
        if provisioner == NO_PROVISIONER:
            await self.recorder.event(claim, "Normal", "FailedBinding",
                                      "no persistent volumes available for this claim and "
                                      "no storage class is set")
            return
        if any(annotations.get(k) != provisioner for k in PROVISIONER_ANNOTATIONS):
            claim["metadata"]["annotations"] = {
                **annotations, **dict.fromkeys(PROVISIONER_ANNOTATIONS, provisioner)}
            await self._write(PERSISTENTVOLUMECLAIMS, claim)
        await self.recorder.event(
            claim, "Normal", "ExternalProvisioning",
            f"Waiting for a volume to be created either by the external provisioner "
            f"'{provisioner}' or manually by the system administrator. If volume creation "
            "is delayed, please verify that your external provisioner is running and "
            "correctly registered.")

    async def _bind(self, volume: dict[str, Any], claim: dict[str, Any], *,
                    by_controller: bool) -> None:
        cmd = claim["metadata"]
        ref = {"kind": "PersistentVolumeClaim", "namespace": cmd.get("namespace"),
               "name": cmd.get("name"), "uid": cmd.get("uid"), "apiVersion": "v1",
               "resourceVersion": cmd.get("resourceVersion")}
        vspec = volume.setdefault("spec", {})
        if _m(vspec.get("claimRef")).get("uid") != cmd.get("uid"):
            if not vspec.get("claimRef"):
                volume["metadata"].setdefault("annotations", {})[BOUND_BY_CONTROLLER] = "yes"
            vspec["claimRef"] = ref
            volume = await self._write(PERSISTENTVOLUMES, volume)
        if _m(volume.get("status")).get("phase") != "Bound":
            volume["status"] = {**_m(volume.get("status")), "phase": "Bound"}
            volume = await self._write(PERSISTENTVOLUMES, volume, subresource="status")
        annotations = dict(_m(cmd.get("annotations")))
        annotations[BIND_COMPLETED] = "yes"
        if by_controller:
            annotations[BOUND_BY_CONTROLLER] = "yes"
        if claim["spec"].get("volumeName") != volume["metadata"]["name"] or \
                _m(cmd.get("annotations")) != annotations:
            claim["spec"]["volumeName"] = volume["metadata"]["name"]
            cmd["annotations"] = annotations
            claim = await self._write(PERSISTENTVOLUMECLAIMS, claim)
        vspec = _m(volume.get("spec"))
        await self._claim_status(claim, {
            "phase": "Bound", "accessModes": list(vspec.get("accessModes") or []),
            "capacity": dict(_m(vspec.get("capacity")))})

    async def _claim_status(self, claim: dict[str, Any], status: dict[str, Any]) -> None:
        if all(_m(claim.get("status")).get(k) == v for k, v in status.items()):
            return
        claim["status"] = {**_m(claim.get("status")), **status}
        await self._write(PERSISTENTVOLUMECLAIMS, claim, subresource="status")

    async def _write(self, info: Any, obj: dict[str, Any],
                     subresource: str | None = None) -> dict[str, Any]:
        namespace = obj["metadata"].get("namespace")
        written = await self.writer.update(info, namespace, obj, subresource=subresource)
        self.metrics.writes += 1
        return written

    # -- volumes ----------------------------------------------------------------------

    async def sync_volume(self, volume: dict[str, Any]) -> None:
        """The volume's phase from its claim (see the module docstring)."""
        ref = _m(_m(volume.get("spec")).get("claimRef"))
        phase = _m(volume.get("status")).get("phase")
        if not ref:
            wanted = "Available"
        else:
            claim = self.claims.get(str(ref.get("namespace") or ""), str(ref.get("name")))
            if claim is None or (ref.get("uid") and claim["metadata"].get("uid") !=
                                 ref.get("uid")):
                wanted = "Released" if ref.get("uid") else "Available"
            elif _m(claim.get("spec")).get("volumeName") == volume["metadata"]["name"]:
                wanted = "Bound"
            else:
                return  # the claim's sync binds it
        if phase != wanted and not (phase == "Failed" and wanted == "Released"):
            volume["status"] = {**_m(volume.get("status")), "phase": wanted}
            try:
                await self._write(PERSISTENTVOLUMES, volume, subresource="status")
            except ApiError as exc:
                if exc.code not in (404, 409):
                    raise
