"""SPDY/3.1 frames: byte layouts from the draft, header blocks, incremental parsing."""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest

from controllers.node.kubelet.spdy.dictionary import DICTIONARY
from controllers.node.kubelet.spdy.frames import (
    DataFrame,
    Framer,
    GoAway,
    Headers,
    Ping,
    RstStream,
    Settings,
    SpdyError,
    SynReply,
    SynStream,
    WindowUpdate,
)


def test_dictionary_is_spdy3s() -> None:
    assert len(DICTIONARY) == 1423
    assert DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert DICTIONARY.endswith(b"utf-,*,enq=0.")
    assert hashlib.sha256(DICTIONARY).hexdigest() == (
        "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02")


@pytest.mark.parametrize(("frame", "wire"), [
    (DataFrame(1, b"hi"), bytes.fromhex("00000001 00000002") + b"hi"),
    (DataFrame(3, b"", fin=True), bytes.fromhex("00000003 01000000")),
    (RstStream(5, 5), bytes.fromhex("80030003 00000008 00000005 00000005")),
    (Ping(2), bytes.fromhex("80030006 00000004 00000002")),
    (GoAway(7, 0), bytes.fromhex("80030007 00000008 00000007 00000000")),
    (WindowUpdate(0, 65536), bytes.fromhex("80030009 00000008 00000000 00010000")),
    (Settings(((0, 7, 131072),)),
     bytes.fromhex("80030004 0000000c 00000001 00000007 00020000")),
    (Settings(((1, 4, 100),), clear=True),
     bytes.fromhex("80030004 0100000c 00000001 01000004 00000064")),
])
def test_fixed_layout_frames(frame: object, wire: bytes) -> None:
    assert Framer().encode(frame) == wire  # type: ignore[arg-type]
    assert Framer().feed(wire) == [frame]


def _block(compressor: zlib._Compress, pairs: list[tuple[str, str]]) -> bytes:
    raw = struct.pack(">I", len(pairs))
    for name, value in pairs:
        raw += struct.pack(">I", len(name)) + name.encode()
        raw += struct.pack(">I", len(value)) + value.encode()
    return compressor.compress(raw) + compressor.flush(zlib.Z_SYNC_FLUSH)


def test_syn_stream_as_a_client_writes_it() -> None:
    """A SYN_STREAM built by hand (zlib primed with the dictionary, as Go's framer does)
    and a second one on the same compression context."""
    peer = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
    wire = b""
    for sid, kind in ((1, "error"), (3, "data")):
        block = _block(peer, [("streamtype", kind), ("port", "8080"), ("requestid", "0")])
        body = struct.pack(">IIBB", sid, 0, 0, 0) + block
        wire += struct.pack(">HHI", 0x8003, 1, len(body)) + body
    framer = Framer()
    frames = framer.feed(wire[:11]) + framer.feed(wire[11:40]) + framer.feed(wire[40:])
    assert frames == [
        SynStream(1, {"streamtype": "error", "port": "8080", "requestid": "0"}),
        SynStream(3, {"streamtype": "data", "port": "8080", "requestid": "0"}),
    ]


def test_header_blocks_round_trip_on_one_context() -> None:
    sender, receiver = Framer(), Framer()
    frames = [SynReply(1, {}), Headers(1, {"a": "b\x00c"}, fin=True),
              SynStream(5, {"port": "80"}, associated_to=1, priority=3, unidirectional=True),
              SynReply(5, {"x": "y"})]
    wire = b"".join(sender.encode(f) for f in frames)
    assert receiver.feed(wire) == frames
    # The compressed block starts with a zlib header naming the dictionary's Adler-32.
    first = sender.encode(DataFrame(1, b""))
    assert first == bytes.fromhex("00000001 00000000")
    block = Framer().encode(SynReply(1, {}))[12:]
    assert block[:2] == b"\x78\xf9" and block[2:6] == zlib.adler32(DICTIONARY).to_bytes(4, "big")


def test_header_names_are_sent_lower_case() -> None:
    sender, receiver = Framer(), Framer()
    (frame,) = receiver.feed(sender.encode(SynReply(1, {"StreamType": "data"})))
    assert frame == SynReply(1, {"streamtype": "data"})


def test_unknown_control_frames_are_skipped() -> None:
    wire = bytes.fromhex("8003000a 00000002 abcd") + Framer().encode(Ping(1))
    assert Framer().feed(wire) == [Ping(1)]


@pytest.mark.parametrize("wire", [
    bytes.fromhex("80020006 00000004 00000001"),          # SPDY/2
    bytes.fromhex("80030003 00000004 00000001"),          # short RST_STREAM
    bytes.fromhex("80030004 00000004 00000002"),          # SETTINGS count mismatch
    bytes.fromhex("80030002 00000008 00000001 deadbeef"),  # not zlib
])
def test_malformed_frames_raise(wire: bytes) -> None:
    with pytest.raises(SpdyError):
        Framer().feed(wire)


def test_header_block_bomb_is_refused() -> None:
    peer = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
    block = _block(peer, [("x", "a" * 1_000_000)])
    body = struct.pack(">I", 1) + block
    with pytest.raises(SpdyError, match="too large"):
        Framer().feed(struct.pack(">HHI", 0x8003, 2, len(body)) + body)


def test_a_data_frame_split_across_feeds() -> None:
    framer = Framer()
    wire = Framer().encode(DataFrame(9, b"x" * 100, fin=True))
    assert framer.feed(wire[:50]) == []
    assert framer.feed(wire[50:]) == [DataFrame(9, b"x" * 100, fin=True)]
