"""The records of the cluster zone, read from the informer caches (CoreDNS ``findServices``).

:class:`Backend` answers one parsed :class:`~controllers.dns.names.Request` with a list of
:class:`Entry` rows, as CoreDNS's ``msg.Service``: a host (an address, or a name for an
ExternalName Service), a port (-1 when none is declared) and the name the entry belongs to
(the SRV target). An empty list means the name exists without records (NODATA);
:class:`NotFound` means it does not exist (NXDOMAIN). The rules:

* a namespace that does not exist, an unknown Service, or a query form the Service cannot
  answer is NXDOMAIN;
* ClusterIP Services give every ``clusterIPs`` value per matching port;
* headless Services and ``<endpoint>.`` queries give the ready endpoints of the Service's
  EndpointSlices (``ready`` unset counts as ready; every endpoint with
  ``publishNotReadyAddresses``), labelled by ``hostname`` or the dashed address; a headless
  Service without such endpoints is NODATA: the Service exists, so its name does
  (CoreDNS answers NXDOMAIN there); an endpoint, port or protocol label matching none
  of them is NXDOMAIN;
* ExternalName Services give their name (a CNAME); with an endpoint, port or protocol
  label, or when the name is an address, NXDOMAIN;
* ``<a-b-c-d>.<ns>.pod`` answers straight from the name (CoreDNS ``pods insecure``) when
  the namespace exists, NXDOMAIN with pod records disabled.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from typing import Any

from controllers.client.store import Store
from controllers.dns.names import POD, Request, dashed_ip, fqdn, pod_ip

__all__ = ["SERVICE_NAME_LABEL", "Backend", "Entry", "NotFound", "is_ip"]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SLICE_INDEX = "dns-service"
SLICE_ADDRESS_INDEX = "dns-address"
CLUSTER_IP_INDEX = "dns-cluster-ip"
_WILDCARDS = ("", "*", "any")

Obj = dict[str, Any]


class NotFound(LookupError):
    """The name does not exist (NXDOMAIN)."""


@dataclass(frozen=True)
class Entry:
    """One record source: ``host`` (address or name), ``port`` (-1: none), ``target``."""

    host: str
    port: int
    target: str


def is_ip(text: str) -> bool:
    """True when ``text`` is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _match(want: str, have: str) -> bool:
    return want in _WILDCARDS or want.lower() == have.lower()


def _slice_service(obj: Obj) -> list[str]:
    md = obj.get("metadata") or {}
    svc = (md.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return [f"{md.get('namespace') or ''}/{svc}"] if svc else []


def _slice_addresses(obj: Obj) -> list[str]:
    return sorted({a for ep in obj.get("endpoints") or [] for a in ep.get("addresses") or []})


def _cluster_ips(obj: Obj) -> list[str]:
    spec = obj.get("spec") or {}
    ips = list(spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []))
    return [ip for ip in ips if ip != "None"]


def _headless(svc: Obj) -> bool:
    return (svc.get("spec") or {}).get("clusterIP") == "None"


