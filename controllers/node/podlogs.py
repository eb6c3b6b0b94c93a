"""Container logs kept as the kubelet keeps them: a file per container instance.

Layout (upstream ``/var/log/pods``)::

    <logs-dir>/<namespace>_<pod>_<uid>/<container>/<restartCount>.log

Each line is in the CRI logging format the container runtimes write::

    2024-05-01T12:00:00.123456789Z stdout F the line

(``F`` a full line, ``P`` a part of a longer one). A file that grows past ``max_size``
bytes is rotated to ``<restartCount>.log.<UTC timestamp>``; at most ``max_files`` files
(the live one included) are kept per instance. When an instance starts, the files of
instances older than the previous one are removed, so ``previous`` always finds the
instance before the current one.

:class:`ContainerLog` is the writing side, owned by a container; :func:`instance_files`
and :func:`parse_line` are the reading side the kubelet API serves from.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["DEFAULT_MAX_FILES", "DEFAULT_MAX_SIZE", "MAX_LINE", "ContainerLog", "LogSettings",
           "format_timestamp", "instance_files", "parse_line", "pod_log_dir", "timestamp_ns"]

#: Upstream kubelet defaults: ``--container-log-max-size=10Mi``, ``--container-log-max-files=5``.
DEFAULT_MAX_SIZE = 10 << 20
DEFAULT_MAX_FILES = 5
#: Longer lines are written as ``P`` parts of this size (containerd's 16 KiB).
MAX_LINE = 16 << 10



@dataclass(frozen=True)
class LogSettings:
    """Where a node keeps container logs and how much (``--container-log-max-size``,
    ``--container-log-max-files``)."""

    root: Path
    max_size: int = DEFAULT_MAX_SIZE
    max_files: int = DEFAULT_MAX_FILES


_ROTATED = re.compile(r"^(\d+)\.log\.(\d{8}-\d{6}(?:\.\d+)?)$")


def format_timestamp(ns: int) -> str:
    """``ns`` (nanoseconds since the epoch) as RFC3339Nano with 9 fraction digits."""
    seconds, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:09d}Z"


@functools.lru_cache(maxsize=256)
def _epoch_seconds(whole: bytes) -> int | None:
    try:
        when = datetime.strptime(whole.decode("ascii"), "%Y-%m-%dT%H:%M:%S")
    except (UnicodeDecodeError, ValueError):
        return None
    return int(when.replace(tzinfo=UTC).timestamp())


def timestamp_ns(stamp: bytes) -> int | None:
    """Nanoseconds since the epoch of a line's ``…T…[.fraction]Z`` (None: malformed)."""
    if not stamp.endswith(b"Z") or len(stamp) < 20:
        return None
    whole, _, frac = stamp[:-1].partition(b".")
    seconds = _epoch_seconds(whole)
    if seconds is None or not (frac.isdigit() or frac == b"") or len(frac) > 9:
        return None
    return seconds * 1_000_000_000 + int(frac.ljust(9, b"0") or b"0")


def parse_line(line: bytes) -> tuple[int, str, bool, bytes] | None:
    """``(timestamp ns, stream, full, content)`` of one CRI log line (None: malformed)."""
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) != 4 or parts[2] not in (b"F", b"P"):
        return None
    stamp = timestamp_ns(parts[0])
    if stamp is None:
        return None
    return stamp, parts[1].decode("ascii", "replace"), parts[2] == b"F", parts[3]


def pod_log_dir(root: Path, namespace: str, name: str, uid: str) -> Path:
    """The directory of one pod's container logs under ``root``."""
    return root / f"{namespace}_{name}_{uid}"


def instance_files(directory: Path, restart_count: int) -> list[Path]:
    """The log files of one instance of a container, oldest first (rotated ones, then the
    live ``<restartCount>.log``)."""
    rotated: list[tuple[str, Path]] = []
    with contextlib.suppress(FileNotFoundError):
        for entry in directory.iterdir():
            match = _ROTATED.match(entry.name)
            if match and int(match.group(1)) == restart_count:
                rotated.append((match.group(2), entry))
    files = [p for _, p in sorted(rotated)]
    live = directory / f"{restart_count}.log"
    if live.exists():
        files.append(live)
    return files


class ContainerLog:
    """The log of one container (all its instances), written line by line."""

    def __init__(self, directory: Path, *, max_size: int = DEFAULT_MAX_SIZE,
                 max_files: int = DEFAULT_MAX_FILES,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.directory = directory
        self.max_size = max(max_size, 1024)
        self.max_files = max(max_files, 2)
        self.clock = clock
        #: The restart count of the instance being written (None: none started yet).
        self.instance: int | None = None
        self._partial: dict[str, bytes] = {}
        self._size = 0

    @property
    def path(self) -> Path | None:
        """The live file of the current instance."""
        return None if self.instance is None else self.directory / f"{self.instance}.log"

    def start_instance(self, restart_count: int) -> None:
        """Start writing the instance ``restart_count`` (files of instances before the
        previous one are removed)."""
        self.flush()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.instance = restart_count
        path = self.directory / f"{restart_count}.log"
        self._size = path.stat().st_size if path.exists() else 0
        with contextlib.suppress(FileNotFoundError):
            for entry in self.directory.iterdir():
                number = entry.name.split(".", 1)[0]
                if number.isdigit() and int(number) < restart_count - 1:
                    entry.unlink(missing_ok=True)
        path.touch()

    def line(self, text: str, stream: str = "stdout") -> None:
        """Write one whole line (no trailing newline needed)."""
        self._write_records(stream, [(text.encode(), True)])

    def write(self, stream: str, data: bytes) -> None:
        """Write raw output of ``stream``: complete lines now, the rest once its newline
        comes (or at :meth:`flush`)."""
        if self.instance is None:
            return
        buffered = self._partial.pop(stream, b"") + data
        *lines, rest = buffered.split(b"\n")
        records = [(line, True) for line in lines]
        while len(rest) > MAX_LINE:
            records.append((rest[:MAX_LINE], False))
            rest = rest[MAX_LINE:]
        if rest:
            self._partial[stream] = rest
        self._write_records(stream, records)

    def flush(self) -> None:
        """Write what is left of unterminated lines as full lines."""
        partial, self._partial = self._partial, {}
        for stream, rest in partial.items():
            self._write_records(stream, [(rest, True)])

    def _write_records(self, stream: str, records: list[tuple[bytes, bool]]) -> None:
        path = self.path
        if path is None or not records:
            return
        out = bytearray()
        for content, full in records:
            for start in range(0, max(len(content), 1), MAX_LINE):
                piece = content[start:start + MAX_LINE]
                last = start + MAX_LINE >= len(content)
                tag = b"F" if full and last else b"P"
                out += (f"{format_timestamp(self.clock())} {stream} ".encode() + tag + b" "
                        + piece + b"\n")
        with open(path, "ab") as fh:
            fh.write(out)
        self._size += len(out)
        if self._size >= self.max_size:
            self._rotate(path)

    def _rotate(self, path: Path) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S.%f")
        os.replace(path, path.with_name(f"{path.name}.{stamp}"))
        path.touch()
        self._size = 0
        assert self.instance is not None
        files = instance_files(self.directory, self.instance)
        for old in files[:max(len(files) - self.max_files, 0)]:
            old.unlink(missing_ok=True)
