"""The scale-out backend: a real etcd v3 server through its JSON gRPC gateway.

Every call is one HTTP POST of JSON to the gateway (``/v3/kv/range``,
``/v3/kv/txn``, ``/v3/kv/compaction``; keys and values base64), so no gRPC
build is needed. etcd's ``mod_revision`` is the resourceVersion, as in
kube-apiserver:

* create is a transaction comparing ``create_revision == 0``;
* update compares ``mod_revision`` (and ``create_revision > 0``, so a missing
  key is reported as missing, not created);
* delete optionally compares ``mod_revision``;
* "required revision has been compacted" becomes :class:`CompactedError`.

The change feed is one watch stream (``/v3/watch`` with ``prev_kv``) over the
whole keyspace, filtered to this storage's prefix, so writes by every
apiserver replica on the same etcd reach the subscribers in revision order.
Watching every key (not only the prefix) makes the feed's position exact:
every etcd revision carries at least one event, so once the feed has passed
revision R, every write up to R has been delivered. That is what consistent
reads wait for (:meth:`EtcdStorage.fetch_current_revision`). A write through
this storage is answered only after the feed delivered it, so the writer's
own watch cache already holds it (read-your-writes, as the embedded
backends).

Storage keys start with ``key_root`` (``/registry``); in etcd that root is
replaced by ``prefix`` (``--etcd-prefix``, also ``/registry`` by default), so
the keys read as kube-apiserver's (``/registry/services/specs/...`` aside).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any

import httpx
import orjson

from apiserver.api import metrics
from apiserver.storage.errors import (
    CompactedError,
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
    StorageError,
    StorageUnavailableError,
)
from apiserver.storage.interface import (
    EventType,
    KeyValue,
    Storage,
    StorageEvent,
    Subscriber,
)
from apiserver.storage.transformed import group_resource

log = logging.getLogger(__name__)

#: Keys per page of a prefix range.
PAGE_SIZE = 1000
#: Seconds a write waits for the feed to deliver it before it is answered anyway.
FEED_WAIT = 10.0
#: Seconds reading history may take.
HISTORY_WAIT = 60.0
#: Seconds to keep retrying the first contact with etcd at start.
START_TIMEOUT = 15.0

_COMPACTED = "required revision has been compacted"
_FUTURE = "required revision is a future revision"
_ALL_KEYS = base64.b64encode(b"\0").decode()


class _EtcdError(Exception):
    """An error answer of the gateway (``{"error": ..., "code": ...}``)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


def prefix_end(key: bytes) -> bytes:
    """The smallest key greater than every key starting with ``key`` (etcd's range end)."""
    end = bytearray(key)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"


def _observe(operation: str, key: str, start: float) -> None:
    """``etcd_request_duration_seconds`` for one request begun at ``start``."""
    group, resource = group_resource(key)
    metrics.ETCD_REQUESTS.observe((operation, group, resource), perf_counter() - start)


