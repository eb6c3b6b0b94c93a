"""The SPDY server session: replies, pings, FIN and reset, and its flow-control windows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from controllers.node.kubelet.spdy.frames import (
    DataFrame,
    Frame,
    Framer,
    GoAway,
    Ping,
    RstStream,
    Settings,
    SynReply,
    SynStream,
    WindowUpdate,
)
from controllers.node.kubelet.spdy.session import DEFAULT_WINDOW, Session


class Peer:
    """The client end: encodes what it sends, decodes what the session wrote."""

    def __init__(self) -> None:
        self.out, self.inp = Framer(), Framer()
        self.received: list[Frame] = []

    async def sink(self, data: bytes) -> None:
        self.received += self.inp.feed(data)

    def wire(self, *frames: Frame) -> bytes:
        return b"".join(self.out.encode(f) for f in frames)

    def data(self, stream_id: int) -> bytes:
        return b"".join(f.data for f in self.received
                        if isinstance(f, DataFrame) and f.stream_id == stream_id)


def run(test: Callable[[Session, Peer], Awaitable[None]]) -> None:
    async def main() -> None:
        peer = Peer()
        await test(Session(peer.sink), peer)
    asyncio.run(asyncio.wait_for(main(), 30))


def test_streams_are_replied_read_written_and_closed() -> None:
    async def body(session: Session, peer: Peer) -> None:
        await session.feed(peer.wire(SynStream(1, {"port": "80"}), DataFrame(1, b"abc"),
                                     DataFrame(1, b"", fin=True), Ping(7), Ping(8)))
        stream = await session.accept()
        assert stream is not None and stream.header("Port") == "80"
        assert await stream.read() == b"abc"
        assert await stream.read() == b""
        await stream.write(b"xyz")
        await stream.close()
        assert peer.received[0] == SynReply(1, {})
        assert Ping(7) in peer.received and Ping(8) not in peer.received
        assert peer.data(1) == b"xyz" and peer.received[-1] == DataFrame(1, b"", fin=True)
        assert session.streams == {}
    run(body)


def test_bad_stream_ids_and_resets() -> None:
    async def body(session: Session, peer: Peer) -> None:
        await session.feed(peer.wire(SynStream(3), SynStream(1), SynStream(2)))
        assert RstStream(1, 1) in peer.received and RstStream(2, 1) in peer.received
        stream = await session.accept()
        assert stream is not None
        await session.feed(peer.wire(RstStream(3, 5)))
        assert await stream.read() == b""
        try:
            await stream.write(b"x")
        except ConnectionResetError:
            pass
        else:
            raise AssertionError("write after reset")
    run(body)


def test_goaway_refuses_new_streams_and_garbage_ends_the_session() -> None:
    async def body(session: Session, peer: Peer) -> None:
        await session.feed(peer.wire(GoAway(0), SynStream(1)))
        assert RstStream(1, 3) in peer.received
        await session.feed(b"\x80\x02\x00\x01\x00\x00\x00\x00")
        assert isinstance(peer.received[-1], GoAway) and peer.received[-1].status == 1
        assert session.closed and await session.accept() is None
    run(body)


def test_window_updates_are_granted_as_the_application_reads() -> None:
    async def body(session: Session, peer: Peer) -> None:
        chunk = b"x" * (DEFAULT_WINDOW // 4)
        await session.feed(peer.wire(SynStream(1), *[DataFrame(1, chunk)] * 2))
        stream = await session.accept()
        assert stream is not None
        assert await stream.read() == chunk * 2
        updates = [f for f in peer.received if isinstance(f, WindowUpdate)]
        assert updates == [WindowUpdate(1, len(chunk) * 2), WindowUpdate(0, len(chunk) * 2)]
    run(body)


def test_sends_wait_for_window_once_the_peer_grants_windows() -> None:
    async def body(session: Session, peer: Peer) -> None:
        await session.feed(peer.wire(SynStream(1), Settings(((0, 7, 10),)),
                                     WindowUpdate(0, 1000)))
        stream = await session.accept()
        assert stream is not None
        writing = asyncio.ensure_future(stream.write(b"y" * 25))
        await asyncio.sleep(0)
        while peer.data(1) != b"y" * 10:
            await asyncio.sleep(0.01)
        assert not writing.done()
        await session.feed(peer.wire(WindowUpdate(1, 15)))
        await writing
        assert peer.data(1) == b"y" * 25
    run(body)


def test_a_peer_without_flow_control_is_not_held_to_windows() -> None:
    """Go's spdystream (kubectl) never sends WINDOW_UPDATE: no stall after 64 KiB."""
    async def body(session: Session, peer: Peer) -> None:
        await session.feed(peer.wire(SynStream(1)))
        stream = await session.accept()
        assert stream is not None
        await stream.write(b"z" * (DEFAULT_WINDOW * 3))
        assert len(peer.data(1)) == DEFAULT_WINDOW * 3
    run(body)


def test_unread_data_is_bounded_and_discard_releases_the_reader() -> None:
    async def body(session: Session, peer: Peer) -> None:
        await session.feed(peer.wire(SynStream(1)))
        stream = await session.accept()
        assert stream is not None
        big = peer.wire(*[DataFrame(1, b"q" * 32768)] * 4)
        feeding = asyncio.ensure_future(session.feed(big))
        await asyncio.sleep(0.05)
        assert not feeding.done()  # 64 KiB unread: the transport is not read further
        await stream.discard()
        await feeding
    run(body)
