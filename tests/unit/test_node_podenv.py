"""A host process's environment: variables (valueFrom, downward API) and volumes as files."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controllers.node import podenv, volumes
from controllers.node.etchosts import pod_hostname

OBJECTS: dict[tuple[str, str], dict[str, Any]] = {
    ("configmaps", "cfg"): {"data": {"mode": "fast", "app.conf": "x=1\n"}},
    ("secrets", "creds"): {"data": {"password": base64.b64encode(b"s3cret").decode()}},
}

POD: dict[str, Any] = {
    "metadata": {"name": "web-1", "namespace": "shop", "uid": "uid-9",
                 "labels": {"app": "web"}},
    "spec": {
        "nodeName": "n1", "serviceAccountName": "builder",
        "containers": [{
            "name": "main",
            "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
            "env": [
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg",
                                                                   "key": "mode"}}},
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds",
                                                                    "key": "password"}}},
                {"name": "MISSING", "valueFrom": {"secretKeyRef": {"name": "nope",
                                                                   "key": "k"}}},
                {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {
                    "fieldPath": "metadata.labels['app']"}}},
                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "URL", "value": "http://$(IP):80/$(NOPE)$$"},
            ],
            "volumeMounts": [
                {"name": "config", "mountPath": "/etc/app"},
                {"name": "secret", "mountPath": "/etc/secret"},
                {"name": "info", "mountPath": "/etc/podinfo"},
                {"name": "token", "mountPath": "/var/run/secrets/tokens"},
                {"name": "scratch", "mountPath": "/data"},
            ],
        }],
        "volumes": [
            {"name": "config", "configMap": {"name": "cfg", "items": [
                {"key": "app.conf", "path": "conf/app.conf"}]}},
            {"name": "secret", "secret": {"secretName": "creds"}},
            {"name": "info", "downwardAPI": {"items": [
                {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
            {"name": "token", "projected": {"sources": [
                {"serviceAccountToken": {"path": "sa", "audience": "vault"}},
                {"configMap": {"name": "cfg", "items": [{"key": "mode", "path": "mode"}]}}]}},
            {"name": "scratch", "emptyDir": {}},
        ],
    },
    "status": {"podIP": "127.244.1.7"},
}


async def fetch(kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
    assert namespace == "shop"
    return OBJECTS.get((kind, name))


async def token(namespace: str, sa: str, audience: str, expiry: int) -> str:
    return f"token-for-{namespace}-{sa}-{audience}-{expiry}"


def test_variables_resolve_as_the_kubelet_resolves_them() -> None:
    env = asyncio.run(podenv.container_env(POD, POD["spec"]["containers"][0], fetch, "/r"))
    assert env["CFG_mode"] == "fast"
    assert (env["MODE"], env["PASSWORD"], env["NS"], env["APP"]) == (
        "fast", "s3cret", "shop", "web")
    assert "MISSING" not in env
    assert env["URL"] == "http://127.244.1.7:80/$(NOPE)$"
    assert (env["HOSTNAME"], env["KUBEMU_POD_ROOT"]) == ("web-1", "/r")
    assert env["PATH"] == os.environ["PATH"]


def test_hostname_is_the_containers_host_name() -> None:
    pod = {**POD, "spec": {**POD["spec"], "subdomain": "db", "setHostnameAsFQDN": True}}
    fqdn = pod_hostname(pod, "cluster.local")
    assert fqdn == f"web-1.db.{POD['metadata'].get('namespace', 'default')}.svc.cluster.local"
    env = asyncio.run(podenv.container_env(pod, pod["spec"]["containers"][0], fetch, "/r",
                                           hostname=fqdn))
    assert env["HOSTNAME"] == fqdn


def test_volumes_are_materialised_under_the_pod_root(tmp_path: Path) -> None:
    root = Path(asyncio.run(volumes.materialise(POD, str(tmp_path), fetch, token)))
    assert root == Path(podenv.pod_root(str(tmp_path), "uid-9"))
    assert (root / "etc/app/conf/app.conf").read_text() == "x=1\n"
    assert (root / "etc/secret/password").read_bytes() == b"s3cret"
    assert (root / "etc/podinfo/name").read_text() == "web-1"
    assert (root / "var/run/secrets/tokens/sa").read_text() == (
        "token-for-shop-builder-vault-3600")
    assert (root / "var/run/secrets/tokens/mode").read_text() == "fast"
    (root / "data/file").write_text("kept")
    asyncio.run(volumes.materialise(POD, str(tmp_path), fetch, token))  # again: kept
    assert (root / "data/file").read_text() == "kept"
    container = {"workingDir": "/srv/app"}
    assert podenv.working_dir(container, str(root)) == str(root / "srv/app")
    assert podenv.working_dir({"workingDir": str(tmp_path)}, str(root)) == str(tmp_path)
    volumes.remove_pod_dir(str(tmp_path), "uid-9")
    assert not (tmp_path / "uid-9").exists()


def test_the_mount_namespace_lists_the_mounts_read_only_where_upstream_is(
        tmp_path: Path) -> None:
    pod = {"metadata": {"uid": "u1"}, "spec": {"volumes": [
        {"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "cache", "emptyDir": {}}]}}
    for path in ("cfg", "cache/sub"):
        (tmp_path / "u1" / "volumes" / path).mkdir(parents=True)
    container = {"volumeMounts": [
        {"name": "cfg", "mountPath": "/etc/cfg"},
        {"name": "cache", "mountPath": "/cache"},
        {"name": "cache", "mountPath": "/ro", "readOnly": True},
        {"name": "cache", "mountPath": "/sub", "subPath": "sub"},
        {"name": "cache", "mountPath": "/escape", "subPath": "../cfg"},
        {"name": "cache", "mountPath": "relative"},
        {"name": "absent", "mountPath": "/absent"},
    ]}
    namespace = podenv.namespace(pod, container, str(tmp_path))
    volumes = tmp_path / "u1" / "volumes"
    assert [(m.source, m.path, m.read_only) for m in namespace.mounts] == [
        (str(volumes / "cfg"), "/etc/cfg", True), (str(volumes / "cache"), "/cache", False),
        (str(volumes / "cache"), "/ro", True), (str(volumes / "cache" / "sub"), "/sub", False)]
    assert namespace.work == str(tmp_path / "u1" / "ns")
    assert os.path.isdir(namespace.work)


def test_a_missing_configmap_fails_the_mount_until_it_exists(tmp_path: Path) -> None:
    """As the kubelet: ``MountVolume.SetUp failed`` while ``kube-root-ca.crt`` is missing,
    nothing written; the next attempt after it appeared writes ``ca.crt``."""
    pod = {"metadata": {"name": "p", "namespace": "shop", "uid": "u2"}, "spec": {
        "containers": [{"name": "main", "volumeMounts": [
            {"name": "kube-api-access-x", "mountPath": "/var/run/secrets/kubernetes.io/"
                                                      "serviceaccount"}]}],
        "volumes": [{"name": "kube-api-access-x", "projected": {"sources": [
            {"serviceAccountToken": {"path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt",
                           "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"configMap": {"name": "absent-but-optional", "optional": True}},
        ]}}]}}
    objects: dict[str, dict[str, Any]] = {}

    async def lookup(kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        return objects.get(name)

    try:
        asyncio.run(volumes.materialise(pod, str(tmp_path), lookup, token))
    except volumes.VolumeSetupError as exc:
        assert str(exc) == ('MountVolume.SetUp failed for volume "kube-api-access-x" : '
                            'configmap "kube-root-ca.crt" not found')
    else:
        raise AssertionError("the mount should have failed")
    assert not (tmp_path / "u2" / "volumes" / "kube-api-access-x").exists()
    objects["kube-root-ca.crt"] = {"data": {"ca.crt": "PEM"}}
    root = Path(asyncio.run(volumes.materialise(pod, str(tmp_path), lookup, token)))
    mounted = root / "var/run/secrets/kubernetes.io/serviceaccount"
    assert (mounted / "ca.crt").read_text() == "PEM"
    assert (mounted / "token").read_text() == "token-for-shop-default--3600"
