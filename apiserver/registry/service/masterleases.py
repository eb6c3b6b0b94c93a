"""The apiservers' master leases: who is alive to be listed in ``default/kubernetes``.

As kube-apiserver's lease endpoint reconciler (``--endpoint-reconciler-type=lease``,
pkg/controlplane/reconcilers/lease.go), each apiserver keeps one storage key
``/registry/masterleases/<ip>`` (not a coordination.k8s.io Lease: no API serves it)
whose value is an Endpoints object naming its IP, and renews it every reconcile
interval; a key not renewed for :data:`DEFAULT_TTL` seconds has expired. etcd expires
upstream's keys with an etcd lease; kubemu's storage interface has no TTL, so the value
carries its expiry time (annotation :data:`EXPIRES_ANNOTATION`) and readers ignore,
then delete, expired keys. Every apiserver shares the machine's clock, so expiry is
judged consistently.

The contract:

* :meth:`MasterLeases.update` creates or renews the caller's key;
* :meth:`MasterLeases.live_ips` returns the IPs of the unexpired keys, sorted, deleting
  expired ones (guarded by their revision, so a key renewed meanwhile stays);
* :meth:`MasterLeases.remove` deletes the caller's key (on shutdown).
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from collections.abc import Callable
from typing import Any

import orjson

from apiserver.storage.errors import (
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
)
from apiserver.storage.interface import KeyValue, Storage

#: Where the leases live (upstream's ``/masterleases/`` under the etcd prefix).
PREFIX = "/registry/masterleases/"
#: Seconds a lease lives without renewal (upstream's ``DefaultEndpointReconcilerTTL``).
DEFAULT_TTL = 15.0
#: The annotation carrying a lease's expiry (seconds since the epoch).
EXPIRES_ANNOTATION = "kubemu.io/master-lease-expires"


def _value(ip: str, expires: float) -> bytes:
    doc = {"kind": "Endpoints", "apiVersion": "v1",
           "metadata": {"name": ip, "annotations": {EXPIRES_ANNOTATION: f"{expires:.3f}"}},
           "subsets": [{"addresses": [{"ip": ip}]}]}
    return orjson.dumps(doc)


def _parse(kv: KeyValue) -> tuple[str, float] | None:
    """``(ip, expiry)`` of a stored lease; None for a value that is not one."""
    try:
        doc: dict[str, Any] = orjson.loads(kv.value)
        ip = str(doc["subsets"][0]["addresses"][0]["ip"])
        ipaddress.ip_address(ip)
        expires = float(doc["metadata"]["annotations"][EXPIRES_ANNOTATION])
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError):
        return None
    return ip, expires


class MasterLeases:
    """The master leases in ``storage`` (see the module docstring); ``clock`` returns
    seconds since the epoch."""

    def __init__(self, storage: Storage, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.ttl = ttl
        self.clock = clock

    def key(self, ip: str) -> str:
        """The storage key of ``ip``'s lease."""
        return PREFIX + ip

    async def update(self, ip: str) -> None:
        """Create or renew ``ip``'s lease for another :attr:`ttl` seconds."""
        value = _value(ip, self.clock() + self.ttl)
        key = self.key(ip)
        for _ in range(8):
            current = await self.storage.get(key)
            try:
                if current is None:
                    await self.storage.create(key, value)
                else:
                    await self.storage.update(key, value, current.mod_revision)
                return
            except (KeyExistsError, KeyNotFoundError, RevisionConflictError):
                continue
        raise RevisionConflictError(key)

    async def live_ips(self) -> list[str]:
        """IPs of the unexpired leases, sorted; expired leases are deleted."""
        items, _ = await self.storage.list_prefix(PREFIX)
        now = self.clock()
        live: set[str] = set()
        for kv in items:
            lease = _parse(kv)
            if lease is not None and lease[1] > now:
                live.add(lease[0])
                continue
            with contextlib.suppress(KeyNotFoundError, RevisionConflictError):
                await self.storage.delete(kv.key, kv.mod_revision)
        return sorted(live, key=ipaddress.ip_address)

    async def remove(self, ip: str) -> None:
        """Delete ``ip``'s lease (gone already is fine)."""
        with contextlib.suppress(KeyNotFoundError):
            await self.storage.delete(self.key(ip))
