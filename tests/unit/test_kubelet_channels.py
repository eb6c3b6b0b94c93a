"""The remote-command channel framing (controllers.node.kubelet.channels)."""

from __future__ import annotations

import json

import pytest

from controllers.node.kubelet.channels import (
    PROTOCOLS,
    Frame,
    Protocol,
    ProtocolError,
    ResizeDecoder,
    exit_status,
    internal_error_status,
    negotiate,
    success_status,
    unsupported_message,
)


def test_negotiation_takes_the_clients_first_supported_protocol() -> None:
    assert negotiate(["v5.channel.k8s.io", "v4.channel.k8s.io"]) == Protocol("v5.channel.k8s.io")
    assert negotiate(["x.k8s.io", "v4.base64.channel.k8s.io"]) == Protocol(
        "v4.base64.channel.k8s.io")
    # One header value may list several protocols.
    assert negotiate(["bogus, v4.channel.k8s.io"]) == Protocol("v4.channel.k8s.io")
    assert negotiate([]) == Protocol("")
    assert negotiate(["SPDY/3.1+portforward.k8s.io"]) is None
    assert unsupported_message(["a", "b"], ["c"]) == (
        "requested protocol(s) are not supported: [a b]; supports [c]")


@pytest.mark.parametrize(("name", "version", "b64", "json_status"), [
    ("", 1, False, False), ("channel.k8s.io", 1, False, False),
    ("base64.channel.k8s.io", 1, True, False), ("v2.channel.k8s.io", 2, False, False),
    ("v3.channel.k8s.io", 3, False, False), ("v4.channel.k8s.io", 4, False, True),
    ("v4.base64.channel.k8s.io", 4, True, True), ("v5.channel.k8s.io", 5, False, True),
])
def test_protocol_properties(name: str, version: int, b64: bool, json_status: bool) -> None:
    proto = Protocol(name)
    assert (proto.version, proto.base64, proto.status_json) == (version, b64, json_status)
    assert name in (*PROTOCOLS, "")


def test_binary_framing_both_ways() -> None:
    proto = Protocol("v4.channel.k8s.io")
    assert proto.encode(1, b"hi") == b"\x01hi"
    assert proto.encode(1, b"") == b"\x01"  # the ready signal
    assert proto.decode(b"\x00input") == Frame(0, b"input")
    # The Python client sends str data as a text frame: taken as its UTF-8 bytes.
    assert proto.decode("\x00h\u00e9") == Frame(0, "h\u00e9".encode())
    assert proto.decode(b"") is None
    # Before v5, channel 255 is just an unknown channel (ignored by the server).
    assert proto.decode(b"\xff\x00") == Frame(255, b"\x00")


def test_base64_framing_both_ways() -> None:
    proto = Protocol("v4.base64.channel.k8s.io")
    assert proto.encode(2, b"\x00\xff") == "2AP8="
    assert proto.decode("0aGVsbG8=") == Frame(0, b"hello")
    assert proto.decode(b"4eyJXaWR0aCI6MX0=") == Frame(4, b'{"Width":1}')
    with pytest.raises(ProtocolError):
        proto.decode("0not base64!")


def test_v5_close_signal() -> None:
    proto = Protocol("v5.channel.k8s.io")
    assert proto.decode(b"\xff\x00") == Frame(0, closed=True)
    for bad in (b"\xff", b"\xff\x00\x00", b"\xff\x09"):
        with pytest.raises(ProtocolError):
            proto.decode(bad)


def test_statuses_as_upstream_writes_them() -> None:
    v4 = Protocol("v4.channel.k8s.io")
    assert v4.status_message(success_status()) == b'{"metadata":{},"status":"Success"}'
    failure = exit_status(3, "error executing command [sh -c exit 3], exit code 3")
    assert json.loads(v4.status_message(failure) or b"") == {
        "metadata": {}, "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
                   "[sh -c exit 3], exit code 3",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }
    v1 = Protocol("channel.k8s.io")
    assert v1.status_message(success_status()) is None
    assert v1.status_message(failure) == failure["message"].encode()
    internal = internal_error_status("boom")
    assert internal["message"] == "Internal error occurred: boom"
    assert (internal["code"], internal["reason"]) == (500, "InternalError")


def test_resize_stream_split_and_packed() -> None:
    decoder = ResizeDecoder()
    assert list(decoder.feed(b'{"Width":80,"Hei')) == []
    assert list(decoder.feed(b'ght":24}{"Width":100,"Height":50}\n')) == [(80, 24), (100, 50)]
    assert list(decoder.feed(b'{"Width":"x","Height":1}')) == []
    assert decoder.buffer == ""
