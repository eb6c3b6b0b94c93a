"""Address pools and the in-memory allocation map of the service-lb controller.

A pool is a list of inclusive address ranges written as CIDRs (``127.240.0.0/24``),
ranges (``10.0.0.10-10.0.0.20``) or single addresses, comma-separated. An IPv4
CIDR of /30 or wider stands for its host addresses only: its network and
broadcast addresses are never handed out (nor accepted when requested), as
no host answers there (a /31 or /32, an IPv6 CIDR, a range and a single
address are taken as written). With ``avoid_buggy_ips`` (MetalLB's option)
no IPv4 ``.0``/``.255`` address is handed out dynamically either. IPv4 and
IPv6 ranges may be mixed; a Service gets an address of its primary IP family.

:class:`Allocator` remembers which Service key (``namespace/name``) holds which
address. It is pure bookkeeping: the controller fills it from the Services'
``status.loadBalancer.ingress`` at startup and keeps it in step as it writes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["AddressRange", "Allocator", "PoolError", "parse_pool"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PoolError(ValueError):
    """An address pool that cannot be parsed."""


@dataclass(frozen=True, order=True)
class AddressRange:
    """Inclusive ``[first, last]`` of one IP version."""

    version: int
    first: int
    last: int

    @property
    def size(self) -> int:
        """Number of addresses."""
        return self.last - self.first + 1

    def __contains__(self, ip: object) -> bool:
        if not isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        return ip.version == self.version and self.first <= int(ip) <= self.last

    def __str__(self) -> str:
        first, last = _to_ip(self.version, self.first), _to_ip(self.version, self.last)
        return str(first) if self.first == self.last else f"{first}-{last}"


def _parse_one(text: str) -> AddressRange:
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=False)
            first, last = int(net.network_address), int(net.broadcast_address)
            if net.version == 4 and net.prefixlen <= 30:
                first, last = first + 1, last - 1  # no network or broadcast address
            return AddressRange(net.version, first, last)
        if "-" in text:
            lo_text, _, hi_text = text.partition("-")
            lo = ipaddress.ip_address(lo_text.strip())
            hi = ipaddress.ip_address(hi_text.strip())
            if lo.version != hi.version:
                raise PoolError(f"invalid range {text!r}: mixes IPv4 and IPv6")
            if int(hi) < int(lo):
                raise PoolError(f"invalid range {text!r}: {hi} is before {lo}")
            return AddressRange(lo.version, int(lo), int(hi))
        ip = ipaddress.ip_address(text)
        return AddressRange(ip.version, int(ip), int(ip))
    except ValueError as exc:
        if isinstance(exc, PoolError):
            raise
        raise PoolError(f"invalid address pool entry {text!r}: {exc}") from None


def parse_pool(specs: str | list[str] | tuple[str, ...]) -> list[AddressRange]:
    """Parse comma-separated CIDRs/ranges/addresses (one string or several).

    Overlapping or adjacent ranges are merged; the result is sorted (IPv4 first).
    """
    texts = [specs] if isinstance(specs, str) else list(specs)
    ranges: list[AddressRange] = []
    for text in texts:
        for part in text.split(","):
            part = part.strip()
            if part:
                ranges.append(_parse_one(part))
    if not ranges:
        raise PoolError("the address pool is empty")
    ranges.sort()
    merged: list[AddressRange] = [ranges[0]]
    for r in ranges[1:]:
        top = merged[-1]
        if r.version == top.version and r.first <= top.last + 1:
            merged[-1] = AddressRange(top.version, top.first, max(top.last, r.last))
        else:
            merged.append(r)
    return merged


def _to_ip(version: int, value: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def parse_ip(text: object) -> IPAddress | None:
    """The address ``text`` names, or ``None``."""
    try:
        return ipaddress.ip_address(str(text).strip())
    except ValueError:
        return None


class Allocator:
    """Which Service key holds which pool address (one address per key)."""

    def __init__(self, ranges: list[AddressRange], *, avoid_buggy_ips: bool = False) -> None:
        self.ranges = ranges
        #: MetalLB's ``avoidBuggyIPs``: never hand out IPv4 ``.0`` / ``.255`` addresses
        #: dynamically (a Service may still request one).
        self.avoid_buggy_ips = avoid_buggy_ips
        self._owner: dict[str, str] = {}  # ip -> key
        self._by_key: dict[str, str] = {}  # key -> ip

    # -- queries ----------------------------------------------------------------

    def contains(self, ip: str) -> bool:
        """Whether ``ip`` lies in the pool."""
        addr = parse_ip(ip)
        return addr is not None and any(addr in r for r in self.ranges)

    def owner(self, ip: str) -> str | None:
        """The key holding ``ip``."""
        addr = parse_ip(ip)
        return None if addr is None else self._owner.get(str(addr))

    def ip_of(self, key: str) -> str | None:
        """The address ``key`` holds."""
        return self._by_key.get(key)

    def size(self, version: int | None = None) -> int:
        """Number of addresses in the pool (of one IP version)."""
        return sum(r.size for r in self.ranges if version is None or r.version == version)

    def __len__(self) -> int:
        return len(self._by_key)

    def assignments(self) -> dict[str, str]:
        """``{key: ip}`` (a copy)."""
        return dict(self._by_key)

    def _free(self, version: int) -> Iterator[str]:
        for r in self.ranges:
            if r.version != version:
                continue
            for value in range(r.first, r.last + 1):
                if self.avoid_buggy_ips and version == 4 and value & 0xFF in (0, 0xFF):
                    continue
                text = str(_to_ip(version, value))
                if text not in self._owner:
                    yield text

    # -- changes ----------------------------------------------------------------

    def assign(self, key: str, ip: str) -> bool:
        """Give ``ip`` to ``key`` if it is in the pool and free (or already ``key``'s).

        ``key`` gives up any other address it held. False: not in the pool or taken.
        """
        addr = parse_ip(ip)
        if addr is None or not any(addr in r for r in self.ranges):
            return False
        text = str(addr)
        holder = self._owner.get(text)
        if holder is not None and holder != key:
            return False
        self.release(key)
        self._owner[text] = key
        self._by_key[key] = text
        return True

    def allocate(self, key: str, version: int = 4) -> str | None:
        """``key``'s address, or the lowest free one of ``version`` (None: exhausted)."""
        current = self._by_key.get(key)
        if current is not None and parse_ip(current) is not None and \
                ipaddress.ip_address(current).version == version:
            return current
        for ip in self._free(version):
            self.assign(key, ip)
            return ip
        return None

    def release(self, key: str) -> str | None:
        """Free ``key``'s address; returns it."""
        ip = self._by_key.pop(key, None)
        if ip is not None:
            self._owner.pop(ip, None)
        return ip
