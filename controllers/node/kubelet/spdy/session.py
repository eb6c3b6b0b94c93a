"""A SPDY/3.1 server session over any ordered byte transport.

Contract:

* ``Session(send)``: ``send(bytes)`` writes to the transport (a WebSocket message, a
  socket); the session serialises its calls, because header compression depends on order.
  The owner passes every byte received to :meth:`Session.feed` and, when the transport
  ends, calls :meth:`Session.close`.
* Streams the peer opens (SYN_STREAM with an odd, increasing id) are answered at once
  with an empty SYN_REPLY, as Kubernetes' SPDY server does, and handed out by
  :meth:`Session.accept` (``None`` once the session is over).
* :class:`Stream`: ``read()`` returns the next bytes and ``b""`` after the peer's FIN or a
  reset; ``write()`` sends data frames; ``close()`` half-closes (FIN); ``reset()`` sends
  RST_STREAM. A stream fully closed both ways leaves the session's table.
* PING from the peer is echoed; GOAWAY stops new streams; SETTINGS may change the initial
  window.
* Flow control (SPDY/3.1 section 2.6.8): the session counts both windows, per stream and
  for the session. It grants the peer more room (WINDOW_UPDATE) as the application reads.
  Its own sends wait for window only once the peer has shown it grants windows (sent a
  WINDOW_UPDATE): Go's spdystream, the framing of kubectl and the kubelet, neither sends
  WINDOW_UPDATE nor honours it. Reading is bounded instead: :meth:`Session.feed` waits
  while a stream holds more than its window of unread data, which slows the transport
  as upstream's unbuffered stream channels do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from controllers.node.kubelet.spdy.frames import (
    SETTINGS_INITIAL_WINDOW_SIZE,
    DataFrame,
    Frame,
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

__all__ = ["DEFAULT_WINDOW", "Session", "Stream"]

log = logging.getLogger("controllers.node.kubelet.spdy")

DEFAULT_WINDOW = 64 * 1024
#: The largest data frame this side sends.
CHUNK = 64 * 1024
_CANCEL, _PROTOCOL_ERROR, _INVALID_STREAM = 5, 1, 2


class Stream:
    """One SPDY stream opened by the peer."""

    def __init__(self, session: Session, stream_id: int, headers: dict[str, str]) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self.remote_closed = False
        self.local_closed = False
        self.was_reset = False
        self.send_window = session.initial_send_window
        self._buffer = bytearray()
        self._changed = asyncio.Condition()
        self._unacked = 0
        self._discarding = False

    def header(self, name: str) -> str:
        """A request header by name (case-insensitive), ``""`` when absent."""
        return self.headers.get(name.lower(), "")

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def discard(self) -> None:
        """Drop whatever the peer sends from now on (nobody will read it)."""
        self._discarding = True
        async with self._changed:
            self._buffer.clear()
            self._changed.notify_all()

    async def _receive(self, data: bytes) -> None:
        if self._discarding:
            return
        async with self._changed:
            await self._changed.wait_for(lambda: len(self._buffer) < DEFAULT_WINDOW
                                         or self._discarding or self.was_reset
                                         or self.session.closed)
            if not (self._discarding or self.was_reset or self.session.closed):
                self._buffer += data
            self._changed.notify_all()

    async def read(self) -> bytes:
        """The next data (``b""`` at the peer's FIN, on reset or session end)."""
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._buffer) or self.remote_closed
                                         or self.was_reset or self.session.closed)
            data = bytes(self._buffer)
            self._buffer.clear()
            self._changed.notify_all()
        if data:
            await self.session._consumed(self, len(data))
        return data

    async def write(self, data: bytes) -> None:
        """Send ``data``; raises :class:`ConnectionResetError` on a reset or closed stream."""
        view = memoryview(data)
        while view:
            async with self._changed:
                await self._changed.wait_for(self._can_send)
                if self.was_reset or self.local_closed or self.session.closed:
                    raise ConnectionResetError(f"stream {self.id} is closed")
                size = min(len(view), CHUNK)
                if self.session.peer_grants_windows:
                    size = min(size, self.send_window, self.session.send_window)
                self.send_window -= size
                self.session.send_window -= size
            await self.session.send_frame(DataFrame(self.id, bytes(view[:size])))
            view = view[size:]

    def _can_send(self) -> bool:
        if self.was_reset or self.local_closed or self.session.closed:
            return True
        if not self.session.peer_grants_windows:
            return True
        return self.send_window > 0 and self.session.send_window > 0

    async def close(self) -> None:
        """Half-close: send FIN (once)."""
        if self.local_closed or self.was_reset or self.session.closed:
            return
        self.local_closed = True
        await self.session.send_frame(DataFrame(self.id, b"", fin=True))
        self.session._maybe_forget(self)

    async def reset(self, status: int = _CANCEL) -> None:
        """Abort the stream both ways (RST_STREAM)."""
        if self.was_reset or self.session.closed or (self.local_closed and self.remote_closed):
            return
        self.was_reset = True
        await self._notify()
        self.session.streams.pop(self.id, None)
        await self.session.send_frame(RstStream(self.id, status))


