"""One ``kubemu up`` per data directory: an exclusive lock plus a pid file.

:func:`lock_data_dir` takes ``fcntl.flock(LOCK_EX | LOCK_NB)`` on
``<data-dir>/kubemu.lock`` and keeps the descriptor open for the life of the
returned :class:`DataDirLock`; the kernel drops the lock when the process exits
however it exits, so the lock of a dead ``kubemu up`` is simply taken over.
The lock file itself is never removed (unlinking a lock file races with the
next process locking it).

The holder describes itself in ``<data-dir>/kubemu.pid``: the pid on the first
line and, once :meth:`DataDirLock.record` has been called, the apiserver URL
on the second. A process that finds the lock held raises :class:`AlreadyRunning`
naming both.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

LOCK_FILE = "kubemu.lock"
PID_FILE = "kubemu.pid"

#: How long a refused process waits for the holder to record its URL.
PID_FILE_WAIT = 2.0


class AlreadyRunning(Exception):
    """The data directory is locked by another live ``kubemu up``.

    ``pid`` and ``url`` come from its pid file and are ``None`` when it has not
    recorded them (yet).
    """

    def __init__(self, pid: int | None, url: str | None) -> None:
        self.pid = pid
        self.url = url
        super().__init__(
            f"kubemu is already running on this data directory "
            f"(pid {pid if pid is not None else 'unknown'}, {url or 'URL unknown'})"
        )


def read_pid_file(data_dir: Path) -> tuple[int | None, str | None]:
    """Return ``(pid, url)`` from ``<data_dir>/kubemu.pid``; ``None`` for what is missing."""
    try:
        lines = (data_dir / PID_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None, None
    pid = int(lines[0]) if lines and lines[0].strip().isdigit() else None
    url = lines[1].strip() if len(lines) > 1 and lines[1].strip() else None
    return pid, url


class DataDirLock:
    """The held lock of one data directory (see the module docstring)."""

    def __init__(self, data_dir: Path, fd: int) -> None:
        self.data_dir = data_dir
        self._fd: int | None = fd

    @property
    def pid_file(self) -> Path:
        """Path of the pid file."""
        return self.data_dir / PID_FILE

    def record(self, url: str | None = None) -> None:
        """Atomically (re)write the pid file with this process's pid and ``url``."""
        text = f"{os.getpid()}\n" + (f"{url}\n" if url else "")
        tmp = self.data_dir / f".{PID_FILE}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, self.pid_file)

    def release(self) -> None:
        """Remove the pid file and drop the lock; idempotent."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.pid_file.unlink()
        os.close(self._fd)
        self._fd = None


def lock_data_dir(data_dir: Path, *, wait: float = PID_FILE_WAIT) -> DataDirLock:
    """Lock ``data_dir`` (which must exist) for this process and record its pid.

    Raises :class:`AlreadyRunning` when another process holds the lock, after
    waiting up to ``wait`` seconds for that process to record its URL; raises
    ``OSError`` when the lock file cannot be opened (e.g. ``PermissionError``).
    """
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)  # a lock file of an older run may be wider
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        deadline = time.monotonic() + wait
        pid, url = read_pid_file(data_dir)
        while url is None and time.monotonic() < deadline:
            time.sleep(0.05)
            pid, url = read_pid_file(data_dir)
        raise AlreadyRunning(pid, url) from None
    except BaseException:
        os.close(fd)
        raise
    lock = DataDirLock(data_dir, fd)
    try:
        lock.record()
    except BaseException:
        lock.release()
        raise
    return lock
