"""Queries the cluster DNS must survive (controllers.dns): names with bytes no API name has
are answered, responses sent to it are dropped; never an exception."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.update

from controllers.client.store import Store
from controllers.dns.answer import answer
from controllers.dns.backend import Backend
from controllers.dns.server import DnsServer


def test_a_label_that_is_not_text_is_nxdomain_with_the_soa() -> None:
    namespaces = Store()
    backend = Backend("cluster.local", namespaces, Store(), Store())
    namespaces.add({"metadata": {"name": "default"}})
    for labels in ([b"\xff"], [b"web", b"d\xe9fault", b"svc"], [b"\xc3(", b"default", b"pod"]):
        name = dns.name.Name([*labels, b"cluster", b"local", b""])
        resp = answer(backend, dns.message.make_query(name, "A"), 5)
        assert resp is not None
        assert resp.rcode() == dns.rcode.NXDOMAIN, labels
        assert [r.rdtype for r in resp.authority] == [dns.rdatatype.SOA]


def test_a_response_is_dropped_not_answered() -> None:
    namespaces = Store()
    server = DnsServer(5, [], forward=False)
    server.backend = Backend("cluster.local", namespaces, Store(), Store())
    query = dns.message.make_query("web.default.svc.cluster.local.", "A")
    assert isinstance(server.quick(query.to_wire(), "udp"), bytes)
    query.flags |= dns.flags.QR
    assert server.quick(query.to_wire(), "udp") is None
    assert server.quick(query.to_wire(), "tcp") is None


def test_other_opcodes_are_not_implemented() -> None:
    server = DnsServer(5, [], forward=False)
    server.backend = Backend("cluster.local", Store(), Store(), Store())
    update = dns.update.UpdateMessage("cluster.local.")
    update.add("web.default.svc", 5, "A", "10.0.0.1")
    queries: list[dns.message.Message] = [update]
    for opcode in (dns.opcode.NOTIFY, dns.opcode.STATUS):
        query = dns.message.make_query("web.default.svc.cluster.local.", "A")
        query.set_opcode(opcode)
        queries.append(query)
    for query in queries:
        wire = server.quick(query.to_wire(), "udp")
        assert isinstance(wire, bytes)
        resp = dns.message.from_wire(wire)
        assert resp.rcode() == dns.rcode.NOTIMP and resp.opcode() == query.opcode()
        assert resp.id == query.id
