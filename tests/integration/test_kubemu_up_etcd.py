"""``kubemu up --storage etcd``: its own etcd member in the data directory, or ``--etcd-servers``.

Without ``--etcd-servers`` kubemu up starts one etcd member on its address block's
control address, with its data in ``<data-dir>/etcd``; it stops it on shutdown and a
restart finds the data again. With ``--etcd-servers`` it starts no etcd and the
apiserver stores everything in the given one.
"""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from kubemu.components import component_names
from kubemu.etcd import find_etcd
from tests.support.deps import missing_dependency
from tests.support.etcd import MISSING_MESSAGE, EtcdProcess
from tests.support.kubemu_up import Kubemu, start_kubemu, stop_kubemu

pytestmark = pytest.mark.timeout(180)

#: Only the storage matters here; the controllers would only slow the machine down.
APISERVER_ONLY = [arg for name in component_names() if name not in ("apiserver", "etcd")
                  for arg in ("--disable", name)]


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _config_map(k: Kubemu, name: str) -> int:
    return httpx.get(f"{k.url}/api/v1/namespaces/default/configmaps/{name}", timeout=5,
                     verify=k.verify).status_code


def test_up_runs_its_own_etcd_and_a_restart_keeps_the_data(tmp_path: Path) -> None:
    if find_etcd() is None:
        missing_dependency(MISSING_MESSAGE)
    data_dir = tmp_path / "data"
    k = start_kubemu(data_dir, 0, "--storage", "etcd", *APISERVER_ONLY)
    try:
        control = str(k.addresses.control_ip)
        assert _listening(control, 2379)
        assert "started etcd" in k.log.read_text()
        assert (data_dir / "etcd" / "member").is_dir()
        created = httpx.post(f"{k.url}/api/v1/namespaces/default/configmaps", timeout=5,
                             json={"metadata": {"name": "kept"}, "data": {"k": "v"}},
                             verify=k.verify)
        assert created.status_code == 201, created.text
        # The object really is in etcd, under the apiserver's default prefix.
        keys = httpx.post(f"{k.addresses.etcd_client_url}/v3/kv/range", timeout=5, json={
            "key": "L3JlZ2lzdHJ5Lw==", "range_end": "L3JlZ2lzdHJ5MA==", "keys_only": True,
            "count_only": True}).json()
        assert int(keys["count"]) > 0
    finally:
        stop_kubemu(k)
    assert k.process.returncode == 0
    assert not _listening(control, 2379)  # etcd stopped with the cluster

    again = start_kubemu(data_dir, 0, "--storage", "etcd", *APISERVER_ONLY)
    try:
        assert again.addresses == k.addresses
        assert _config_map(again, "kept") == 200
    finally:
        stop_kubemu(again)


def test_up_uses_etcd_servers_without_starting_one(tmp_path: Path, etcd: EtcdProcess) -> None:
    k = start_kubemu(tmp_path / "data", 0, "--storage", "etcd", "--etcd-servers", etcd.url,
                     *APISERVER_ONLY)
    try:
        log = k.log.read_text()
        assert "started etcd" not in log and f"--etcd-servers {etcd.url}" in log
        before = etcd.revision()
        created = httpx.post(f"{k.url}/api/v1/namespaces/default/configmaps", timeout=5,
                             json={"metadata": {"name": "elsewhere"}}, verify=k.verify)
        assert created.status_code == 201, created.text
        assert etcd.revision() > before
        assert not _listening(str(k.addresses.control_ip), 2379)
    finally:
        stop_kubemu(k)
