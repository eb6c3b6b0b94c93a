"""RBAC on the connect subresources, with upstream's verbs: ``get`` on ``pods/log``, the
HTTP method's verb on the ``proxy`` subresources (``get`` for GET, ``create`` for POST…),
``get`` on ``pods/exec`` for a WebSocket upgrade and ``create`` for a plain (SPDY) POST.
A user without the permission gets the upstream 403 Status."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.apiserver import ApiServerProcess, start_apiserver

G = "rbac.authorization.k8s.io"
TOKENS = {"admin": "admin-token", "viewer": "viewer-token", "logger": "logger-token"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    base: Path = tmp_path_factory.mktemp("connect-authz")
    tokens = base / "tokens.csv"
    tokens.write_text('admin-token,admin,1,"system:masters"\n'
                      "viewer-token,viewer,2\nlogger-token,logger,3\n")
    server = start_apiserver(base, extra_args=("--token-auth-file", str(tokens),
                                               "--authorization-mode=RBAC"))
    try:
        with httpx.Client(base_url=server.url, timeout=10,
                          headers=auth("admin")) as admin:
            def post(path: str, body: dict[str, Any]) -> None:
                resp = admin.post(path, json=body)
                assert resp.status_code == 201, resp.text

            post("/api/v1/namespaces/default/pods", {"metadata": {"name": "web"}, "spec": {
                "schedulerName": "nobody",
                "containers": [{"name": "web", "image": "nginx"}]}})
            for user, rules in {
                "viewer": [{"apiGroups": [""], "resources": ["pods", "services"],
                            "verbs": ["get", "list"]}],
                "logger": [{"apiGroups": [""],
                            "resources": ["pods/log", "services/proxy", "pods/exec"],
                            "verbs": ["get"]}],
            }.items():
                post(f"/apis/{G}/v1/namespaces/default/roles",
                     {"metadata": {"name": user}, "rules": rules})
                post(f"/apis/{G}/v1/namespaces/default/rolebindings", {
                    "metadata": {"name": user},
                    "subjects": [{"kind": "User", "name": user, "apiGroup": G}],
                    "roleRef": {"apiGroup": G, "kind": "Role", "name": user}})
        yield server
    finally:
        server.stop()


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[user]}"}


def request(server: ApiServerProcess, user: str, method: str, path: str,
            headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
    return httpx.request(method, server.url + path, headers={**auth(user), **(headers or {})},
                         timeout=10, **kw)


POD = "/api/v1/namespaces/default/pods/web"
SVC = "/api/v1/namespaces/default/services/web:80"


def test_pods_log_needs_get_on_pods_log(server: ApiServerProcess) -> None:
    denied = request(server, "viewer", "GET", f"{POD}/log")
    assert denied.status_code == 403
    assert denied.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'pods "web" is forbidden: User "viewer" cannot get resource "pods/log" '
                   'in API group "" in the namespace "default"',
        "reason": "Forbidden", "details": {"name": "web", "kind": "pods"}, "code": 403}
    allowed = request(server, "logger", "GET", f"{POD}/log")
    assert (allowed.status_code, allowed.text) == (200, "")  # not bound yet: empty


def test_proxy_verbs_follow_the_method(server: ApiServerProcess) -> None:
    denied = request(server, "viewer", "GET", f"{SVC}/proxy/")
    assert denied.status_code == 403
    assert denied.json()["message"] == (
        'services "web:80" is forbidden: User "viewer" cannot get resource "services/proxy" '
        'in API group "" in the namespace "default"')
    # get is granted, so a GET passes authorization (and finds no Service)...
    passed = request(server, "logger", "GET", f"{SVC}/proxy/")
    assert (passed.status_code, passed.json()["message"]) == (404, 'services "web" not found')
    # ...but a POST is a create.
    posted = request(server, "logger", "POST", f"{SVC}/proxy/", content=b"x")
    assert posted.status_code == 403
    assert 'cannot create resource "services/proxy"' in posted.json()["message"]


def test_exec_websocket_is_get_and_spdy_post_is_create(server: ApiServerProcess) -> None:
    url = server.url.replace("http://", "ws://") + f"{POD}/exec?command=ls&stdout=1"
    with pytest.raises(InvalidStatus) as denied:
        connect(url, additional_headers=auth("viewer"),
                subprotocols=["v5.channel.k8s.io"])  # type: ignore[list-item]
    assert denied.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as unbound:
        connect(url, additional_headers=auth("logger"),
                subprotocols=["v5.channel.k8s.io"])  # type: ignore[list-item]
    # Authorized: the pod has no node yet.
    assert unbound.value.response.status_code == 400
    assert b"pod web does not have a host assigned" in bytes(unbound.value.response.body or b"")
    spdy = request(server, "logger", "POST", f"{POD}/exec?command=ls&stdout=1",
                   headers={"Connection": "Upgrade",
                            "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version":
                            "v4.channel.k8s.io"})
    assert spdy.status_code == 403
    assert 'cannot create resource "pods/exec"' in spdy.json()["message"]
