"""Answers of the cluster zone and the reverse zones, as CoreDNS's ``kubernetes`` plugin.

:func:`answer` turns a query into a response, or None when the name is not the plugin's
(outside the zone, or a reverse name with no Service or endpoint: the caller forwards or
refuses it). Within the zone:

* A/AAAA give the addresses of the family asked; an ExternalName Service gives a CNAME,
  followed inside the zone (a chain of Services answers in one response);
* SRV gives one record per matching port (priority 0, weight ``100/n`` at least 1, the
  target the Service or endpoint name) with the targets' addresses in the additional
  section; entries without a port are left out;
* PTR of a ClusterIP names the Service, of an endpoint address ``<label>.<svc>.<ns>.svc``;
* ``dns-version.<zone>`` TXT is ``1.1.0`` (TTL 28800); SOA at the apex;
* a name that exists without records of the type is NOERROR with no answer (NODATA), a
  name that does not exist NXDOMAIN; both carry the SOA (``ns.dns.<zone>``,
  ``hostmaster.<zone>``, serial = last API change, 7200 1800 86400, minimum = TTL) in the
  authority section, with TTL min(300, TTL); zone transfers are REFUSED.
"""

from __future__ import annotations

import functools

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from controllers.dns.backend import Backend, Entry, NotFound, is_ip
from controllers.dns.names import InvalidName, parse, reverse_ip

__all__ = ["answer"]

_REVERSE = (dns.name.from_text("in-addr.arpa."), dns.name.from_text("ip6.arpa."))
_MAX_CHAIN = 8
_VERSION_TTL = 28800
#: Parsed names and record data kept for reuse (both are immutable in dnspython): parsing
#: their text is most of the cost of an answer otherwise.
_CACHED = 16384


@functools.lru_cache(maxsize=_CACHED)
def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


@functools.lru_cache(maxsize=_CACHED)
def _rdata(rdtype: dns.rdatatype.RdataType, text: str) -> dns.rdata.Rdata:
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text)


def _rrset(name: dns.name.Name, ttl: int, rdtype: dns.rdatatype.RdataType,
           text: str) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(name, dns.rdataclass.IN, rdtype)
    rrset.add(_rdata(rdtype, text), ttl)
    return rrset


def _add(section: list[dns.rrset.RRset], name: dns.name.Name, ttl: int,
         rdtype: dns.rdatatype.RdataType, text: str) -> None:
    for rrset in section:
        if rrset.name == name and rrset.rdtype == rdtype:
            rrset.add(_rdata(rdtype, text))
            return
    section.append(_rrset(name, ttl, rdtype, text))


def _family_type(ip: str) -> dns.rdatatype.RdataType:
    return dns.rdatatype.AAAA if ":" in ip else dns.rdatatype.A


class _Zone:
    """One response's view of the zone."""

    def __init__(self, backend: Backend, ttl: int) -> None:
        self.backend = backend
        self.ttl = ttl
        self.origin = _name(backend.zone + ".")

    def soa(self) -> dns.rrset.RRset:
        z = self.backend.zone
        text = (f"ns.dns.{z}. hostmaster.{z}. {self.backend.serial} 7200 1800 86400 "
                f"{self.ttl}")
        return _rrset(self.origin, min(300, self.ttl), dns.rdatatype.SOA, text)

    def entries(self, qname: dns.name.Name) -> list[Entry]:
        """The backend's entries of a name in the zone (InvalidName/NotFound propagate).
        Labels are read as Latin-1: bytes no API name has only ever fail to match."""
        below = len(qname.labels) - len(self.origin.labels)
        return self.backend.find(parse([lbl.decode("latin-1") for lbl in qname.labels[:below]]))

    def address_records(self, resp: dns.message.Message, qname: dns.name.Name,
                        rdtype: dns.rdatatype.RdataType, entries: list[Entry],
                        depth: int = 0) -> None:
        for e in entries:
            if is_ip(e.host):
                if _family_type(e.host) == rdtype:
                    _add(resp.answer, qname, self.ttl, rdtype, e.host)
                continue
            _add(resp.answer, qname, self.ttl, dns.rdatatype.CNAME, e.host)
            target = _name(e.host)
            if depth < _MAX_CHAIN and target.is_subdomain(self.origin):
                try:
                    chained = self.entries(target)
                except (InvalidName, NotFound):
                    continue
                self.address_records(resp, target, rdtype, chained, depth + 1)

    def srv_records(self, resp: dns.message.Message, qname: dns.name.Name,
                    entries: list[Entry]) -> None:
        usable = [e for e in entries if e.port >= 0 and is_ip(e.host)]
        if not usable:
            return
        weight = max(1, 100 // len(usable))
        seen: set[tuple[str, int]] = set()
        for e in usable:
            if (e.target, e.port) not in seen:
                seen.add((e.target, e.port))
                _add(resp.answer, qname, self.ttl, dns.rdatatype.SRV,
                     f"0 {weight} {e.port} {e.target}")
            _add(resp.additional, _name(e.target), self.ttl,
                 _family_type(e.host), e.host)


def _zone_answer(zone: _Zone, resp: dns.message.Message, qname: dns.name.Name,
                 qtype: dns.rdatatype.RdataType) -> None:
    if qtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
        resp.set_rcode(dns.rcode.REFUSED)
        return
    if qname == zone.origin and qtype == dns.rdatatype.SOA:
        resp.answer.append(zone.soa())
        return
    if qtype == dns.rdatatype.TXT and qname == dns.name.from_text("dns-version", zone.origin):
        _add(resp.answer, qname, _VERSION_TTL, qtype, '"1.1.0"')
        return
    try:
        entries = zone.entries(qname)
    except (InvalidName, NotFound):
        resp.set_rcode(dns.rcode.NXDOMAIN)
        resp.authority.append(zone.soa())
        return
    if qtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        zone.address_records(resp, qname, qtype, entries)
    elif qtype == dns.rdatatype.SRV:
        zone.srv_records(resp, qname, entries)
    elif qtype == dns.rdatatype.CNAME:
        for e in entries:
            if not is_ip(e.host):
                _add(resp.answer, qname, zone.ttl, qtype, e.host)
    if not resp.answer:
        resp.authority.append(zone.soa())


def answer(backend: Backend, query: dns.message.Message,
           ttl: int) -> dns.message.Message | None:
    """The response to ``query`` (one question), or None when the name is not ours."""
    question = query.question[0]
    qname, qtype = question.name, question.rdtype
    zone = _Zone(backend, ttl)
    if qname.is_subdomain(zone.origin):
        resp = dns.message.make_response(query)
        resp.flags |= dns.flags.AA
        _zone_answer(zone, resp, qname, qtype)
        return resp
    if qtype != dns.rdatatype.PTR or not any(qname.is_subdomain(r) for r in _REVERSE):
        return None
    ip = reverse_ip(qname.to_text())
    names = backend.reverse(ip) if ip is not None else []
    if not names:
        return None
    resp = dns.message.make_response(query)
    resp.flags |= dns.flags.AA
    for name in names:
        _add(resp.answer, qname, ttl, dns.rdatatype.PTR, name)
    return resp
