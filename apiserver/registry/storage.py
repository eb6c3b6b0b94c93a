"""Validation of PersistentVolumes, PersistentVolumeClaims and storage.k8s.io/v1 kinds.

Counterparts of ``ValidatePersistentVolumeSpec`` and ``ValidatePersistentVolumeClaimSpec``
(``pkg/apis/core/validation``) and of ``ValidateStorageClass``, ``ValidateCSIDriver``,
``ValidateCSINode``, ``ValidateCSIStorageCapacity`` and ``ValidateVolumeAttachment``
(``pkg/apis/storage/validation``), with upstream's field paths and messages. They assume
defaults were applied and never raise on malformed input.
"""

from __future__ import annotations

from typing import Any

from apiserver.api import meta
from apiserver.registry import common as c
from apiserver.registry.quantity import nonnegative_quantity, positive_quantity
from apiserver.registry.service.fielderrors import duplicate
from apiserver.registry.strategy import Cause
from apiserver.registry.table_strategy import TableStrategy
from apiserver.registry.validation import _qualified_name_errors
from apiserver.registry.workloads.validation import spec_of

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
VOLUME_MODES = ("Block", "Filesystem")
PV_RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
CLASS_RECLAIM_POLICIES = ("Delete", "Retain")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
FS_GROUP_POLICIES = ("File", "None", "ReadWriteOnceWithFSType")
LIFECYCLE_MODES = ("Ephemeral", "Persistent")
#: The volume sources a PersistentVolume spec may name (exactly one of them).
PV_SOURCES = (
    "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "fc",
    "flexVolume", "flocker", "gcePersistentDisk", "glusterfs", "hostPath", "iscsi", "local",
    "nfs", "photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO",
    "storageos", "vsphereVolume",
)
_MAX_PARAMETERS = 512
_MAX_PARAMETERS_SIZE = 256 * 1024
_DRIVER_NAME_MAX = 63
_NODE_ID_MAX = 192


def _too_long(path: str, limit: int) -> Cause:
    return {"reason": "FieldValueTooLong", "field": path,
            "message": f"Too long: may not be more than {limit} bytes"}


def _too_many(path: str, count: int, limit: int) -> Cause:
    return {"reason": "FieldValueTooMany", "field": path,
            "message": f"Too many: {count}: must have at most {limit} items"}


def _subdomain(path: str, value: Any) -> list[Cause]:
    return [c.invalid(path, c.go_value(value), m)
            for m in meta.dns1123_subdomain_errors(str(value))]


def _access_modes(modes: Any, path: str, detail: str) -> list[Cause]:
    if not isinstance(modes, list) or not modes:
        return [c.required(path, detail)]
    return [c.not_supported(path, m, ACCESS_MODES) for m in modes if m not in ACCESS_MODES]


def _volume_mode(spec: dict[str, Any], path: str) -> list[Cause]:
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        return [c.not_supported(path, mode, VOLUME_MODES)]
    return []


def validate_pv(obj: dict[str, Any]) -> list[Cause]:
    """Access modes, a ``storage`` capacity, exactly one volume source, policy values."""
    spec = spec_of(obj)
    causes = _access_modes(spec.get("accessModes"), "spec.accessModes",
                           "must specify at least 1 access mode")
    capacity = spec.get("capacity")
    if not isinstance(capacity, dict) or not capacity:
        causes.append(c.required("spec.capacity"))
    else:
        for key, value in capacity.items():
            if key != "storage":
                causes.append(c.not_supported("spec.capacity", key, ("storage",)))
            else:
                causes += positive_quantity(f"spec.capacity[{key}]", value)
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy is not None and policy not in PV_RECLAIM_POLICIES:
        causes.append(c.not_supported("spec.persistentVolumeReclaimPolicy", policy,
                                      PV_RECLAIM_POLICIES))
    sources = [s for s in PV_SOURCES if spec.get(s) is not None]
    if not sources:
        causes.append(c.required("spec", "must specify a volume type"))
    for extra in sources[1:]:
        causes.append(c.forbidden(f"spec.{extra}", "may not specify more than 1 volume type"))
    host_path = spec.get("hostPath")
    if isinstance(host_path, dict) and not host_path.get("path"):
        causes.append(c.required("spec.hostPath.path"))
    local = spec.get("local")
    if isinstance(local, dict) and not local.get("path"):
        causes.append(c.required("spec.local.path"))
    nfs = spec.get("nfs")
    if isinstance(nfs, dict):
        if not nfs.get("server"):
            causes.append(c.required("spec.nfs.server"))
        if not nfs.get("path"):
            causes.append(c.required("spec.nfs.path"))
    csi = spec.get("csi")
    if isinstance(csi, dict):
        if not csi.get("driver"):
            causes.append(c.required("spec.csi.driver"))
        if not csi.get("volumeHandle"):
            causes.append(c.required("spec.csi.volumeHandle"))
    class_name = spec.get("storageClassName")
    if class_name:
        causes += _subdomain("spec.storageClassName", class_name)
    return causes + _volume_mode(spec, "spec.volumeMode")


