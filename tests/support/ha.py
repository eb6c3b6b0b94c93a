"""Load and observers for the HA topology test: writers, watchers and consistent readers.

Each runs in its own thread with its own httpx client until ``stop`` is set:

* :class:`Writer` creates ConfigMaps ``<writer>-<n>`` through the balancer and records
  each acknowledged create (201) with its resourceVersion. A create that fails without
  an answer is retried under the same name until it is answered: a 409 then means the
  earlier attempt was written, and it counts as acknowledged too;
* :class:`Watcher` lists, then watches the namespace through the balancer, each watch
  on a new connection and closed after ``resume_every`` events (or ended by the server
  after ``timeoutSeconds``). An ended or
  broken stream is resumed from the last resourceVersion it saw, on whichever replica
  the balancer picks; a 410 (as an HTTP answer or an ``ERROR`` event) makes it relist.
  It records every object name it learned of, every ADDED event seen for a name it
  already knew (a duplicate) and any resourceVersion that went backwards;
* :class:`Reader` makes consistent lists (no resourceVersion) on each apiserver replica
  in turn and records a violation whenever a list's resourceVersion is older than the
  newest acknowledged write before it started, or older than the previous list's.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

Verify = ssl.SSLContext | bool


@dataclass
class Acknowledged:
    """Every acknowledged create of all writers (thread-safe)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    names: dict[str, int] = field(default_factory=dict)
    newest: int = 0

    def add(self, name: str, revision: int) -> None:
        with self.lock:
            self.names[name] = revision
            self.newest = max(self.newest, revision)

    def count(self) -> int:
        with self.lock:
            return len(self.names)

    def snapshot(self) -> tuple[set[str], int]:
        with self.lock:
            return set(self.names), self.newest


def _rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


