"""PersistentVolumes and claims end to end: the default StorageClass and its hostpath
provisioner, the binder, the protection finalizers and controllers, and a pod writing into
its claim's directory.

A private apiserver with upstream's default admission (DefaultStorageClass,
StorageObjectInUseProtection; ServiceAccount off, as no ``default`` ServiceAccounts are
made), the controller manager's volume controllers, the scheduler and a node agent that
runs host commands.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from kubemu.addresses import Addresses
from tests.conftest import ApiServerFactory
from tests.support.kubemu_up import wait_for
from tests.support.process import Process

NS = "/api/v1/namespaces/default"
MERGE = {"Content-Type": "application/merge-patch+json"}


def _claim(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}, **spec}}


def test_claims_bind_provision_protect_and_reclaim(
    apiserver_factory: ApiServerFactory, procs: Callable[..., Process],
    address_block: Addresses, tmp_path: Path,
) -> None:
    server = apiserver_factory(extra_args=("--disable-admission-plugins=ServiceAccount",))
    root = tmp_path / "volumes"
    procs(server, "controllers.manager", "--leader-elect=false",
          "--controllers=persistentvolume-binder,pvc-protection,pv-protection,"
          "hostpath-provisioner", f"--hostpath-provisioner-root={root}")
    procs(server, "controllers.scheduler")
    procs(server, "controllers.node", "--node-name", "vn-1", "--pod-cidr",
          address_block.pod_cidr(1), "--lease-interval", "1", "--allow-host-commands")
    client = httpx.Client(base_url=server.url, timeout=5)

    def get(path: str) -> dict[str, Any]:
        resp = client.get(path)
        return dict(resp.json()) if resp.status_code == 200 else {}

    def reasons(name: str) -> list[str]:
        return [e["reason"] for e in get(f"{NS}/events")["items"]
                if e["involvedObject"]["name"] == name]

    standard = wait_for("the default StorageClass", lambda: get(
        "/apis/storage.k8s.io/v1/storageclasses/standard"))
    assert standard["metadata"]["annotations"] == {
        "storageclass.kubernetes.io/is-default-class": "true"}
    assert standard["provisioner"] == "kubemu.io/hostpath"

    # A claim without a class gets the default one and a provisioned volume.
    client.post(f"{NS}/persistentvolumeclaims", json=_claim("data")).raise_for_status()
    claim = wait_for("data bound", lambda: (c := get(f"{NS}/persistentvolumeclaims/data"))
                     and c.get("status", {}).get("phase") == "Bound" and c)
    assert claim["spec"]["storageClassName"] == "standard"
    assert claim["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert claim["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    assert claim["status"]["capacity"] == {"storage": "1Gi"}
    volume_name = claim["spec"]["volumeName"]
    assert volume_name == f"pvc-{claim['metadata']['uid']}"
    volume = get(f"/api/v1/persistentvolumes/{volume_name}")
    assert volume["status"]["phase"] == "Bound"
    assert volume["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
    assert volume["spec"]["claimRef"]["name"] == "data"
    directory = Path(volume["spec"]["hostPath"]["path"])
    assert directory.parent == root and directory.is_dir()
    wait_for("provisioning events", lambda: {"ExternalProvisioning", "Provisioning",
                                             "ProvisioningSucceeded"} <= set(reasons("data")))

    # A static volume of a class without a provisioner, bound by the binder.
    client.post("/api/v1/persistentvolumes", json={
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "manual-1"},
        "spec": {"storageClassName": "manual", "capacity": {"storage": "5Gi"},
                 "accessModes": ["ReadWriteOnce"],
                 "hostPath": {"path": str(tmp_path / "manual")}}}).raise_for_status()
    wait_for("manual-1 Available", lambda: get("/api/v1/persistentvolumes/manual-1").get(
        "status", {}).get("phase") == "Available")
    client.post(f"{NS}/persistentvolumeclaims",
                json=_claim("static", storageClassName="manual")).raise_for_status()
    wait_for("static bound to manual-1", lambda: get(
        f"{NS}/persistentvolumeclaims/static").get("spec", {}).get("volumeName") == "manual-1")
    manual = get("/api/v1/persistentvolumes/manual-1")
    assert manual["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
    # No class and no volume: upstream's event.
    client.post(f"{NS}/persistentvolumeclaims",
                json=_claim("none", storageClassName="")).raise_for_status()
    wait_for("FailedBinding", lambda: "FailedBinding" in reasons("none"))

    # A pod writes into its claim's directory.
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "writer"},
           "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
               "name": "c", "image": "busybox",
               "command": ["sh", "-c", "echo hello > $KUBEMU_POD_ROOT/data/out 2>/dev/null"
                           " || echo hello > /data/out; exec sleep 3600"],
               "volumeMounts": [{"name": "d", "mountPath": "/data"}]}],
               "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}}
    client.post(f"{NS}/pods", json=pod).raise_for_status()
    wait_for("the pod's file in the volume", lambda: (directory / "out").exists(), 30)
    assert (directory / "out").read_text() == "hello\n"

    # In use: deleting the claim waits for the pod.
    client.delete(f"{NS}/persistentvolumeclaims/data").raise_for_status()
    time.sleep(1)
    assert get(f"{NS}/persistentvolumeclaims/data")["metadata"]["deletionTimestamp"]
    client.delete(f"{NS}/pods/writer", params={"gracePeriodSeconds": "0"}).raise_for_status()
    wait_for("the claim gone", lambda: client.get(
        f"{NS}/persistentvolumeclaims/data").status_code == 404, 30)
    # Released under Delete: the provisioner removes the volume and its directory.
    wait_for("the volume gone", lambda: client.get(
        f"/api/v1/persistentvolumes/{volume_name}").status_code == 404, 30)
    assert not os.path.exists(directory)
    # Released under Retain: kept.
    client.delete(f"{NS}/persistentvolumeclaims/static").raise_for_status()
    wait_for("manual-1 Released", lambda: get("/api/v1/persistentvolumes/manual-1").get(
        "status", {}).get("phase") == "Released")
