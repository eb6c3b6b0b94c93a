"""Watch over WebSocket and WebSocket upgrades elsewhere, as kube-apiserver serves them.

Driven with websocket-client (the library of the official Python client's ``stream``)
against the shared session apiserver; each test works in its own namespace.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
import websocket

from tests.conftest import ApiServerProcess

TIMEOUT = 10.0


@pytest.fixture
def client(apiserver: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=apiserver.url, timeout=TIMEOUT) as c:
        yield c


@pytest.fixture
def ns(client: httpx.Client) -> str:
    name = f"ws-{uuid.uuid4().hex[:8]}"
    r = client.post("/api/v1/namespaces", json={"metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


def _ws_url(apiserver: ApiServerProcess, path: str) -> str:
    return apiserver.url.replace("http://", "ws://", 1) + path


def _events(conn: websocket.WebSocket, count: int) -> list[dict[str, object]]:
    out = []
    for _ in range(count):
        opcode, data = conn.recv_data()
        assert opcode == websocket.ABNF.OPCODE_TEXT
        assert data.endswith(b"}\n")
        out.append(json.loads(data))
    return out


@pytest.mark.parametrize("subprotocols", [None, ["base64.binary.k8s.io"], ["binary.k8s.io"]])
def test_watch_over_websocket_streams_one_event_per_message(
    apiserver: ApiServerProcess, client: httpx.Client, ns: str, subprotocols: list[str] | None
) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    assert client.post(base, json={"metadata": {"name": "a"}}).status_code == 201
    conn = websocket.create_connection(
        _ws_url(apiserver, f"{base}?watch=true"), timeout=TIMEOUT, subprotocols=subprotocols
    )
    try:
        assert conn.getsubprotocol() == (subprotocols[0] if subprotocols else None)
        [added] = _events(conn, 1)
        assert added["type"] == "ADDED"
        assert client.post(base, json={"metadata": {"name": "b"}}).status_code == 201
        assert client.delete(f"{base}/a").status_code == 200
        events = _events(conn, 2)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [  # type: ignore[index]
            ("ADDED", "b"), ("DELETED", "a")]
    finally:
        conn.close()


@pytest.mark.parametrize("path", [
    "/apis/apps/v1/namespaces/{ns}/deployments?watch=1&timeoutSeconds=1",
    "/api/v1/watch/namespaces/{ns}/services?timeoutSeconds=1",
    "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases?watch=true&timeoutSeconds=1",
])
def test_every_collection_watches_over_websocket_until_its_timeout(
    apiserver: ApiServerProcess, ns: str, path: str
) -> None:
    conn = websocket.create_connection(_ws_url(apiserver, path.format(ns=ns)), timeout=TIMEOUT)
    try:
        opcode, _ = conn.recv_data(control_frame=False)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
    finally:
        conn.close()


def test_websocket_upgrade_on_an_unknown_path_is_a_404_status(
    apiserver: ApiServerProcess,
) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(_ws_url(apiserver, "/api/v1/widgets?watch=true"),
                                    timeout=TIMEOUT)
    assert caught.value.status_code == 404
    body = json.loads(caught.value.resp_body or b"")
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "NotFound", 404)


def test_websocket_watch_errors_before_the_stream_are_statuses(
    apiserver: ApiServerProcess, ns: str
) -> None:
    path = f"/api/v1/namespaces/{ns}/pods?watch=true&resourceVersionMatch=Exact"
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(_ws_url(apiserver, path), timeout=TIMEOUT)
    assert caught.value.status_code == 422
    assert json.loads(caught.value.resp_body or b"")["reason"] == "Invalid"


def test_websocket_watch_handshake_is_x_net_websockets(
    apiserver: ApiServerProcess, ns: str
) -> None:
    url = _ws_url(apiserver, f"/api/v1/namespaces/{ns}/pods?watch=true")
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(url, timeout=TIMEOUT, suppress_origin=True)
    assert caught.value.status_code == 403
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(url, timeout=TIMEOUT,
                                    subprotocols=["base64.binary.k8s.io", "binary.k8s.io"])
    assert caught.value.status_code == 400
