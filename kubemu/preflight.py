"""Checks ``kubemu up`` makes before it starts anything: ports, counts, the data directory.

Each failure is an :class:`UpError` (one line naming the fix, with its exit code) or, for
argument types, an ``argparse.ArgumentTypeError``; nothing here prints a traceback.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import shutil
import socket
from pathlib import Path

from kubemu.instance import AlreadyRunning, DataDirLock, lock_data_dir

#: Port tried first when ``--port`` is not given (the historical insecure apiserver port).
DEFAULT_PORT = 8080


def _family(host: str) -> socket.AddressFamily:
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return socket.AF_INET


def port_is_free(host: str, port: int) -> bool:
    """True when a listener could bind ``host:port`` now (with SO_REUSEADDR, as uvicorn does)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port the kernel considers free on ``host`` (racy by nature; use promptly)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


def find_program(variable: str, name: str, default: str) -> str | None:
    """Path of a program ``kubemu up`` runs: ``$variable`` when set (None if it names no
    file), else ``name`` on PATH, else ``default`` when it exists, else None."""
    configured = os.environ.get(variable)
    if configured:
        return configured if Path(configured).exists() else None
    found = shutil.which(name)
    if found:
        return found
    return default if Path(default).exists() else None


class UpError(Exception):
    """A start-up failure of ``kubemu up``: ``str(err)`` is the one-line message for
    stderr, ``code`` the exit code (1 unless stated)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def check_port(host: str, port: int) -> None:
    """Raise :class:`UpError` (exit 1) unless a listener could bind ``host:port`` now.

    The message tells a privileged port (``EACCES``), a port in use
    (``EADDRINUSE``) and an address this machine does not have apart.
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except PermissionError:
            raise UpError(
                f"permission denied binding port {port}: ports below 1024 need root or "
                "CAP_NET_BIND_SERVICE (use a port of 1024 or more, or --port 0)"
            ) from None
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise UpError(
                    f"port {port} is already in use (pick another --port, or --port 0 "
                    "for any free port)"
                ) from None
            if err.errno == errno.EADDRNOTAVAIL:
                raise UpError(
                    f"cannot bind {host}: this machine has no such address "
                    "(check --bind-address)"
                ) from None
            raise UpError(
                f"cannot bind {host}:{port}: {err.strerror or err} "
                "(check --bind-address and --port)"
            ) from None


def choose_port(host: str, requested: int | None) -> int:
    """Resolve ``--port``: ``None`` → :data:`DEFAULT_PORT` if free else any free port;
    ``0`` → any free port; ``N`` → ``N``. Raises :class:`UpError` when ``N`` (or,
    for ``0``, ``host``) cannot be bound (see :func:`check_port`)."""
    if requested is None and port_is_free(host, DEFAULT_PORT):
        return DEFAULT_PORT
    if requested is None or requested == 0:
        check_port(host, 0)
        return free_port(host)
    check_port(host, requested)
    return requested


def port_number(text: str) -> int:
    """argparse type of ``--port``: an integer in 0-65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: must be 0-65535") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {value}: must be 0-65535")
    return value


def node_count(text: str) -> int:
    """argparse type of ``--nodes``: an integer of 0 or more (0 runs no node agents)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"invalid node count {text!r}: must be 0 or more (0 runs no node agents)"
        )
    return value


def positive_seconds(text: str) -> float:
    """argparse type of the timeouts: a number of seconds greater than 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: must be seconds > 0")
    return value


def reason(err: OSError, path: Path) -> str:
    """Say why ``path`` is unusable, naming the culprit when it is not ``path`` itself."""
    subject = "it" if err.filename in (None, str(path)) else str(err.filename)
    if isinstance(err, FileExistsError):
        return f"{subject} exists and is not a directory"
    if isinstance(err, NotADirectoryError):
        return f"a parent of {subject} is not a directory"
    if isinstance(err, PermissionError):
        return "permission denied" + ("" if subject == "it" else f" on {subject}")
    return err.strerror or str(err)


def prepare_data_dir(data_dir: Path) -> DataDirLock:
    """Create ``data_dir`` if needed and lock it (see :mod:`kubemu.instance`).

    Raises :class:`AlreadyRunning` when another ``kubemu up`` holds it and
    :class:`UpError` (exit 1, ``cannot use data directory X: REASON``) when it
    cannot be created or written.
    """
    try:
        # The directory holds the database (Secrets included), kubeconfigs and keys:
        # private to its owner, also when it already existed — but never made writable
        # here: a directory its owner made read-only stays refused.
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = data_dir.stat().st_mode & 0o777
        if mode & 0o077:
            os.chmod(data_dir, mode & 0o700)
        return lock_data_dir(data_dir)
    except AlreadyRunning:
        raise
    except OSError as err:
        raise UpError(
            f"cannot use data directory {data_dir}: {reason(err, data_dir)} "
            "(pass a writable directory with --data-dir)"
        ) from None
