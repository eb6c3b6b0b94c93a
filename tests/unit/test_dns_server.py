"""The DNS server's transports (controllers.dns.server) on real loopback sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from controllers.client.store import Store
from controllers.dns.app import build_parser, resolv_conf_nameservers
from controllers.dns.backend import Backend
from controllers.dns.server import DnsServer

NAME = "big.default.svc.cluster.local."


def backend() -> Backend:
    namespaces, services, slices = Store(), Store(), Store()
    b = Backend("cluster.local", namespaces, services, slices)
    namespaces.add({"metadata": {"name": "default"}})
    services.add({"metadata": {"namespace": "default", "name": "big"},
                  "spec": {"clusterIP": "None"}})
    endpoints: list[dict[str, Any]] = [{"addresses": [f"10.244.1.{i}"]} for i in range(1, 101)]
    slices.add({"metadata": {"namespace": "default", "name": "big-1",
                             "labels": {"kubernetes.io/service-name": "big"}},
                "endpoints": endpoints, "ports": [{"port": 80}]})
    return b


class Upstream(asyncio.DatagramProtocol):
    """Answers every query with A 192.0.2.1."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport is no DatagramTransport subclass.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        query = dns.message.from_wire(data)
        resp = dns.message.make_response(query)
        resp.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A",
                                               "192.0.2.1"))
        self.transport.sendto(resp.to_wire(), addr)


def test_servfail_until_synced_then_truncation_over_udp_and_full_answer_over_tcp() -> None:
    async def scenario() -> None:
        server = DnsServer(5, [], forward=False)
        port = await server.bind("127.0.0.1", 0)
        try:
            query = dns.message.make_query(NAME, "A")
            resp = await dns.asyncquery.udp(query, "127.0.0.1", 5, port)
            assert resp.rcode() == dns.rcode.SERVFAIL
            server.backend = backend()
            resp = await dns.asyncquery.udp(query, "127.0.0.1", 5, port)
            assert resp.flags & dns.flags.TC and resp.answer == []
            resp = await dns.asyncquery.tcp(query, "127.0.0.1", 5, port)
            assert len(resp.answer[0]) == 100
            edns = dns.message.make_query(NAME, "A", use_edns=0, payload=4096)
            resp = await dns.asyncquery.udp(edns, "127.0.0.1", 5, port)
            assert not resp.flags & dns.flags.TC and len(resp.answer[0]) == 100
            other = dns.message.make_query("example.com.", "A")
            resp = await dns.asyncquery.udp(other, "127.0.0.1", 5, port)
            assert resp.rcode() == dns.rcode.REFUSED
            empty = dns.message.Message()
            resp = await dns.asyncquery.udp(empty, "127.0.0.1", 5, port)
            assert resp.rcode() == dns.rcode.FORMERR
            assert server.requests[("udp", "1", "A")] == 4
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_other_names_are_forwarded_upstream() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(Upstream,
                                                           local_addr=("127.0.0.1", 0))
        upstream = transport.get_extra_info("sockname")[1]
        server = DnsServer(5, [("127.0.0.1", upstream)])
        server.backend = backend()
        port = await server.bind("127.0.0.1", 0)
        try:
            query = dns.message.make_query("example.com.", "A")
            resp = await dns.asyncquery.udp(query, "127.0.0.1", 5, port)
            assert resp.id == query.id
            assert [str(rd) for rd in resp.answer[0]] == ["192.0.2.1"]
        finally:
            await server.stop()
            transport.close()

    asyncio.run(scenario())


def test_flags_and_resolv_conf(tmp_path: Path) -> None:
    args = build_parser().parse_args([])
    assert (args.cluster_domain, args.dns_port, args.ttl, args.pods, args.forward) == (
        "cluster.local", 53, 5, "insecure", True)
    assert args.metrics_bind_address is None
    args = build_parser().parse_args(["--upstream", "10.0.0.2", "--upstream", "127.0.0.1:5353",
                                      "--forward=false", "--ttl", "30"])
    assert args.upstream == [("10.0.0.2", 53), ("127.0.0.1", 5353)]
    assert (args.forward, args.ttl) == (False, 30)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--ttl", "3601"])
    conf = tmp_path / "resolv.conf"
    conf.write_text("# comment\nsearch example.org\nnameserver 10.0.0.53\nnameserver fd00::53\n"
                    "options ndots:5\n")
    assert resolv_conf_nameservers(conf) == [("10.0.0.53", 53), ("fd00::53", 53)]
    assert resolv_conf_nameservers(tmp_path / "missing") == []