class EtcdStorage(Storage):
    """Storage on etcd v3 at ``servers`` (tried in order; failover on connection errors)."""

    def __init__(
        self,
        servers: Sequence[str],
        prefix: str = "/registry",
        key_root: str = "/registry",
        *,
        request_timeout: float = 10.0,
    ) -> None:
        if not servers:
            raise ValueError("at least one etcd server is required")
        self._servers = [s.rstrip("/") for s in servers]
        self._server = 0
        self._prefix = prefix.rstrip("/")
        self._key_root = key_root.rstrip("/")
        self._eprefix = self._prefix.encode()
        self._timeout = request_timeout
        self._client: httpx.AsyncClient | None = None
        self._subscribers: list[Subscriber] = []
        #: Newest revision seen in any answer (``current_revision``).
        self._revision = 0
        self._compacted = 0
        #: Every event up to this revision has gone through the feed.
        self._position = 0
        #: Revision of the newest event under the prefix the feed delivered.
        self._delivered = 0
        self._advanced = asyncio.Event()
        self._feed: asyncio.Task[None] | None = None
        self._closed = False

    # -- keys --------------------------------------------------------------------

    def _ekey(self, key: str) -> bytes:
        if not key.startswith(self._key_root):
            raise ValueError(f"key {key!r} is not under {self._key_root!r}")
        return self._eprefix + key[len(self._key_root):].encode()

    def _skey(self, ekey: bytes) -> str | None:
        if not ekey.startswith(self._eprefix):
            return None
        return self._key_root + ekey[len(self._eprefix):].decode()

    # -- transport ---------------------------------------------------------------

    def _see(self, header: dict[str, Any] | None) -> int:
        revision = int((header or {}).get("revision") or 0)
        if revision > self._revision:
            self._revision = revision
        return revision

    async def _call(self, path: str, body: dict[str, Any], key: str = "") -> dict[str, Any]:
        if self._client is None or self._closed:
            raise StorageUnavailableError(key, "storage is not running")
        last: Exception | None = None
        for _ in range(len(self._servers)):
            url = self._servers[self._server] + path
            try:
                resp = await self._client.post(url, content=orjson.dumps(body))
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing was sent: safe to try the next server.
                last = exc
                self._server = (self._server + 1) % len(self._servers)
                continue
            except httpx.HTTPError as exc:
                raise StorageUnavailableError(key, f"etcd request failed: {exc!r}") from exc
            try:
                answer: dict[str, Any] = orjson.loads(resp.content)
            except orjson.JSONDecodeError as exc:
                raise StorageUnavailableError(
                    key, f"etcd answered {resp.status_code}: {resp.text[:200]}") from exc
            if "error" in answer or resp.status_code != 200:
                raise _EtcdError(str(answer.get("error") or answer.get("message") or answer))
            self._see(answer.get("header"))
            return answer
        raise StorageUnavailableError(key, f"no etcd server reachable: {last!r}")

    async def _txn(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self._call("/v3/kv/txn", body, key)
        except _EtcdError as exc:
            raise StorageUnavailableError(key, f"etcd: {exc}") from exc

    async def _range(self, body: dict[str, Any], key: str = "") -> dict[str, Any]:
        try:
            return await self._call("/v3/kv/range", body, key)
        except _EtcdError as exc:
            if _COMPACTED in str(exc):
                requested = int(body.get("revision") or 0)
                self._compacted = max(self._compacted, requested + 1)
                raise CompactedError(requested, self._compacted) from exc
            raise StorageUnavailableError(key, f"etcd: {exc}") from exc

    async def _etcd_revision(self) -> int:
        answer = await self._range({"key": _b64(self._eprefix), "count_only": True})
        return int(answer["header"]["revision"])

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self._timeout),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while True:
            try:
                revision = await self._etcd_revision()
                break
            except StorageUnavailableError:
                if loop.time() >= deadline:
                    await self.close()
                    raise
                await asyncio.sleep(0.2)
        self._position = revision
        self._delivered = revision
        self._feed = asyncio.create_task(self._follow(revision + 1), name="etcd-feed")

    async def close(self) -> None:
        self._closed = True
        if self._feed is not None:
            self._feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._feed
            self._feed = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._advanced.set()

    # -- writes --------------------------------------------------------------------

    async def _delivered_by_feed(self, revision: int) -> None:
        """Wait until the feed has delivered ``revision`` to the subscribers."""
        if not await self._wait_position(revision, FEED_WAIT):
            log.warning("etcd watch feed did not deliver revision %d within %.0fs",
                        revision, FEED_WAIT)

    async def create(self, key: str, value: bytes) -> int:
        began = perf_counter()
        try:
            ekey = _b64(self._ekey(key))
            answer = await self._txn(key, {
                "compare": [{"target": "CREATE", "key": ekey, "result": "EQUAL",
                             "create_revision": "0"}],
                "success": [{"request_put": {"key": ekey, "value": _b64(value)}}],
            })
            if not answer.get("succeeded"):
                raise KeyExistsError(key)
            revision = int(answer["header"]["revision"])
            await self._delivered_by_feed(revision)
            return revision
        finally:
            _observe("create", key, began)

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        began = perf_counter()
        try:
            ekey = _b64(self._ekey(key))
            answer = await self._txn(key, {
                "compare": [
                    {"target": "CREATE", "key": ekey, "result": "GREATER", "create_revision": "0"},
                    {"target": "MOD", "key": ekey, "result": "EQUAL",
                     "mod_revision": str(expected_revision)},
                ],
                "success": [{"request_put": {"key": ekey, "value": _b64(value)}}],
                "failure": [{"request_range": {"key": ekey, "count_only": True}}],
            })
            return await self._written(key, answer)
        finally:
            _observe("update", key, began)

    async def delete(self, key: str, expected_revision: int | None = None) -> int:
        began = perf_counter()
        try:
            ekey = _b64(self._ekey(key))
            compare: list[dict[str, Any]] = [
                {"target": "CREATE", "key": ekey, "result": "GREATER", "create_revision": "0"}]
            if expected_revision is not None:
                compare.append({"target": "MOD", "key": ekey, "result": "EQUAL",
                                "mod_revision": str(expected_revision)})
            answer = await self._txn(key, {
                "compare": compare,
                "success": [{"request_delete_range": {"key": ekey}}],
                "failure": [{"request_range": {"key": ekey, "count_only": True}}],
            })
            return await self._written(key, answer)
        finally:
            _observe("delete", key, began)

    async def _written(self, key: str, answer: dict[str, Any]) -> int:
        if not answer.get("succeeded"):
            responses = answer.get("responses") or [{}]
            found = int((responses[0].get("response_range") or {}).get("count") or 0)
            if not found:
                raise KeyNotFoundError(key)
            raise RevisionConflictError(key)
        revision = int(answer["header"]["revision"])
        await self._delivered_by_feed(revision)
        return revision

    # -- reads ---------------------------------------------------------------------

    @staticmethod
    def _kv(key: str, kv: dict[str, Any]) -> KeyValue:
        return KeyValue(key, _unb64(kv.get("value")), int(kv.get("mod_revision") or 0),
                        int(kv.get("create_revision") or 0))

    async def get(self, key: str) -> KeyValue | None:
        began = perf_counter()
        try:
            answer = await self._range({"key": _b64(self._ekey(key))}, key)
            kvs = answer.get("kvs") or []
            return self._kv(key, kvs[0]) if kvs else None
        finally:
            _observe("get", key, began)

    async def list_prefix(self, prefix: str) -> tuple[list[KeyValue], int]:
        began = perf_counter()
        try:
            start = self._ekey(prefix)
            end = _b64(prefix_end(start))
            items: list[KeyValue] = []
            revision = 0
            while True:
                body: dict[str, Any] = {"key": _b64(start), "range_end": end, "limit": PAGE_SIZE}
                if revision:
                    body["revision"] = str(revision)
                answer = await self._range(body, prefix)
                if not revision:
                    revision = int(answer["header"]["revision"])
                kvs = answer.get("kvs") or []
                for kv in kvs:
                    ekey = _unb64(kv["key"])
                    skey = self._skey(ekey)
                    if skey is not None:
                        items.append(self._kv(skey, kv))
                if not answer.get("more") or not kvs:
                    return items, revision
                start = _unb64(kvs[-1]["key"]) + b"\0"
        finally:
            _observe("list", prefix, began)

    async def size_bytes(self) -> tuple[str, int] | None:
        """etcd's ``dbSize`` (maintenance status of the server in use), as ``etcd-0``."""
        try:
            answer = await self._call("/v3/maintenance/status", {})
        except (StorageError, _EtcdError):
            return None
        return ("etcd-0", int(answer.get("dbSize") or 0))

    def current_revision(self) -> int:
        return self._revision

    async def fetch_current_revision(self) -> int:
        """Ask etcd for its revision, wait for the feed to pass it, and return the
        newest revision under the prefix the subscribers have seen up to there."""
        revision = await self._etcd_revision()
        if not await self._wait_position(revision, FEED_WAIT):
            raise StorageUnavailableError("", f"etcd watch feed is behind revision {revision}")
        return self._delivered

    def compacted_revision(self) -> int:
        return self._compacted

    async def check_revision(self, revision: int) -> None:
        if revision < self._compacted:
            raise CompactedError(revision, self._compacted)
        with contextlib.suppress(StorageUnavailableError):
            await self._range({"key": _b64(self._eprefix), "count_only": True,
                               "revision": str(revision)})

    async def history(self, after_revision: int) -> list[StorageEvent]:
        if after_revision < self._compacted:
            raise CompactedError(after_revision, self._compacted)
        until = await self._etcd_revision()
        # Every revision after 1 (etcd's empty store) carries at least one event.
        if after_revision >= until or until <= 1:
            return []
        after_revision = max(after_revision, 1)
        events: list[StorageEvent] = []
        done = False

        def collect(revision: int, event: StorageEvent | None) -> bool:
            nonlocal done
            if revision > until:
                done = True
                return False
            if event is not None:
                events.append(event)
            if revision >= until:
                done = True
                return False
            return True

        try:
            await asyncio.wait_for(
                self._watch(after_revision + 1, collect, stop_on_compaction=True), HISTORY_WAIT)
        except TimeoutError as exc:
            raise StorageUnavailableError("", "reading history from etcd timed out") from exc
        if not done:
            raise StorageUnavailableError("", "etcd watch ended before the history was read")
        return events

    async def compact(self, revision: int) -> None:
        revision = min(revision, await self._etcd_revision())
        if revision <= self._compacted:
            return
        try:
            await self._call("/v3/kv/compaction", {"revision": str(revision)})
        except _EtcdError as exc:
            if _COMPACTED not in str(exc) and _FUTURE not in str(exc):
                raise StorageUnavailableError("", f"etcd: {exc}") from exc
        self._compacted = max(self._compacted, revision)

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    # -- the feed ------------------------------------------------------------------

    async def _wait_position(self, revision: int, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._position < revision:
            if self._closed:
                return False
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._advanced.wait(), remaining)
            except TimeoutError:
                return False
        return True

    def _event(self, raw: dict[str, Any]) -> tuple[int, StorageEvent | None]:
        kv = raw.get("kv") or {}
        revision = int(kv.get("mod_revision") or 0)
        key = self._skey(_unb64(kv.get("key")))
        if key is None:
            return revision, None
        prev = raw.get("prev_kv")
        prev_value = _unb64(prev.get("value")) if prev else None
        prev_revision = int(prev.get("mod_revision") or 0) if prev else 0
        if raw.get("type") == "DELETE":
            return revision, StorageEvent(EventType.DELETE, key, prev_value or b"", prev_value,
                                          revision, prev_revision)
        value = _unb64(kv.get("value"))
        if int(kv.get("create_revision") or 0) == revision:
            return revision, StorageEvent(EventType.CREATE, key, value, None, revision)
        return revision, StorageEvent(EventType.UPDATE, key, value, prev_value, revision,
                                      prev_revision)

    async def _watch(
        self,
        start_revision: int,
        on_event: Callable[[int, StorageEvent | None], bool],
        *,
        stop_on_compaction: bool,
    ) -> int:
        """Stream every event from ``start_revision`` into ``on_event(revision, event)``
        until it returns False or the stream ends; returns the next revision to watch."""
        request = {"create_request": {"key": _ALL_KEYS, "range_end": _ALL_KEYS,
                                      "start_revision": str(start_revision), "prev_kv": True}}
        url = self._servers[self._server] + "/v3/watch"
        timeout = httpx.Timeout(self._timeout, read=None)
        next_revision = start_revision
        async with httpx.AsyncClient(timeout=timeout) as client, client.stream(
            "POST", url, content=orjson.dumps(request)
        ) as resp:
            if resp.status_code != 200:
                raise StorageUnavailableError("", f"etcd watch answered {resp.status_code}")
            async for line in resp.aiter_lines():
                if not line.strip():
                    continue
                message = orjson.loads(line)
                if "error" in message:
                    raise StorageUnavailableError("", f"etcd watch: {message['error']}")
                result = message.get("result") or {}
                self._see(result.get("header"))
                compacted = int(result.get("compact_revision") or 0)
                if compacted:
                    self._compacted = max(self._compacted, compacted)
                    if stop_on_compaction:
                        raise CompactedError(start_revision - 1, compacted)
                    log.error("etcd watch feed fell behind compaction at %d: events "
                              "%d..%d are lost", compacted, next_revision, compacted - 1)
                    return compacted
                if result.get("canceled"):
                    return next_revision
                for raw in result.get("events") or []:
                    revision, event = self._event(raw)
                    if not on_event(revision, event):
                        return revision + 1
                    next_revision = revision + 1
        return next_revision

    def _deliver(self, revision: int, event: StorageEvent | None) -> bool:
        if event is not None:
            for subscriber in self._subscribers:
                try:
                    subscriber(event)
                except Exception:
                    log.exception("storage subscriber failed")
            self._delivered = revision
        if revision > self._position:
            self._position = revision
            if revision > self._revision:
                self._revision = revision
            self._advanced.set()
            self._advanced = asyncio.Event()
        return True

    async def _follow(self, start_revision: int) -> None:
        """The change feed: one watch, reopened from where it stopped."""
        next_revision = start_revision
        backoff = 0.05
        while not self._closed:
            try:
                next_revision = await self._watch(
                    next_revision, self._deliver, stop_on_compaction=False)
                backoff = 0.05
            except asyncio.CancelledError:
                raise
            except (httpx.HTTPError, StorageError, ValueError) as exc:
                log.warning("etcd watch feed interrupted (%s); reconnecting", exc)
                self._server = (self._server + 1) % len(self._servers)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