def validate_pvc(obj: dict[str, Any]) -> list[Cause]:
    """Access modes, a positive ``resources.requests[storage]``, volume mode, class name."""
    spec = spec_of(obj)
    causes = _access_modes(spec.get("accessModes"), "spec.accessModes",
                           "at least 1 access mode is required")
    resources = spec.get("resources")
    requests = resources.get("requests") if isinstance(resources, dict) else None
    storage = requests.get("storage") if isinstance(requests, dict) else None
    if storage is None:
        causes.append(c.required("spec.resources[storage]"))
    else:
        causes += positive_quantity("spec.resources.requests[storage]", storage)
    class_name = spec.get("storageClassName")
    if class_name:
        causes += _subdomain("spec.storageClassName", class_name)
    causes += c.label_selector(spec.get("selector"), "spec.selector")
    return causes + _volume_mode(spec, "spec.volumeMode")


class PersistentVolumeStrategy(TableStrategy):
    """core/v1 PersistentVolumes."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_pv(obj)


class PersistentVolumeClaimStrategy(TableStrategy):
    """core/v1 PersistentVolumeClaims."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_pvc(obj)


def driver_name(path: str, name: Any) -> list[Cause]:
    """``validateCSIDriverName``: required, ≤ 63 bytes, a DNS-1123 subdomain once lowered."""
    if not name:
        return [c.required(path)]
    text = str(name)
    if len(text) > _DRIVER_NAME_MAX:
        return [_too_long(path, _DRIVER_NAME_MAX)]
    return [c.invalid(path, c.go_value(text), m)
            for m in meta.dns1123_subdomain_errors(text.lower())]


def _parameters(params: Any) -> list[Cause]:
    if not isinstance(params, dict) or not params:
        return []
    if len(params) > _MAX_PARAMETERS:
        return [_too_long("parameters", _MAX_PARAMETERS)]
    size = sum(len(str(k)) + len(str(v)) for k, v in params.items())
    if size > _MAX_PARAMETERS_SIZE:
        return [_too_long("parameters", _MAX_PARAMETERS_SIZE)]
    if any(not k for k in params):
        return [c.invalid("parameters", c.go_map(params), "key cannot be empty")]
    return []


def validate_storage_class(obj: dict[str, Any]) -> list[Cause]:
    """Provisioner required and qualified; parameter limits; policy and binding-mode values."""
    provisioner = obj.get("provisioner")
    causes: list[Cause] = []
    if not provisioner:
        causes.append(c.required("provisioner"))
    elif len(str(provisioner)) > _DRIVER_NAME_MAX:
        causes.append(_too_long("provisioner", _DRIVER_NAME_MAX))
    else:
        causes += [c.invalid("provisioner", c.go_value(provisioner), m)
                   for m in _qualified_name_errors(str(provisioner))]
    causes += _parameters(obj.get("parameters"))
    policy = obj.get("reclaimPolicy")
    if policy is not None and policy not in CLASS_RECLAIM_POLICIES:
        causes.append(c.not_supported("reclaimPolicy", policy, CLASS_RECLAIM_POLICIES))
    mode = obj.get("volumeBindingMode")
    if mode is None:
        causes.append(c.required("volumeBindingMode"))
    elif mode not in BINDING_MODES:
        causes.append(c.not_supported("volumeBindingMode", mode, BINDING_MODES))
    return causes


class StorageClassStrategy(TableStrategy):
    """storage.k8s.io/v1 StorageClasses: parameters, provisioner and policy are fixed."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_storage_class(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        causes = validate_storage_class(new)
        causes += c.immutable("parameters", new.get("parameters"), old.get("parameters"),
                              c.go_map(new.get("parameters")))
        for key in ("provisioner", "reclaimPolicy", "volumeBindingMode"):
            causes += c.immutable(key, new.get(key), old.get(key))
        return causes


def validate_csi_driver(obj: dict[str, Any]) -> list[Cause]:
    """Name a driver name; required booleans set; policy, mode and token-request values."""
    causes = driver_name("metadata.name", meta.metadata(obj).get("name"))
    spec = spec_of(obj)
    for key in ("attachRequired", "podInfoOnMount", "storageCapacity", "requiresRepublish"):
        if spec.get(key) is None:
            causes.append(c.required(f"spec.{key}"))
    policy = spec.get("fsGroupPolicy")
    if policy is not None and policy not in FS_GROUP_POLICIES:
        causes.append(c.not_supported("spec.fsGroupPolicy", policy, FS_GROUP_POLICIES))
    modes = spec.get("volumeLifecycleModes")
    for mode in modes if isinstance(modes, list) else []:
        if mode not in LIFECYCLE_MODES:
            causes.append(c.not_supported("spec.volumeLifecycleModes", mode, LIFECYCLE_MODES))
    tokens = spec.get("tokenRequests")
    audiences: set[str] = set()
    for i, token in enumerate(tokens if isinstance(tokens, list) else []):
        if not isinstance(token, dict):
            continue
        audience = str(token.get("audience") or "")
        if audience in audiences:
            causes.append(duplicate(f"spec.tokenRequests[{i}].audience",
                                      c.go_value(audience)))
        audiences.add(audience)
        seconds = token.get("expirationSeconds")
        if c.is_int(seconds) and seconds < 600:
            causes.append(c.invalid(f"spec.tokenRequests[{i}].expirationSeconds",
                                    c.go_value(seconds),
                                    "may not specify a duration less than 10 minutes"))
    return causes


class CSIDriverStrategy(TableStrategy):
    """storage.k8s.io/v1 CSIDrivers."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_csi_driver(obj)


