"""Secrets encrypted at rest (``--encryption-provider-config``) in the real SQLite file and
in a real etcd, read back through the API, and key rotation as upstream's documentation
describes it (issue 13, Done-when 5); ``kubemu up --encryption-provider-config`` too."""

from __future__ import annotations

import base64
import contextlib
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from kubemu.components import component_names
from tests.conftest import ApiServerFactory
from tests.support.apiserver import REPO_ROOT
from tests.support.etcd import EtcdProcess, unique_prefix
from tests.support.kubectl import Kubectl
from tests.support.kubemu_up import start_kubemu, stop_kubemu

KEY1 = base64.b64encode(b"k" * 32).decode()
KEY2 = base64.b64encode(b"n" * 32).decode()
PASSWORD = "correct-horse-battery-staple"


def write_config(path: Path, providers: str) -> Path:
    path.write_text(f"""apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
    providers:
{providers}""")
    return path


def aescbc(*keys: tuple[str, str]) -> str:
    lines = ["      - aescbc:", "          keys:"]
    for name, secret in keys:
        lines += [f"            - name: {name}", f"              secret: {secret}"]
    return "\n".join(lines) + "\n"


IDENTITY = "      - identity: {}\n"


def create_secret(url: str, ns: str, name: str) -> None:
    with httpx.Client(base_url=url) as client:
        r = client.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
        assert r.status_code in (201, 409), r.text
        r = client.post(f"/api/v1/namespaces/{ns}/secrets", json={
            "metadata": {"name": name}, "stringData": {"password": PASSWORD}})
        assert r.status_code == 201, r.text
        r = client.post(f"/api/v1/namespaces/{ns}/configmaps", json={
            "metadata": {"name": name}, "data": {"plain": "visible-configmap-value"}})
        assert r.status_code == 201, r.text


def read_password(url: str, ns: str, name: str) -> str:
    r = httpx.get(f"{url}/api/v1/namespaces/{ns}/secrets/{name}")
    assert r.status_code == 200, r.text
    return base64.b64decode(r.json()["data"]["password"]).decode()