class Worker(threading.Thread):
    """A daemon thread running ``loop`` until ``stop`` is set; errors are kept."""

    def __init__(self, name: str, stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.stop = stop
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self.loop()
        except BaseException as exc:
            self.failure = exc

    def loop(self) -> None:
        raise NotImplementedError


class Writer(Worker):
    """Creates ConfigMaps until stopped (see the module docstring)."""

    def __init__(self, name: str, stop: threading.Event, base: str, verify: Verify,
                 acked: Acknowledged) -> None:
        super().__init__(name, stop)
        self.url = f"{base}/api/v1/namespaces/ha/configmaps"
        self.verify = verify
        self.acked = acked
        self.errors = 0

    def loop(self) -> None:
        with httpx.Client(verify=self.verify, timeout=30) as client:
            n = 0
            while not self.stop.is_set():
                name = f"{self.name}-{n}"
                while not self.stop.is_set():
                    try:
                        resp = client.post(self.url, json={"metadata": {"name": name},
                                                           "data": {"n": str(n)}})
                    except httpx.HTTPError:
                        self.errors += 1
                        self.stop.wait(0.05)
                        continue
                    if resp.status_code == 201:
                        self.acked.add(name, _rv(resp.json()))
                        break
                    if resp.status_code == 409:
                        got = client.get(f"{self.url}/{name}")
                        if got.status_code == 200:
                            self.acked.add(name, _rv(got.json()))
                            break
                    self.errors += 1
                    self.stop.wait(0.05)
                n += 1


class Watcher(Worker):
    """Lists and watches the namespace until stopped (see the module docstring)."""

    def __init__(self, name: str, stop: threading.Event, base: str, verify: Verify,
                 resume_every: int = 100) -> None:
        super().__init__(name, stop)
        self.url = f"{base}/api/v1/namespaces/ha/configmaps"
        self.resume_every = resume_every
        self.verify = verify
        self.lock = threading.Lock()
        self.names: set[str] = set()
        self.duplicates: list[str] = []
        self.backwards: list[tuple[int, int]] = []
        self.relists = 0
        #: Watches that ended (after ``resume_every`` events, or timeoutSeconds) and were
        #: resumed, and broken ones.
        self.resumes = 0
        self.broken = 0
        self.revision = 0

    def _relist(self, client: httpx.Client) -> None:
        resp = client.get(self.url)
        resp.raise_for_status()
        doc = resp.json()
        with self.lock:
            self.names |= {item["metadata"]["name"] for item in doc["items"]}
            self.revision = int(doc["metadata"]["resourceVersion"])

    def _event(self, event: dict[str, Any]) -> bool:
        """Record one event; False when the watch must relist (410)."""
        kind, obj = event["type"], event["object"]
        if kind == "ERROR":
            if obj.get("code") == 410:
                return False
            raise AssertionError(f"watch error event: {obj}")
        revision = _rv(obj)
        with self.lock:
            if revision < self.revision:
                self.backwards.append((self.revision, revision))
            self.revision = max(self.revision, revision)
            if kind == "ADDED":
                name = obj["metadata"]["name"]
                if name in self.names:
                    self.duplicates.append(name)
                self.names.add(name)
        return True

    def loop(self) -> None:
        # A new connection for every watch, so the balancer spreads them over the replicas
        # and a resumed watch is often served by another replica than the last one.
        timeout = httpx.Timeout(10, read=60)
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(verify=self.verify, timeout=timeout, limits=limits) as client:
            relist = True
            while not self.stop.is_set():
                try:
                    if relist:
                        self._relist(client)
                        self.relists += 1
                        relist = False
                    params = {"watch": "1", "resourceVersion": str(self.revision),
                              "allowWatchBookmarks": "true", "timeoutSeconds": "5"}
                    with client.stream("GET", self.url, params=params) as resp:
                        if resp.status_code == 410:
                            relist = True
                            continue
                        if resp.status_code != 200:
                            continue  # an apiserver going away; resume
                        for events, line in enumerate(resp.iter_lines(), 1):
                            if line and not self._event(orjson.loads(line)):
                                relist = True
                                break
                            if self.stop.is_set():
                                return
                            if events >= self.resume_every:
                                break  # close it and resume on a new connection
                    self.resumes += 1
                except httpx.HTTPError:
                    self.broken += 1

    def seen(self) -> set[str]:
        with self.lock:
            return set(self.names)


class Reader(Worker):
    """Consistent lists on each replica in turn (see the module docstring)."""

    def __init__(self, name: str, stop: threading.Event, bases: Sequence[str],
                 verify: Verify, acked: Acknowledged) -> None:
        super().__init__(name, stop)
        self.bases = list(bases)
        self.verify = verify
        self.acked = acked
        self.reads = 0
        self.stale: list[tuple[str, int, int]] = []
        self.backwards: list[tuple[str, int, int]] = []

    def loop(self) -> None:
        previous = 0
        with httpx.Client(verify=self.verify, timeout=10) as client:
            turn = 0
            while not self.stop.is_set():
                base = self.bases[turn % len(self.bases)]
                turn += 1
                _, floor = self.acked.snapshot()
                with contextlib.suppress(httpx.HTTPError):
                    resp = client.get(f"{base}/api/v1/namespaces/ha/configmaps",
                                      params={"limit": "1"})
                    if resp.status_code != 200:
                        continue
                    revision = int(resp.json()["metadata"]["resourceVersion"])
                    self.reads += 1
                    if revision < floor:
                        self.stale.append((base, floor, revision))
                    if revision < previous:
                        self.backwards.append((base, previous, revision))
                    previous = max(previous, revision)


def start_all(workers: Sequence[Worker]) -> None:
    for worker in workers:
        worker.start()


def until(what: str, condition: Callable[[], bool], workers: Sequence[Worker],
          timeout: float) -> None:
    """Wait for ``condition`` (polling), failing early when a worker died."""
    deadline = time.monotonic() + timeout
    while not condition():
        for worker in workers:
            if worker.failure is not None:
                raise AssertionError(f"{worker.name} failed") from worker.failure
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
