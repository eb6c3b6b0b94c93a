"""Tables of the storage kinds: PersistentVolumes, PersistentVolumeClaims, StorageClasses,
CSIDrivers, CSINodes, CSIStorageCapacities and VolumeAttachments (upstream ``printers.go``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apiserver.printing.cells import age, deleting, lst, m, name, quantity, s
from apiserver.printing.spec import AGE, NAME, Col, Doc, KindTable

__all__ = ["TABLES", "access_modes"]

_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
_DEFAULT_CLASS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def access_modes(modes: Any) -> str:
    """Short access modes in the fixed order RWO, ROX, RWX, RWOP, comma-joined."""
    present = set(s(x) for x in lst(modes))
    return ",".join(short for mode, short in _MODES if mode in present)


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return m(m(obj.get("metadata")).get("annotations"))


def _class_name(obj: Mapping[str, Any]) -> str:
    """The beta storage-class annotation when present, else ``spec.storageClassName``."""
    annotations = _annotations(obj)
    if _BETA_CLASS in annotations:
        return s(annotations[_BETA_CLASS])
    return s(m(obj.get("spec")).get("storageClassName"))


def _or_unset(value: Any) -> str:
    return value if isinstance(value, str) else "<unset>"


def print_pv(pv: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Capacity, Access Modes, Reclaim Policy, Status, Claim (``ns/name``),
    StorageClass, VolumeAttributesClass, Reason, Age, VolumeMode."""
    spec, status = m(pv.get("spec")), m(pv.get("status"))
    claim_ref = spec.get("claimRef")
    claim = ""
    if isinstance(claim_ref, Mapping):
        claim = f"{s(claim_ref.get('namespace'))}/{s(claim_ref.get('name'))}"
    return [
        name(pv),
        quantity(m(spec.get("capacity")).get("storage")),
        access_modes(spec.get("accessModes")),
        s(spec.get("persistentVolumeReclaimPolicy")),
        "Terminating" if deleting(pv) else s(status.get("phase")),
        claim,
        _class_name(pv),
        _or_unset(spec.get("volumeAttributesClassName")),
        s(status.get("reason")),
        age(pv, now),
        _or_unset(spec.get("volumeMode")),
    ]


