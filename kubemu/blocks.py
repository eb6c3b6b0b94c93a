"""Taking a block of loopback addresses so that no other kubemu uses it.

A block (see :mod:`kubemu.addresses`) is taken by holding ``fcntl.flock`` on
``<lock dir>/127.B.lock`` (lock dir: ``$KUBEMU_BLOCK_DIR``, default
``/tmp/kubemu-blocks``, shared by every user of the machine) for the life of the
:class:`BlockLease`, and only when no socket of the machine listens on an
address of the block (read from ``/proc/net``), so software that does not take
the lock (an older kubemu, a test server) is respected too. The kernel drops
the lock when its holder dies, however it dies.

:func:`reserve` takes the block of a data directory: the one recorded there when
there is one (so a restart keeps every stored ClusterIP and pod IP valid), else
the first free block, and records it. It also *claims* the block for that data
directory (``<lock dir>/127.B.claim`` names it), so a new data directory prefers
blocks no stopped cluster will want back; it takes a claimed block only when
every unclaimed one is in use.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from kubemu.addresses import (
    RESERVED_INDEXES,
    Addresses,
    IPv4Address,
    IPv4Network,
    block_network,
    record,
    recorded_block,
)

#: Where the per-block lock files live unless ``$KUBEMU_BLOCK_DIR`` says otherwise.
DEFAULT_LOCK_DIR = Path("/tmp/kubemu-blocks")

#: How long :func:`reserve` waits for listeners on a *recorded* block to go away
#: (the children of a killed predecessor get SIGTERM and exit on their own).
SETTLE_SECONDS = 5.0


class AddressError(Exception):
    """No block could be taken; ``str(err)`` is one line naming the fix."""


def lock_dir() -> Path:
    """The machine-wide directory of block lock files."""
    return Path(os.environ.get("KUBEMU_BLOCK_DIR") or DEFAULT_LOCK_DIR)


# -- what listens where ------------------------------------------------------------------------


def _proc_address(hex_address: str) -> IPv4Address | None:
    """The IPv4 address of a ``/proc/net/{tcp,udp}{,6}`` local address field."""
    raw = bytes.fromhex(hex_address)
    # The kernel prints each 32-bit word in host (little-endian) order.
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    if len(words) == 4:
        return IPv4Address(words)
    return ipaddress.IPv6Address(words).ipv4_mapped


def listening_addresses(proc_net: Path = Path("/proc/net")) -> set[IPv4Address]:
    """IPv4 addresses (v4-mapped ones included) with a listening TCP or bound UDP socket
    in this network namespace; wildcard binds are left out."""
    found: set[IPv4Address] = set()
    for name, listen_only in (("tcp", True), ("tcp6", True), ("udp", False), ("udp6", False)):
        try:
            lines = (proc_net / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or (listen_only and fields[3] != "0A"):
                continue
            address = _proc_address(fields[1].split(":")[0])
            if address is not None and not address.is_unspecified:
                found.add(address)
    return found


def busy_addresses(network: IPv4Network,
                   probe: Callable[[], Iterable[IPv4Address]] = listening_addresses,
                   ) -> list[IPv4Address]:
    """The addresses of ``network`` something listens on, sorted."""
    return sorted(a for a in probe() if a in network)


# -- taking a block ----------------------------------------------------------------------------


class BlockLease:
    """A held block: the lock stays until :meth:`release` or the process ends."""

    def __init__(self, addresses: Addresses, fd: int) -> None:
        self.addresses = addresses
        self._fd: int | None = fd

    def release(self) -> None:
        """Drop the lock; idempotent."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _open_lock(directory: Path, index: int) -> int:
    with contextlib.suppress(FileExistsError):
        directory.mkdir(parents=True)
        # Every user of the machine shares the loopback addresses, so every user
        # shares the directory (sticky, like /tmp).
        with contextlib.suppress(OSError):
            directory.chmod(0o1777)
    path = directory / f"127.{index}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except PermissionError:  # another user's file: a read-only descriptor can be locked too
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o666)
    return fd


def holder(index: int, directory: Path | None = None) -> str:
    """What the holder of block ``index`` wrote about itself ("" if unknown)."""
    try:
        return ((directory or lock_dir()) / f"127.{index}.lock").read_text().strip()
    except OSError:
        return ""


def try_lock(index: int, owner: str, directory: Path | None = None) -> int | None:
    """Lock block ``index`` and write ``owner`` into its lock file; the descriptor, or
    ``None`` when another process holds it. OSError when the lock dir is unusable."""
    fd = _open_lock(directory or lock_dir(), index)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {owner}\n".encode(), 0)
    return fd


