"""DefaultStorageClass and StorageObjectInUseProtection (``plugin/pkg/admission/storage``).

* **DefaultStorageClass**: a PersistentVolumeClaim created without
  ``spec.storageClassName`` gets the default StorageClass's name — the class annotated
  ``storageclass.kubernetes.io/is-default-class: "true"``; of several, the newest (then
  the first by name). Without a default class the claim is left alone. A claim that names
  a class, even ``""``, keeps it.
* **StorageObjectInUseProtection**: a new PersistentVolumeClaim gets the
  ``kubernetes.io/pvc-protection`` finalizer and a new PersistentVolume
  ``kubernetes.io/pv-protection``, so neither disappears while in use (the controller
  manager's ``pvc-protection`` and ``pv-protection`` controllers remove them).

Both mutate on create only, never on subresources.
"""

from __future__ import annotations

from typing import Any

from apiserver.admission.attributes import AdmissionAttributes, ObjectSource, Operation
from apiserver.api.resources import served

__all__ = [
    "DEFAULT_CLASS_ANNOTATION",
    "PVC_PROTECTION",
    "PV_PROTECTION",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "default_class",
]

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"

STORAGECLASSES = served("storage.k8s.io", "v1", "storageclasses")


def _m(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def default_class(classes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The default StorageClass of ``classes`` (upstream ``GetDefaultClass``)."""
    defaults = [c for c in classes
                if _m(_m(c.get("metadata")).get("annotations")).get(DEFAULT_CLASS_ANNOTATION)
                == "true"]
    if not defaults:
        return None
    defaults.sort(key=lambda c: str(_m(c.get("metadata")).get("name") or ""))
    return max(defaults, key=lambda c: str(_m(c.get("metadata")).get("creationTimestamp")
                                           or ""))


class DefaultStorageClass:
    """Gives claims without a class the default StorageClass (see the module)."""

    name = "DefaultStorageClass"

    def __init__(self, source: ObjectSource) -> None:
        self.source = source

    def handles(self, operation: Operation) -> bool:
        return operation is Operation.CREATE

    async def admit(self, attrs: AdmissionAttributes) -> None:
        if not attrs.is_core("persistentvolumeclaims") or attrs.object is None:
            return
        spec = attrs.object.setdefault("spec", {})
        if not isinstance(spec, dict) or spec.get("storageClassName") is not None:
            return
        found = default_class(list(self.source.cached_list(STORAGECLASSES, "")))
        if found is not None:
            spec["storageClassName"] = _m(found.get("metadata")).get("name")


class StorageObjectInUseProtection:
    """Adds the protection finalizers to new claims and volumes (see the module)."""

    name = "StorageObjectInUseProtection"

    def handles(self, operation: Operation) -> bool:
        return operation is Operation.CREATE

    async def admit(self, attrs: AdmissionAttributes) -> None:
        if attrs.object is None:
            return
        if attrs.is_core("persistentvolumeclaims"):
            finalizer = PVC_PROTECTION
        elif attrs.is_core("persistentvolumes"):
            finalizer = PV_PROTECTION
        else:
            return
        md = attrs.object.setdefault("metadata", {})
        finalizers = md.setdefault("finalizers", [])
        if isinstance(finalizers, list) and finalizer not in finalizers:
            finalizers.append(finalizer)
