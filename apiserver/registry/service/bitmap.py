"""Allocation bitmaps and the IP / port ranges laid over them (pure, no I/O).

Follows upstream's ``pkg/registry/core/service/allocator`` (a bitmap with one
bit per offset, random dynamic allocation that prefers the upper part of the
range) and ``ipallocator`` / ``portallocator`` (how a CIDR or a port range maps
to offsets, the size of the low "static" band).
"""

from __future__ import annotations

import ipaddress
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Upstream caps IPv6 ranges so the bitmap stays small.
MAX_IPV6_RANGE = 65536

_NONZERO = re.compile(rb"[^\x00]")


class RangeError(Exception):
    """An allocation failed; ``str()`` is upstream's error text."""


class RangeFullError(RangeError):
    def __init__(self) -> None:
        super().__init__("range is full")


class AlreadyAllocatedError(RangeError):
    def __init__(self, what: str) -> None:
        super().__init__(f"provided {what} is already allocated")


class NotInRangeError(RangeError):
    def __init__(self, what: str, plural: str, valid: str) -> None:
        super().__init__(
            f"provided {what} is not in the valid range. The range of valid {plural} is {valid}"
        )


class Bitmap:
    """``max`` offsets; bits set are taken. ``offset`` is the size of the static band."""

    __slots__ = ("bits", "count", "max", "offset", "rng")

    def __init__(
        self, size: int, offset: int = 0, bits: int = 0, rng: random.Random | None = None
    ) -> None:
        self.max = size
        self.offset = offset if 0 < offset < size else 0
        self.bits = bits & ((1 << size) - 1) if size > 0 else 0
        self.count = self.bits.bit_count()
        self.rng = rng or random.Random()

    def copy(self) -> Bitmap:
        return Bitmap(self.max, self.offset, self.bits, self.rng)

    def has(self, index: int) -> bool:
        return 0 <= index < self.max and bool(self.bits >> index & 1)

    def allocate(self, index: int) -> bool:
        """Take ``index``; False when it was already taken."""
        if self.has(index):
            return False
        self.bits |= 1 << index
        self.count += 1
        return True

    def release(self, index: int) -> None:
        if self.has(index):
            self.bits &= ~(1 << index)
            self.count -= 1

    def free(self) -> int:
        return self.max - self.count

    def _free_in(self, start: int, end: int) -> int | None:
        """The lowest free offset in ``[start, end)``, or None (a few big-int operations,
        whatever the range's size or fill)."""
        if start >= end:
            return None
        window = ~self.bits >> start & ((1 << (end - start)) - 1)
        if not window:
            return None
        return start + (window & -window).bit_length() - 1

    def _free_from(self, low: int, high: int, start: int) -> int | None:
        """The first free offset of ``[low, high)`` going up from ``start``, wrapping."""
        at = self._free_in(start, high)
        return at if at is not None else self._free_in(low, start)

    def allocate_next(self) -> int | None:
        """A random free offset, from the upper band first; None when full.

        As upstream's: a random start in the upper band, then the first free offset
        going up from it (wrapping within the band); the static band the same way once
        the upper band is full.
        """
        if self.count >= self.max:
            return None
        upper = self.max - self.offset
        at = self._free_from(self.offset, self.max, self.offset + self.rng.randrange(upper))
        if at is None and self.offset:
            at = self._free_from(0, self.offset, self.rng.randrange(self.offset))
        if at is None:
            return None
        self.allocate(at)
        return at

    def offsets(self) -> list[int]:
        """Every taken offset, ascending (one pass over the bitmap's bytes)."""
        data = self.bits.to_bytes((self.max + 7) // 8, "little")
        out: list[int] = []
        for match in _NONZERO.finditer(data):
            base = match.start() * 8
            byte = data[match.start()]
            while byte:
                low = byte & -byte
                out.append(base + low.bit_length() - 1)
                byte ^= low
        return out

    def set_all(self, offsets: Iterable[int]) -> None:
        """Take every offset of ``offsets`` (in range) at once."""
        data = bytearray(self.bits.to_bytes((self.max + 7) // 8, "little"))
        for index in offsets:
            if 0 <= index < self.max:
                data[index >> 3] |= 1 << (index & 7)
        self.bits = int.from_bytes(data, "little")
        self.count = self.bits.bit_count()

    def to_bytes(self) -> bytes:
        """Big-endian minimal bytes (as Go's ``big.Int.Bytes()``)."""
        return self.bits.to_bytes((self.bits.bit_length() + 7) // 8, "big")

    @staticmethod
    def int_from_bytes(data: bytes) -> int:
        return int.from_bytes(data, "big")


def ip_range_offset(size: int) -> int:
    """Static band of a service CIDR with ``size`` addresses: min(max(16, size/16), 256)."""
    if size <= 16:
        return 0
    return max(16, min(size // 16, 256))


def port_range_offset(size: int) -> int:
    """Static band of a node-port range: min(max(16, size/32), 128)."""
    if size <= 16:
        return 0
    return max(16, min(size // 32, 128))


@dataclass(frozen=True, slots=True)
class IPRange:
    """The allocatable addresses of a service CIDR (network and v4 broadcast excluded)."""

    network: IPNetwork

    @property
    def family(self) -> str:
        return "IPv4" if self.network.version == 4 else "IPv6"

    @property
    def spec(self) -> str:
        return str(self.network)

    @property
    def base(self) -> int:
        return int(self.network.network_address) + 1

    @property
    def size(self) -> int:
        total = self.network.num_addresses
        if self.network.version == 6:
            total = min(total, MAX_IPV6_RANGE)
        else:
            total -= 1  # broadcast
        return max(total - 1, 0)  # network address

    @property
    def static_band(self) -> int:
        return ip_range_offset(self.network.num_addresses)

    def bitmap(self, bits: int = 0, rng: random.Random | None = None) -> Bitmap:
        return Bitmap(self.size, self.static_band, bits, rng)

    def index_of(self, ip: str) -> int:
        """Offset of ``ip``; :class:`NotInRangeError` when outside the usable range."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            raise NotInRangeError("IP", "IPs", self.spec) from None
        if addr.version != self.network.version or addr not in self.network:
            raise NotInRangeError("IP", "IPs", self.spec)
        index = int(addr) - self.base
        if not 0 <= index < self.size:
            raise NotInRangeError("IP", "IPs", self.spec)
        return index

    def contains(self, ip: str) -> bool:
        try:
            self.index_of(ip)
        except NotInRangeError:
            return False
        return True

    def ip_at(self, index: int) -> str:
        return str(ipaddress.ip_address(self.base + index))

    def first(self) -> str:
        """The address reserved for the ``kubernetes`` Service."""
        return self.ip_at(0)


@dataclass(frozen=True, slots=True)
class PortRange:
    """A node-port range ``base .. base+size-1``."""

    base: int
    size: int

    @property
    def spec(self) -> str:
        return f"{self.base}-{self.base + self.size - 1}"

    @property
    def static_band(self) -> int:
        return port_range_offset(self.size)

    def bitmap(self, bits: int = 0, rng: random.Random | None = None) -> Bitmap:
        return Bitmap(self.size, self.static_band, bits, rng)

    def index_of(self, port: int) -> int:
        index = port - self.base
        if not 0 <= index < self.size:
            raise NotInRangeError("port", "ports", self.spec)
        return index

    def contains(self, port: int) -> bool:
        return 0 <= port - self.base < self.size

    def port_at(self, index: int) -> int:
        return self.base + index


def parse_port_range(text: str) -> PortRange:
    """``30000-32767``, ``30000+2767`` or a single port (kube-apiserver's syntax)."""
    text = text.strip()
    try:
        if "-" in text:
            low, high = (int(p) for p in text.split("-", 1))
            size = high - low + 1
        elif "+" in text:
            low, extra = (int(p) for p in text.split("+", 1))
            size = extra + 1
        else:
            low, size = int(text), 1
    except ValueError:
        raise ValueError(f"invalid port range {text!r}") from None
    if low < 0 or size < 1 or low + size - 1 > 65535:
        raise ValueError(f"invalid port range {text!r}")
    return PortRange(low, size)


def parse_service_cidrs(text: str) -> tuple[IPRange, ...]:
    """``--service-cluster-ip-range``: one CIDR, or two of different families."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not 1 <= len(parts) <= 2:
        raise ValueError("--service-cluster-ip-range must hold one or two CIDRs")
    ranges = []
    for part in parts:
        try:
            network = ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ValueError(f"invalid CIDR {part!r}") from None
        host_bits = network.max_prefixlen - network.prefixlen
        if network.version == 4 and host_bits > 20:
            raise ValueError("specified --service-cluster-ip-range is too large; for 32-bit "
                             "addresses, the mask must be >= 12")
        if network.version == 6 and host_bits > 20:
            raise ValueError("specified --service-cluster-ip-range is too large; for 128-bit "
                             "addresses, the mask must be >= 108")
        if host_bits < 2:
            raise ValueError(f"--service-cluster-ip-range {part} is too small")
        ranges.append(IPRange(network))
    if len(ranges) == 2 and ranges[0].network.version == ranges[1].network.version:
        raise ValueError("--service-cluster-ip-range: the two CIDRs must be of different "
                         "IP families (dual-stack)")
    return tuple(ranges)
