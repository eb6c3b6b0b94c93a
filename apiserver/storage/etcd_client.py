"""etcd v3 over gRPC from the asyncio loop, with endpoint failover.

The messages and stubs are the ones the ``aetcd`` package ships (``aetcd.rpc``,
generated from etcd's ``rpc.proto``); the calls go through ``grpc.aio`` directly,
which measured fastest (see the storage section of the README).

:class:`EtcdClient` holds one channel per endpoint of ``--etcd-servers`` and
sends every call to the *current* endpoint. Failover, as etcd's clientv3:

* a call that fails before it reached the server (the member is down: connect
  refused, or etcd answers "no leader") is retried on the next endpoint until
  ``request_timeout`` runs out, writes included;
* reads (Range, member list, status) are also retried after a failure in
  flight, since repeating them changes nothing;
* a write whose outcome is unknown (the connection broke after it was sent, or
  the deadline passed) is not repeated: :class:`StorageUnavailableError` tells
  the caller, which answers 503 and lets its client retry, as kube-apiserver
  does. The next call goes to another endpoint.

etcd's own refusals (compacted or future revisions, ...) come back as
:class:`EtcdError` for the storage to map onto :mod:`apiserver.storage.errors`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import grpc
import grpc.aio
from aetcd.rpc import rpc_pb2 as pb
from aetcd.rpc import rpc_pb2_grpc as stubs

from apiserver.storage.errors import StorageUnavailableError

log = logging.getLogger(__name__)

#: etcd's error text for a read or watch below the compaction point.
COMPACTED = "required revision has been compacted"
#: etcd's error text for a read beyond its current revision.
FUTURE = "required revision is a future revision"

#: Error texts meaning the request never reached etcd's state machine.
_NOT_SENT = ("failed to connect", "connection refused", "no leader", "dns resolution failed",
             "not capable", "no address")

#: gRPC channel options: detect a dead peer within seconds; receive any message size, as
#: etcd's clientv3 does (``MaxCallRecvMsgSize`` defaults to MaxInt32): a watch response
#: carries every event of a revision and a history reload may batch many revisions, so a
#: smaller limit would make a large store unloadable. gRPC's own retries are off: the
#: client fails over and retries itself (module docstring), and the retry layer copies
#: every request it might have to send again (about a tenth of the client's CPU per
#: transaction).
CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.enable_retries", 0),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", (1 << 31) - 1),
    ("grpc.max_send_message_length", 64 << 20),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
)

#: Metadata of watch streams: etcd cancels them when its member loses the leader
#: (clientv3's ``WithRequireLeader``), so a partitioned member cannot stall the feed.
REQUIRE_LEADER = (("hasleader", "true"),)


class EtcdError(Exception):
    """etcd refused a request (``code`` is the gRPC status, ``details`` etcd's message)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"etcd: {details} ({code.name})")
        self.code = code
        self.details = details


def target(url: str) -> str:
    """The gRPC target of an etcd client URL (``http://host:port`` -> ``host:port``)."""
    parts = urlsplit(url if "//" in url else f"http://{url}")
    if not parts.hostname:
        raise ValueError(f"not an etcd client URL: {url!r}")
    port = parts.port or 2379
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port}"


def prefix_end(key: bytes) -> bytes:
    """The smallest key greater than every key starting with ``key`` (etcd's range end)."""
    end = bytearray(key)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"


def _not_sent(exc: grpc.aio.AioRpcError) -> bool:
    details = (exc.details() or "").lower()
    return exc.code() == grpc.StatusCode.UNAVAILABLE and any(m in details for m in _NOT_SENT)


def _transient(exc: grpc.aio.AioRpcError) -> bool:
    details = exc.details() or ""
    return exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) or (
        "leader changed" in details or "timed out" in details)


