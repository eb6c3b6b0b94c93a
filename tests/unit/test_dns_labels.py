"""Query names with bytes no API name has (controllers.dns.answer): answered, never a crash."""

from __future__ import annotations

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from controllers.client.store import Store
from controllers.dns.answer import answer
from controllers.dns.backend import Backend


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