class Session:
    """The server end of one SPDY/3.1 connection."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self._send = send
        self._lock = asyncio.Lock()
        self.framer = Framer()
        self.streams: dict[int, Stream] = {}
        self.closed = False
        self.going_away = False
        self.last_peer_stream = 0
        self.initial_send_window = DEFAULT_WINDOW
        self.send_window = DEFAULT_WINDOW
        self.peer_grants_windows = False
        self._session_unacked = 0
        self._accepted: asyncio.Queue[Stream | None] = asyncio.Queue()

    async def send_frame(self, frame: Frame) -> None:
        """Encode and send one frame (in order with every other)."""
        async with self._lock:
            if self.closed:
                raise ConnectionResetError("SPDY session is closed")
            await self._send(self.framer.encode(frame))

    async def accept(self) -> Stream | None:
        """The next stream the peer opened, or ``None`` once the session has ended."""
        return await self._accepted.get()

    async def feed(self, data: bytes) -> None:
        """Process bytes from the transport; a protocol error ends the session (GOAWAY)."""
        try:
            frames = self.framer.feed(data)
        except SpdyError as exc:
            log.info("SPDY protocol error: %s", exc)
            if not self.closed:
                await self.send_frame(GoAway(self.last_peer_stream, 1))
            await self.close()
            return
        for frame in frames:
            await self._handle(frame)

    async def _handle(self, frame: Frame) -> None:
        if isinstance(frame, DataFrame):
            stream = self.streams.get(frame.stream_id)
            if stream is None or stream.remote_closed:
                return
            if frame.data:
                await stream._receive(frame.data)
            if frame.fin:
                stream.remote_closed = True
                await stream._notify()
                self._maybe_forget(stream)
        elif isinstance(frame, SynStream):
            await self._open(frame)
        elif isinstance(frame, RstStream):
            stream = self.streams.pop(frame.stream_id, None)
            if stream is not None:
                stream.was_reset = True
                await stream._notify()
        elif isinstance(frame, Ping):
            if frame.ping_id % 2 == 1:
                await self.send_frame(frame)
        elif isinstance(frame, WindowUpdate):
            await self._window_update(frame)
        elif isinstance(frame, Settings):
            for _flags, sid, value in frame.entries:
                if sid == SETTINGS_INITIAL_WINDOW_SIZE:
                    delta, self.initial_send_window = value - self.initial_send_window, value
                    for stream in self.streams.values():
                        stream.send_window += delta
        elif isinstance(frame, GoAway):
            self.going_away = True
        elif isinstance(frame, SynReply | Headers):
            pass  # the peer's replies to streams this side never opens

    async def _open(self, frame: SynStream) -> None:
        sid = frame.stream_id
        if sid % 2 == 0 or sid <= self.last_peer_stream:
            await self.send_frame(RstStream(sid, _PROTOCOL_ERROR))
            return
        self.last_peer_stream = sid
        if self.going_away:
            await self.send_frame(RstStream(sid, 3))
            return
        stream = Stream(self, sid, dict(frame.headers))
        stream.remote_closed = frame.fin
        stream.local_closed = frame.unidirectional
        self.streams[sid] = stream
        await self.send_frame(SynReply(sid, {}))
        await self._accepted.put(stream)

    async def _window_update(self, frame: WindowUpdate) -> None:
        self.peer_grants_windows = True
        if frame.stream_id == 0:
            self.send_window += frame.delta
            for each in list(self.streams.values()):
                await each._notify()
            return
        stream = self.streams.get(frame.stream_id)
        if stream is not None:
            stream.send_window += frame.delta
            await stream._notify()

    async def _consumed(self, stream: Stream, size: int) -> None:
        """Grant the peer the room the application just freed (half a window at a time)."""
        stream._unacked += size
        self._session_unacked += size
        updates = []
        if stream._unacked >= DEFAULT_WINDOW // 2 and not stream.remote_closed:
            updates.append(WindowUpdate(stream.id, stream._unacked))
            stream._unacked = 0
        if self._session_unacked >= DEFAULT_WINDOW // 2:
            updates.append(WindowUpdate(0, self._session_unacked))
            self._session_unacked = 0
        for update in updates:
            if self.closed:
                return
            try:
                await self.send_frame(update)
            except ConnectionResetError:
                return

    def _maybe_forget(self, stream: Stream) -> None:
        if stream.local_closed and stream.remote_closed:
            self.streams.pop(stream.id, None)

    async def goaway(self) -> None:
        """Tell the peer no more streams are accepted (GOAWAY OK)."""
        if not self.closed:
            self.going_away = True
            await self.send_frame(GoAway(self.last_peer_stream, 0))

    async def close(self) -> None:
        """End the session: every stream reads EOF and writes fail; ``accept`` ends."""
        if self.closed:
            return
        self.closed = True
        for stream in list(self.streams.values()):
            await stream._notify()
        self.streams.clear()
        await self._accepted.put(None)
