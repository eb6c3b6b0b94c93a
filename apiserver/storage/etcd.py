"""The scale-out backend: a real etcd v3 cluster over gRPC.

The transport (channels, failover, error classes) is :mod:`apiserver.storage.etcd_client`,
the change feed :mod:`apiserver.storage.etcd_watch`. etcd's ``mod_revision`` is the
resourceVersion, as in kube-apiserver:

* create is a transaction comparing ``create_revision == 0``;
* update compares ``mod_revision`` (and ``create_revision > 0``, so a missing
  key is reported as missing, not created);
* delete optionally compares ``mod_revision``;
* "required revision has been compacted" becomes :class:`CompactedError`,
  an unreachable cluster :class:`StorageUnavailableError` (503, never 500).

The storage takes no etcd leases: the storage interface has no keys with a
time to live (no backend expires Events, as kube-apiserver's ``--event-ttl``
does through leases).

Consistency. A write through this storage is answered once every event up to
its revision has reached the subscribers, so this apiserver's watch cache
already holds it (read-your-writes, as the embedded backends). Its own event
is taken from etcd's answer to the transaction (``prev_kv`` brings the value an
update or delete replaced) rather than waited for on the watch stream; the
earlier events come from the feed (:mod:`apiserver.storage.etcd_delivery` has the
ordering argument). A consistent read (a GET or LIST without resourceVersion)
must observe every write acknowledged before it started, by any apiserver
replica on any etcd member. :meth:`EtcdStorage.fetch_current_revision` gives
that, as upstream's consistent reads from the cache:

1. it sends a linearizable Range (not ``serializable``): etcd answers it only
   after its member has applied everything committed when the request arrived
   (raft ReadIndex), so the answer's ``header.revision`` R is at least the
   revision of every write acknowledged before the read started;
2. it waits until every event up to R has been delivered (the feed watches
   every key, so its position is exact: see :mod:`apiserver.storage.etcd_watch`);
   events are delivered in revision order, so the watch cache then holds every
   write up to R.

The watch cache shares one such request among the reads that arrived before
it was sent (:class:`apiserver.storage.revisions.RevisionBatcher`): each of them
started before the request, so R also covers every write acknowledged before
each of them started.

Storage keys start with ``key_root`` (``/registry``); in etcd that root is
replaced by ``prefix`` (``--etcd-prefix``, also ``/registry`` by default), so
the keys read as kube-apiserver's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any

from aetcd.rpc import rpc_pb2 as pb

from apiserver.api import metrics
from apiserver.storage.errors import (
    CompactedError,
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
    StorageError,
    StorageUnavailableError,
)
from apiserver.storage.etcd_client import COMPACTED, FUTURE, EtcdClient, EtcdError, prefix_end
from apiserver.storage.etcd_delivery import Delivery
from apiserver.storage.etcd_watch import Feed, WatchStream, pump
from apiserver.storage.interface import EventType, KeyValue, Storage, StorageEvent, Subscriber
from apiserver.storage.transformed import group_resource

log = logging.getLogger(__name__)

__all__ = ["EtcdStorage", "prefix_end"]

#: Keys per page of a prefix range.
PAGE_SIZE = 1000
#: Seconds a write waits for the feed to deliver it before it is answered anyway.
FEED_WAIT = 10.0
#: Seconds a consistent read waits for the feed before probing the stream.
PROBE_AFTER = 2.0
#: Seconds reading history may take.
HISTORY_WAIT = 60.0
#: Seconds to keep retrying the first contact with etcd at start.
START_TIMEOUT = 15.0

_CREATE, _MOD = pb.Compare.CREATE, pb.Compare.MOD
_EQUAL, _GREATER = pb.Compare.EQUAL, pb.Compare.GREATER


def _observe(operation: str, key: str, start: float) -> None:
    """``etcd_request_duration_seconds`` for one request begun at ``start``."""
    group, resource = group_resource(key)
    metrics.ETCD_REQUESTS.observe((operation, group, resource), perf_counter() - start)


class EtcdStorage(Storage):
    """Storage on the etcd cluster at ``servers`` (client URLs; failover between them)."""

    remote_revision = True

    def __init__(
        self,
        servers: Sequence[str],
        prefix: str = "/registry",
        key_root: str = "/registry",
        *,
        request_timeout: float = 10.0,
    ) -> None:
        self.client = EtcdClient(servers, request_timeout)
        self._prefix = prefix.rstrip("/")
        self._key_root = key_root.rstrip("/")
        self._eprefix = self._prefix.encode()
        #: Newest revision seen in any answer (``current_revision``).
        self._revision = 0
        self._compacted = 0
        self._delivery = Delivery()
        self._gap_callbacks: list[Callable[[int], None]] = []
        self._feed = Feed(self.client, self._skey, self._delivery.feed_event,
                          self._saw_compaction, self._feed_reached,
                          lambda: self._delivery.position, self._feed_gap)
        self._feed_task: asyncio.Task[None] | None = None
        self._started = False

    # -- keys --------------------------------------------------------------------

    def _ekey(self, key: str) -> bytes:
        if not key.startswith(self._key_root):
            raise ValueError(f"key {key!r} is not under {self._key_root!r}")
        return self._eprefix + key[len(self._key_root):].encode()

    def _skey(self, ekey: bytes) -> str | None:
        if not ekey.startswith(self._eprefix):
            return None
        return self._key_root + ekey[len(self._eprefix):].decode()

    def _see(self, header: Any) -> int:
        revision = int(header.revision)
        if revision > self._revision:
            self._revision = revision
        return revision

    def _saw_compaction(self, revision: int) -> None:
        self._compacted = max(self._compacted, revision)

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while True:
            try:
                revision = await self.client.revision()
                break
            except StorageUnavailableError:
                if loop.time() >= deadline:
                    await self.close()
                    raise
                await asyncio.sleep(0.2)
        with contextlib.suppress(StorageError, EtcdError):
            await self.client.discover()
        self._revision = revision
        self._delivery.start(revision)
        self._started = True
        self._feed_task = asyncio.create_task(self._feed.run(revision + 1), name="etcd-feed")

    async def close(self) -> None:
        self.client.closed = True
        if self._feed_task is not None:
            self._feed_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._feed_task
            self._feed_task = None
        await self.client.close()
        self._delivery.release()

    # -- writes --------------------------------------------------------------------

    async def _txn(self, key: str, request: Any) -> Any:
        try:
            answer = await self.client.txn(request, key)
        except EtcdError as exc:
            raise StorageUnavailableError(key, str(exc)) from exc
        self._see(answer.header)
        return answer

    async def _delivered(self, event: StorageEvent) -> int:
        """Hand the event of an acknowledged write over (:mod:`apiserver.storage.etcd_delivery`)
        and wait until every event up to its revision has reached the subscribers."""
        self._delivery.own_write(event)
        if not await self._delivery.wait(event.revision, FEED_WAIT):
            log.warning("etcd watch feed did not deliver the revisions before %d within %.0fs",
                        event.revision, FEED_WAIT)
        return event.revision

    async def create(self, key: str, value: bytes) -> int:
        began = perf_counter()
        try:
            ekey = self._ekey(key)
            answer = await self._txn(key, pb.TxnRequest(
                compare=[pb.Compare(target=_CREATE, result=_EQUAL, key=ekey, create_revision=0)],
                success=[pb.RequestOp(request_put=pb.PutRequest(key=ekey, value=value))]))
            if not answer.succeeded:
                raise KeyExistsError(key)
            return await self._delivered(StorageEvent(EventType.CREATE, key, value, None,
                                                      int(answer.header.revision)))
        finally:
            _observe("create", key, began)

    def _guarded(self, ekey: bytes, expected_revision: int | None) -> list[Any]:
        compare = [pb.Compare(target=_CREATE, result=_GREATER, key=ekey, create_revision=0)]
        if expected_revision is not None:
            compare.append(pb.Compare(target=_MOD, result=_EQUAL, key=ekey,
                                      mod_revision=expected_revision))
        return compare

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        began = perf_counter()
        try:
            ekey = self._ekey(key)
            answer = await self._txn(key, pb.TxnRequest(
                compare=self._guarded(ekey, expected_revision),
                success=[pb.RequestOp(request_put=pb.PutRequest(key=ekey, value=value,
                                                                prev_kv=True))],
                failure=[pb.RequestOp(request_range=pb.RangeRequest(key=ekey, count_only=True))]))
            self._refused(key, answer)
            prev = answer.responses[0].response_put.prev_kv
            return await self._delivered(StorageEvent(
                EventType.UPDATE, key, value, prev.value, int(answer.header.revision),
                int(prev.mod_revision)))
        finally:
            _observe("update", key, began)

    async def delete(self, key: str, expected_revision: int | None = None) -> int:
        began = perf_counter()
        try:
            ekey = self._ekey(key)
            answer = await self._txn(key, pb.TxnRequest(
                compare=self._guarded(ekey, expected_revision),
                success=[pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(
                    key=ekey, prev_kv=True))],
                failure=[pb.RequestOp(request_range=pb.RangeRequest(key=ekey, count_only=True))]))
            self._refused(key, answer)
            prev = answer.responses[0].response_delete_range.prev_kvs[0]
            return await self._delivered(StorageEvent(
                EventType.DELETE, key, prev.value, prev.value, int(answer.header.revision),
                int(prev.mod_revision)))
        finally:
            _observe("delete", key, began)

    @staticmethod
    def _refused(key: str, answer: Any) -> None:
        """Raise the error of a guarded write whose comparison failed."""
        if not answer.succeeded:
            found = answer.responses[0].response_range.count if answer.responses else 0
            if not found:
                raise KeyNotFoundError(key)
            raise RevisionConflictError(key)

    # -- reads ---------------------------------------------------------------------

    async def _range(self, request: Any, key: str = "") -> Any:
        try:
            answer = await self.client.range(request, key)
        except EtcdError as exc:
            if COMPACTED in exc.details:
                self._compacted = max(self._compacted, request.revision + 1)
                raise CompactedError(request.revision, self._compacted) from exc
            raise StorageUnavailableError(key, str(exc)) from exc
        self._see(answer.header)
        return answer

    async def _etcd_revision(self) -> int:
        try:
            return await self.client.revision()
        except EtcdError as exc:
            raise StorageUnavailableError("", str(exc)) from exc

    async def get(self, key: str) -> KeyValue | None:
        began = perf_counter()
        try:
            answer = await self._range(pb.RangeRequest(key=self._ekey(key)), key)
            if not answer.kvs:
                return None
            kv = answer.kvs[0]
            return KeyValue(key, kv.value, int(kv.mod_revision), int(kv.create_revision))
        finally:
            _observe("get", key, began)

    async def list_prefix(self, prefix: str) -> tuple[list[KeyValue], int]:
        began = perf_counter()
        try:
            start = self._ekey(prefix)
            end = prefix_end(start)
            items: list[KeyValue] = []
            revision = 0
            while True:
                answer = await self._range(pb.RangeRequest(
                    key=start, range_end=end, limit=PAGE_SIZE, revision=revision), prefix)
                if not revision:
                    revision = int(answer.header.revision)
                for kv in answer.kvs:
                    skey = self._skey(kv.key)
                    if skey is not None:
                        items.append(KeyValue(skey, kv.value, int(kv.mod_revision),
                                              int(kv.create_revision)))
                if not answer.more or not answer.kvs:
                    return items, revision
                start = answer.kvs[-1].key + b"\0"
        finally:
            _observe("list", prefix, began)

    async def size_bytes(self) -> tuple[str, int] | None:
        """etcd's ``dbSize`` (maintenance status of the member in use), as ``etcd-0``."""
        try:
            answer = await self.client.status()
        except (StorageError, EtcdError):
            return None
        return ("etcd-0", int(answer.dbSize))

    def current_revision(self) -> int:
        return self._revision

    async def fetch_current_revision(self) -> int:
        """Ask etcd for its revision, wait for the feed to pass it, and return the
        newest revision under the prefix the subscribers have seen up to there
        (the module docstring has the argument)."""
        revision = await self._etcd_revision()
        self._revision = max(self._revision, revision)
        if not await self._delivery.wait(revision, PROBE_AFTER):
            await self._feed.probe(PROBE_AFTER)
            if not await self._delivery.wait(revision, FEED_WAIT):
                raise StorageUnavailableError("", f"etcd watch feed is behind revision {revision}")
        return self._delivery.delivered

    def compacted_revision(self) -> int:
        return self._compacted

    async def check_revision(self, revision: int) -> None:
        if revision < self._compacted:
            raise CompactedError(revision, self._compacted)
        with contextlib.suppress(StorageUnavailableError):
            await self._range(pb.RangeRequest(key=self._eprefix, count_only=True,
                                              revision=revision))

    async def history(self, after_revision: int) -> list[StorageEvent]:
        if after_revision < self._compacted:
            raise CompactedError(after_revision, self._compacted)
        until = await self._etcd_revision()
        # Every revision after 1 (etcd's empty store) carries at least one event.
        if after_revision >= until or until <= 1:
            return []
        events: list[StorageEvent] = []
        reached = False

        def collect(revision: int, event: StorageEvent | None) -> bool:
            nonlocal reached
            if revision > until:
                reached = True
                return False
            if event is not None:
                events.append(event)
            reached = revision >= until
            return not reached

        stream = WatchStream(self.client, max(after_revision, 1) + 1, prev_kv=True)
        try:
            await asyncio.wait_for(pump(stream, self._skey, collect, self._saw_compaction,
                                        stop_on_compaction=True), HISTORY_WAIT)
        except TimeoutError as exc:
            raise StorageUnavailableError("", "reading history from etcd timed out") from exc
        finally:
            stream.cancel()
        if not reached:
            raise StorageUnavailableError("", "etcd watch ended before the history was read")
        return events

    async def compact(self, revision: int) -> None:
        revision = min(revision, await self._etcd_revision())
        if revision <= self._compacted:
            return
        try:
            await self.client.compact(revision)
        except EtcdError as exc:
            if COMPACTED not in exc.details and FUTURE not in exc.details:
                raise StorageUnavailableError("", str(exc)) from exc
        self._compacted = max(self._compacted, revision)

    def subscribe(self, subscriber: Subscriber) -> None:
        self._delivery.subscribers.append(subscriber)

    def on_feed_gap(self, callback: Callable[[int], None]) -> None:
        self._gap_callbacks.append(callback)

    # -- the feed ------------------------------------------------------------------

    def _feed_gap(self, revision: int) -> None:
        for callback in self._gap_callbacks:
            try:
                callback(revision)
            except Exception:
                log.exception("storage feed-gap callback failed")

    def _feed_reached(self, revision: int) -> None:
        if revision > self._revision:
            self._revision = revision
        self._delivery.feed_reached(revision)
