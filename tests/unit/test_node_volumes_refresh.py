"""Volumes of running pods follow their sources: the kubelet's atomic layout and refresh."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controllers.node import atomicwriter, volumes


def _token(issued: float, lifetime: float) -> str:
    claims = base64.urlsafe_b64encode(json.dumps(
        {"iat": int(issued), "exp": int(issued + lifetime)}).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJSUzI1NiJ9.{claims}.sig"


def test_the_writer_swaps_the_data_link_and_keeps_user_visible_links(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    assert atomicwriter.write_atomic(vol, {"a.conf": (b"1", 0o644), "dir/b": (b"2", 0o600)})
    first = os.readlink(vol / "..data")
    assert first.startswith("..") and (vol / first).is_dir()
    assert os.readlink(vol / "a.conf") == "..data/a.conf"
    assert os.readlink(vol / "dir") == "..data/dir"
    assert (vol / "dir" / "b").read_bytes() == b"2"
    assert (vol / "dir" / "b").stat().st_mode & 0o777 == 0o600
    # The same payload: nothing is written.
    assert not atomicwriter.write_atomic(vol, {"a.conf": (b"1", 0o644), "dir/b": (b"2", 0o600)})
    assert os.readlink(vol / "..data") == first
    # A new payload: a new directory, the old one and the dropped key gone.
    assert atomicwriter.write_atomic(vol, {"a.conf": (b"3", 0o644), "c": (b"4", 0o644)})
    second = os.readlink(vol / "..data")
    assert second != first and not (vol / first).exists()
    assert (vol / "a.conf").read_bytes() == b"3" and (vol / "c").read_bytes() == b"4"
    assert not (vol / "dir").exists() and not (vol / "dir").is_symlink()
    assert sorted(p.name for p in vol.iterdir()) == sorted(["..data", second, "a.conf", "c"])


def test_the_writer_refuses_paths_leaving_the_volume() -> None:
    payload = {"/abs": (b"", 0o644), "../up": (b"", 0o644), "a/../../b": (b"", 0o644),
               "..data/x": (b"", 0o644), "./ok//fine": (b"x", 0o644)}
    assert atomicwriter.clean_payload(payload) == {"ok/fine": (b"x", 0o644)}


def test_token_freshness_follows_its_claims() -> None:
    now = time.time()
    assert volumes.token_fresh(_token(now - 100, 3600), now)
    assert not volumes.token_fresh(_token(now - 3000, 3600), now)  # past 80%
    assert not volumes.token_fresh("not-a-jwt", now)


POD: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "shop", "uid": "u7", "labels": {"tier": "a"}},
    "spec": {
        "containers": [{"name": "main", "volumeMounts": [
            {"name": "cfg", "mountPath": "/etc/cfg"},
            {"name": "cfg", "mountPath": "/etc/one", "subPath": "one"},
            {"name": "info", "mountPath": "/etc/info"},
            {"name": "api", "mountPath": "/var/run/api"},
            {"name": "scratch", "mountPath": "/scratch"}]}],
        "volumes": [
            {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 0o640}},
            {"name": "info", "downwardAPI": {"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"},
                 "mode": 0o600}]}},
            {"name": "api", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}},
            {"name": "scratch", "emptyDir": {}},
        ],
    },
}


def test_refresh_follows_the_configmap_and_labels_and_renews_only_old_tokens(
        tmp_path: Path) -> None:
    objects: dict[str, dict[str, Any]] = {"cfg": {"data": {"one": "1", "two": "2"}}}
    issued: list[str] = []

    async def fetch(kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        return objects.get(name)

    async def token(namespace: str, sa: str, audience: str, expiry: int) -> str:
        issued.append(_token(time.time() - (3000 if not issued else 0), expiry))
        return issued[-1]

    root = Path(asyncio.run(volumes.materialise(POD, str(tmp_path), fetch, token)))
    assert (root / "etc/cfg/one").read_text() == "1"
    assert (tmp_path / "u7/volumes/cfg/..data/one").stat().st_mode & 0o777 == 0o640
    assert (root / "etc/info/labels").read_text() == 'tier="a"'
    (root / "scratch/kept").write_text("x")
    objects["cfg"] = {"data": {"one": "10", "three": "3"}}
    pod = {**POD, "metadata": {**POD["metadata"], "labels": {"tier": "b"}}}
    assert asyncio.run(volumes.refresh(pod, str(tmp_path), fetch, token)) == []
    assert (root / "etc/cfg/one").read_text() == "10"
    assert (root / "etc/cfg/three").read_text() == "3"
    assert not (root / "etc/cfg/two").exists()
    assert (root / "etc/info/labels").read_text() == 'tier="b"'
    assert (root / "scratch/kept").read_text() == "x"
    # The first token was issued 3,000 s into its hour: renewed once, then kept.
    assert len(issued) == 2 and (root / "var/run/api/token").read_text() == issued[1]
    asyncio.run(volumes.refresh(pod, str(tmp_path), fetch, token))
    assert len(issued) == 2
    # The ConfigMap deleted: the files stay, and the failure is the kubelet's message.
    del objects["cfg"]
    assert asyncio.run(volumes.refresh(pod, str(tmp_path), fetch, token)) == [
        'MountVolume.SetUp failed for volume "cfg" : configmap "cfg" not found']
    assert (root / "etc/cfg/one").read_text() == "10"


def test_a_missing_source_is_a_failed_mount_unless_optional() -> None:
    async def fetch(kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        return {"data": {}} if name == "there" else None

    def pod(*volumes: dict[str, Any]) -> dict[str, Any]:
        return {"metadata": {"namespace": "shop"}, "spec": {"volumes": list(volumes)}}

    assert asyncio.run(volumes.mount_error(pod(
        {"name": "a", "configMap": {"name": "there"}},
        {"name": "b", "secret": {"secretName": "gone", "optional": True}},
        {"name": "c", "emptyDir": {}}), fetch)) is None
    assert asyncio.run(volumes.mount_error(pod(
        {"name": "api", "projected": {"sources": [
            {"serviceAccountToken": {"path": "token"}},
            {"secret": {"name": "gone"}}]}}), fetch)) == (
        'MountVolume.SetUp failed for volume "api" : secret "gone" not found')
