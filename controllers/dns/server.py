"""The DNS server: UDP and TCP on one address, answers from :mod:`.answer`, forwarding.

:class:`DnsServer` binds UDP and TCP on the same port (port 0 picks one free for both),
then answers each query: names of the cluster zone (and PTR names it knows) from the
backend — SERVFAIL until :attr:`DnsServer.backend` is set, as CoreDNS answers before its
API caches synced —, other names forwarded to the first answering upstream resolver over
the query's transport, or REFUSED when forwarding is off or no upstream is configured. A
CNAME leaving the zone is completed through the upstreams for A/AAAA queries. UDP
responses larger than the client's buffer (512 bytes without EDNS) are truncated (TC) so
the client retries over TCP. Unparsable datagrams and responses (QR set) are dropped; an
opcode other than QUERY is NOTIMP; a query with other than one question is FORMERR.
:meth:`DnsServer.quick` answers whatever needs no upstream at once (a UDP query answered
from the caches costs no asyncio task); :meth:`DnsServer.finish` the rest.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections import Counter
from collections.abc import Sequence
from typing import cast

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype

from controllers.dns.answer import answer
from controllers.dns.backend import Backend
from controllers.runtime.health import stream_connection

__all__ = ["DnsServer"]

log = logging.getLogger("controllers.dns")

_UPSTREAM_TIMEOUT = 2.0
_TCP_IDLE = 10.0


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport is no DatagramTransport subclass.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        wire = self.server.quick(data, "udp")
        if isinstance(wire, dns.message.Message):
            task = asyncio.ensure_future(self._reply(wire, addr))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif wire is not None and self.transport is not None:
            self.transport.sendto(wire, addr)

    async def _reply(self, query: dns.message.Message, addr: tuple[str | int, ...]) -> None:
        wire = await self.server.finish(query, "udp")
        if self.transport is not None:
            self.transport.sendto(wire, addr)


class DnsServer:
    """One DNS listener pair (UDP and TCP) of the cluster zone."""

    def __init__(self, ttl: int, upstreams: Sequence[tuple[str, int]],
                 forward: bool = True) -> None:
        self.ttl = ttl
        self.upstreams = list(upstreams)
        self.forward = forward
        self.backend: Backend | None = None
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self.responses: Counter[str] = Counter()
        self.family = "1"
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    async def bind(self, host: str, port: int) -> int:
        """Listen on UDP and TCP ``host:port``; the port. Raises OSError (PermissionError
        for a privileged port without the right to bind it)."""
        loop = asyncio.get_running_loop()
        for _attempt in range(20):
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(host, port))
            bound: int = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, host, bound,
                                                       reuse_address=True)
            except OSError:
                transport.close()
                if port:
                    raise
                continue
            self._udp = transport
            self.family = "2" if ":" in str(transport.get_extra_info("sockname")[0]) else "1"
            return bound
        raise OSError(f"no port free for both UDP and TCP on {host}")

    async def stop(self) -> None:
        """Stop listening."""
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
            self._tcp = None

    async def _serve_tcp(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        async with stream_connection(writer):
            while True:
                head = await asyncio.wait_for(reader.readexactly(2), _TCP_IDLE)
                data = await asyncio.wait_for(reader.readexactly(struct.unpack("!H", head)[0]),
                                              _TCP_IDLE)
                wire = await self.handle(data, "tcp")
                if wire is None:
                    break
                writer.write(struct.pack("!H", len(wire)) + wire)
                await writer.drain()

    async def handle(self, data: bytes, proto: str) -> bytes | None:
        """The wire response to one wire query (None: drop it)."""
        wire = self.quick(data, proto)
        if isinstance(wire, dns.message.Message):
            return await self.finish(wire, proto)
        return wire

    def quick(self, data: bytes, proto: str) -> bytes | dns.message.Message | None:
        """Answer one wire query without waiting: the wire response, None to drop it, or
        the parsed query when the answer needs the upstreams (then :meth:`finish` it)."""
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return None
        if query.flags & dns.flags.QR:
            return None  # a response: answering it could start a loop between servers
        if query.opcode() != dns.opcode.QUERY:
            # UPDATE, NOTIFY, IQUERY, STATUS: not served, as CoreDNS's server answers them.
            resp = dns.message.make_response(query)
            resp.set_rcode(dns.rcode.NOTIMP)
            return self._wire(resp, query, proto)
        if len(query.question) != 1:
            resp = dns.message.make_response(query)
            resp.set_rcode(dns.rcode.FORMERR)
            return self._wire(resp, query, proto)
        question = query.question[0]
        self.requests[(proto, self.family, dns.rdatatype.to_text(question.rdtype))] += 1
        backend = self.backend
        if backend is None:
            resp = dns.message.make_response(query)
            resp.set_rcode(dns.rcode.SERVFAIL)
            return self._wire(resp, query, proto)
        local = answer(backend, query, self.ttl)
        if local is None or self._leaves_zone(local, question.rdtype, backend.zone):
            return query
        return self._wire(local, query, proto)

    def _leaves_zone(self, resp: dns.message.Message, qtype: dns.rdatatype.RdataType,
                     zone: str) -> bool:
        """True when an A/AAAA answer ends in a CNAME out of the zone that the upstreams
        are to complete."""
        if not (resp.answer and qtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
                and self.forward and self.upstreams):
            return False
        last = resp.answer[-1]
        return last.rdtype == dns.rdatatype.CNAME and not last[0].target.is_subdomain(
            dns.name.from_text(zone + "."))

    async def finish(self, query: dns.message.Message, proto: str) -> bytes:
        """The wire response to a query :meth:`quick` could not answer alone."""
        return self._wire(await self._resolve(query, proto), query, proto)

    async def _resolve(self, query: dns.message.Message, proto: str) -> dns.message.Message:
        backend = self.backend
        if backend is None or (local := answer(backend, query, self.ttl)) is None:
            return await self._forward(query, proto)
        qtype = query.question[0].rdtype
        if self._leaves_zone(local, qtype, backend.zone):
            target: dns.name.Name = local.answer[-1][0].target
            sub = await self._forward(dns.message.make_query(target, qtype), proto)
            local.answer.extend(sub.answer)
        return local

    async def _forward(self, query: dns.message.Message, proto: str) -> dns.message.Message:
        if not self.forward or not self.upstreams:
            resp = dns.message.make_response(query)
            resp.set_rcode(dns.rcode.REFUSED)
            return resp
        for host, port in self.upstreams:
            try:
                if proto == "tcp":
                    return await dns.asyncquery.tcp(query, host, _UPSTREAM_TIMEOUT, port)
                return await dns.asyncquery.udp(query, host, _UPSTREAM_TIMEOUT, port,
                                                ignore_unexpected=True)
            except (dns.exception.DNSException, OSError) as exc:
                log.info("upstream %s:%d failed: %s", host, port, exc)
        resp = dns.message.make_response(query)
        resp.set_rcode(dns.rcode.SERVFAIL)
        return resp

    def _wire(self, resp: dns.message.Message, query: dns.message.Message,
              proto: str) -> bytes:
        self.responses[dns.rcode.to_text(resp.rcode())] += 1
        resp.id = query.id
        if proto == "tcp":
            return resp.to_wire()
        limit = max(512, query.payload) if query.edns >= 0 else 512
        try:
            return resp.to_wire(max_size=limit)
        except dns.exception.TooBig:
            resp.answer, resp.authority, resp.additional = [], [], []
            resp.flags |= dns.flags.TC
            return resp.to_wire()
