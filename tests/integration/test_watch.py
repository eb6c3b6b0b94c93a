"""Watch semantics over real HTTP against the real apiserver process.

Each test uses its own namespace on the shared session apiserver (or a private
server from ``apiserver_factory`` when it needs a small watch cache). Streams
are read with httpx; frames are split on ``\\n`` by hand so an unterminated
frame is caught.

To assert "exactly these events and nothing else" without waiting for a
timeout, most tests finish their writes with a *sentinel* write and read the
stream until the sentinel's event arrives.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import httpx
import pytest

from tests.conftest import ApiServerProcess

TIMEOUT = httpx.Timeout(15.0)
CM = "/api/v1/namespaces/{ns}/configmaps"
PODS = "/api/v1/namespaces/{ns}/pods"


# -- helpers -----------------------------------------------------------------------


@pytest.fixture
def client(apiserver: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=apiserver.url, timeout=TIMEOUT) as c:
        yield c


def new_namespace(client: httpx.Client, prefix: str = "watch") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    r = client.post("/api/v1/namespaces", json={"metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


@pytest.fixture
def ns(client: httpx.Client) -> str:
    return new_namespace(client)


def configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if labels is not None:
        md["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data}


def pod(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if labels is not None:
        md["labels"] = labels
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": md,
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def rv_of(response: httpx.Response) -> str:
    rv: str = response.json()["metadata"]["resourceVersion"]
    return rv


def create_cm(client: httpx.Client, ns: str, name: str, labels: dict[str, str] | None = None,
              **data: str) -> str:
    r = client.post(CM.format(ns=ns), json=configmap(name, labels, **data))
    assert r.status_code == 201, r.text
    return rv_of(r)


def patch_cm(client: httpx.Client, ns: str, name: str, patch: dict[str, Any]) -> str:
    r = client.patch(
        f"{CM.format(ns=ns)}/{name}",
        content=json.dumps(patch),
        headers={"content-type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    return rv_of(r)


def delete_cm(client: httpx.Client, ns: str, name: str) -> None:
    r = client.delete(f"{CM.format(ns=ns)}/{name}")
    assert r.status_code == 200, r.text


def list_rv(client: httpx.Client, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, r.text
    return rv_of(r)


class Watch:
    """A streaming watch; frames are split on ``\\n`` and parsed as JSON."""

    def __init__(self, client: httpx.Client, path: str, **params: str | int) -> None:
        self.client = client
        self.path = path
        self.params = {"watch": "true", **{k: str(v) for k, v in params.items()}}
        if "timeoutSeconds" not in self.params:
            self.params["timeoutSeconds"] = "10"
        self.raw_frames: list[bytes] = []
        self._buffer = b""
        self._closed = False

    def __enter__(self) -> Watch:
        self._cm = self.client.stream("GET", self.path, params=self.params)
        self.response = self._cm.__enter__()
        assert self.response.status_code == 200, self.response.read()
        self._chunks = self.response.iter_raw()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._cm.__exit__(exc_type, exc, tb)

    def _frame(self) -> bytes | None:
        while b"\n" not in self._buffer:
            if self._closed:
                return None
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._closed = True
                assert self._buffer == b"", f"unterminated frame at end: {self._buffer!r}"
                return None
            self._buffer += chunk
        frame, self._buffer = self._buffer.split(b"\n", 1)
        self.raw_frames.append(frame + b"\n")
        return frame

    def next(self) -> dict[str, Any] | None:
        """The next event, or None once the server closed the stream."""
        frame = self._frame()
        if frame is None:
            return None
        event: dict[str, Any] = json.loads(frame)
        return event

    def take(self, count: int) -> list[dict[str, Any]]:
        events = []
        for _ in range(count):
            event = self.next()
            assert event is not None, f"stream ended after {events}"
            events.append(event)
        return events

    def until(self, name: str, rv: str) -> list[dict[str, Any]]:
        """Events up to and including the one of ``name`` at ``rv``."""
        events = []
        while True:
            event = self.next()
            assert event is not None, f"stream ended before {name}@{rv}: {events}"
            events.append(event)
            md = event["object"]["metadata"]
            if md.get("name") == name and md.get("resourceVersion") == rv:
                return events

    def rest(self) -> list[dict[str, Any]]:
        """Every remaining event until the server closes the stream."""
        events = []
        while (event := self.next()) is not None:
            events.append(event)
        return events


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (e["type"], e["object"]["metadata"].get("name", ""),
         e["object"]["metadata"].get("resourceVersion", ""))
        for e in events
    ]


# -- stream format ------------------------------------------------------------------


def test_events_are_newline_terminated_json(client: httpx.Client, ns: str) -> None:
    start = list_rv(client, CM.format(ns=ns))
    rv1 = create_cm(client, ns, "a", x="1")
    rv2 = patch_cm(client, ns, "a", {"data": {"x": "2"}})
    delete_cm(client, ns, "a")
    with Watch(client, CM.format(ns=ns), resourceVersion=start, timeoutSeconds=1) as w:
        assert w.response.headers["content-type"] == "application/json"
        assert w.response.headers.get("transfer-encoding") == "chunked"
        events = w.rest()
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert len(w.raw_frames) == 3
    for frame, event in zip(w.raw_frames, events, strict=True):
        assert frame.endswith(b"\n") and frame.count(b"\n") == 1
        assert set(event) == {"type", "object"}
        assert event["object"]["kind"] == "ConfigMap"
        assert event["object"]["apiVersion"] == "v1"
    assert [e["object"]["metadata"]["resourceVersion"] for e in events][:2] == [rv1, rv2]
    assert int(events[2]["object"]["metadata"]["resourceVersion"]) > int(rv2)


@pytest.mark.parametrize("resource_version", [None, "0"], ids=["unset", "zero"])
def test_initial_state_is_sent_as_synthetic_added(
    client: httpx.Client, ns: str, resource_version: str | None
) -> None:
    rvs = {name: create_cm(client, ns, name, v=name) for name in ("c", "a", "b")}
    rvs["a"] = patch_cm(client, ns, "a", {"data": {"v": "changed"}})
    params: dict[str, str | int] = {"timeoutSeconds": 5}
    if resource_version is not None:
        params["resourceVersion"] = resource_version
    with Watch(client, CM.format(ns=ns), **params) as w:
        initial = w.take(3)
        assert sorted(summary(initial)) == sorted(("ADDED", n, rv) for n, rv in rvs.items())
        assert {e["object"]["data"]["v"] for e in initial} == {"b", "c", "changed"}
        # Then live changes follow.
        rv = patch_cm(client, ns, "b", {"data": {"v": "live"}})
        (event,) = w.take(1)
        assert summary([event]) == [("MODIFIED", "b", rv)]
        assert event["object"]["data"] == {"v": "live"}


def test_resume_from_every_resource_version_in_window(client: httpx.Client, ns: str) -> None:
    start = list_rv(client, CM.format(ns=ns))
    history: list[tuple[str, str, str]] = []
    history.append(("ADDED", "a", create_cm(client, ns, "a", n="1")))
    history.append(("ADDED", "b", create_cm(client, ns, "b", n="1")))
    history.append(("MODIFIED", "a", patch_cm(client, ns, "a", {"data": {"n": "2"}})))
    delete_cm(client, ns, "b")
    deleted_rv = str(int(list_rv(client, CM.format(ns=ns))))
    history.append(("DELETED", "b", deleted_rv))
    history.append(("MODIFIED", "a", patch_cm(client, ns, "a", {"data": {"n": "3"}})))
    sentinel_rv = create_cm(client, ns, "sentinel")
    history.append(("ADDED", "sentinel", sentinel_rv))

    for i, from_rv in enumerate([start] + [rv for _, _, rv in history[:-1]]):
        with Watch(client, CM.format(ns=ns), resourceVersion=from_rv) as w:
            events = w.until("sentinel", sentinel_rv)
        assert summary(events) == history[i:], f"watch from {from_rv}"


def test_legacy_watch_path(client: httpx.Client, ns: str) -> None:
    start = list_rv(client, PODS.format(ns=ns))
    r = client.post(PODS.format(ns=ns), json=pod("p1"))
    assert r.status_code == 201, r.text
    rv1 = rv_of(r)
    r = client.post(PODS.format(ns=ns), json=pod("p2"))
    rv2 = rv_of(r)
    with Watch(client, f"/api/v1/watch/namespaces/{ns}/pods", resourceVersion=start) as w:
        events = w.until("p2", rv2)
    assert summary(events) == [("ADDED", "p1", rv1), ("ADDED", "p2", rv2)]
    assert events[0]["object"]["kind"] == "Pod"


@pytest.mark.parametrize(
    "path",
    ["/api/v1/namespaces/{ns}/pods/{name}", "/api/v1/watch/namespaces/{ns}/pods/{name}"],
    ids=["watch-param", "legacy"],
)
def test_named_object_watch(client: httpx.Client, ns: str, path: str) -> None:
    start = list_rv(client, PODS.format(ns=ns))
    expected = []
    for name in ("target", "other", "target-2"):
        r = client.post(PODS.format(ns=ns), json=pod(name))
        assert r.status_code == 201, r.text
        if name == "target":
            expected.append(("ADDED", name, rv_of(r)))
    for name in ("other", "target", "target-2"):
        r = client.patch(
            f"{PODS.format(ns=ns)}/{name}",
            content=json.dumps({"metadata": {"labels": {"touched": "yes"}}}),
            headers={"content-type": "application/merge-patch+json"},
        )
        assert r.status_code == 200, r.text
        if name == "target":
            expected.append(("MODIFIED", name, rv_of(r)))
            last = rv_of(r)
    params: dict[str, str | int] = {"resourceVersion": start}
    if "/watch/" not in path:
        params["watch"] = "1"
    with Watch(client, path.format(ns=ns, name="target"), **params) as w:
        events = w.until("target", last)
    assert summary(events) == expected


def test_named_watch_from_now_sees_only_that_object(client: httpx.Client, ns: str) -> None:
    create_cm(client, ns, "x")
    create_cm(client, ns, "y")
    with Watch(client, f"{CM.format(ns=ns)}/x", timeoutSeconds=5) as w:
        (initial,) = w.take(1)
        assert initial["type"] == "ADDED" and initial["object"]["metadata"]["name"] == "x"
        patch_cm(client, ns, "y", {"data": {"k": "v"}})
        rv = patch_cm(client, ns, "x", {"data": {"k": "v"}})
        (event,) = w.take(1)
    assert summary([event]) == [("MODIFIED", "x", rv)]


# -- selectors --------------------------------------------------------------------


def test_label_selector_transitions_become_added_and_deleted(
    client: httpx.Client, ns: str
) -> None:
    start = list_rv(client, CM.format(ns=ns))
    rv_create = create_cm(client, ns, "obj", {"app": "web"}, v="1")
    create_cm(client, ns, "unrelated", {"app": "db"})
    rv_mod = patch_cm(client, ns, "obj", {"data": {"v": "2"}})
    rv_leave = patch_cm(
        client, ns, "obj", {"metadata": {"labels": {"app": "db"}}, "data": {"v": "3"}}
    )
    patch_cm(client, ns, "obj", {"data": {"v": "4"}})  # invisible: not matching before or after
    rv_back = patch_cm(client, ns, "obj", {"metadata": {"labels": {"app": "web"}}})
    patch_cm(client, ns, "unrelated", {"data": {"v": "x"}})
    rv_sentinel = create_cm(client, ns, "sentinel", {"app": "web"})
    with Watch(client, CM.format(ns=ns), resourceVersion=start, labelSelector="app=web") as w:
        events = w.until("sentinel", rv_sentinel)
    assert summary(events) == [
        ("ADDED", "obj", rv_create),
        ("MODIFIED", "obj", rv_mod),
        ("DELETED", "obj", rv_leave),
        ("ADDED", "obj", rv_back),
        ("ADDED", "sentinel", rv_sentinel),
    ]
    # The DELETED event carries the last matching state, at the new resourceVersion.
    leave = events[2]["object"]
    assert leave["metadata"]["labels"] == {"app": "web"}
    assert leave["data"] == {"v": "2"}
    # The ADDED event on re-entering carries the current state.
    assert events[3]["object"]["data"] == {"v": "4"}
    assert events[3]["object"]["metadata"]["labels"] == {"app": "web"}


def test_field_selector_transitions_become_added_and_deleted(
    client: httpx.Client, ns: str
) -> None:
    start = list_rv(client, PODS.format(ns=ns))
    r = client.post(PODS.format(ns=ns), json=pod("p"))
    assert r.status_code == 201, r.text
    rv_create = rv_of(r)

    def set_phase(name: str, phase: str) -> str:
        r = client.patch(
            f"{PODS.format(ns=ns)}/{name}/status",
            content=json.dumps({"status": {"phase": phase}}),
            headers={"content-type": "application/merge-patch+json"},
        )
        assert r.status_code == 200, r.text
        return rv_of(r)

    rv_running = set_phase("p", "Running")
    rv_back = set_phase("p", "Pending")
    r = client.post(PODS.format(ns=ns), json=pod("sentinel"))
    rv_sentinel = rv_of(r)
    with Watch(client, PODS.format(ns=ns), resourceVersion=start,
               fieldSelector="status.phase=Pending") as w:
        events = w.until("sentinel", rv_sentinel)
    assert summary(events) == [
        ("ADDED", "p", rv_create),
        ("DELETED", "p", rv_running),
        ("ADDED", "p", rv_back),
        ("ADDED", "sentinel", rv_sentinel),
    ]
    assert events[1]["object"]["status"]["phase"] == "Pending"


# -- bookmarks and timeouts --------------------------------------------------------


def test_bookmarks_only_when_allowed_and_before_the_deadline(
    client: httpx.Client, ns: str
) -> None:
    create_cm(client, ns, "a")
    rv = list_rv(client, CM.format(ns=ns))
    started = time.monotonic()
    with (
        Watch(client, CM.format(ns=ns), resourceVersion=rv, timeoutSeconds=3,
              allowWatchBookmarks="true") as with_bookmarks,
        Watch(client, CM.format(ns=ns), resourceVersion=rv, timeoutSeconds=3) as without,
    ):
        bookmark = with_bookmarks.next()
        bookmark_at = time.monotonic() - started
        rest = with_bookmarks.rest()
        plain = without.rest()
    elapsed = time.monotonic() - started
    assert bookmark is not None
    assert bookmark["type"] == "BOOKMARK"
    obj = bookmark["object"]
    assert obj["kind"] == "ConfigMap"
    assert obj["apiVersion"] == "v1"
    assert int(obj["metadata"]["resourceVersion"]) >= int(rv)
    assert "name" not in obj["metadata"]
    # Sent about 2 s before the 3 s deadline.
    assert 0.5 <= bookmark_at <= 2.5, bookmark_at
    assert rest == []
    assert plain == []
    assert 2.5 <= elapsed <= 6.0, elapsed


def test_timeout_seconds_closes_the_stream_without_a_final_event(
    client: httpx.Client, ns: str
) -> None:
    rv = list_rv(client, CM.format(ns=ns))
    started = time.monotonic()
    with Watch(client, CM.format(ns=ns), resourceVersion=rv, timeoutSeconds=1) as w:
        rv_a = create_cm(client, ns, "a")
        events = w.rest()
    elapsed = time.monotonic() - started
    assert summary(events) == [("ADDED", "a", rv_a)]
    assert 0.8 <= elapsed <= 3.0, elapsed


def test_send_initial_events_then_end_bookmark(client: httpx.Client, ns: str) -> None:
    rvs = {name: create_cm(client, ns, name) for name in ("b", "a")}
    with Watch(
        client, CM.format(ns=ns), sendInitialEvents="true",
        resourceVersionMatch="NotOlderThan", allowWatchBookmarks="true", timeoutSeconds=5,
    ) as w:
        initial = w.take(3)
        assert sorted(summary(initial[:2])) == sorted(("ADDED", n, rv) for n, rv in rvs.items())
        bookmark = initial[2]
        assert bookmark["type"] == "BOOKMARK"
        assert bookmark["object"]["kind"] == "ConfigMap"
        md = bookmark["object"]["metadata"]
        assert md["annotations"]["k8s.io/initial-events-end"] == "true"
        assert int(md["resourceVersion"]) >= max(int(v) for v in rvs.values())
        rv = create_cm(client, ns, "c")
        (live,) = w.take(1)
        assert summary([live]) == [("ADDED", "c", rv)]


def test_send_initial_events_without_bookmarks_has_no_end_marker(
    client: httpx.Client, ns: str
) -> None:
    rv_a = create_cm(client, ns, "a")
    with Watch(client, CM.format(ns=ns), sendInitialEvents="true",
               resourceVersionMatch="NotOlderThan", timeoutSeconds=5) as w:
        (initial,) = w.take(1)
        rv_b = create_cm(client, ns, "b")
        (live,) = w.take(1)
    assert summary([initial, live]) == [("ADDED", "a", rv_a), ("ADDED", "b", rv_b)]


def test_send_initial_events_false_streams_from_the_resource_version(
    client: httpx.Client, ns: str
) -> None:
    create_cm(client, ns, "old")
    rv = list_rv(client, CM.format(ns=ns))
    rv_new = create_cm(client, ns, "new")
    with Watch(client, CM.format(ns=ns), sendInitialEvents="false",
               resourceVersionMatch="NotOlderThan", resourceVersion=rv) as w:
        events = w.until("new", rv_new)
    assert summary(events) == [("ADDED", "new", rv_new)]


@pytest.mark.parametrize(
    "params",
    [
        {"sendInitialEvents": "true"},
        {"sendInitialEvents": "true", "resourceVersionMatch": "Exact", "resourceVersion": "1"},
        {"resourceVersionMatch": "NotOlderThan", "resourceVersion": "1"},
    ],
    ids=["no-match", "exact", "match-without-sendInitialEvents"],
)
def test_invalid_watch_list_options_are_422(
    client: httpx.Client, ns: str, params: dict[str, str]
) -> None:
    r = client.get(CM.format(ns=ns), params={"watch": "true", "timeoutSeconds": "5", **params})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["kind"] == "Status" and body["code"] == 422
    assert body["reason"] == "Invalid"
    assert "resourceVersionMatch" in body["message"]


# -- resource versions outside the window --------------------------------------------


TOO_OLD = re.compile(r"too old resource version: (\d+) \((\d+)\)")


def test_too_old_resource_version_is_an_expired_error_event(apiserver_factory: Any) -> None:
    from kubernetes import client as k8s
    from kubernetes import config, watch
    from kubernetes.client.rest import ApiException

    server: ApiServerProcess = apiserver_factory(extra_args=["--watch-cache-size", "5"])
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as c:
        ns = new_namespace(c)
        first = create_cm(c, ns, "a", n="0")
        rvs = [patch_cm(c, ns, "a", {"data": {"n": str(i)}}) for i in range(1, 8)]
        with Watch(c, CM.format(ns=ns), resourceVersion=first) as w:
            events = w.rest()
        assert len(events) == 1, events
        (error,) = events
        assert len(w.raw_frames) == 1 and w.raw_frames[0].endswith(b"}\n")
        assert error["type"] == "ERROR"
        status = error["object"]
        message = status.pop("message")
        assert status == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "reason": "Expired",
            "code": 410,
        }
        m = TOO_OLD.fullmatch(message)
        assert m is not None, message
        assert m.group(1) == first
        assert int(first) < int(m.group(2)) < int(rvs[-1])
        # Key order as upstream's Status.
        assert list(json.loads(w.raw_frames[0])["object"]) == [
            "kind", "apiVersion", "metadata", "status", "message", "reason", "code"
        ]
        # A resourceVersion still inside the window works.
        with Watch(c, CM.format(ns=ns), resourceVersion=rvs[-3]) as w:
            assert summary(w.until("a", rvs[-1])) == [
                ("MODIFIED", "a", rvs[-2]), ("MODIFIED", "a", rvs[-1])
            ]

    # The official client: with timeout_seconds it does not retry and raises 410.
    api_client = config.new_client_from_config(config_file=str(server.kubeconfig))
    try:
        v1 = k8s.CoreV1Api(api_client)
        with pytest.raises(ApiException) as info:
            for _ in watch.Watch().stream(
                v1.list_namespaced_config_map, ns, resource_version=first, timeout_seconds=5
            ):
                pass
        assert info.value.status == 410
        assert info.value.reason.startswith("Expired: too old resource version: ")
    finally:
        api_client.close()


def test_resource_version_in_the_future_times_out_with_504(
    client: httpx.Client, ns: str
) -> None:
    future = int(list_rv(client, CM.format(ns=ns))) + 1_000_000
    started = time.monotonic()
    r = client.get(CM.format(ns=ns), params={
        "watch": "true", "resourceVersion": str(future), "timeoutSeconds": "10"
    })
    elapsed = time.monotonic() - started
    assert r.status_code == 504, r.text
    body = r.json()
    assert body["kind"] == "Status"
    assert body["reason"] == "Timeout"
    assert body["code"] == 504
    assert body["message"].startswith(f"Too large resource version: {future}, current: ")
    assert body["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    assert 2.0 <= elapsed <= 8.0, elapsed


# -- the official Python client -----------------------------------------------------


def test_official_client_watch(apiserver: ApiServerProcess, client: httpx.Client, ns: str) -> None:
    from kubernetes import client as k8s
    from kubernetes import config, watch

    api_client = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    try:
        v1 = k8s.CoreV1Api(api_client)
        listed = v1.list_namespaced_config_map(ns)
        start = listed.metadata.resource_version
        v1.create_namespaced_config_map(
            ns, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="py"), data={"a": "1"})
        )
        v1.patch_namespaced_config_map("py", ns, {"data": {"a": "2"}})
        v1.delete_namespaced_config_map("py", ns)
        w = watch.Watch()
        started = time.monotonic()
        seen = [
            (e["type"], e["object"].metadata.name, (e["object"].data or {}).get("a"))
            for e in w.stream(
                v1.list_namespaced_config_map, ns, resource_version=start, timeout_seconds=1
            )
        ]
        elapsed = time.monotonic() - started
        assert seen == [("ADDED", "py", "1"), ("MODIFIED", "py", "2"), ("DELETED", "py", "2")]
        assert 0.8 <= elapsed <= 4.0
        # The client tracks the resourceVersion of the last event.
        assert int(w.resource_version) > int(start)
    finally:
        api_client.close()


# -- encode once -------------------------------------------------------------------


def test_write_response_is_byte_identical_to_the_watch_event(
    client: httpx.Client, ns: str
) -> None:
    start = list_rv(client, CM.format(ns=ns))
    responses = [client.post(CM.format(ns=ns), json=configmap("a", {"k": "v"}, x="1"))]
    obj = responses[0].json()
    obj["data"]["x"] = "2"
    responses.append(client.put(f"{CM.format(ns=ns)}/a", json=obj))
    responses.append(client.patch(
        f"{CM.format(ns=ns)}/a", content=json.dumps({"data": {"y": "3"}}),
        headers={"content-type": "application/strategic-merge-patch+json"},
    ))
    r = client.post(PODS.format(ns=ns), json=pod("p"))
    pod_response = r
    for resp in responses:
        assert resp.status_code in (200, 201), resp.text
    last = rv_of(responses[-1])
    with Watch(client, CM.format(ns=ns), resourceVersion=start) as w:
        w.until("a", last)
    # A response body is the object's bytes and the encoder's newline.
    for frame, resp, etype in zip(w.raw_frames, responses, ["ADDED", "MODIFIED", "MODIFIED"],
                                  strict=True):
        assert resp.content.endswith(b"}\n")
        obj_bytes = resp.content[:-1]
        assert frame == b'{"type":"' + etype.encode() + b'","object":' + obj_bytes + b"}\n"
    with Watch(client, PODS.format(ns=ns), resourceVersion=start) as w:
        w.until("p", rv_of(pod_response))
    assert w.raw_frames == [b'{"type":"ADDED","object":' + pod_response.content[:-1] + b"}\n"]


# -- fan-out under a slow watcher -----------------------------------------------------


def test_a_stalled_watcher_does_not_slow_the_others(
    apiserver: ApiServerProcess, client: httpx.Client, ns: str
) -> None:
    """A client that never reads its stream must not hold up the server or other watchers."""
    import socket

    start = list_rv(client, CM.format(ns=ns))
    host, port = apiserver.url.removeprefix("http://").split(":")
    stalled = socket.create_connection((host, int(port)))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(
        f"GET {CM.format(ns=ns)}?watch=true&resourceVersion={start}&timeoutSeconds=30 "
        f"HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    )
    blob = "x" * 20_000  # ~20 MB of frames in total: far more than the socket buffers
    total = 1000
    names = [f"cm-{i:04d}" for i in range(total)]
    errors: list[BaseException] = []
    latencies: list[float] = []

    def writer(chunk: list[str]) -> None:
        try:
            with httpx.Client(base_url=apiserver.url, timeout=TIMEOUT) as c:
                for name in chunk:
                    r = c.post(CM.format(ns=ns), json=configmap(name, blob=blob))
                    assert r.status_code == 201, r.text
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def prober() -> None:
        with httpx.Client(base_url=apiserver.url, timeout=TIMEOUT) as c:
            while any(t.is_alive() for t in threads):
                t0 = time.monotonic()
                assert c.get("/readyz").status_code == 200
                latencies.append(time.monotonic() - t0)
                time.sleep(0.05)

    try:
        with Watch(client, CM.format(ns=ns), resourceVersion=start, timeoutSeconds=60) as w:
            threads = [threading.Thread(target=writer, args=(names[i::4],)) for i in range(4)]
            for t in threads:
                t.start()
            probe = threading.Thread(target=prober)
            probe.start()
            seen = set()
            while len(seen) < total:
                event = w.next()
                assert event is not None
                assert event["type"] == "ADDED"
                seen.add(event["object"]["metadata"]["name"])
            for t in threads:
                t.join()
            probe.join()
        assert not errors, errors
        assert seen == set(names)
        assert latencies and max(latencies) < 2.0, max(latencies)
    finally:
        stalled.close()