def sqlite_values(db: Path, prefix: str) -> list[bytes]:
    """The current stored value of every live key under ``prefix``."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT l.value FROM log l JOIN (SELECT MAX(id) AS mid FROM log GROUP BY name) m "
            "ON l.id = m.mid WHERE l.deleted = 0 AND l.name LIKE ?", (prefix + "%",))
        return [bytes(v) for (v,) in rows]


def files_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.iterdir()) if p.is_file())


def test_sqlite_secrets_are_ciphertext_and_keys_rotate(
        apiserver_factory: ApiServerFactory, kubectl: Kubectl, tmp_path: Path) -> None:
    config = write_config(tmp_path / "encryption.yaml", aescbc(("key1", KEY1)) + IDENTITY)
    server = apiserver_factory("sqlite", ["--encryption-provider-config", str(config)])
    db = server.data_dir / "kubemu.db"
    for i in range(3):
        create_secret(server.url, f"enc{i}", "creds")
    stored = sqlite_values(db, "/registry/secrets/")
    assert len(stored) == 3
    assert all(v.startswith(b"k8s:enc:aescbc:v1:key1:") for v in stored)
    raw = files_bytes(server.data_dir)  # database, WAL and SHM
    encoded = base64.b64encode(PASSWORD.encode())
    assert PASSWORD.encode() not in raw and encoded not in raw
    assert b"visible-configmap-value" in raw  # only the configured resources are encrypted
    assert read_password(server.url, "enc0", "creds") == PASSWORD
    out = kubectl("get", "secret", "creds", "-n", "enc1", "-o", "jsonpath={.data.password}",
                  kubeconfig=server, check=True).stdout
    assert base64.b64decode(out).decode() == PASSWORD

    # Rotation: a new first key, restart, rewrite every secret, drop the old key.
    write_config(config, aescbc(("key2", KEY2), ("key1", KEY1)) + IDENTITY)
    server.restart()
    assert read_password(server.url, "enc2", "creds") == PASSWORD  # old key still reads
    listed = kubectl("get", "secrets", "-A", "-o", "json", kubeconfig=server, check=True)
    kubectl("replace", "-f", "-", input=listed.stdout, kubeconfig=server, check=True)
    stored = sqlite_values(db, "/registry/secrets/")
    assert len(stored) == 3
    assert all(v.startswith(b"k8s:enc:aescbc:v1:key2:") for v in stored), [v[:24] for v in stored]
    write_config(config, aescbc(("key2", KEY2)) + IDENTITY)
    server.restart()
    for i in range(3):
        assert read_password(server.url, f"enc{i}", "creds") == PASSWORD


def test_a_server_without_the_key_cannot_read_and_a_bad_config_refuses_to_start(
        apiserver_factory: ApiServerFactory, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
                   "resources:\n  - resources: [secrets]\n    providers:\n"
                   "      - aescbc:\n          keys:\n            - name: k\n"
                   "              secret: c2hvcnQ=\n")
    try:
        apiserver_factory("sqlite", ["--encryption-provider-config", str(bad)], timeout=10)
    except RuntimeError as exc:
        assert "secret is not of the expected length" in str(exc)
    else:
        raise AssertionError("the apiserver started with an invalid encryption config")


def test_etcd_secrets_are_ciphertext(apiserver_factory: ApiServerFactory, etcd: EtcdProcess,
                                     tmp_path: Path) -> None:
    config = write_config(tmp_path / "encryption.yaml",
                          "      - secretbox:\n          keys:\n            - name: key1\n"
                          f"              secret: {KEY1}\n" + IDENTITY)
    prefix = unique_prefix()
    server = apiserver_factory("etcd", ["--etcd-servers", etcd.url, "--etcd-prefix", prefix,
                                        "--encryption-provider-config", str(config)])
    create_secret(server.url, "enc-etcd", "creds")
    assert read_password(server.url, "enc-etcd", "creds") == PASSWORD
    r = httpx.post(f"{etcd.url}/v3/kv/range", json={
        "key": base64.b64encode(prefix.encode()).decode(),
        "range_end": base64.b64encode(prefix.encode()[:-1]
                                      + bytes([prefix.encode()[-1] + 1])).decode()})
    assert r.status_code == 200, r.text
    kvs = {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"])
           for kv in orjson.loads(r.content)["kvs"]}
    secrets = [v for k, v in kvs.items() if "/secrets/" in k]
    configmaps = [v for k, v in kvs.items() if "/configmaps/" in k]
    assert len(secrets) == 1 and len(configmaps) == 1
    assert secrets[0].startswith(b"k8s:enc:secretbox:v1:key1:")
    assert PASSWORD.encode() not in secrets[0]
    assert base64.b64encode(PASSWORD.encode()) not in secrets[0]
    assert b"visible-configmap-value" in configmaps[0]


def test_the_apiserver_data_directory_is_private(apiserver_factory: ApiServerFactory) -> None:
    server = apiserver_factory("sqlite")
    create_secret(server.url, "private", "creds")
    assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
    files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in server.data_dir.iterdir()}
    assert {"kubemu.db", "kubemu.db-wal", "kubemu.db-shm"} <= files.keys()
    assert set(files.values()) == {0o600}, files


def test_kubemu_up_passes_the_encryption_config_to_its_apiserver(tmp_path: Path) -> None:
    config = write_config(tmp_path / "encryption.yaml", aescbc(("key1", KEY1)) + IDENTITY)
    data_dir = tmp_path / "data"
    apiserver_only = [arg for name in component_names() if name != "apiserver"
                      for arg in ("--disable", name)]
    cluster = start_kubemu(data_dir, 0, "--encryption-provider-config", str(config),
                           *apiserver_only)
    try:
        cluster.kubectl("create", "secret", "generic", "creds", "-n", "default",
                        f"--from-literal=password={PASSWORD}")
        stored = sqlite_values(data_dir / "kubemu.db", "/registry/secrets/default/creds")
        assert len(stored) == 1
        assert stored[0].startswith(b"k8s:enc:aescbc:v1:key1:")
        raw = files_bytes(data_dir)
        assert PASSWORD.encode() not in raw
        assert base64.b64encode(PASSWORD.encode()) not in raw
        out = cluster.kubectl("get", "secret", "creds", "-n", "default", "-o",
                              "jsonpath={.data.password}")
        assert base64.b64decode(out).decode() == PASSWORD
    finally:
        stop_kubemu(cluster)
    assert "--encryption-provider-config" in cluster.log.read_text()


def test_kubemu_up_refuses_a_missing_encryption_config(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kubemu", "up", "--data-dir", str(tmp_path / "data"),
         "--encryption-provider-config", str(tmp_path / "absent.yaml")],
        capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        f"--encryption-provider-config {tmp_path / 'absent.yaml'}: no such file")
    assert not (tmp_path / "data").exists()
