"""The Lease lock of leader election, as client-go's ``resourcelock`` package.

:class:`LeaderElectionRecord` is what a ``coordination.k8s.io/v1`` Lease's spec says about
its holder (``MicroTime`` stamps as seconds since the epoch); :class:`LeaseLock` reads,
creates and updates that Lease, every update conditioned on the ``resourceVersion`` last
read so that of two racing candidates exactly one wins. The election algorithm is
:mod:`controllers.client.leaderelection`'s.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from apiserver.api.resources import LEASES
from controllers.client.rest import RestClient

__all__ = ["LeaderElectionRecord", "LeaseLock", "format_micro_time", "parse_micro_time"]


def format_micro_time(seconds: float) -> str:
    """A ``metav1.MicroTime``: ``2006-01-02T15:04:05.000000Z``."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: str | None) -> float | None:
    """Seconds since the epoch of a ``MicroTime`` / ``Time`` string (None if unparsable)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class LeaderElectionRecord:
    """What the Lease's spec says about the leader."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: float | None = None
    renew_time: float | None = None
    leader_transitions: int = 0

    def to_spec(self) -> dict[str, Any]:
        """The Lease ``spec``."""
        spec: dict[str, Any] = {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "leaseTransitions": self.leader_transitions,
        }
        if self.acquire_time is not None:
            spec["acquireTime"] = format_micro_time(self.acquire_time)
        if self.renew_time is not None:
            spec["renewTime"] = format_micro_time(self.renew_time)
        return spec

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> LeaderElectionRecord:
        """Read a Lease ``spec``."""
        spec = spec or {}
        return cls(
            holder_identity=str(spec.get("holderIdentity") or ""),
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=parse_micro_time(spec.get("acquireTime")),
            renew_time=parse_micro_time(spec.get("renewTime")),
            leader_transitions=int(spec.get("leaseTransitions") or 0),
        )


class LeaseLock:
    """The Lease ``namespace/name`` as a lock; remembers the last Lease read or written."""

    def __init__(self, client: RestClient, namespace: str, name: str, identity: str) -> None:
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self._lease: dict[str, Any] | None = None

    def describe(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    async def get(self) -> tuple[LeaderElectionRecord, bytes]:
        """The current record and its raw JSON (raises ``ApiError``, 404 when absent)."""
        lease = await self.client.get(LEASES, self.namespace, self.name)
        self._lease = lease
        spec = lease.get("spec") or {}
        return LeaderElectionRecord.from_spec(spec), orjson.dumps(
            spec, option=orjson.OPT_SORT_KEYS
        )

    async def create(self, record: LeaderElectionRecord) -> None:
        """Create the Lease (fails with AlreadyExists if another candidate did)."""
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"namespace": self.namespace, "name": self.name},
            "spec": record.to_spec(),
        }
        self._lease = await self.client.create(LEASES, self.namespace, body)

    async def update(self, record: LeaderElectionRecord) -> None:
        """Replace the spec of the Lease last seen, conditioned on its resourceVersion."""
        if self._lease is None:
            raise RuntimeError("lease not initialized; get or create it first")
        lease = copy.deepcopy(self._lease)
        lease["spec"] = record.to_spec()
        self._lease = await self.client.update(LEASES, self.namespace, lease)