def candidates() -> Iterator[int]:
    """Block indexes in the order a new instance tries them."""
    return (i for i in range(1, 255) if i not in RESERVED_INDEXES)


def acquire(
    owner: str,
    index: int | None = None,
    *,
    directory: Path | None = None,
    probe: Callable[[], Iterable[IPv4Address]] = listening_addresses,
    settle: float = SETTLE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    avoid: Callable[[int], bool] = lambda index: False,
) -> BlockLease:
    """Take block ``index`` (waiting up to ``settle`` seconds for its listeners to go),
    or with ``index=None`` the first free block, preferring those ``avoid`` is false
    for; ``owner`` describes the taker in the lock file. Raises :class:`AddressError`
    when the block (or every block) is taken.
    """
    try:
        if index is not None:
            return _acquire_exact(owner, index, directory, probe, settle, sleep)
        listening = set(probe())
        preferred = [i for i in candidates() if not avoid(i)]
        for candidate in [*preferred, *(i for i in candidates() if i not in preferred)]:
            if busy_addresses(block_network(candidate), lambda: listening):
                continue
            fd = try_lock(candidate, owner, directory)
            if fd is not None:
                return BlockLease(Addresses.for_block(candidate), fd)
    except OSError as err:
        where = directory or lock_dir()
        raise AddressError(f"cannot lock an address block in {where}: "
                           f"{err.strerror or err} (set KUBEMU_BLOCK_DIR to a writable "
                           "directory)") from None
    raise AddressError("every loopback address block 127.1-254.0.0/16 is in use (stop an "
                       "instance, or pass --address-block)")


def _acquire_exact(owner: str, index: int, directory: Path | None,
                   probe: Callable[[], Iterable[IPv4Address]], settle: float,
                   sleep: Callable[[float], None]) -> BlockLease:
    net = block_network(index)
    fd = try_lock(index, owner, directory)
    if fd is None:
        who = holder(index, directory)
        raise AddressError(f"address block {net} is in use by another kubemu"
                           f"{f' ({who})' if who else ''}: stop it, or pass --address-block")
    waited = 0.0
    while busy := busy_addresses(net, probe):
        if waited >= settle:
            os.close(fd)
            shown = ", ".join(str(a) for a in busy[:3]) + (" …" if len(busy) > 3 else "")
            raise AddressError(f"address block {net} is in use: something listens on "
                               f"{shown} (stop it, or pass --address-block)")
        sleep(0.1)
        waited += 0.1
    return BlockLease(Addresses.for_block(index), fd)


def _claim_path(index: int, directory: Path | None) -> Path:
    return (directory or lock_dir()) / f"127.{index}.claim"


def claimed_by_another(index: int, data_dir: Path, directory: Path | None = None) -> bool:
    """True when another data directory claimed block ``index`` and still records it."""
    try:
        claimant = Path(_claim_path(index, directory).read_text(encoding="utf-8").strip())
    except OSError:
        return False
    return claimant != data_dir and recorded_block(claimant) == index


def claim(index: int, data_dir: Path, directory: Path | None = None) -> None:
    """Claim block ``index`` for ``data_dir`` (best effort: a claim only steers choices)."""
    path = _claim_path(index, directory)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        tmp.write_text(f"{data_dir}\n", encoding="utf-8")
        with contextlib.suppress(OSError):
            tmp.chmod(0o666)
        os.replace(tmp, path)
    with contextlib.suppress(OSError):
        tmp.unlink()


def reserve(
    data_dir: Path,
    owner: str,
    block: int | None = None,
    *,
    directory: Path | None = None,
    probe: Callable[[], Iterable[IPv4Address]] = listening_addresses,
    settle: float = SETTLE_SECONDS,
) -> BlockLease:
    """Take the block of ``data_dir``, record it there and claim it for ``data_dir``.

    The block is ``block`` when given (``--address-block``), else the one recorded
    in ``data_dir``, else the first free one, preferring blocks that no other data
    directory claims (see the module docstring and :func:`acquire`).
    Raises :class:`AddressError`; OSError when the record cannot be written.
    """
    index = block if block is not None else recorded_block(data_dir)
    lease = acquire(owner, index, directory=directory, probe=probe, settle=settle,
                    avoid=lambda i: claimed_by_another(i, data_dir, directory))
    try:
        record(data_dir, lease.addresses)
    except BaseException:
        lease.release()
        raise
    claim(lease.addresses.index, data_dir, directory)
    return lease
