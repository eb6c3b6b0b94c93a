"""SPDY/3.1 frames and the framer that turns them into bytes and back.

Contract:

* Frames are immutable values: :class:`DataFrame` and the control frames
  :class:`SynStream`, :class:`SynReply`, :class:`RstStream`, :class:`Settings`,
  :class:`Ping`, :class:`GoAway`, :class:`Headers`, :class:`WindowUpdate`.
* Header blocks are ``dict[str, str]`` with lower-case names; several values of one name
  are joined with NUL, as on the wire. Each direction of a connection has one zlib
  context primed with :data:`~.dictionary.DICTIONARY`; every block is sync-flushed, so a
  :class:`Framer` must encode (and decode) frames in the order they travel.
* :meth:`Framer.feed` takes any slice of the byte stream (a WebSocket message of a tunnel
  may hold part of a frame or several) and returns the frames completed so far.
  Malformed input raises :class:`SpdyError` (the session answers it with GOAWAY);
  control frames of unknown types are skipped, as the draft asks.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from controllers.node.kubelet.spdy.dictionary import DICTIONARY

__all__ = [
    "FLAG_FIN", "FLAG_UNIDIRECTIONAL", "MAX_FRAME_LENGTH", "SETTINGS_INITIAL_WINDOW_SIZE",
    "DataFrame", "Frame", "Framer", "GoAway", "Headers", "Ping", "RstStream", "Settings",
    "SpdyError", "SynReply", "SynStream", "WindowUpdate",
]

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1, 2, 3, 4, 6, 7, 8, 9)
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
FLAG_SETTINGS_CLEAR = 0x01
SETTINGS_INITIAL_WINDOW_SIZE = 7
MAX_FRAME_LENGTH = (1 << 24) - 1
#: The largest decompressed header block accepted (a bound against zlib bombs).
MAX_HEADER_BLOCK = 256 * 1024
_ID = 0x7FFFFFFF


class SpdyError(Exception):
    """A frame that breaks the protocol (the connection cannot go on)."""


@dataclass(frozen=True)
class DataFrame:
    stream_id: int
    data: bytes
    fin: bool = False


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: dict[str, str] = field(default_factory=dict)
    associated_to: int = 0
    priority: int = 0
    slot: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: dict[str, str] = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class Headers:
    stream_id: int
    headers: dict[str, str] = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    """Status codes: 1 PROTOCOL_ERROR, 2 INVALID_STREAM, 3 REFUSED_STREAM, 5 CANCEL,
    6 INTERNAL_ERROR, 7 FLOW_CONTROL_ERROR, 9 STREAM_ALREADY_CLOSED."""

    stream_id: int
    status: int


@dataclass(frozen=True)
class Settings:
    """``entries`` are ``(flags, id, value)``; id 7 is the initial window size."""

    entries: tuple[tuple[int, int, int], ...] = ()
    clear: bool = False


@dataclass(frozen=True)
class Ping:
    ping_id: int


@dataclass(frozen=True)
class GoAway:
    """Status codes: 0 OK, 1 PROTOCOL_ERROR, 2 INTERNAL_ERROR."""

    last_good_stream_id: int
    status: int = 0


@dataclass(frozen=True)
class WindowUpdate:
    """``stream_id`` 0 is the session window (SPDY/3.1)."""

    stream_id: int
    delta: int


Frame = (DataFrame | SynStream | SynReply | Headers | RstStream | Settings | Ping | GoAway
         | WindowUpdate)


def _control(ftype: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(payload)) + payload


class Framer:
    """One connection's encoder and decoder (each with its own zlib context)."""

    def __init__(self) -> None:
        self._compress = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                          DICTIONARY)
        self._decompress = zlib.decompressobj(zdict=DICTIONARY)
        self._buffer = bytearray()

    # -- encoding ------------------------------------------------------------------------

    def _header_block(self, headers: dict[str, str]) -> bytes:
        raw = bytearray(struct.pack(">I", len(headers)))
        for name, value in headers.items():
            n, v = name.lower().encode(), value.encode()
            raw += struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v
        return self._compress.compress(bytes(raw)) + self._compress.flush(zlib.Z_SYNC_FLUSH)

    def encode(self, frame: Frame) -> bytes:
        """The frame's bytes (header blocks compressed in call order)."""
        if isinstance(frame, DataFrame):
            if len(frame.data) > MAX_FRAME_LENGTH:
                raise ValueError("data frame too long")
            return struct.pack(">II", frame.stream_id & _ID,
                               (FLAG_FIN if frame.fin else 0) << 24 | len(frame.data)
                               ) + frame.data
        if isinstance(frame, SynStream):
            flags = (FLAG_FIN if frame.fin else 0) | (
                FLAG_UNIDIRECTIONAL if frame.unidirectional else 0)
            return _control(SYN_STREAM, flags, struct.pack(
                ">IIBB", frame.stream_id & _ID, frame.associated_to & _ID,
                (frame.priority & 7) << 5, frame.slot) + self._header_block(frame.headers))
        if isinstance(frame, SynReply | Headers):
            ftype = SYN_REPLY if isinstance(frame, SynReply) else HEADERS
            return _control(ftype, FLAG_FIN if frame.fin else 0, struct.pack(
                ">I", frame.stream_id & _ID) + self._header_block(frame.headers))
        if isinstance(frame, RstStream):
            return _control(RST_STREAM, 0, struct.pack(">II", frame.stream_id & _ID,
                                                       frame.status))
        if isinstance(frame, Settings):
            body = struct.pack(">I", len(frame.entries)) + b"".join(
                struct.pack(">II", (flags << 24) | (sid & 0xFFFFFF), value)
                for flags, sid, value in frame.entries)
            return _control(SETTINGS, FLAG_SETTINGS_CLEAR if frame.clear else 0, body)
        if isinstance(frame, Ping):
            return _control(PING, 0, struct.pack(">I", frame.ping_id))
        if isinstance(frame, GoAway):
            return _control(GOAWAY, 0, struct.pack(">II", frame.last_good_stream_id & _ID,
                                                   frame.status))
        return _control(WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id & _ID,
                                                      frame.delta & _ID))

    # -- decoding ------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[Frame]:
        """Append bytes of the stream; return every frame now complete."""
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            word, flags_length = struct.unpack_from(">II", self._buffer)
            length = flags_length & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                break
            flags = flags_length >> 24
            body = bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            if word & 0x80000000:
                version, ftype = (word >> 16) & 0x7FFF, word & 0xFFFF
                if version != VERSION:
                    raise SpdyError(f"unsupported SPDY version {version}")
                frame = self._control_frame(ftype, flags, body)
                if frame is not None:
                    frames.append(frame)
            else:
                frames.append(DataFrame(word & _ID, body, bool(flags & FLAG_FIN)))
        return frames

    def _headers(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._decompress.decompress(block, MAX_HEADER_BLOCK)
        except zlib.error as exc:
            raise SpdyError(f"bad header block: {exc}") from None
        if self._decompress.unconsumed_tail:
            raise SpdyError("header block too large")
        try:
            (count,), pos, headers = struct.unpack_from(">I", raw), 4, {}
            for _ in range(count):
                (n,) = struct.unpack_from(">I", raw, pos)
                name = raw[pos + 4:pos + 4 + n].decode()
                pos += 4 + n
                (v,) = struct.unpack_from(">I", raw, pos)
                value = raw[pos + 4:pos + 4 + v].decode()
                pos += 4 + v
                if pos > len(raw) or not name or name != name.lower() or name in headers:
                    raise SpdyError(f"invalid header name {name!r}")
                headers[name] = value
        except (struct.error, UnicodeDecodeError) as exc:
            raise SpdyError(f"bad header block: {exc}") from None
        return headers

    def _control_frame(self, ftype: int, flags: int, body: bytes) -> Frame | None:
        fin = bool(flags & FLAG_FIN)
        try:
            if ftype == SYN_STREAM:
                sid, assoc, pri, slot = struct.unpack_from(">IIBB", body)
                return SynStream(sid & _ID, self._headers(body[10:]), assoc & _ID, pri >> 5,
                                 slot, fin, bool(flags & FLAG_UNIDIRECTIONAL))
            if ftype in (SYN_REPLY, HEADERS):
                (sid,) = struct.unpack_from(">I", body)
                cls = SynReply if ftype == SYN_REPLY else Headers
                return cls(sid & _ID, self._headers(body[4:]), fin)
            if ftype == RST_STREAM:
                sid, status = struct.unpack(">II", body)
                return RstStream(sid & _ID, status)
            if ftype == SETTINGS:
                (count,) = struct.unpack_from(">I", body)
                if len(body) != 4 + 8 * count:
                    raise SpdyError("bad SETTINGS length")
                entries = tuple((fid >> 24, fid & 0xFFFFFF, value) for fid, value in (
                    struct.unpack_from(">II", body, 4 + 8 * i) for i in range(count)))
                return Settings(entries, bool(flags & FLAG_SETTINGS_CLEAR))
            if ftype == PING:
                (pid,) = struct.unpack(">I", body)
                return Ping(pid)
            if ftype == GOAWAY:
                last, status = struct.unpack(">II", body)
                return GoAway(last & _ID, status)
            if ftype == WINDOW_UPDATE:
                sid, delta = struct.unpack(">II", body)
                return WindowUpdate(sid & _ID, delta & _ID)
        except struct.error:
            raise SpdyError(f"malformed control frame of type {ftype}") from None
        return None
