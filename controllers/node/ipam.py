"""Pod IP allocation from the node's pod CIDR.

The network and broadcast addresses and the first host address (upstream's
bridge gateway) are never handed out. Assignments are keyed by pod uid; an
agent that restarts rebuilds them from its pods' ``status.podIP`` (see
:meth:`IPAllocator.restore`), so a pod keeps its IP.
"""

from __future__ import annotations

import ipaddress

__all__ = ["CIDRFull", "IPAllocator"]


class CIDRFull(Exception):
    """No free address left in the pod CIDR."""


class IPAllocator:
    """Lowest-free-address allocator over one IPv4/IPv6 CIDR."""

    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self._by_uid: dict[str, str] = {}
        self._used: set[str] = set()

    def contains(self, ip: str) -> bool:
        """Whether ``ip`` lies in the CIDR."""
        try:
            return ipaddress.ip_address(ip) in self.network
        except ValueError:
            return False

    def restore(self, uid: str, ip: str) -> bool:
        """Record an existing assignment (agent restart); False if it cannot be kept."""
        if not self.contains(ip) or (ip in self._used and self._by_uid.get(uid) != ip):
            return False
        self._by_uid[uid] = ip
        self._used.add(ip)
        return True

    def allocate(self, uid: str) -> str:
        """The pod's address: its existing one, else the lowest free one."""
        if uid in self._by_uid:
            return self._by_uid[uid]
        net = self.network
        start = int(net.network_address) + (2 if net.num_addresses > 4 else 0)
        end = int(net.broadcast_address) - (1 if net.num_addresses > 4 else 0)
        for i in range(start, end + 1):
            ip = str(ipaddress.ip_address(i))
            if ip not in self._used:
                self._by_uid[uid] = ip
                self._used.add(ip)
                return ip
        raise CIDRFull(f"no free address in {net}")

    def release(self, uid: str) -> None:
        """Free the pod's address."""
        ip = self._by_uid.pop(uid, None)
        if ip is not None:
            self._used.discard(ip)

    def get(self, uid: str) -> str | None:
        """The pod's address, if assigned."""
        return self._by_uid.get(uid)

    def __len__(self) -> int:
        return len(self._by_uid)
