"""PVs, PVCs and storage.k8s.io kinds: upstream paths and messages."""

from __future__ import annotations

from typing import Any

from apiserver.api.resources import RESOURCES
from apiserver.registry.quantity import parse_quantity
from apiserver.registry.registry import strategy_for
from apiserver.registry.strategy import Strategy


def _strategy(group: str, plural: str) -> Strategy:
    return strategy_for(next(i for i in RESOURCES if i.group == group and i.plural == plural))


def found(causes: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in causes]


def test_parse_quantity() -> None:
    assert parse_quantity("3Gi") == 3 * 1024 ** 3
    assert parse_quantity("500m") == parse_quantity("0.5")
    assert parse_quantity("1e3") == 1000
    assert parse_quantity(2) == 2
    assert parse_quantity("-1") == -1
    assert parse_quantity("abc") is None and parse_quantity(True) is None


def pvc(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}}}
    return {"metadata": {"name": "c"}, "spec": {**base, **spec}}


def test_pvc() -> None:
    s = _strategy("", "persistentvolumeclaims")
    assert s.validate(pvc()) == []
    assert found(s.validate(pvc(accessModes=[]))) == [
        ("spec.accessModes", "Required value: at least 1 access mode is required")]
    assert found(s.validate(pvc(resources={}))) == [("spec.resources[storage]", "Required value")]
    assert found(s.validate(pvc(resources={"requests": {"storage": "0"}}))) == [
        ("spec.resources.requests[storage]", 'Invalid value: "0": must be greater than zero')]
    assert found(s.validate(pvc(accessModes=["Bogus"])))[0][1].startswith(
        'Unsupported value: "Bogus": supported values: "ReadOnlyMany"')


def pv(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"},
                            "hostPath": {"path": "/mnt"}}
    return {"metadata": {"name": "v"}, "spec": {k: v for k, v in {**base, **spec}.items()
                                                  if v is not None}}


def test_pv() -> None:
    s = _strategy("", "persistentvolumes")
    assert s.validate(pv()) == []
    assert found(s.validate(pv(capacity=None))) == [("spec.capacity", "Required value")]
    assert found(s.validate(pv(hostPath=None))) == [
        ("spec", "Required value: must specify a volume type")]
    assert found(s.validate(pv(nfs={"server": "a", "path": "/x"}))) == [
        ("spec.nfs", "Forbidden: may not specify more than 1 volume type")]
    assert found(s.validate(pv(accessModes=None))) == [
        ("spec.accessModes", "Required value: must specify at least 1 access mode")]
    assert found(s.validate(pv(persistentVolumeReclaimPolicy="Keep"))) == [(
        "spec.persistentVolumeReclaimPolicy",
        'Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"')]


def test_storage_class() -> None:
    s = _strategy("storage.k8s.io", "storageclasses")
    good = {"metadata": {"name": "s"}, "provisioner": "example.com/p",
            "volumeBindingMode": "Immediate", "reclaimPolicy": "Delete"}
    assert s.validate(good) == []
    assert found(s.validate({**good, "provisioner": ""})) == [("provisioner", "Required value")]
    assert found(s.validate({**good, "reclaimPolicy": "Recycle"})) == [
        ("reclaimPolicy", 'Unsupported value: "Recycle": supported values: "Delete", "Retain"')]
    many = {f"k{i}": "v" for i in range(513)}
    assert [f for f, _ in found(s.validate({**good, "parameters": many}))] == ["parameters"]
    changed = s.validate_update({**good, "provisioner": "other.io/p"}, good)
    assert found(changed) == [("provisioner", 'Invalid value: "other.io/p": field is immutable')]


def test_csi_driver_and_node() -> None:
    s = _strategy("storage.k8s.io", "csidrivers")
    spec = {"attachRequired": True, "podInfoOnMount": False, "storageCapacity": False,
            "requiresRepublish": False, "fsGroupPolicy": "File"}
    good = {"metadata": {"name": "csi.example.com"}, "spec": spec}
    assert s.validate(good) == []
    bad = {**good, "spec": {**spec, "fsGroupPolicy": "Bogus"}}
    assert [f for f, _ in found(s.validate(bad))] == ["spec.fsGroupPolicy"]
    n = _strategy("storage.k8s.io", "csinodes")
    driver = {"name": "csi.example.com", "nodeID": "n1", "topologyKeys": ["example.com/zone"]}
    assert n.validate({"spec": {"drivers": [driver]}}) == []
    bad_node = {"spec": {"drivers": [{**driver, "name": "Bad_Name", "nodeID": ""}, driver]}}
    assert [f for f, _ in found(n.validate(bad_node))] == [
        "spec.drivers[0].name", "spec.drivers[0].nodeID"]
    dup = {"spec": {"drivers": [driver, driver]}}
    assert found(n.validate(dup)) == [
        ("spec.drivers[1].name", 'Duplicate value: "csi.example.com"')]


def test_capacity_and_attachment() -> None:
    s = _strategy("storage.k8s.io", "csistoragecapacities")
    assert s.validate({"storageClassName": "standard", "capacity": "1Gi"}) == []
    assert found(s.validate({"capacity": "-1"})) == [
        ("storageClassName", "Required value"),
        ("capacity", 'Invalid value: "-1": must be greater than or equal to 0')]
    v = _strategy("storage.k8s.io", "volumeattachments")
    spec = {"attacher": "csi.example.com", "nodeName": "node-1",
            "source": {"persistentVolumeName": "pv-1"}}
    assert v.validate({"spec": spec}) == []
    assert found(v.validate({"spec": {**spec, "attacher": ""}})) == [
        ("spec.attacher", "Required value")]
    assert found(v.validate({"spec": {**spec, "source": {}}})) == [(
        "spec.source", "Required value: must specify exactly one of inlineVolumeSpec and "
        "persistentVolumeName")]
    assert [f for f, _ in found(v.validate({"spec": {**spec, "nodeName": ""}}))] == [
        "spec.nodeName"]
