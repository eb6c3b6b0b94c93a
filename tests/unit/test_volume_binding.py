"""The binder's volume matching and the storage admission plugins."""

from __future__ import annotations

import asyncio
from typing import Any

from apiserver.admission.attributes import AdmissionAttributes, Operation
from apiserver.admission.storage import (
    DefaultStorageClass,
    StorageObjectInUseProtection,
    default_class,
)
from apiserver.api.resources import served
from controllers.volume.binder import fits

PVCS = served("", "v1", "persistentvolumeclaims")
PVS = served("", "v1", "persistentvolumes")


def _volume(size: str = "5Gi", cls: str = "manual", modes: tuple[str, ...] = ("ReadWriteOnce",),
            **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": "v", "labels": labels},
            "spec": {"capacity": {"storage": size}, "storageClassName": cls,
                     "accessModes": list(modes)}}


def _claim(size: str = "1Gi", cls: str | None = "manual", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": size}}, **spec}
    if cls is not None:
        body["storageClassName"] = cls
    return {"metadata": {"name": "c", "namespace": "d"}, "spec": body}


def test_a_volume_fits_by_class_modes_size_mode_and_labels() -> None:
    assert fits(_volume(), _claim())
    assert not fits(_volume(), _claim(size="6Gi"))
    assert not fits(_volume(cls="fast"), _claim())
    assert fits(_volume(cls=""), _claim(cls=None))  # a claim without a class asks for ""
    assert not fits(_volume(), _claim(accessModes=["ReadWriteMany"]))
    assert not fits(_volume(), _claim(volumeMode="Block"))
    selector = {"matchLabels": {"tier": "gold"}}
    assert fits(_volume(tier="gold"), _claim(selector=selector))
    assert not fits(_volume(tier="silver"), _claim(selector=selector))


class Source:
    def __init__(self, classes: list[dict[str, Any]]) -> None:
        self.classes = classes

    def cached_list(self, info: Any, namespace: str) -> list[dict[str, Any]]:
        return self.classes


def _attrs(info: Any, obj: dict[str, Any]) -> AdmissionAttributes:
    return AdmissionAttributes(info=info, operation=Operation.CREATE, namespace="d",
                               name="c", object=obj, old_object=None)


def _class(name: str, created: str, default: bool = True) -> dict[str, Any]:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {"metadata": {"name": name, "creationTimestamp": created,
                         "annotations": annotations}}


def test_the_default_class_is_the_newest_default_and_only_fills_a_missing_class() -> None:
    classes = [_class("old", "2026-01-01T00:00:00Z"), _class("new", "2026-02-01T00:00:00Z"),
               _class("other", "2026-03-01T00:00:00Z", default=False)]
    chosen = default_class(classes)
    assert chosen is not None and chosen["metadata"]["name"] == "new"
    plugin = DefaultStorageClass(Source(classes))  # type: ignore[arg-type]
    unset, empty = _claim(cls=None), _claim(cls="")
    asyncio.run(plugin.admit(_attrs(PVCS, unset)))
    asyncio.run(plugin.admit(_attrs(PVCS, empty)))
    assert unset["spec"]["storageClassName"] == "new"
    assert empty["spec"]["storageClassName"] == ""


def test_new_claims_and_volumes_get_their_protection_finalizers() -> None:
    claim, volume = _claim(), _volume()
    asyncio.run(StorageObjectInUseProtection().admit(_attrs(PVCS, claim)))
    asyncio.run(StorageObjectInUseProtection().admit(_attrs(PVS, volume)))
    assert claim["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert volume["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