def validate_csi_node(obj: dict[str, Any]) -> list[Cause]:
    """Each driver: a unique driver name, a node ID, qualified unique topology keys."""
    drivers = spec_of(obj).get("drivers")
    causes: list[Cause] = []
    names: set[str] = set()
    for i, driver in enumerate(drivers if isinstance(drivers, list) else []):
        path = f"spec.drivers[{i}]"
        if not isinstance(driver, dict):
            causes.append(c.required(path))
            continue
        name = driver.get("name")
        causes += driver_name(f"{path}.name", name)
        if name and str(name) in names:
            causes.append(duplicate(f"{path}.name", c.go_value(name)))
        names.add(str(name or ""))
        node_id = driver.get("nodeID")
        if not node_id:
            causes.append(c.required(f"{path}.nodeID"))
        elif len(str(node_id)) > _NODE_ID_MAX:
            causes.append(c.invalid(f"{path}.nodeID", c.go_value(node_id),
                                    f"must be {_NODE_ID_MAX} characters or less"))
        keys = driver.get("topologyKeys")
        seen: set[str] = set()
        for j, key in enumerate(keys if isinstance(keys, list) else []):
            kpath = f"{path}.topologyKeys[{j}]"
            if str(key) in seen:
                causes.append(duplicate(kpath, c.go_value(key)))
            seen.add(str(key))
            causes += [c.invalid(kpath, c.go_value(key), m)
                       for m in _qualified_name_errors(str(key))]
        allocatable = driver.get("allocatable")
        if isinstance(allocatable, dict):
            causes += c.nonnegative(f"{path}.allocatable.count", allocatable.get("count"))
    return causes


class CSINodeStrategy(TableStrategy):
    """storage.k8s.io/v1 CSINodes."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_csi_node(obj)


def validate_csi_storage_capacity(obj: dict[str, Any]) -> list[Cause]:
    """Class name required; node topology a valid selector; sizes non-negative."""
    causes: list[Cause] = []
    class_name = obj.get("storageClassName")
    if not class_name:
        causes.append(c.required("storageClassName"))
    else:
        causes += _subdomain("storageClassName", class_name)
    causes += c.label_selector(obj.get("nodeTopology"), "nodeTopology")
    for key in ("capacity", "maximumVolumeSize"):
        if obj.get(key) is not None:
            causes += nonnegative_quantity(key, obj[key])
    return causes


class CSIStorageCapacityStrategy(TableStrategy):
    """storage.k8s.io/v1 CSIStorageCapacities: the class and topology are fixed."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_csi_storage_capacity(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        causes = validate_csi_storage_capacity(new)
        causes += c.immutable("storageClassName", new.get("storageClassName"),
                              old.get("storageClassName"))
        return causes + c.immutable("nodeTopology", new.get("nodeTopology"),
                                    old.get("nodeTopology"),
                                    c.go_selector(new.get("nodeTopology")))


_ONE_SOURCE = "must specify exactly one of inlineVolumeSpec and persistentVolumeName"


def validate_volume_attachment(obj: dict[str, Any]) -> list[Cause]:
    """Attacher a driver name, node name required, exactly one volume source."""
    spec = spec_of(obj)
    causes = driver_name("spec.attacher", spec.get("attacher"))
    node = spec.get("nodeName")
    if not node:
        causes.append(c.required("spec.nodeName"))
    else:
        causes += _subdomain("spec.nodeName", node)
    source = spec.get("source")
    source = source if isinstance(source, dict) else {}
    pv_name = source.get("persistentVolumeName")
    inline = source.get("inlineVolumeSpec")
    if pv_name is None and inline is None:
        causes.append(c.required("spec.source", _ONE_SOURCE))
    elif pv_name is not None and inline is not None:
        causes.append(c.forbidden("spec.source", _ONE_SOURCE))
    elif pv_name is not None and not pv_name:
        causes.append(c.required("spec.source.persistentVolumeName",
                                 "must specify non empty persistentVolumeName"))
    return causes


class VolumeAttachmentStrategy(TableStrategy):
    """storage.k8s.io/v1 VolumeAttachments: the spec is fixed after create."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_volume_attachment(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        causes = validate_volume_attachment(new)
        return causes + c.immutable("spec", new.get("spec"), old.get("spec"),
                                    "storage.VolumeAttachmentSpec{…}")
