"""``respond``: what goes on the wire for each body (JSON ends with a newline)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from apiserver.api import errors
from apiserver.handlers.http import respond, respond_error


def _sent(body: bytes, content_type: str = "application/json") -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        messages.append(dict(message))

    asyncio.run(respond(send, 200, body, content_type))
    return messages


def _wire(messages: list[dict[str, Any]]) -> tuple[int, bytes]:
    headers = dict(messages[0]["headers"])
    body = b"".join(m["body"] for m in messages[1:])
    assert not messages[-1].get("more_body", False)
    return int(headers[b"content-length"]), body


def test_small_json_body_gets_one_newline_in_one_chunk() -> None:
    messages = _sent(b'{"kind":"Pod"}')
    assert _wire(messages) == (15, b'{"kind":"Pod"}\n')
    assert len(messages) == 2


def test_json_body_with_newline_is_sent_as_is() -> None:
    body = b'{"kind":"PodList"}\n'
    messages = _sent(body)
    assert messages[1]["body"] is body
    assert _wire(messages) == (len(body), body)


def test_large_json_body_is_not_copied() -> None:
    body = b'{"a":"' + b"x" * 200_000 + b'"}'
    messages = _sent(body)
    assert messages[1]["body"] is body
    assert _wire(messages) == (len(body) + 1, body + b"\n")


def test_table_media_type_is_json() -> None:
    assert _wire(_sent(b"{}", "application/json;as=Table;v=v1;g=meta.k8s.io"))[1] == b"{}\n"


def test_other_media_types_are_untouched() -> None:
    for media in ("application/vnd.kubernetes.protobuf", "text/plain"):
        assert _wire(_sent(b"k8s\x00", media)) == (4, b"k8s\x00")


def test_error_status_ends_with_newline() -> None:
    messages: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        messages.append(dict(message))

    error = errors.ApiError(409, "Conflict", "conflict")
    asyncio.run(respond_error(send, error))
    length, body = _wire(messages)
    assert body == orjson.dumps(error.status) + b"\n"
    assert length == len(body)


def test_lists_end_with_newline_without_a_second_copy() -> None:
    from apiserver.api.resources import CONFIGMAPS
    from apiserver.handlers.encoding import encode_list
    from apiserver.storage.cache import CachedObject

    item = CachedObject("k", "ns", "a", 5, {}, b'{"kind":"ConfigMap"}', {}, {})
    for items in ([], [item, item]):
        body = encode_list(CONFIGMAPS, items, 7, None, None)
        assert body.endswith(b"]}\n")
        assert orjson.loads(body)["metadata"] == {"resourceVersion": "7"}
