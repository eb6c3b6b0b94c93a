"""The limit filters at the ASGI level: request classification, max in flight, request
timeout, and a watcher's overflow hook."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from apiserver.api.user import REQUEST_USER, UserInfo
from apiserver.chain import ASGIApp, ChainStages, build_chain
from apiserver.filters.maxinflight import MaxInFlight
from apiserver.filters.timeout import TIMEOUT_MESSAGE, RequestTimeout
from apiserver.handlers.http import ABORT_EXTENSION, Message
from apiserver.handlers.refusal import Refusal
from apiserver.handlers.requestinfo import request_info
from apiserver.storage.cache import Watcher


@pytest.mark.parametrize(("method", "path", "query", "verb", "resource", "sub", "ns", "name"), [
    ("GET", "/api/v1/namespaces/ns/pods", b"", "list", "pods", "", "ns", ""),
    ("GET", "/api/v1/namespaces/ns/pods", b"watch=true", "watch", "pods", "", "ns", ""),
    ("GET", "/api/v1/watch/namespaces/ns/pods/p", b"", "watch", "pods", "", "ns", "p"),
    ("POST", "/api/v1/namespaces/ns/pods/p/exec", b"", "create", "pods", "exec", "ns", "p"),
    ("GET", "/api/v1/namespaces/ns/pods/p/log", b"", "get", "pods", "log", "ns", "p"),
    ("DELETE", "/apis/apps/v1/namespaces/ns/deployments", b"", "deletecollection",
     "deployments", "", "ns", ""),
    ("GET", "/api/v1/namespaces/ns", b"", "get", "namespaces", "", "ns", "ns"),
    ("PUT", "/api/v1/namespaces/ns/finalize", b"", "update", "namespaces", "finalize", "ns",
     "ns"),
    ("PATCH", "/apis/example.com/v1/widgets/w", b"", "patch", "widgets", "", "", "w"),
    ("GET", "/apis/apps/v1/deployments", b"watch=1", "watch", "deployments", "", "", ""),
    ("POST", "/api/v1/namespaces", b"", "create", "namespaces", "", "", ""),
    ("GET", "//api/v1//nodes/", b"", "list", "nodes", "", "", ""),
])
def test_resource_requests(method: str, path: str, query: bytes, verb: str, resource: str,
                           sub: str, ns: str, name: str) -> None:
    info = request_info(method, path, query)
    assert info.resource_request
    assert (info.verb, info.resource, info.subresource, info.namespace, info.name) == \
        (verb, resource, sub, ns, name)


def test_non_resource_requests_and_long_running() -> None:
    for path in ("/healthz", "/api", "/api/v1", "/apis/apps/v1", "/openapi/v2"):
        info = request_info("GET", path)
        assert not info.resource_request and info.verb == "get"
    assert request_info("POST", "/healthz").mutating
    assert request_info("GET", "/api/v1/pods", b"watch=1").long_running
    assert request_info("GET", "/api/v1/namespaces/a/pods/p/log").long_running
    assert request_info("POST", "/api/v1/namespaces/a/pods/p/portforward").long_running
    assert not request_info("GET", "/api/v1/namespaces/a/pods/p/status").long_running
    assert not request_info("GET", "/api/v1/pods", b"watch=false").long_running


class Held:
    """An app that holds every request until released, recording what it served."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.served = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.served += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _scope(method: str, path: str, query: bytes = b"") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "query_string": query,
            "headers": []}


async def _call(app: Any, scope: dict[str, Any], user: UserInfo | None = None) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    if user is not None:
        REQUEST_USER.set(user)
    await app(scope, receive, send)
    return sent


def test_max_in_flight_pools_masters_and_long_running() -> None:
    async def run() -> None:
        held = Held()
        limits = MaxInFlight(2, 1)
        app = build_chain(held, ChainStages(max_in_flight=limits))
        reads = [asyncio.create_task(_call(app, _scope("GET", "/api/v1/pods")))
                 for _ in range(2)]
        write = asyncio.create_task(_call(app, _scope("POST", "/api/v1/namespaces/a/pods")))
        await asyncio.sleep(0)
        refused = await _call(app, _scope("GET", "/api/v1/namespaces/a/pods/p"))
        assert refused[0]["status"] == 429
        assert (b"retry-after", b"1") in refused[0]["headers"]
        assert refused[1]["body"] == b"Too many requests, please try again later.\n"
        assert (await _call(app, _scope("DELETE", "/api/v1/namespaces/a/pods/p")))[0][
            "status"] == 429
        assert limits.read_only.dropped == 1 and limits.mutating.dropped == 1
        # Long-running requests and system:masters are served over the limit.
        exempt = [
            asyncio.create_task(_call(app, _scope("GET", "/api/v1/pods", b"watch=1"))),
            asyncio.create_task(_call(app, _scope("POST", "/api/v1/namespaces/a/pods/p/exec"))),
            asyncio.create_task(_call(app, _scope("GET", "/api/v1/pods"),
                                      UserInfo("admin", groups=("system:masters",)))),
        ]
        await asyncio.sleep(0)
        assert held.served == 6
        held.release.set()
        for done in await asyncio.gather(*reads, write, *exempt):
            assert done[0]["status"] == 200
        assert limits.read_only.in_use == 0 and limits.mutating.in_use == 0
        # Slots are free again.
        assert (await _call(app, _scope("GET", "/api/v1/pods")))[0]["status"] == 200

    asyncio.run(run())


