"""A volume's files replaced all at once, in the kubelet's layout (its ``AtomicWriter``).

The files of a ``configMap``, ``secret``, ``downwardAPI`` or ``projected`` volume live in a
timestamped directory (``..2026_12_05_20_55_12.123456789``). The symlink ``..data`` names
the current one, and each top-level entry the pod sees is a symlink through it
(``app.conf -> ..data/app.conf``). An update writes a new timestamped directory and renames
a fresh ``..data_tmp`` symlink over ``..data``, one ``rename(2)``: a reader sees the old set
of files or the new one, never a mix. Programs that reload their configuration watch
``..data`` for exactly this reason.

Only paths inside the volume are written; a payload path that is absolute, contains
``..`` or starts with ``..`` (the writer's own names) is refused by :func:`clean_payload`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["DATA_DIR", "File", "clean_payload", "read_current", "write_atomic"]

#: The symlink to the current timestamped directory.
DATA_DIR = "..data"
_NEW_DATA_DIR = "..data_tmp"

#: One file of a payload: its content and permission bits.
File = tuple[bytes, int]


def clean_payload(files: Mapping[str, File]) -> dict[str, File]:
    """``files`` with every path normalised; paths the kubelet refuses are left out."""
    out: dict[str, File] = {}
    for path, file in files.items():
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if not parts or path.startswith("/") or ".." in parts or parts[0].startswith(".."):
            continue
        out["/".join(parts)] = file
    return out


def read_current(directory: Path) -> dict[str, File]:
    """The payload ``directory`` holds now (empty when it was never written)."""
    data = directory / DATA_DIR
    if not data.is_symlink():
        return {}
    out: dict[str, File] = {}
    base = data.resolve()
    for root, _dirs, names in os.walk(base):
        for name in names:
            path = Path(root, name)
            with contextlib.suppress(OSError):
                out[str(path.relative_to(base))] = (path.read_bytes(),
                                                    path.stat().st_mode & 0o7777)
    return out


def _timestamp_dir(directory: Path) -> Path:
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    path = Path(tempfile.mkdtemp(prefix=stamp, dir=directory))
    path.chmod(0o755)
    return path


def write_atomic(directory: Path, files: Mapping[str, File]) -> bool:
    """Make ``directory`` hold exactly ``files`` (cleaned); False when it already did.

    The directory is created if needed. A failure part-way leaves the previous payload
    in place: the new files are complete before ``..data`` moves to them."""
    payload = clean_payload(files)
    current = read_current(directory)
    if current == payload and (directory / DATA_DIR).is_symlink():
        return False
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / DATA_DIR
    old = data.resolve() if data.is_symlink() else None
    new = _timestamp_dir(directory)
    try:
        for path, (content, mode) in payload.items():
            target = new / path
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            target.write_bytes(content)
            target.chmod(mode)
        tmp = directory / _NEW_DATA_DIR
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(new.name)
        tmp.rename(data)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    visible = {path.split("/", 1)[0] for path in payload}
    for name in visible:
        link = directory / name
        if not link.is_symlink():
            link.symlink_to(f"{DATA_DIR}/{name}")
    for entry in directory.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.name not in visible and entry.is_symlink():
            entry.unlink()  # a key the new payload no longer has
    if old is not None and old != new:
        shutil.rmtree(old, ignore_errors=True)
    return True
