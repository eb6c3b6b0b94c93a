"""The flat request chain (:mod:`apiserver.chain`) over an ASGI client: the checks in
upstream's order, one parse of the request shared by every check and the handler, and the
token cache's invalidation rules (:mod:`apiserver.auth.token_cache`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from apiserver.api.user import REQUEST_USER, UserInfo
from apiserver.auth.authentication import RequestAuthenticator, TokenChain
from apiserver.auth.token_cache import CachedTokens
from apiserver.auth.tokenfile import TokenFileAuthenticator
from apiserver.chain import ChainStages, build_chain
from apiserver.filters.maxinflight import MaxInFlight
from apiserver.filters.timeout import RequestTimeout
from apiserver.handlers.http import Receive, Scope, Send
from apiserver.handlers.requestinfo import RequestInfo, scope_request_info
from apiserver.registry.reviews import Attributes, Decision, Rules, TokenResult

BOB = UserInfo("bob", "1", ("ops",))
POD = "/api/v1/namespaces/ns/pods/p"


class Recorder:
    """Allows everything but the listed (user, resource) pairs; records what it was asked."""

    def __init__(self, *denied: tuple[str, str]) -> None:
        self.denied = set(denied)
        self.asked: list[Attributes] = []

    def authorize(self, attributes: Attributes) -> Decision:
        self.asked.append(attributes)
        if (attributes.user.username, attributes.resource) in self.denied:
            return Decision(allowed=False, reason="not this one")
        return Decision(allowed=True)

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        raise NotImplementedError


class Handler:
    """Answers 200 with the requester's name; records the user, request info and headers
    it saw; holds requests while ``hold`` is set."""

    def __init__(self) -> None:
        self.seen: list[tuple[UserInfo, RequestInfo, dict[bytes, bytes]]] = []
        self.hold: asyncio.Event | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = REQUEST_USER.get()
        self.seen.append((user, scope_request_info(scope), dict(scope["headers"])))
        if self.hold is not None:
            await self.hold.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": user.username.encode()})


def _run(stages: ChainStages, handler: Handler,
         scenario: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
    async def main() -> None:
        transport = httpx.ASGITransport(app=build_chain(handler, stages))
        async with httpx.AsyncClient(transport=transport, base_url="http://kubemu") as client:
            await scenario(client)
    asyncio.run(main())


def _authenticator(anonymous: bool = False) -> RequestAuthenticator:
    return RequestAuthenticator(tokens=TokenChain([TokenFileAuthenticator({"good": BOB})]),
                                anonymous=anonymous)


def test_checks_run_in_upstreams_order_on_one_parse() -> None:
    authorizer = Recorder(("bob", "secrets"), ("eve", "pods"))
    handler = Handler()
    stages = ChainStages(request_timeout=RequestTimeout(30), authentication=_authenticator(),
                         impersonation=lambda: authorizer, max_in_flight=MaxInFlight(10, 10),
                         authorization=authorizer)
    bearer = {"authorization": "Bearer good"}

    async def scenario(client: httpx.AsyncClient) -> None:
        # authentication comes first: nothing else is asked
        for headers in ({}, {"authorization": "Bearer bad"}):
            refused = await client.get(POD, headers=headers)
            assert refused.status_code == 401
            assert refused.json()["reason"] == "Unauthorized"
        assert authorizer.asked == [] and handler.seen == []
        ok = await client.get(POD, headers=bearer)
        assert (ok.status_code, ok.text) == (200, "bob")
        user, info, headers = handler.seen[-1]
        assert user == UserInfo("bob", "1", ("ops", "system:authenticated"))
        assert b"authorization" not in headers
        # the handler sees the very request info the authorizer was asked about
        asked = authorizer.asked[-1]
        assert (asked.verb, asked.resource, asked.name, asked.user) == ("get", "pods", "p", user)
        assert (info.verb, info.resource, info.name) == ("get", "pods", "p")
        denied = await client.get("/api/v1/namespaces/ns/secrets/s", headers=bearer)
        assert denied.status_code == 403
        assert denied.json()["message"] == (
            'secrets "s" is forbidden: User "bob" cannot get resource "secrets" in API group '
            '"" in the namespace "ns": not this one')
        # impersonation runs before authorization, which decides for the impersonated user
        acting = await client.get(POD, headers={**bearer, "impersonate-user": "carol"})
        assert (acting.status_code, acting.text) == (200, "carol")
        assert not any(k.startswith(b"impersonate-") for k in handler.seen[-1][2])
        assert authorizer.asked[-2].verb == "impersonate"
        assert authorizer.asked[-1].user.username == "carol"
        eve = await client.get(POD, headers={**bearer, "impersonate-user": "eve"})
        assert eve.status_code == 403 and 'User "eve" cannot get' in eve.json()["message"]
        assert len(handler.seen) == 2

    _run(stages, handler, scenario)


def test_a_full_pool_refuses_before_authorization() -> None:
    authorizer = Recorder()
    handler = Handler()
    stages = ChainStages(authentication=_authenticator(anonymous=True),
                         max_in_flight=MaxInFlight(1, 1), authorization=authorizer)

    async def scenario(client: httpx.AsyncClient) -> None:
        handler.hold = asyncio.Event()
        held = asyncio.create_task(client.get(POD))
        while not handler.seen:
            await asyncio.sleep(0)
        asked = len(authorizer.asked)
        refused = await client.get(POD)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert len(authorizer.asked) == asked
        # a watch takes no slot: it reaches the handler while the pool is full
        watch = asyncio.create_task(client.get("/api/v1/pods", params={"watch": "1"}))
        while len(handler.seen) < 2:
            await asyncio.sleep(0)
        assert handler.seen[-1][1].verb == "watch"
        handler.hold.set()
        assert (await held).status_code == 200 and (await watch).status_code == 200
        assert (await client.get(POD)).status_code == 200

    _run(stages, handler, scenario)


def test_the_token_cache_serves_successes_until_a_source_or_the_clock_moves() -> None:
    asked: list[str] = []

    class Counting:
        def authenticate_token(self, token: str, audiences: Any) -> TokenResult:
            asked.append(token)
            if token == "good":
                return TokenResult(authenticated=True, user=BOB)
            return TokenResult(authenticated=False, error="no")

    now = [100.0]
    generation = [0]
    cache = CachedTokens(Counting(), lambda: generation[0], lambda: now[0])
    assert cache.authenticate_token("good", ()).user == BOB
    assert cache.authenticate_token("good", ()).user == BOB
    assert asked == ["good"]
    # failures are asked again; audiences bypass the cache
    assert not cache.authenticate_token("bad", ()).authenticated
    assert not cache.authenticate_token("bad", ()).authenticated
    cache.authenticate_token("good", ("other",))
    assert asked == ["good", "bad", "bad", "good"]
    # an object the ServiceAccount authenticator reads changed: asked again
    generation[0] += 1
    cache.authenticate_token("good", ())
    cache.authenticate_token("good", ())
    assert asked.count("good") == 3
    # the clock passed the TTL (or went back): asked again
    now[0] += 11
    cache.authenticate_token("good", ())
    now[0] -= 1
    cache.authenticate_token("good", ())
    assert asked.count("good") == 5


def test_websocket_requests_are_checked_with_header_names_as_sent() -> None:
    """uvicorn's WebSocket protocol keeps the header names' case (``Authorization``, as Go
    clients send it); the chain reads them all the same."""
    authorizer = Recorder(("bob", "secrets"))
    handler = Handler()
    chain = build_chain(handler, ChainStages(
        request_timeout=RequestTimeout(30), authentication=_authenticator(),
        impersonation=lambda: authorizer, max_in_flight=MaxInFlight(1, 1),
        authorization=authorizer))

    def scope(path: str, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
        return {"type": "websocket", "path": path, "query_string": b"", "headers": list(headers),
                "extensions": {"websocket.http.response": {}}}

    async def call(ws_scope: dict[str, Any]) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "websocket.connect"}

        async def send(message: Any) -> None:
            sent.append(message)

        await chain(ws_scope, receive, send)
        return sent

    async def main() -> None:
        exec_path = POD + "/exec"
        await call(scope(exec_path, (b"Authorization", b"Bearer good"),
                         (b"Impersonate-User", b"carol")))
        user, info, headers = handler.seen[-1]
        assert user.username == "carol" and info.subresource == "exec"
        assert not any(k in (b"authorization", b"impersonate-user") for k in headers)
        refused = await call(scope(exec_path))
        assert refused[0]["type"] == "websocket.http.response.start"
        assert refused[0]["status"] == 401
        denied = await call(scope("/api/v1/namespaces/ns/secrets/s",
                                  (b"Authorization", b"Bearer good")))
        assert denied[0]["status"] == 403 and len(handler.seen) == 1

    asyncio.run(main())
