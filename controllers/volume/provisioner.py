"""An external provisioner of host-directory volumes, ``kubemu.io/hostpath``.

Clusters such as kind ship one (``rancher.io/local-path``) with a default StorageClass,
so that claims without a volume get one. kubemu's nodes share one host, so a directory
under ``--hostpath-provisioner-root`` serves a claim on any node. At start the
provisioner makes the StorageClass ``standard`` (default, ``Immediate`` binding,
``Delete``) unless a class of that name exists, or the default annotation when another
class is already the default.

For a pending claim the binder annotated with this provisioner
(``volume.kubernetes.io/storage-provisioner``), whose class names it, it creates the
PersistentVolume ``pvc-<claim uid>``: a ``hostPath`` directory
(``<root>/pvc-<uid>_<namespace>_<name>``), the claim's size, access modes and volume
mode, the class's reclaim policy, ``claimRef`` to the claim (the binder then binds both),
with upstream's external-provisioner Events on the claim (``Provisioning``,
``ProvisioningSucceeded``). A volume it made that is ``Released`` under the ``Delete``
policy is deleted, its directory first.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controllers.client.errors import ApiError, is_already_exists
from controllers.client.store import DeletedFinalStateUnknown, Store
from controllers.runtime.controller import KeyedController
from controllers.runtime.events import EventRecorder
from controllers.runtime.writer import Writer
from controllers.volume.binder import (
    PERSISTENTVOLUMES,
    PROVISIONER_ANNOTATIONS,
    STORAGECLASSES,
)

__all__ = ["DEFAULT_CLASS", "PROVISIONER", "HostPathProvisioner", "add_flags"]

log = logging.getLogger("controllers.volume")

PROVISIONER = "kubemu.io/hostpath"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
DEFAULT_CLASS = {
    "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
    "metadata": {"name": "standard", "annotations": {
        "storageclass.kubernetes.io/is-default-class": "true"}},
    "provisioner": PROVISIONER, "reclaimPolicy": "Delete",
    "volumeBindingMode": "Immediate",
}


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def add_flags(parser: argparse.ArgumentParser) -> None:
    """``--hostpath-provisioner-root``."""
    parser.add_argument("--hostpath-provisioner-root", type=Path, default=None,
                        help="directory the hostpath provisioner makes volumes in "
                        "(default: a temporary directory)")


class HostPathProvisioner(KeyedController):
    """Provisions and deletes host-directory volumes (see the module docstring).
    Keys: ``claim:<namespace>/<name>`` and ``volume:<name>``."""

    name = "hostpath-provisioner"

    def __init__(self, claims: Store, volumes: Store, classes: Store, writer: Writer,
                 root: Path | None) -> None:
        super().__init__()
        self.claims, self.volumes, self.classes = claims, volumes, classes
        self.writer = writer
        self._root = root
        self.recorder = EventRecorder(writer, PROVISIONER)
        self._class_checked = False

    @property
    def root(self) -> Path:
        """Where volumes are made: ``--hostpath-provisioner-root``, else a temporary
        directory made for the first volume."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="kubemu-volumes-"))
        return self._root

    def on_claim(self, obj: Any, new: Any = None) -> None:
        """Handler for claim adds and updates."""
        obj = new if new is not None else obj
        if not isinstance(obj, DeletedFinalStateUnknown):
            md = _m(_m(obj).get("metadata"))
            self.queue.add(f"claim:{md.get('namespace')}/{md.get('name')}")

    def on_volume(self, obj: Any, new: Any = None) -> None:
        """Handler for volume adds and updates."""
        obj = new if new is not None else obj
        if not isinstance(obj, DeletedFinalStateUnknown):
            self.queue.add(f"volume:{_m(_m(obj).get('metadata')).get('name')}")

    def startup(self) -> None:
        """Make sure the default StorageClass is there (first sync)."""
        self.queue.add("class:standard")

    async def sync(self, key: str) -> None:
        kind, _, rest = key.partition(":")
        if kind == "class":
            await self._ensure_class()
        elif kind == "claim":
            namespace, _, name = rest.partition("/")
            claim = self.claims.get(namespace, name)
            if claim is not None:
                await self._provision(claim)
        else:
            volume = self.volumes.get(None, rest)
            if volume is not None:
                await self._reclaim(volume)

    async def _ensure_class(self) -> None:
        if self.classes.get(None, "standard") is not None:
            return
        body = dict(DEFAULT_CLASS)
        if any(_m(_m(c.get("metadata")).get("annotations")).get(
                "storageclass.kubernetes.io/is-default-class") == "true"
               for c in self.classes.list()):
            body["metadata"] = {"name": "standard"}  # another class is the default
        try:
            await self.writer.create(STORAGECLASSES, None, body)
        except ApiError as exc:
            if not is_already_exists(exc):
                raise

    async def _provision(self, claim: Mapping[str, Any]) -> None:
        md, spec = _m(claim.get("metadata")), _m(claim.get("spec"))
        if spec.get("volumeName") or md.get("deletionTimestamp") or \
                _m(md.get("annotations")).get(PROVISIONER_ANNOTATIONS[0]) != PROVISIONER:
            return
        storage_class = self.classes.get(None, str(spec.get("storageClassName") or ""))
        if storage_class is None or storage_class.get("provisioner") != PROVISIONER:
            return
        name = f"pvc-{md.get('uid')}"
        if self.volumes.get(None, name) is not None:
            return
        claim_name = f"{md.get('namespace')}/{md.get('name')}"
        await self.recorder.event(claim, "Normal", "Provisioning",
                                  f'External provisioner is provisioning volume for claim '
                                  f'"{claim_name}"')
        directory = self.root / f"{name}_{md.get('namespace')}_{md.get('name')}"
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o777)  # any user of any pod may write, as local-path's
        size = _m(_m(spec.get("resources")).get("requests")).get("storage") or "1Gi"
        volume = {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy")
                or "Delete",
                "storageClassName": spec.get("storageClassName"),
                "volumeMode": spec.get("volumeMode") or "Filesystem",
                "hostPath": {"path": str(directory), "type": "DirectoryOrCreate"},
                "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1",
                             "namespace": md.get("namespace"), "name": md.get("name"),
                             "uid": md.get("uid"),
                             "resourceVersion": md.get("resourceVersion")},
            },
        }
        try:
            await self.writer.create(PERSISTENTVOLUMES, None, volume)
        except ApiError as exc:
            if not is_already_exists(exc):
                await self.recorder.event(claim, "Warning", "ProvisioningFailed",
                                          f"failed to provision volume with StorageClass "
                                          f'"{spec.get("storageClassName")}": {exc.message}')
                raise
        self.metrics.writes += 1
        await self.recorder.event(claim, "Normal", "ProvisioningSucceeded",
                                  f"Successfully provisioned volume {name}")

    async def _reclaim(self, volume: Mapping[str, Any]) -> None:
        md, spec = _m(volume.get("metadata")), _m(volume.get("spec"))
        if _m(md.get("annotations")).get(PROVISIONED_BY) != PROVISIONER or \
                _m(volume.get("status")).get("phase") != "Released" or \
                spec.get("persistentVolumeReclaimPolicy") != "Delete" or \
                md.get("deletionTimestamp"):
            return
        path = Path(str(_m(spec.get("hostPath")).get("path") or ""))
        if self._root is not None and path.is_relative_to(self._root) and \
                path != self._root and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        try:
            await self.writer.delete(PERSISTENTVOLUMES, None, str(md.get("name")))
        except ApiError as exc:
            if exc.code != 404:
                raise
        self.metrics.writes += 1
        log.info("deleted released volume %s", md.get("name"))
