"""Crash safety: SIGKILL the apiserver, restart it on the same data, check nothing is lost.

A watcher that resumes from the last resourceVersion it saw must see every
committed change exactly once and in order, across any number of crashes;
every write acknowledged before a crash is there afterwards; resourceVersions
keep growing across restarts.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ApiServerProcess

pytestmark = pytest.mark.slow

TIMEOUT = httpx.Timeout(15.0)

Change = tuple[str, str, str]  # (event type, name, resourceVersion)


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


class Writer:
    """Pod writes that record the resourceVersion each acknowledgement carries."""

    def __init__(self, client: httpx.Client, ns: str) -> None:
        self.client = client
        self.ns = ns
        self.path = f"/api/v1/namespaces/{ns}/pods"
        self.acknowledged: list[Change] = []

    def _ack(self, etype: str, r: httpx.Response, ok: int) -> str:
        assert r.status_code == ok, r.text
        obj = r.json()
        rv: str = obj["metadata"]["resourceVersion"]
        self.acknowledged.append((etype, obj["metadata"]["name"], rv))
        return rv

    def create(self, name: str) -> str:
        return self._ack("ADDED", self.client.post(self.path, json=pod(name)), 201)

    def label(self, name: str, value: str) -> str:
        r = self.client.patch(
            f"{self.path}/{name}",
            content=json.dumps({"metadata": {"labels": {"step": value}}}),
            headers={"content-type": "application/merge-patch+json"},
        )
        return self._ack("MODIFIED", r, 200)

    def delete(self, name: str) -> str:
        # A pod that was never scheduled is removed at once and returned.
        return self._ack("DELETED", self.client.delete(f"{self.path}/{name}"), 200)

    def some_changes(self, prefix: str, count: int) -> None:
        for i in range(count):
            name = f"{prefix}-{i}"
            self.create(name)
            self.label(name, "one")
            if i % 2:
                self.delete(name)


class Follower:
    """A watch that reconnects from the last resourceVersion it saw."""

    def __init__(self, server: ApiServerProcess, ns: str) -> None:
        self.server = server
        self.path = f"/api/v1/namespaces/{ns}/pods"
        self.seen: list[Change] = []
        self.last_rv = "0"
        self._stream: Any = None
        self._lines: Iterator[str] | None = None
        self._client: httpx.Client | None = None

    def connect(self) -> None:
        self._client = httpx.Client(base_url=self.server.url, timeout=TIMEOUT)
        self._stream = self._client.stream(
            "GET",
            self.path,
            params={"watch": "true", "resourceVersion": self.last_rv, "timeoutSeconds": "30"},
        )
        response = self._stream.__enter__()
        assert response.status_code == 200
        self._lines = response.iter_lines()

    def disconnect(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(httpx.HTTPError):
                self._stream.__exit__(None, None, None)
        if self._client is not None:
            self._client.close()
        self._stream = self._client = self._lines = None

    def read(self, count: int) -> None:
        """Read ``count`` more events (ERROR events fail the test)."""
        assert self._lines is not None
        for _ in range(count):
            line = next(self._lines)
            event = json.loads(line)
            assert event["type"] in ("ADDED", "MODIFIED", "DELETED"), event
            md = event["object"]["metadata"]
            self.seen.append((event["type"], md["name"], md["resourceVersion"]))
            self.last_rv = md["resourceVersion"]

    def read_until_closed(self) -> list[str]:
        """What is left on a stream whose server died: it must just end."""
        assert self._lines is not None
        leftover = []
        try:
            for line in self._lines:
                leftover.append(line)
        except httpx.HTTPError:
            pass
        return leftover


@pytest.fixture
def client(fresh_apiserver: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fresh_apiserver.url, timeout=TIMEOUT) as c:
        yield c


def make_namespace(client: httpx.Client) -> str:
    name = f"restart-{uuid.uuid4().hex[:8]}"
    r = client.post("/api/v1/namespaces", json={"metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


def test_watcher_resumes_across_crashes_and_sees_every_change_once(
    fresh_apiserver: ApiServerProcess, client: httpx.Client
) -> None:
    server = fresh_apiserver
    ns = make_namespace(client)
    writer = Writer(client, ns)
    follower = Follower(server, ns)
    follower.last_rv = client.get(f"/api/v1/namespaces/{ns}/pods").json()["metadata"][
        "resourceVersion"
    ]
    follower.connect()
    try:
        # 1. Follow live changes.
        writer.some_changes("a", 4)
        follower.read(len(writer.acknowledged))

        # 2. Crash while the watcher is connected: its stream just ends.
        server.kill()
        assert follower.read_until_closed() == []
        follower.disconnect()

        # 3. Restart; write while the watcher is away, then resume from its last rv.
        server.restart()
        writer.some_changes("b", 3)
        follower.connect()
        follower.read(len(writer.acknowledged) - len(follower.seen))

        # 4. Crash with events the watcher has not read yet; it resumes from what it saw.
        writer.some_changes("c", 4)
        unread = len(writer.acknowledged) - len(follower.seen)
        follower.read(unread // 2)
        server.kill()
        follower.disconnect()
        server.restart()
        writer.some_changes("d", 2)
        follower.connect()
        follower.read(len(writer.acknowledged) - len(follower.seen))

        # 5. A graceful restart too: the open stream is closed with no final event.
        server.restart()
        assert follower.read_until_closed() == []
        follower.disconnect()
        writer.some_changes("e", 2)
        follower.connect()
        follower.read(len(writer.acknowledged) - len(follower.seen))
    finally:
        follower.disconnect()

    assert follower.seen == writer.acknowledged
    revisions = [int(rv) for _, _, rv in writer.acknowledged]
    assert revisions == sorted(revisions) and len(set(revisions)) == len(revisions)

    # Nothing more was committed: a fresh watch from the last rv is empty.
    r = client.get(
        f"/api/v1/namespaces/{ns}/pods",
        params={"watch": "true", "resourceVersion": follower.last_rv, "timeoutSeconds": "1"},
    )
    assert r.status_code == 200 and r.content == b""


def test_acknowledged_writes_survive_sigkill(
    fresh_apiserver: ApiServerProcess, client: httpx.Client
) -> None:
    server = fresh_apiserver
    ns = make_namespace(client)
    path = f"/api/v1/namespaces/{ns}/configmaps"
    acked: dict[str, str] = {}
    attempted: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def hammer(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as c:
            i = 0
            while not stop.is_set():
                name = f"w{worker}-{i}"
                i += 1
                with lock:
                    attempted.add(name)
                try:
                    r = c.post(path, json={"metadata": {"name": name}, "data": {"i": str(i)}})
                except httpx.HTTPError:
                    return  # the server died under us
                if r.status_code != 201:
                    return
                with lock:
                    acked[name] = r.json()["metadata"]["resourceVersion"]

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(acked) < 150 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()  # with writes in flight
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 150
    max_acked = max(int(rv) for rv in acked.values())

    server.restart()
    listed = client.get(path)
    assert listed.status_code == 200
    body = listed.json()
    present = {item["metadata"]["name"]: item["metadata"]["resourceVersion"]
               for item in body["items"]}
    # Every acknowledged write is there, at the resourceVersion it was acknowledged with.
    missing = {name for name in acked if name not in present}
    assert not missing, f"acknowledged but lost: {sorted(missing)[:10]}"
    assert all(present[name] == rv for name, rv in acked.items())
    # Anything else present was attempted (in flight at the crash), never invented.
    assert set(present) <= attempted
    assert int(body["metadata"]["resourceVersion"]) >= max_acked

    # Revisions continue above everything committed before the crash.
    r = client.post(path, json={"metadata": {"name": "after-crash"}})
    assert r.status_code == 201, r.text
    new_rv = int(r.json()["metadata"]["resourceVersion"])
    assert new_rv > int(body["metadata"]["resourceVersion"]) >= max_acked


def test_resource_versions_keep_increasing_across_restarts(
    fresh_apiserver: ApiServerProcess, client: httpx.Client
) -> None:
    server = fresh_apiserver
    ns = make_namespace(client)
    path = f"/api/v1/namespaces/{ns}/configmaps"
    last = 0
    for round_ in range(3):
        r = client.post(path, json={"metadata": {"name": f"keep-{round_}"}})
        assert r.status_code == 201, r.text
        created = int(r.json()["metadata"]["resourceVersion"])
        assert created > last
        # The newest revision is a delete (a tombstone) right before the crash.
        r = client.post(path, json={"metadata": {"name": f"gone-{round_}"}})
        assert r.status_code == 201, r.text
        r = client.delete(f"{path}/gone-{round_}")
        assert r.status_code == 200, r.text
        listed = client.get(path).json()
        last = int(listed["metadata"]["resourceVersion"])
        assert last > created
        server.restart(kill=round_ != 1)
        after = client.get(path).json()
        assert int(after["metadata"]["resourceVersion"]) >= last
        names = sorted(item["metadata"]["name"] for item in after["items"])
        assert names == [f"keep-{i}" for i in range(round_ + 1)]
        # The objects read back with the resourceVersion they were written at.
        r = client.get(f"{path}/keep-{round_}")
        assert int(r.json()["metadata"]["resourceVersion"]) == created


def test_sigterm_is_a_graceful_stop_with_exit_status_0(
    fresh_apiserver: ApiServerProcess, client: httpx.Client
) -> None:
    ns = make_namespace(client)
    r = client.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "kept"}})
    assert r.status_code == 201, r.text
    # As kube-apiserver: SIGTERM shuts down gracefully and the process exits 0.
    assert fresh_apiserver.stop() == 0
    fresh_apiserver.start()
    assert client.get(f"/api/v1/namespaces/{ns}/configmaps/kept").status_code == 200
