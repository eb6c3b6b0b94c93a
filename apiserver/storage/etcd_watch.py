"""etcd watch streams: the storage's change feed and history reads.

One gRPC ``Watch`` stream over the whole keyspace, opened with ``hasleader``
metadata so etcd cancels it when its member loses the leader. The feed asks for
no previous values (``prev_kv``): its subscriber, the watch cache, holds every
object's current state and takes the state before an update or a delete from
there, as upstream's watch cache does, so etcd does not read the replaced value
back from its backend for every event and the stream carries each value once.
A delete event then has no value (``StorageEvent`` says how subscribers read
it). History reads, which rebuild the cache's event window, ask for them.

Watching every key, not only the storage's prefix, keeps the feed's position
exact: every etcd revision carries at least one event, so once the stream
delivered revision R, every write up to R has been delivered. Consistent reads
rest on that (see :mod:`apiserver.storage.etcd`).

Progress notifications are requested (``progress_notify``) and a
``WatchProgressRequest`` is sent when a reader waits on the feed: an answer
proves the stream and its member alive, no answer within the wait moves the
feed to another member. Their revision is *not* taken as the feed's position:
etcd before 3.4.31/3.5.13 may send a progress notification ahead of events
still queued for the stream (etcd issue 15220, why kube-apiserver gates
consistent reads from its cache on those versions), and the Debian etcd is
3.4.23.

When a stream breaks (member killed, leader lost), :class:`Feed` reopens it on
the next member from the revision after the last one delivered, so nothing is
lost or repeated. A stream that starts below the compaction point is answered
with ``compact_revision``: history reads raise :class:`CompactedError`, the
feed logs the gap, reports it (the watch cache then reloads its state from a list and
closes its watches, as upstream's reflector relists) and continues from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import grpc.aio
from aetcd.rpc import rpc_pb2 as pb

from apiserver.storage.errors import CompactedError, StorageError, StorageUnavailableError
from apiserver.storage.etcd_client import REQUIRE_LEADER, EtcdClient
from apiserver.storage.interface import EventType, StorageEvent

log = logging.getLogger(__name__)

#: Called with each response's events already converted: (revision, event or None for
#: a key outside the storage's prefix); returns False to stop the stream.
OnEvent = Callable[[int, StorageEvent | None], bool]
#: Turns an etcd key into a storage key, or None for keys outside the prefix.
KeyMap = Callable[[bytes], str | None]
#: Called after each response's events with the revision of its last event.
OnReached = Callable[[int], None]

#: mvccpb.Event.EventType DELETE.
_DELETE = 1


def convert(raw: Any, skey: KeyMap) -> tuple[int, StorageEvent | None]:
    """One ``mvccpb.Event`` as (revision, StorageEvent or None outside the prefix). Without
    the previous value (a stream without ``prev_kv``) an update has ``prev_value`` None and
    a delete an empty ``value``."""
    kv = raw.kv
    revision = int(kv.mod_revision)
    key = skey(kv.key)
    if key is None:
        return revision, None
    has_prev = raw.HasField("prev_kv")
    prev_value = raw.prev_kv.value if has_prev else None
    prev_revision = int(raw.prev_kv.mod_revision) if has_prev else 0
    if raw.type == _DELETE:
        return revision, StorageEvent(EventType.DELETE, key, prev_value or b"", prev_value,
                                      revision, prev_revision)
    if kv.create_revision == revision:
        return revision, StorageEvent(EventType.CREATE, key, kv.value, None, revision)
    return revision, StorageEvent(EventType.UPDATE, key, kv.value, prev_value, revision,
                                  prev_revision)


class WatchStream:
    """One open watch of every key from a start revision, on the client's current member;
    ``prev_kv``: updates and deletes carry the value they replaced."""

    def __init__(self, client: EtcdClient, start_revision: int, *, prev_kv: bool) -> None:
        self.client = client
        self.endpoint = client.endpoint
        self.start_revision = start_revision
        self._requests: asyncio.Queue[Any] = asyncio.Queue()
        self._requests.put_nowait(pb.WatchRequest(create_request=pb.WatchCreateRequest(
            key=b"\0", range_end=b"\0", start_revision=start_revision, prev_kv=prev_kv,
            progress_notify=True)))
        self.call = self.endpoint.watch.Watch(self._outgoing(), metadata=REQUIRE_LEADER)
        #: Set by every answer of the stream (events, progress or creation).
        self.alive = asyncio.Event()

    async def _outgoing(self) -> AsyncIterator[Any]:
        while True:
            yield await self._requests.get()

    def request_progress(self) -> None:
        """Ask etcd for a progress notification on this stream."""
        self.alive.clear()
        self._requests.put_nowait(pb.WatchRequest(progress_request=pb.WatchProgressRequest()))

    def cancel(self) -> None:
        self.call.cancel()

    async def next(self) -> Any:
        """The stream's next response; None once etcd ended the stream. ``read`` rather
        than ``async for``: one awaited call per response instead of two nested async
        generators, on the path every event of the cluster takes."""
        response = await self.call.read()
        if response is grpc.aio.EOF:
            return None
        self.alive.set()
        if response.canceled and not response.compact_revision:
            raise StorageUnavailableError(
                "", f"etcd cancelled the watch: {response.cancel_reason or 'no reason'}")
        return response


async def pump(stream: WatchStream, skey: KeyMap, on_event: OnEvent,
               on_compacted: Callable[[int], None], *, stop_on_compaction: bool,
               on_reached: OnReached | None = None,
               delivered: Callable[[], int] | None = None,
               on_gap: Callable[[int], None] | None = None) -> int:
    """Feed ``stream``'s events to ``on_event`` until it returns False or the stream ends,
    and after each response that carried events, its last revision to ``on_reached``
    (etcd never splits one revision's events across responses); returns the next
    revision to watch from. Events at or below ``delivered()`` (the feed's own writes,
    already handed over from their transactions' answers) reach ``on_event`` as None,
    unconverted. A stream that starts below the compaction point raises
    :class:`CompactedError` with ``stop_on_compaction``; otherwise ``on_gap`` is told the
    revision it resumes from (the events before it are lost)."""
    next_revision = stream.start_revision
    while (response := await stream.next()) is not None:
        if response.compact_revision:
            compacted = int(response.compact_revision)
            on_compacted(compacted)
            if stop_on_compaction:
                raise CompactedError(stream.start_revision - 1, compacted)
            log.error("etcd watch feed fell behind compaction at %d: events %d..%d are lost",
                      compacted, next_revision, compacted - 1)
            if on_gap is not None:
                on_gap(compacted)
            return compacted
        for raw in response.events:
            if delivered is not None and raw.kv.mod_revision <= delivered():
                revision, event = int(raw.kv.mod_revision), None
            else:
                revision, event = convert(raw, skey)
            if not on_event(revision, event):
                return revision + 1
            next_revision = revision + 1
        if on_reached is not None and response.events:
            on_reached(next_revision - 1)
    return next_revision


class Feed:
    """The change feed: one watch stream, reopened on the next member where it stopped."""

    def __init__(self, client: EtcdClient, skey: KeyMap, on_event: OnEvent,
                 on_compacted: Callable[[int], None], on_reached: OnReached,
                 delivered: Callable[[], int] | None = None,
                 on_gap: Callable[[int], None] | None = None) -> None:
        self._client = client
        self._delivered = delivered
        self._on_gap = on_gap
        self._skey = skey
        self._on_event = on_event
        self._on_compacted = on_compacted
        self._on_reached = on_reached
        self.stream: WatchStream | None = None

    async def run(self, start_revision: int) -> None:
        next_revision = start_revision
        backoff = 0.05
        while not self._client.closed:
            stream = WatchStream(self._client, next_revision, prev_kv=False)
            self.stream = stream
            try:
                next_revision = await pump(stream, self._skey, self._track(stream),
                                           self._on_compacted, stop_on_compaction=False,
                                           on_reached=self._on_reached,
                                           delivered=self._delivered, on_gap=self._on_gap)
                backoff = 0.05
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._client.closed or (task is not None and task.cancelling()):
                    raise
                # The stream alone was cancelled (by probe): reopen it elsewhere.
                next_revision = stream.start_revision
            except Exception as exc:  # a broken stream or a bad response: reopen elsewhere
                if self._client.closed:
                    return
                next_revision = stream.start_revision
                log.warning("etcd watch feed on %s interrupted (%s); resuming from %d",
                            stream.endpoint.url, _brief(exc), next_revision,
                            exc_info=not isinstance(exc, grpc.aio.AioRpcError | StorageError))
                self._client.failover(stream.endpoint)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
            finally:
                stream.cancel()

    def _track(self, stream: WatchStream) -> OnEvent:
        """``on_event`` that also remembers how far ``stream`` got (for resuming)."""
        def on_event(revision: int, event: StorageEvent | None) -> bool:
            stream.start_revision = revision + 1
            return self._on_event(revision, event)
        return on_event

    async def probe(self, timeout: float) -> bool:
        """Ask the stream for progress; False (and the stream is dropped, to be reopened
        on the next member) when nothing arrives within ``timeout``."""
        stream = self.stream
        if stream is None:
            return False
        stream.request_progress()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stream.alive.wait(), timeout)
            return True
        if stream is self.stream:
            log.warning("etcd watch feed on %s is silent; moving to another member",
                        stream.endpoint.url)
            self._client.failover(stream.endpoint)
            stream.cancel()
        return False


def _brief(exc: Exception) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return str(exc)
