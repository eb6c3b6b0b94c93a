"""Table cells of Services and Endpoints, as upstream ``printService`` / ``printEndpoints``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apiserver.api.labels import format_labels
from apiserver.printing.duration import translate_timestamp_since

__all__ = [
    "format_endpoints",
    "format_ports",
    "print_endpoints",
    "print_service",
    "service_external_ip",
]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _i(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _load_balancer_ips(status: Mapping[str, Any]) -> str:
    """Sorted unique ingress IPs (or hostnames), comma-joined; never clipped (wide)."""
    found: set[str] = set()
    for ing in _l(_m(status.get("loadBalancer")).get("ingress")):
        ing = _m(ing)
        if _s(ing.get("ip")):
            found.add(_s(ing.get("ip")))
        elif _s(ing.get("hostname")):
            found.add(_s(ing.get("hostname")))
    return ",".join(sorted(found))


def service_external_ip(svc: Mapping[str, Any]) -> str:
    """The External-IP cell: external IPs, LB ingress, ``<pending>``, ``<none>``, externalName."""
    spec = _m(svc.get("spec"))
    svc_type = spec.get("type")
    external_ips = [_s(ip) for ip in _l(spec.get("externalIPs"))]
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) if external_ips else "<none>"
    if svc_type == "LoadBalancer":
        lb = _load_balancer_ips(_m(svc.get("status")))
        if external_ips:
            return ",".join(([*lb.split(",")] if lb else []) + external_ips)
        return lb or "<pending>"
    if svc_type == "ExternalName":
        return _s(spec.get("externalName"))
    return "<unknown>"


def format_ports(ports: list[Any]) -> str:
    """``80/TCP,443:30443/TCP`` (node port shown when set), ``""`` for no ports."""
    pieces = []
    for p in ports:
        p = _m(p)
        port, proto, node_port = _i(p.get("port")), _s(p.get("protocol")), _i(p.get("nodePort"))
        pieces.append(f"{port}:{node_port}/{proto}" if node_port > 0 else f"{port}/{proto}")
    return ",".join(pieces)


def print_service(svc: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Type, Cluster-IP, External-IP, Port(s), Age, Selector."""
    meta, spec = _m(svc.get("metadata")), _m(svc.get("spec"))
    cluster_ips = _l(spec.get("clusterIPs"))
    internal_ip = _s(cluster_ips[0]) if cluster_ips else (_s(spec.get("clusterIP")) or "<none>")
    return [
        _s(meta.get("name")),
        _s(spec.get("type")),
        internal_ip,
        service_external_ip(svc),
        format_ports(_l(spec.get("ports"))) or "<none>",
        translate_timestamp_since(meta.get("creationTimestamp"), now),
        format_labels(_m(spec.get("selector"))),
    ]


def _host_port(ip: str, port: int) -> str:
    """``net.JoinHostPort``: brackets around IPv6 addresses."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def format_endpoints(endpoints: Mapping[str, Any], limit: int = 3) -> str:
    """The first ``limit`` ``ip:port`` (or bare IPs for port-less subsets), then ``+ N more...``.

    ``<none>`` when there are no subsets (upstream ``formatEndpoints``).
    """
    subsets = _l(endpoints.get("subsets"))
    if not subsets:
        return "<none>"
    shown: list[str] = []
    more, count = False, 0
    for ss in subsets:
        ss = _m(ss)
        addresses = [_s(_m(a).get("ip")) for a in _l(ss.get("addresses"))]
        ports = _l(ss.get("ports"))
        groups: list[list[str]]
        if not ports:
            groups = [addresses]
        else:
            groups = [[_host_port(ip, _i(_m(p).get("port"))) for ip in addresses] for p in ports]
        for group in groups:
            count += len(group)
            for item in group:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(item)
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if more else text


def print_endpoints(ep: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Endpoints, Age."""
    meta = _m(ep.get("metadata"))
    return [
        _s(meta.get("name")),
        format_endpoints(ep),
        translate_timestamp_since(meta.get("creationTimestamp"), now),
    ]