class _Endpoint:
    """One member's channel and stubs (created on first use, inside the running loop)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.target = target(url)
        self.channel: grpc.aio.Channel | None = None
        self.kv: Any = None
        self.watch: Any = None
        self.cluster: Any = None
        self.maintenance: Any = None

    def open(self) -> _Endpoint:
        if self.channel is None:
            if self.url.startswith("https://"):
                self.channel = grpc.aio.secure_channel(
                    self.target, grpc.ssl_channel_credentials(), options=CHANNEL_OPTIONS)
            else:
                self.channel = grpc.aio.insecure_channel(self.target, options=CHANNEL_OPTIONS)
            self.kv = stubs.KVStub(self.channel)
            self.watch = stubs.WatchStub(self.channel)
            self.cluster = stubs.ClusterStub(self.channel)
            self.maintenance = stubs.MaintenanceStub(self.channel)
        return self

    async def close(self) -> None:
        if self.channel is not None:
            await self.channel.close()
            self.channel = None


class EtcdClient:
    """The etcd cluster at ``servers`` (client URLs), one member at a time."""

    def __init__(self, servers: Sequence[str], request_timeout: float = 10.0) -> None:
        if not servers:
            raise ValueError("at least one etcd server is required")
        self._endpoints = [_Endpoint(s.rstrip("/")) for s in servers]
        self._current = 0
        self.timeout = request_timeout
        self.closed = False

    @property
    def endpoint(self) -> _Endpoint:
        """The member calls go to now (its channel open)."""
        return self._endpoints[self._current].open()

    @property
    def urls(self) -> list[str]:
        """Every known client URL, the current one first."""
        n = len(self._endpoints)
        return [self._endpoints[(self._current + i) % n].url for i in range(n)]

    def failover(self, failed: _Endpoint) -> None:
        """Move to the next endpoint if ``failed`` is still the current one."""
        if self._endpoints[self._current] is failed and len(self._endpoints) > 1:
            self._current = (self._current + 1) % len(self._endpoints)
            log.warning("etcd member %s failed; using %s", failed.url,
                        self._endpoints[self._current].url)

    async def close(self) -> None:
        self.closed = True
        for endpoint in self._endpoints:
            await endpoint.close()

    async def call(self, service: str, method: str, request: Any, *, idempotent: bool,
                   key: str = "") -> Any:
        """``service.method(request)`` on the current member, failing over as the module
        docstring says. Raises :class:`EtcdError` or :class:`StorageUnavailableError`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        backoff = 0.02
        while True:
            if self.closed:
                raise StorageUnavailableError(key, "storage is not running")
            endpoint = self.endpoint
            remaining = deadline - loop.time()
            try:
                return await getattr(getattr(endpoint, service), method)(
                    request, timeout=max(remaining, 0.05))
            except grpc.aio.AioRpcError as exc:
                if not _transient(exc):
                    raise EtcdError(exc.code(), exc.details() or "") from exc
                self.failover(endpoint)
                retry = idempotent or _not_sent(exc)
                if not retry or loop.time() + backoff >= deadline:
                    raise StorageUnavailableError(
                        key, f"etcd {method} on {endpoint.url} failed: "
                             f"{exc.code().name}: {exc.details()}") from exc
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 0.5)

    # -- the calls the storage makes -------------------------------------------

    async def range(self, request: pb.RangeRequest, key: str = "") -> Any:
        return await self.call("kv", "Range", request, idempotent=True, key=key)

    async def txn(self, request: pb.TxnRequest, key: str = "") -> Any:
        return await self.call("kv", "Txn", request, idempotent=False, key=key)

    async def compact(self, revision: int) -> Any:
        return await self.call("kv", "Compact", pb.CompactionRequest(revision=revision),
                               idempotent=True)

    async def revision(self) -> int:
        """etcd's current revision, by a linearizable read of one (absent) key."""
        answer = await self.range(pb.RangeRequest(key=b"\0", limit=1, keys_only=True))
        return int(answer.header.revision)

    async def status(self) -> Any:
        """Maintenance status of the current member (``dbSize``, leader, version)."""
        return await self.call("maintenance", "Status", pb.StatusRequest(), idempotent=True)

    async def members(self) -> list[tuple[str, list[str]]]:
        """(name, client URLs) of every member."""
        answer = await self.call("cluster", "MemberList", pb.MemberListRequest(),
                                 idempotent=True)
        return [(m.name, list(m.clientURLs)) for m in answer.members]

    async def discover(self) -> None:
        """Add the client URLs of members not named in ``--etcd-servers`` (tried after
        the configured ones), so failover reaches every member of the cluster."""
        known = {e.target for e in self._endpoints}
        for _name, urls in await self.members():
            for url in urls:
                try:
                    if target(url) not in known:
                        self._endpoints.append(_Endpoint(url.rstrip("/")))
                        known.add(target(url))
                except ValueError:
                    continue
