"""``kubemu up``'s start-up errors that need an unprivileged user, simulated.

The integration tests run as whatever user CI uses (often root, who may bind
port 80 and write anywhere); here the ``OSError`` is injected instead.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Any

import pytest

from kubemu import preflight as cli
from kubemu.instance import AlreadyRunning, lock_data_dir, read_pid_file


def _failing_bind(exc: OSError) -> Any:
    real = socket.socket

    class Sock(real):  # type: ignore[misc, valid-type]
        def bind(self, address: Any) -> None:
            raise exc

    return Sock


def test_privileged_port_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.socket, "socket", _failing_bind(PermissionError(errno.EACCES, "x")))
    with pytest.raises(cli.UpError) as info:
        cli.check_port("127.0.0.1", 80)
    assert str(info.value).startswith(
        "permission denied binding port 80: ports below 1024 need root or CAP_NET_BIND_SERVICE"
    )
    assert info.value.code == 1


def test_port_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.socket, "socket", _failing_bind(OSError(errno.EADDRINUSE, "x")))
    with pytest.raises(cli.UpError, match=r"^port 8081 is already in use"):
        cli.choose_port("127.0.0.1", 8081)


def test_unwritable_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: Any, **kwargs: Any) -> int:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("kubemu.instance.os.open", denied)
    with pytest.raises(cli.UpError) as info:
        cli.prepare_data_dir(tmp_path)
    assert str(info.value).startswith(f"cannot use data directory {tmp_path}: permission denied")


def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    lock = lock_data_dir(tmp_path)
    lock.record("http://127.0.0.1:1234")
    assert read_pid_file(tmp_path)[1] == "http://127.0.0.1:1234"
    with pytest.raises(AlreadyRunning) as info:
        lock_data_dir(tmp_path, wait=0)
    assert info.value.url == "http://127.0.0.1:1234"
    assert str(info.value).endswith("http://127.0.0.1:1234)")
    lock.release()
    assert read_pid_file(tmp_path) == (None, None)
    lock_data_dir(tmp_path).release()


@pytest.mark.parametrize("text", ["0", "1", "65535"])
def test_port_number_accepts_range(text: str) -> None:
    assert cli.port_number(text) == int(text)


def test_zero_nodes_is_allowed() -> None:
    assert cli.node_count("0") == 0
