"""NetworkPolicies, IPAddresses and ServiceCIDRs (networking.k8s.io/v1).

Counterparts of ``ValidateNetworkPolicy``, ``ValidateIPAddress``/``Update`` and
``ValidateServiceCIDR``/``Update`` (``pkg/apis/networking/validation``), with upstream's
field paths and messages.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from apiserver.api import meta
from apiserver.registry import common as c
from apiserver.registry.service.portvalidation import port_name_errors
from apiserver.registry.strategy import Cause
from apiserver.registry.table_strategy import TableStrategy

PROTOCOLS = ("SCTP", "TCP", "UDP")
POLICY_TYPES = ("Egress", "Ingress")
_PORT_MSG = "must be between 1 and 65535, inclusive"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parse_cidr(value: Any) -> tuple[Network | None, str]:
    """The network of a CIDR string (host bits allowed, as Go's ``ParseCIDR``) or an error."""
    if not isinstance(value, str) or "/" not in value:
        return None, f"invalid CIDR address: {value}"
    try:
        return ipaddress.ip_network(value, strict=False), ""
    except ValueError:
        return None, f"invalid CIDR address: {value}"


def _port(port: Any, path: str) -> list[Cause]:
    p = _dict(port)
    causes: list[Cause] = []
    protocol = p.get("protocol")
    if protocol is not None and protocol not in PROTOCOLS:
        causes.append(c.not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    number = p.get("port")
    end = p.get("endPort")
    if c.is_int(number):
        if not 1 <= number <= 65535:
            causes.append(c.invalid(f"{path}.port", c.go_value(number), _PORT_MSG))
        if end is not None:
            if not c.is_int(end) or not 1 <= end <= 65535:
                causes.append(c.invalid(f"{path}.endPort", c.go_value(end), _PORT_MSG))
            elif end < number:
                causes.append(c.invalid(f"{path}.endPort", c.go_value(end),
                                        "must be greater than or equal to `port`"))
    elif isinstance(number, str):
        if end is not None:
            causes.append(c.invalid(f"{path}.endPort", c.go_value(end),
                                    "may not be specified when `port` is non-numeric"))
        causes += [c.invalid(f"{path}.port", c.go_value(number), e)
                   for e in port_name_errors(number)]
    elif end is not None:
        causes.append(c.invalid(f"{path}.endPort", c.go_value(end),
                                "may not be specified when `port` is not specified"))
    return causes


def _ip_block(block: Any, path: str) -> list[Cause]:
    b = _dict(block)
    cidr = b.get("cidr")
    if not cidr:
        return [c.required(f"{path}.cidr")]
    net, err = parse_cidr(cidr)
    if net is None:
        return [c.invalid(f"{path}.cidr", c.go_value(cidr), err)]
    causes: list[Cause] = []
    for i, exc in enumerate(_list(b.get("except"))):
        epath = f"{path}.except[{i}]"
        sub, err = parse_cidr(exc)
        if sub is None:
            causes.append(c.invalid(epath, c.go_value(exc), err))
        elif (sub.version != net.version or not sub.subnet_of(net)  # type: ignore[arg-type]
              or sub.prefixlen <= net.prefixlen):
            causes.append(c.invalid(epath, c.go_value(exc), "must be a strict subset of `cidr`"))
    return causes


def _peer(peer: Any, path: str) -> list[Cause]:
    p = _dict(peer)
    causes: list[Cause] = []
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        if p.get(key) is not None:
            count += 1
            causes += c.label_selector(p[key], f"{path}.{key}")
    if p.get("ipBlock") is not None:
        if count:
            return [*causes, c.forbidden(path, "may not specify both ipBlock and another peer")]
        count += 1
        causes += _ip_block(p["ipBlock"], f"{path}.ipBlock")
    if count == 0:
        causes.append(c.required(path, "must specify a peer"))
    return causes


def validate_network_policy(obj: dict[str, Any]) -> list[Cause]:
    """``ValidateNetworkPolicySpec``: selectors, ports, peers and policy types."""
    spec = _dict(obj.get("spec"))
    causes = c.label_selector(spec.get("podSelector"), "spec.podSelector")
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(_list(spec.get(direction))):
            rpath = f"spec.{direction}[{i}]"
            r = _dict(rule)
            for j, port in enumerate(_list(r.get("ports"))):
                causes += _port(port, f"{rpath}.ports[{j}]")
            for j, peer in enumerate(_list(r.get(peers))):
                causes += _peer(peer, f"{rpath}.{peers}[{j}]")
    types = _list(spec.get("policyTypes"))
    for i, kind in enumerate(types):
        if kind not in POLICY_TYPES:
            causes.append(c.not_supported(f"spec.policyTypes[{i}]", kind, POLICY_TYPES))
    if len(types) > 2:
        causes.append(c.invalid("spec.policyTypes", c.go_list(types),
                                "may not specify more than two policyTypes"))
    return causes


class NetworkPolicyStrategy(TableStrategy):
    """networking.k8s.io/v1 NetworkPolicies."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_network_policy(obj)


def ip_address_name_errors(name: str) -> list[str]:
    """``ValidateIPAddressName``: a parseable IP in its canonical text form."""
    try:
        addr = ipaddress.ip_address(name)
    except ValueError:
        return [f"ParseAddr({c.go_value(name)}): unable to parse IP"]
    if str(addr) != name:
        return ["must be a canonical format IP address"]
    return []


def validate_ip_address(obj: dict[str, Any]) -> list[Cause]:
    """``spec.parentRef`` required, with a resource and a name; namespace a DNS label."""
    ref = _dict(obj.get("spec")).get("parentRef")
    if ref is None:
        return [c.required("spec.parentRef")]
    r = _dict(ref)
    causes: list[Cause] = []
    group = r.get("group")
    if group:
        causes += [c.invalid("spec.parentRef.group", c.go_value(group), e)
                   for e in meta.dns1123_subdomain_errors(str(group))]
    for key in ("resource", "name"):
        value = r.get(key)
        if not value:
            causes.append(c.required(f"spec.parentRef.{key}"))
        elif str(value) in (".", "..") or "/" in str(value) or "%" in str(value):
            causes.append(c.invalid(f"spec.parentRef.{key}", c.go_value(value),
                                    "may not contain '/' or '%' and may not be '.' or '..'"))
    namespace = r.get("namespace")
    if namespace:
        causes += [c.invalid("spec.parentRef.namespace", c.go_value(namespace), e)
                   for e in meta.dns1123_label_errors(str(namespace))]
    return causes


class IPAddressStrategy(TableStrategy):
    """networking.k8s.io/v1 IPAddresses: named by their IP; ``spec.parentRef`` fixed."""

    def name_errors(self, name: str) -> list[str]:
        return ip_address_name_errors(name)

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_ip_address(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        causes = validate_ip_address(new)
        new_ref = _dict(new.get("spec")).get("parentRef")
        if new_ref != _dict(old.get("spec")).get("parentRef"):
            causes.append(c.invalid("spec.parentRef", "<object>", c.IMMUTABLE))
        return causes


def validate_service_cidr(obj: dict[str, Any]) -> list[Cause]:
    """One or two valid CIDRs, of different IP families when two."""
    cidrs = _list(_dict(obj.get("spec")).get("cidrs"))
    if not 1 <= len(cidrs) <= 2:
        return [c.invalid("spec.cidrs", c.go_list(cidrs),
                          "at least one and up to two cidr are allowed")]
    causes: list[Cause] = []
    nets: list[Network] = []
    for i, cidr in enumerate(cidrs):
        net, err = parse_cidr(cidr)
        if net is None:
            causes.append(c.invalid(f"spec.cidrs[{i}]", c.go_value(cidr), err))
        elif str(net) != cidr:
            causes.append(c.invalid(f"spec.cidrs[{i}]", c.go_value(cidr),
                                    f"must be in canonical form ({str(net)!r})"))
        else:
            nets.append(net)
    if len(nets) == 2 and nets[0].version == nets[1].version:
        causes.append(c.invalid("spec.cidrs", c.go_list(cidrs),
                                "may specify no more than one IP for each IP family, i.e "
                                "192.168.0.0/24 and 2001:db8::/64"))
    return causes


class ServiceCIDRStrategy(TableStrategy):
    """networking.k8s.io/v1 ServiceCIDRs: cidrs fixed, except single- to dual-stack."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_service_cidr(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        causes = validate_service_cidr(new)
        new_cidrs = _list(_dict(new.get("spec")).get("cidrs"))
        old_cidrs = _list(_dict(old.get("spec")).get("cidrs"))
        upgrade = len(old_cidrs) == 1 and len(new_cidrs) == 2 and new_cidrs[0] == old_cidrs[0]
        if new_cidrs != old_cidrs and not upgrade:
            causes.append(c.invalid("spec.cidrs", c.go_list(new_cidrs), c.IMMUTABLE))
        return causes