class Backend:
    """Lookups over the Namespace, Service and EndpointSlice caches of one zone."""

    def __init__(self, zone: str, namespaces: Store, services: Store, slices: Store,
                 *, pods: bool = True) -> None:
        self.zone = zone.strip(".").lower()
        self.namespaces = namespaces
        self.services = services
        self.slices = slices
        self.pods = pods
        self.serial = int(time.time()) & 0xFFFFFFFF
        services.add_indexers({CLUSTER_IP_INDEX: _cluster_ips})
        slices.add_indexers({SLICE_INDEX: _slice_service, SLICE_ADDRESS_INDEX: _slice_addresses})

    def changed(self, *_objs: object) -> None:
        """Informer handler: an API object changed (moves the SOA serial)."""
        self.serial = int(time.time()) & 0xFFFFFFFF

    def namespace_exists(self, namespace: str) -> bool:
        """True when the namespace is in the cache."""
        return self.namespaces.get(None, namespace) is not None

    def find(self, req: Request) -> list[Entry]:
        """The entries of ``req``; raises :class:`NotFound` for a name that does not exist."""
        if not req.namespace:
            return []
        if not self.namespace_exists(req.namespace):
            raise NotFound(req.namespace)
        if not req.service:
            return []
        if req.kind == POD:
            ip = pod_ip(req.service)
            if not self.pods or ip is None or req.endpoint or req.port or req.protocol:
                raise NotFound(req.service)
            return [Entry(ip, -1, fqdn(req.service, req.namespace, POD, self.zone))]
        svc = self.services.get(req.namespace, req.service)
        if svc is None:
            raise NotFound(req.service)
        spec = svc.get("spec") or {}
        name = fqdn(req.service, req.namespace, "svc", self.zone)
        if spec.get("type") == "ExternalName":
            external = str(spec.get("externalName") or "")
            if req.endpoint or req.port or req.protocol or not external or is_ip(external):
                raise NotFound(req.service)
            return [Entry(fqdn(external), -1, name)]
        if _headless(svc) or req.endpoint:
            entries = self._endpoints(svc, req)
            filtered = bool(req.endpoint or req.port or req.protocol)
            if not entries and (filtered or not _headless(svc)):
                raise NotFound(req.service)
            return entries
        entries = [
            Entry(ip, int(p.get("port") or 0), name)
            for p in spec.get("ports") or []
            if _match(req.port, str(p.get("name") or ""))
            and _match(req.protocol, str(p.get("protocol") or "TCP"))
            for ip in _cluster_ips(svc)
        ]
        if not entries:
            raise NotFound(req.service)
        return entries

    def _endpoints(self, svc: Obj, req: Request) -> list[Entry]:
        md = svc.get("metadata") or {}
        ns, svc_name = str(md.get("namespace") or ""), str(md.get("name") or "")
        all_ready = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
        entries: dict[tuple[str, int, str], Entry] = {}
        for label, addr, ports in self._ready_endpoints(ns, svc_name, all_ready):
            if req.endpoint and not _match(req.endpoint, label):
                continue
            target = fqdn(label, svc_name, ns, "svc", self.zone)
            for p in ports:
                if not (_match(req.port, str(p.get("name") or ""))
                        and _match(req.protocol, str(p.get("protocol") or "TCP"))):
                    continue
                port = p.get("port")
                entry = Entry(addr, int(port) if port is not None else -1, target)
                entries.setdefault((addr, entry.port, target), entry)
        return list(entries.values())

    def _ready_endpoints(self, ns: str, svc: str,
                         all_ready: bool) -> list[tuple[str, str, list[Obj]]]:
        """(label, address, ports) of every ready endpoint address of the Service."""
        out = []
        for sl in self.slices.by_index(SLICE_INDEX, f"{ns}/{svc}"):
            ports = list(sl.get("ports") or []) or [{"port": -1}]
            for ep in sl.get("endpoints") or []:
                ready = (ep.get("conditions") or {}).get("ready")
                if ready is False and not all_ready:
                    continue
                for addr in ep.get("addresses") or []:
                    label = str(ep.get("hostname") or dashed_ip(addr)).lower()
                    out.append((label, str(addr), ports))
        return out

    def reverse(self, ip: str) -> list[str]:
        """PTR targets of ``ip``: the Service of a ClusterIP, else every ready endpoint
        with that address (``<label>.<svc>.<ns>.svc.<zone>.``), only those with a
        ``hostname`` when there are any."""
        for svc in self.services.by_index(CLUSTER_IP_INDEX, ip):
            md = svc.get("metadata") or {}
            return [fqdn(md.get("name") or "", md.get("namespace") or "", "svc", self.zone)]
        named: list[str] = []
        dashed: list[str] = []
        for sl in self.slices.by_index(SLICE_ADDRESS_INDEX, ip):
            ns = str((sl.get("metadata") or {}).get("namespace") or "")
            svc_name = _slice_service(sl)[0].partition("/")[2] if _slice_service(sl) else ""
            owner = self.services.get(ns, svc_name) or {}
            all_ready = bool((owner.get("spec") or {}).get("publishNotReadyAddresses"))
            for label, addr, _ports in self._ready_endpoints(ns, svc_name, all_ready):
                name = fqdn(label, svc_name, ns, "svc", self.zone)
                names = dashed if label == dashed_ip(addr) else named
                if addr == ip and name not in names:
                    names.append(name)
        return named or dashed