def test_max_in_flight_check_without_http() -> None:
    limits = MaxInFlight(1, 0)
    user = UserInfo("dev", groups=("system:authenticated",))
    get = request_info("GET", "/api/v1/namespaces/a/pods/p")
    pool = limits.acquire(get, user)
    assert pool is limits.read_only and pool.in_use == 1
    with pytest.raises(Refusal) as refused:
        limits.acquire(get, user)
    assert refused.value.status == 429
    assert limits.acquire(get, UserInfo("admin", groups=("system:masters",))) is None
    assert limits.acquire(request_info("GET", "/api/v1/pods", b"watch=1"), user) is None
    # 0: the mutating pool has no limit
    writes = [limits.acquire(request_info("POST", "/api/v1/namespaces/a/pods"), user)
              for _ in range(3)]
    assert all(w is limits.mutating for w in writes) and limits.mutating.in_use == 3
    pool.release()
    assert limits.read_only.in_use == 0
    assert limits.enabled and not MaxInFlight(0, 0).enabled


def _timed(app: ASGIApp, seconds: float) -> ASGIApp:
    return build_chain(app, ChainStages(request_timeout=RequestTimeout(seconds)))


def test_request_timeout_answers_504_and_cancels_a_stalled_body_read() -> None:
    async def run() -> None:
        stalled = asyncio.Event()

        async def reads_body(scope: Any, receive: Any, send: Any) -> None:
            stalled.set()
            await receive()  # never answered
            raise AssertionError("unreachable")

        sent: list[Message] = []

        async def never() -> Message:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            sent.append(message)

        app = _timed(reads_body, 0.05)
        await app(_scope("POST", "/api/v1/namespaces/a/configmaps"), never, send)
        assert stalled.is_set()
        assert sent[0]["status"] == 504
        assert (b"connection", b"close") in sent[0]["headers"]
        body = orjson.loads(sent[1]["body"])
        assert body == {"metadata": {}, "status": "Failure", "message": TIMEOUT_MESSAGE,
                        "reason": "Timeout", "details": {}, "code": 504}

    asyncio.run(run())


def test_request_timeout_lets_a_busy_handler_finish_and_discards_its_answer() -> None:
    async def run() -> None:
        finished = asyncio.Event()

        async def slow(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await asyncio.sleep(0.1)  # e.g. a write landing after the deadline
            finished.set()
            await send({"type": "http.response.start", "status": 201, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        sent = await _call(_timed(slow, 0.02),
                           _scope("POST", "/api/v1/namespaces/a/configmaps"))
        assert finished.is_set()
        assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [504]
        assert (b"connection", b"close") not in sent[0]["headers"]

    asyncio.run(run())


def test_request_timeout_drops_a_connection_whose_answer_had_started() -> None:
    async def run() -> None:
        aborted: list[bool] = []

        async def streams(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await asyncio.sleep(0.1)
            await send({"type": "http.response.body", "body": b"late"})

        scope = _scope("GET", "/api/v1/pods")
        scope["extensions"] = {ABORT_EXTENSION: lambda: aborted.append(True)}
        sent = await _call(_timed(streams, 0.02), scope)
        assert aborted == [True]
        assert len(sent) == 1  # the late body is discarded

    asyncio.run(run())


def test_long_running_requests_have_no_deadline() -> None:
    async def run() -> None:
        async def watch(scope: Any, receive: Any, send: Any) -> None:
            await asyncio.sleep(0.1)
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        sent = await _call(_timed(watch, 0.02),
                           _scope("GET", "/api/v1/pods", b"watch=true"))
        assert sent[0]["status"] == 200

    asyncio.run(run())


def test_a_watcher_whose_queue_stays_full_is_closed_and_its_reader_told() -> None:
    class Encoder:
        fmt = "json"

        def encode(self, event_type: str, obj: Any) -> bytes:
            return b""

    async def run() -> None:
        told: list[bool] = []
        watcher = Watcher(lambda obj: True, Encoder(), maxsize=3)
        watcher.on_overflow = lambda: told.append(True)
        for _ in range(3):
            watcher.offer(b"frame\n")
        assert not watcher.closed and not told
        watcher.offer(b"frame\n")
        assert watcher.closed and watcher.overflowed and told == [True]

    asyncio.run(run())
