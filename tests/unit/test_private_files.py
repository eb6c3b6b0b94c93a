"""The data directory is 0700 and every file kubemu writes in it 0600: the SQLite database
with its WAL and SHM, the lock and pid files, kubeconfigs, the pytest plugin's log."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

from apiserver.storage.sqlite import SQLiteStorage
from kubemu.kubeconfig import write_kubeconfig
from kubemu.preflight import prepare_data_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_database_wal_and_shm_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "kubemu.db").touch(mode=0o644)  # as an older kubemu left it

    async def run() -> None:
        storage = SQLiteStorage(data / "kubemu.db")
        await storage.start()
        await storage.create("/registry/secrets/ns/s", b"secret")
        assert {p.name for p in data.iterdir()} >= {"kubemu.db", "kubemu.db-wal",
                                                     "kubemu.db-shm"}
        for path in data.iterdir():
            assert mode(path) == 0o600, (path, oct(mode(path)))
        await storage.close()

    asyncio.run(run())
    assert mode(data) == 0o700


def test_new_database_directory_is_private(tmp_path: Path) -> None:
    async def run() -> None:
        storage = SQLiteStorage(tmp_path / "fresh" / "kubemu.db")
        await storage.start()
        await storage.close()

    asyncio.run(run())
    assert mode(tmp_path / "fresh") == 0o700
    assert mode(tmp_path / "fresh" / "kubemu.db") == 0o600


def test_kubemu_data_dir_lock_and_pid_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "existing"
    data.mkdir(mode=0o775)
    lock = prepare_data_dir(data)
    try:
        lock.record("http://127.0.0.1:1")
        assert mode(data) == 0o700
        files = list(data.iterdir())
        assert files
        for path in files:
            assert mode(path) == 0o600, (path, oct(mode(path)))
    finally:
        lock.release()


def test_kubeconfig_and_its_new_directory_are_private(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "kube" / "config", "http://127.0.0.1:1")
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