def print_pvc(pvc: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Status, Volume, Capacity, Access Modes, StorageClass, VolumeAttributesClass,
    Age, VolumeMode. Capacity and Access Modes stay empty until the claim is bound."""
    spec, status = m(pvc.get("spec")), m(pvc.get("status"))
    volume = s(spec.get("volumeName"))
    capacity = modes = ""
    if volume:
        capacity = quantity(m(status.get("capacity")).get("storage"))
        modes = access_modes(status.get("accessModes"))
    return [
        name(pvc),
        "Terminating" if deleting(pvc) else s(status.get("phase")),
        volume,
        capacity,
        modes,
        _class_name(pvc),
        _or_unset(spec.get("volumeAttributesClassName")),
        age(pvc, now),
        _or_unset(spec.get("volumeMode")),
    ]


def print_storageclass(sc: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name (``+ " (default)"`` for the default class), Provisioner, ReclaimPolicy
    (default Delete), VolumeBindingMode (default Immediate), AllowVolumeExpansion, Age."""
    annotations = _annotations(sc)
    shown = name(sc)
    if any(annotations.get(key) == "true" for key in _DEFAULT_CLASS):
        shown += " (default)"
    return [
        shown,
        s(sc.get("provisioner")),
        s(sc.get("reclaimPolicy")) or "Delete",
        s(sc.get("volumeBindingMode")) or "Immediate",
        sc.get("allowVolumeExpansion") is True,
        age(sc, now),
    ]


def _flag(value: Any, default: bool) -> bool:
    return value if isinstance(value, bool) else default


def print_csidriver(drv: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, AttachRequired, PodInfoOnMount, StorageCapacity, TokenRequests (audiences
    or ``<unset>``), RequiresRepublish, Modes (or ``<none>``), Age."""
    spec = m(drv.get("spec"))
    tokens = spec.get("tokenRequests")
    audiences = "<unset>"
    if isinstance(tokens, list):
        audiences = ",".join(s(m(t).get("audience")) for t in tokens)
    modes = ",".join(s(x) for x in lst(spec.get("volumeLifecycleModes")))
    return [
        name(drv),
        _flag(spec.get("attachRequired"), True),
        _flag(spec.get("podInfoOnMount"), False),
        _flag(spec.get("storageCapacity"), False),
        audiences,
        _flag(spec.get("requiresRepublish"), False),
        modes or "<none>",
        age(drv, now),
    ]


def print_csinode(node: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Drivers (count), Age."""
    return [name(node), len(lst(m(node.get("spec")).get("drivers"))), age(node, now)]


def print_csistoragecapacity(cap: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, StorageClassName, Capacity (``<unset>`` when absent); no Age column."""
    return [name(cap), s(cap.get("storageClassName")), quantity(cap.get("capacity"), "<unset>")]


def print_volumeattachment(va: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Attacher, PV, Node, Attached, Age."""
    spec = m(va.get("spec"))
    return [
        name(va),
        s(spec.get("attacher")),
        s(m(spec.get("source")).get("persistentVolumeName")),
        s(spec.get("nodeName")),
        m(va.get("status")).get("attached") is True,
        age(va, now),
    ]


_CORE = "core.v1."
_STORAGE = "storage.v1."

TABLES = (
    KindTable("", "PersistentVolume", (
        NAME,
        Col("Capacity", Doc(_CORE + "PersistentVolumeSpec", "capacity")),
        Col("Access Modes", Doc(_CORE + "PersistentVolumeSpec", "accessModes")),
        Col("Reclaim Policy", Doc(_CORE + "PersistentVolumeSpec", "persistentVolumeReclaimPolicy")),
        Col("Status", Doc(_CORE + "PersistentVolumeStatus", "phase")),
        Col("Claim", Doc(_CORE + "PersistentVolumeSpec", "claimRef")),
        Col("StorageClass", "StorageClass of the pv"),
        Col("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
        Col("Reason", Doc(_CORE + "PersistentVolumeStatus", "reason")),
        AGE,
        Col("VolumeMode", Doc(_CORE + "PersistentVolumeSpec", "volumeMode"), priority=1),
    ), print_pv),
    KindTable("", "PersistentVolumeClaim", (
        NAME,
        Col("Status", Doc(_CORE + "PersistentVolumeClaimStatus", "phase")),
        Col("Volume", Doc(_CORE + "PersistentVolumeClaimSpec", "volumeName")),
        Col("Capacity", Doc(_CORE + "PersistentVolumeClaimStatus", "capacity")),
        Col("Access Modes", Doc(_CORE + "PersistentVolumeClaimStatus", "accessModes")),
        Col("StorageClass", "StorageClass of the pvc"),
        Col("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
        AGE,
        Col("VolumeMode", Doc(_CORE + "PersistentVolumeClaimSpec", "volumeMode"), priority=1),
    ), print_pvc),
    KindTable("storage.k8s.io", "StorageClass", (
        NAME,
        Col("Provisioner", Doc(_STORAGE + "StorageClass", "provisioner")),
        Col("ReclaimPolicy", Doc(_STORAGE + "StorageClass", "reclaimPolicy")),
        Col("VolumeBindingMode", Doc(_STORAGE + "StorageClass", "volumeBindingMode")),
        Col("AllowVolumeExpansion", Doc(_STORAGE + "StorageClass", "allowVolumeExpansion")),
        AGE,
    ), print_storageclass),
    KindTable("storage.k8s.io", "CSIDriver", (
        NAME,
        Col("AttachRequired", Doc(_STORAGE + "CSIDriverSpec", "attachRequired"), "boolean"),
        Col("PodInfoOnMount", Doc(_STORAGE + "CSIDriverSpec", "podInfoOnMount"), "boolean"),
        Col("StorageCapacity", Doc(_STORAGE + "CSIDriverSpec", "storageCapacity"), "boolean"),
        Col("TokenRequests", Doc(_STORAGE + "CSIDriverSpec", "tokenRequests")),
        Col("RequiresRepublish", Doc(_STORAGE + "CSIDriverSpec", "requiresRepublish"), "boolean"),
        Col("Modes", Doc(_STORAGE + "CSIDriverSpec", "volumeLifecycleModes")),
        AGE,
    ), print_csidriver),
    KindTable("storage.k8s.io", "CSINode", (
        NAME,
        Col("Drivers", "Drivers indicates the number of CSI drivers registered on the node",
            "integer"),
        AGE,
    ), print_csinode),
    KindTable("storage.k8s.io", "CSIStorageCapacity", (
        NAME,
        Col("StorageClassName", Doc(_STORAGE + "CSIStorageCapacity", "storageClassName")),
        Col("Capacity", Doc(_STORAGE + "CSIStorageCapacity", "capacity")),
    ), print_csistoragecapacity),
    KindTable("storage.k8s.io", "VolumeAttachment", (
        NAME,
        Col("Attacher", Doc(_STORAGE + "VolumeAttachmentSpec", "attacher"), fmt="name"),
        Col("PV", Doc(_STORAGE + "VolumeAttachmentSource", "persistentVolumeName")),
        Col("Node", Doc(_STORAGE + "VolumeAttachmentSpec", "nodeName")),
        Col("Attached", Doc(_STORAGE + "VolumeAttachmentStatus", "attached"), "boolean"),
        AGE,
    ), print_volumeattachment),
)
