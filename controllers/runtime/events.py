"""core/v1 Events about objects, as client-go's legacy recorder writes them.

One :class:`EventRecorder` per component (``deployment-controller``,
``default-scheduler`` …). ``await recorder.event(obj, type, reason, message)`` writes
the Event before it returns, so a sync's Events are visible to whoever waits on the
sync; a failed write is logged and dropped — an Event never fails a sync.

The recorder correlates like client-go's ``EventCorrelator``:

* **spam filter** — per source and involved object a token bucket (burst 25, one
  token every 5 minutes); an Event without a token is dropped;
* **aggregator** — after 10 Events that differ only in their message within
  10 minutes, the next ones are recorded as one Event with the message
  ``(combined from similar events): <latest message>``;
* **logger** — an Event identical to one recorded before (same source, object,
  type, reason and message) is not created again: the earlier Event's ``count``,
  ``lastTimestamp`` and ``message`` are patched instead (a new Event is created when
  the earlier one is gone).

The Event's name is ``<object name>.<nanoseconds in hex>`` and its namespace the
object's (``default`` for cluster-scoped objects), as upstream.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from apiserver.api.resources import EVENTS
from controllers.client.errors import ApiError

__all__ = ["EventRecorder", "object_reference"]

log = logging.getLogger("controllers.runtime.events")

#: client-go's defaults (tools/record/events_cache.go).
_CACHE_SIZE = 4096
_SPAM_BURST = 25
_SPAM_REFILL_SECONDS = 300.0
_AGGREGATE_MAX_EVENTS = 10
_AGGREGATE_INTERVAL_SECONDS = 600.0
_COMBINED_PREFIX = "(combined from similar events): "

Clock = Callable[[], datetime]
K = TypeVar("K")
V = TypeVar("V")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_reference(obj: Mapping[str, Any], field_path: str = "") -> dict[str, Any]:
    """The ``ObjectReference`` of ``obj`` (empty fields left out)."""
    md = obj.get("metadata") or {}
    ref = {"kind": obj.get("kind"), "namespace": md.get("namespace"), "name": md.get("name"),
           "uid": md.get("uid"), "apiVersion": obj.get("apiVersion"),
           "resourceVersion": md.get("resourceVersion"), "fieldPath": field_path}
    return {k: v for k, v in ref.items() if v}


@dataclass
class _Logged:
    """An Event already written: where it is and how often it happened."""

    namespace: str
    name: str
    count: int
    first: str


class _Bucket:
    """A token bucket refilled one token per ``_SPAM_REFILL_SECONDS``."""

    def __init__(self, now: float) -> None:
        self.tokens = float(_SPAM_BURST)
        self.at = now

    def take(self, now: float) -> bool:
        self.tokens = min(float(_SPAM_BURST),
                          self.tokens + (now - self.at) / _SPAM_REFILL_SECONDS)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class _Lru(Generic[K, V]):
    """A bounded mapping that forgets the least recently used entry."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self.size = size
        self.items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)

    def pop(self, key: K) -> None:
        self.items.pop(key, None)


class EventRecorder:
    """Writes correlated Events as ``component`` (see the module docstring).

    ``writer`` needs ``create(info, namespace, obj)`` and ``patch(info, namespace, name,
    patch)``; ``monotonic`` drives the spam filter and aggregation windows.
    """

    def __init__(self, writer: Any, component: str, *, host: str | None = None,
                 clock: Clock = _utcnow, monotonic: Callable[[], float] = time.monotonic,
                 instance: str | None = None) -> None:
        self.writer = writer
        self.component = component
        # kube-controller-manager's recorders name no host (``source`` is the component
        # alone, ``reportingInstance`` empty); node components pass theirs.
        self.host = host or ""
        self.instance = instance or self.host
        self.clock = clock
        self.monotonic = monotonic
        self._buckets: _Lru[tuple[Any, ...], _Bucket] = _Lru()
        self._similar: _Lru[tuple[Any, ...], tuple[float, set[str]]] = _Lru()
        self._logged: _Lru[tuple[Any, ...], _Logged] = _Lru()

    async def event(self, obj: Mapping[str, Any], type_: str, reason: str, message: str,
                    *, field_path: str = "", action: str = "",
                    related: Mapping[str, Any] | None = None) -> None:
        """Record ``reason``/``message`` (``type_`` Normal or Warning) about ``obj``;
        ``related`` is the secondary object (upstream ``Eventf``'s ``related``: the
        preemptor of a ``Preempted`` victim)."""
        ref = object_reference(obj, field_path)
        source = (self.component, self.host)
        ref_key = (ref.get("kind"), ref.get("namespace"), ref.get("name"), ref.get("uid"),
                   ref.get("apiVersion"), field_path)
        now = self.monotonic()
        bucket = self._buckets.get((source, ref_key))
        if bucket is None:
            bucket = _Bucket(now)
            self._buckets.put((source, ref_key), bucket)
        if not bucket.take(now):
            log.debug("dropped event %s about %s: too many events", reason, ref.get("name"))
            return
        message, combined = self._aggregate((source, ref_key, type_, reason), message, now)
        # A combined Event is one Event whatever its latest message (upstream's aggregate key).
        key = (source, ref_key, type_, reason, None if combined else message)
        when = _rfc3339(self.clock())
        logged = self._logged.get(key)
        if logged is not None and await self._bump(logged, message, when):
            return
        namespace = str(ref.get("namespace") or "default")
        name = f"{ref.get('name')}.{time.time_ns():x}"
        count = logged.count if logged is not None else 1
        first = logged.first if logged is not None else when
        body: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": ref, "reason": reason, "message": message, "type": type_,
            "source": ({"component": self.component, "host": self.host} if self.host
                       else {"component": self.component}),
            "firstTimestamp": first, "lastTimestamp": when, "count": count,
            "reportingComponent": self.component, "reportingInstance": self.instance,
        }
        if action:
            body["action"] = action
        if related is not None:
            body["related"] = object_reference(related)
        try:
            await self.writer.create(EVENTS, namespace, body)
        except Exception as exc:  # best effort, as upstream's recorder
            log.debug("could not record event %s about %s: %s", reason, ref.get("name"), exc)
            return
        self._logged.put(key, _Logged(namespace, name, count, first))

    def _aggregate(self, key: tuple[Any, ...], message: str, now: float) -> tuple[str, bool]:
        """The message to record, and whether it is combined: from the tenth distinct
        message of ``key`` within the interval on, Events are combined into one."""
        seen = self._similar.get(key)
        if seen is None or now - seen[0] > _AGGREGATE_INTERVAL_SECONDS:
            seen = (now, set())
        messages = seen[1]
        messages.add(message)
        self._similar.put(key, (now, messages))
        if len(messages) < _AGGREGATE_MAX_EVENTS:
            return message, False
        messages.discard(message)  # the set never grows beyond the limit
        return _COMBINED_PREFIX + message, True

    async def _bump(self, logged: _Logged, message: str, when: str) -> bool:
        """Patch an earlier identical Event's count; False when it must be created anew."""
        logged.count += 1
        patch = {"count": logged.count, "lastTimestamp": when, "message": message}
        try:
            await self.writer.patch(EVENTS, logged.namespace, logged.name, patch)
        except ApiError as exc:
            if exc.code == 404:
                return False
            log.debug("could not update event %s: %s", logged.name, exc)
        except Exception as exc:
            log.debug("could not update event %s: %s", logged.name, exc)
        return True
