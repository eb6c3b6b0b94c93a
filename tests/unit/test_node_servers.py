"""The built-in container servers on real loopback sockets: HTTP, TCP echo and UDP echo,
on the event loop the node agent runs (the standard selector loop here)."""

from __future__ import annotations

import asyncio
import socket

from controllers.node.servers import ContainerFlags, start_port_server


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_udp_port_echoes_each_datagram() -> None:
    async def scenario() -> list[bytes]:
        port = _free_port(socket.SOCK_DGRAM)
        server = await start_port_server("udp", "127.0.0.1", port, ContainerFlags("p"))
        loop = asyncio.get_running_loop()
        got: asyncio.Queue[bytes] = asyncio.Queue()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: object) -> None:
                got.put_nowait(data)

        transport, _ = await loop.create_datagram_endpoint(
            Client, remote_addr=("127.0.0.1", port))
        try:
            replies = []
            for payload in (b"ping", b"x" * 1400):
                transport.sendto(payload)
                replies.append(await asyncio.wait_for(got.get(), 5))
            return replies
        finally:
            transport.close()
            await server.close()

    assert asyncio.run(scenario()) == [b"ping", b"x" * 1400]


def test_tcp_port_echoes_and_http_port_answers_like_netexec() -> None:
    async def scenario() -> tuple[bytes, bytes]:
        tcp_port, http_port = _free_port(socket.SOCK_STREAM), _free_port(socket.SOCK_STREAM)
        flags = ContainerFlags("web-0")
        tcp = await start_port_server("tcp", "127.0.0.1", tcp_port, flags)
        http = await start_port_server("http", "127.0.0.1", http_port, flags)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", tcp_port)
            writer.write(b"hello")
            echoed = await asyncio.wait_for(reader.readexactly(5), 5)
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", http_port)
            writer.write(b"GET /hostname HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            return echoed, answer
        finally:
            await tcp.close()
            await http.close()

    echoed, answer = asyncio.run(scenario())
    assert echoed == b"hello"
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"\r\n\r\nweb-0")
