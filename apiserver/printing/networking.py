"""Tables of the networking kinds: Ingresses, IngressClasses, NetworkPolicies,
ServiceCIDRs and IPAddresses (upstream ``printers.go``).

Upstream's IPAddress table declares two columns (Name, ParentRef) but prints a
third cell (the age); kubectl ignores cells beyond the columns. Kept as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apiserver.printing.cells import age, format_label_selector, lst, m, name, s
from apiserver.printing.spec import AGE, NAME, Col, Doc, KindTable

__all__ = ["TABLES", "ingress_address", "ingress_hosts"]

_MAX_HOSTS = 3


def ingress_hosts(rules: Any) -> str:
    """Up to three rule hosts, ``+ N more...`` (N counts all further rules), ``*`` if none."""
    rules = lst(rules)
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == _MAX_HOSTS:
            more = True
        host = s(m(rule).get("host"))
        if not more and host:
            hosts.append(host)
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - _MAX_HOSTS} more..." if more else text


def ingress_address(status: Any) -> str:
    """The load-balancer IPs (or hostnames) of an Ingress status, sorted, unique, comma-joined."""
    found: set[str] = set()
    for entry in lst(m(m(status).get("loadBalancer")).get("ingress")):
        entry = m(entry)
        address = s(entry.get("ip")) or s(entry.get("hostname"))
        if address:
            found.add(address)
    return ",".join(sorted(found))


def print_ingress(ing: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Class (``<none>`` if unset), Hosts, Address, Ports (``80`` or ``80, 443``), Age."""
    spec = m(ing.get("spec"))
    class_name = spec.get("ingressClassName")
    return [
        name(ing),
        class_name if isinstance(class_name, str) else "<none>",
        ingress_hosts(spec.get("rules")),
        ingress_address(ing.get("status")),
        "80, 443" if lst(spec.get("tls")) else "80",
        age(ing, now),
    ]


def print_ingressclass(ic: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Controller, Parameters (``Kind[.apiGroup]/name`` or ``<none>``), Age."""
    spec = m(ic.get("spec"))
    params = spec.get("parameters")
    shown = "<none>"
    if isinstance(params, Mapping):
        shown = s(params.get("kind"))
        if isinstance(params.get("apiGroup"), str):
            shown += "." + params["apiGroup"]
        shown += "/" + s(params.get("name"))
    return [name(ic), s(spec.get("controller")), shown, age(ic, now)]


def print_networkpolicy(np: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Pod-Selector (``<none>`` for the empty selector), Age."""
    selector = m(m(np.get("spec")).get("podSelector"))
    return [name(np), format_label_selector(selector), age(np, now)]


def print_servicecidr(cidr: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, CIDRs (comma-joined), Age."""
    cidrs = ",".join(s(c) for c in lst(m(cidr.get("spec")).get("cidrs")))
    return [name(cidr), cidrs, age(cidr, now)]


def print_ipaddress(ip: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, ParentRef (``resource[.group][/namespace]/name``, lower-cased group
    resource; ``<none>``), and the age as an undeclared third cell."""
    ref = m(ip.get("spec")).get("parentRef")
    parent = "<none>"
    if isinstance(ref, Mapping):
        resource, group = s(ref.get("resource")), s(ref.get("group"))
        parent = (f"{resource}.{group}" if group else resource).lower()
        if s(ref.get("namespace")):
            parent += "/" + s(ref.get("namespace"))
        parent += "/" + s(ref.get("name"))
    return [name(ip), parent, age(ip, now)]


_NET = "networking.k8s.io"

TABLES = (
    KindTable(_NET, "Ingress", (
        NAME,
        Col("Class", "The name of the IngressClass resource that should be used for "
            "additional configuration"),
        Col("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
        Col("Address", "Address is a list containing ingress points for the load-balancer"),
        Col("Ports", "Ports of TLS configurations that open"),
        AGE,
    ), print_ingress),
    KindTable(_NET, "IngressClass", (
        NAME,
        Col("Controller", "Controller that is responsible for handling this class"),
        Col("Parameters", "A reference to a resource with additional parameters"),
        AGE,
    ), print_ingressclass),
    KindTable(_NET, "NetworkPolicy", (
        NAME, Col("Pod-Selector", Doc("networking.v1.NetworkPolicySpec", "podSelector")), AGE,
    ), print_networkpolicy),
    KindTable(_NET, "ServiceCIDR", (
        NAME, Col("CIDRs", Doc("networking.v1beta1.ServiceCIDRSpec", "cidrs")), AGE,
    ), print_servicecidr),
    KindTable(_NET, "IPAddress", (
        NAME, Col("ParentRef", Doc("networking.v1beta1.IPAddressSpec", "parentRef")),
    ), print_ipaddress),
)
