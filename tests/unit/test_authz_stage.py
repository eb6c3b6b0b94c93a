"""The authorization stage in the whole server's ASGI app, for requesters set in-process.

The authentication stage is not part of this test: a tiny ASGI wrapper sets
:data:`~apiserver.api.user.REQUEST_USER` the way that stage does, from a test table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from apiserver.api.user import REQUEST_USER, UserInfo
from apiserver.app import ApiServer, ServerConfig
from apiserver.chain import ChainStages, build_chain
from apiserver.handlers.http import Receive, Scope, Send

ADMIN = UserInfo("kubernetes-admin", groups=("system:masters", "system:authenticated"))
DEV = UserInfo("dev", groups=("system:authenticated",))
USERS = {"admin": ADMIN, "dev": DEV}
G = "rbac.authorization.k8s.io"


def _as_user(app: ApiServer) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        user = USERS.get(headers.get(b"x-test-user", b"").decode())
        token = REQUEST_USER.set(user) if user is not None else None
        try:
            await app(scope, receive, send)
        finally:
            if token is not None:
                REQUEST_USER.reset(token)
    return wrapped


def _run(scenario: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
    async def main() -> None:
        server = ApiServer(ServerConfig(storage="memory", authorization_modes=("RBAC",)))
        # The test names the requester itself (x-test-user), in place of authentication.
        server.handler = build_chain(server._serve,
                                     ChainStages(authorization=server.authorization.stage()))
        async with server.lifespan():
            transport = httpx.ASGITransport(app=_as_user(server))
            async with httpx.AsyncClient(transport=transport, base_url="http://kubemu") as c:
                await scenario(c)
    asyncio.run(main())


def _user(name: str) -> dict[str, str]:
    return {"x-test-user": name}


def test_the_stage_decides_with_the_request_user() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/v1/namespaces/default/pods",
                                 headers=_user("admin"))).status_code == 200
        denied = await client.get("/api/v1/namespaces/default/pods", headers=_user("dev"))
        assert denied.status_code == 403
        assert denied.json()["message"] == (
            'pods is forbidden: User "dev" cannot list resource "pods" in API group "" in '
            'the namespace "default"')
        anonymous = await client.get("/api/v1/namespaces")
        assert anonymous.status_code == 403
        assert (await client.get("/version")).status_code == 200
        assert (await client.get("/apis", headers=_user("dev"))).status_code == 200
        assert (await client.get("/apis")).status_code == 403
        # the admin grants dev a Role that manages roles in default; dev cannot escalate
        role: dict[str, Any] = {"metadata": {"name": "role-admin"}, "rules": [
            {"apiGroups": [G], "resources": ["roles"], "verbs": ["create", "get"]}]}
        made = await client.post(f"/apis/{G}/v1/namespaces/default/roles", json=role,
                                 headers=_user("admin"))
        assert made.status_code == 201, made.text
        binding = {"metadata": {"name": "dev"}, "subjects": [
            {"kind": "User", "name": "dev", "apiGroup": G}],
            "roleRef": {"kind": "Role", "name": "role-admin", "apiGroup": G}}
        made = await client.post(f"/apis/{G}/v1/namespaces/default/rolebindings", json=binding,
                                 headers=_user("admin"))
        assert made.status_code == 201, made.text
        wider = {"metadata": {"name": "pods"}, "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}]}
        refused = await client.post(f"/apis/{G}/v1/namespaces/default/roles", json=wider,
                                    headers=_user("dev"))
        assert refused.status_code == 403
        assert refused.json()["details"] == {"name": "pods", "group": G, "kind": "roles"}
        assert refused.json()["message"].endswith(
            'not currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}')
        same = {"metadata": {"name": "same"}, "rules": role["rules"]}
        made = await client.post(f"/apis/{G}/v1/namespaces/default/roles", json=same,
                                 headers=_user("dev"))
        assert made.status_code == 201, made.text
        # a path that decodes twice into another object is authorized as both
        made = await client.post(f"/apis/{G}/v1/clusterrolebindings", json={
            "metadata": {"name": "ns-reader"}, "subjects": [
                {"kind": "User", "name": "dev", "apiGroup": G}],
            "roleRef": {"kind": "ClusterRole", "name": "system:aggregate-to-view",
                        "apiGroup": G}}, headers=_user("admin"))
        assert made.status_code == 201, made.text
        assert (await client.get("/api/v1/namespaces/default",
                                 headers=_user("dev"))).status_code == 200
        sneaky = await client.get("/api/v1/namespaces/default%252Fsecrets%252Fx",
                                  headers=_user("dev"))
        assert sneaky.status_code == 403
        assert sneaky.json()["message"].startswith('secrets "x" is forbidden')
        # the denial happens before the handler: an unknown resource is 403, not 404
        assert (await client.get("/apis/example.com/v1/widgets",
                                 headers=_user("dev"))).status_code == 403
        assert (await client.get("/apis/example.com/v1/widgets",
                                 headers=_user("admin"))).status_code == 404
    _run(scenario)
