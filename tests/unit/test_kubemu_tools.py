"""``kubemu reset`` and ``kubemu kubectl`` (kubemu/tools.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubemu.cli import main
from kubemu.instance import LOCK_FILE, lock_data_dir
from kubemu.tools import pinned_kubectl


def _kubemu_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / LOCK_FILE).touch()
    (data / "kubemu.db").write_bytes(b"x")
    (data / "pki").mkdir()
    return data


def test_reset_deletes_a_stopped_clusters_data_dir(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    data = _kubemu_dir(tmp_path)
    assert main(["reset", "--data-dir", str(data)]) == 0
    assert not data.exists()
    assert f"deleted {data}" in capsys.readouterr().out


def test_reset_refuses_while_kubemu_runs(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    data = _kubemu_dir(tmp_path)
    lock = lock_data_dir(data)
    lock.record("https://127.0.0.1:6443")
    try:
        assert main(["reset", "--data-dir", str(data)]) == 1
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert "kubemu is already running on this data directory" in err
    assert "https://127.0.0.1:6443" in err
    assert (data / "kubemu.db").exists()


def test_reset_refuses_a_directory_kubemu_did_not_create(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["reset", "--data-dir", str(tmp_path)]) == 1
    assert "not a kubemu data directory" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").exists()


def test_reset_of_a_missing_directory_is_a_no_op(tmp_path: Path) -> None:
    assert main(["reset", "--data-dir", str(tmp_path / "absent")]) == 0


@pytest.mark.skipif(pinned_kubectl() is None and os.environ.get("CI") != "true",
                    reason="the pinned kubectl is not installed (run scripts/bootstrap)")
def test_kubectl_runs_the_pinned_version_with_its_flags(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    out = subprocess.run(
        [sys.executable, "-m", "kubemu", "kubectl", "version", "--client", "-o", "json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    assert json.loads(out.stdout)["clientVersion"]["gitVersion"] == "v1.33.9"
    assert "does not exist" in out.stderr  # no ./data/kubeconfig here: said, not hidden


def test_kubectl_uses_the_data_dirs_kubeconfig(tmp_path: Path) -> None:
    if pinned_kubectl() is None and os.environ.get("CI") != "true":
        pytest.skip("the pinned kubectl is not installed (run scripts/bootstrap)")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "kubeconfig").write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster:\n"
        "    server: http://127.0.0.1:9\ncontexts:\n- name: k\n  context:\n    cluster: k\n"
        "    user: k\nusers:\n- name: k\n  user: {}\ncurrent-context: k\n")
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    out = subprocess.run(
        [sys.executable, "-m", "kubemu", "kubectl", "config", "view", "--minify",
         "-o", "jsonpath={.clusters[0].cluster.server}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    assert out.stdout == "http://127.0.0.1:9"
