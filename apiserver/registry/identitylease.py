"""The apiserver identity Lease (upstream's ``APIServerIdentity``) and its garbage collector.

Each apiserver keeps a ``coordination.k8s.io/v1`` Lease in ``kube-system``, so
``kubectl get leases -n kube-system -l apiserver.kubernetes.io/identity=kube-apiserver``
lists the replicas that run:

* name: :func:`apiserver_id`, ``apiserver-`` + the lower-case, unpadded base32 of the
  first 16 bytes of sha256 over the length-prefixed host name and ``kube-apiserver``, as
  upstream. Upstream hashes the host name alone, so replicas sharing a host would share
  one Lease; kubemu's replicas do share one, so the hashed name is
  ``<hostname>/<advertise address>:<port>``;
* ``spec.holderIdentity`` ``<name>_<uuid>`` (a new uuid per process),
  ``leaseDurationSeconds`` :data:`LEASE_DURATION` (3600), ``renewTime`` renewed every
  :data:`RENEW_INTERVAL` (10 s);
* labels ``apiserver.kubernetes.io/identity: kube-apiserver`` and
  ``kubernetes.io/hostname: <hostname>``.

The garbage collector (every :data:`GC_INTERVAL`, and once at start) deletes the
identity Leases whose ``renewTime`` + ``leaseDurationSeconds`` has passed: replicas
that are gone. Failures (storage unreachable) are logged and retried next period.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import socket
import struct
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apiserver.api import errors
from apiserver.registry.store import DeleteOptions, Store

log = logging.getLogger(__name__)

NAMESPACE = "kube-system"
IDENTITY_LABEL = "apiserver.kubernetes.io/identity"
IDENTITY = "kube-apiserver"
HOSTNAME_LABEL = "kubernetes.io/hostname"
LEASE_DURATION = 3600
RENEW_INTERVAL = 10.0
GC_INTERVAL = 3600.0


def apiserver_id(host: str) -> str:
    """``apiserver-`` + base32(sha256(len-prefixed ``host``, len-prefixed
    ``kube-apiserver``)[:16]), lower case, unpadded."""
    data = b"".join(struct.pack(">H", len(part)) + part
                    for part in (host.encode(), IDENTITY.encode()))
    digest = hashlib.sha256(data).digest()[:16]
    return "apiserver-" + base64.b32encode(digest).decode().rstrip("=").lower()


def micro_time(moment: datetime) -> str:
    """A ``MicroTime``: RFC 3339 in UTC with microseconds."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_micro_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class IdentityLease:
    """Keeps this apiserver's identity Lease in ``leases`` and collects expired ones."""

    def __init__(self, leases: Store, advertise: str, clock: Callable[[], datetime],
                 hostname: str | None = None) -> None:
        self.leases = leases
        self.clock = clock
        self.hostname = hostname or socket.gethostname()
        self.name = apiserver_id(f"{self.hostname}/{advertise}")
        self.holder = f"{self.name}_{uuid.uuid4()}"
        self._tasks: list[asyncio.Task[None]] = []

    def _lease(self) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": self.name, "namespace": NAMESPACE,
                         "labels": {IDENTITY_LABEL: IDENTITY, HOSTNAME_LABEL: self.hostname}},
            "spec": {"holderIdentity": self.holder, "leaseDurationSeconds": LEASE_DURATION,
                     "renewTime": micro_time(self.clock())},
        }

    async def renew(self) -> None:
        """Create the Lease, or take it over and renew it."""
        desired = self._lease()
        if self.leases.cache.get(self.leases.key(NAMESPACE, self.name)) is None:
            with contextlib.suppress(errors.ApiError):
                await self.leases.create(NAMESPACE, desired)
                return

        def update(obj: dict[str, Any]) -> dict[str, Any]:
            obj["spec"] = {**(obj.get("spec") or {}), **desired["spec"]}
            md = obj["metadata"]
            md["labels"] = {**(md.get("labels") or {}), **desired["metadata"]["labels"]}
            return obj

        await self.leases.guaranteed_update(NAMESPACE, self.name, update)

    async def collect(self) -> list[str]:
        """Delete the expired identity Leases; return their names."""
        now = self.clock()
        deleted: list[str] = []
        for cached in list(self.leases.cache.objects()):
            obj = cached.obj
            md, spec = obj.get("metadata") or {}, obj.get("spec") or {}
            if md.get("namespace") != NAMESPACE or \
                    (md.get("labels") or {}).get(IDENTITY_LABEL) != IDENTITY:
                continue
            renewed = _parse_micro_time(str(spec.get("renewTime") or ""))
            duration = int(spec.get("leaseDurationSeconds") or 0)
            if renewed is None or renewed + timedelta(seconds=duration) >= now:
                continue
            # Guarded by its resourceVersion: a Lease renewed meanwhile stays.
            opts = DeleteOptions(precondition_resource_version=str(cached.revision))
            with contextlib.suppress(errors.ApiError):
                await self.leases.delete(NAMESPACE, md["name"], opts)
                deleted.append(md["name"])
        return deleted

    def start(self) -> None:
        """Renew every :data:`RENEW_INTERVAL`, collect every :data:`GC_INTERVAL`."""
        self._tasks = [
            asyncio.create_task(self._every(RENEW_INTERVAL, self.renew, "renewing"),
                                name="identity-lease"),
            asyncio.create_task(self._every(GC_INTERVAL, self.collect, "collecting"),
                                name="identity-lease-gc"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    @staticmethod
    async def _every(interval: float, step: Callable[[], Any], what: str) -> None:
        while True:
            try:
                await step()
            except Exception as exc:
                log.warning("%s the apiserver identity lease failed: %s", what, exc)
            await asyncio.sleep(interval)
