"""NetworkPolicies, IPAddresses and ServiceCIDRs: upstream paths and messages."""

from __future__ import annotations

from typing import Any

from apiserver.api.resources import RESOURCES
from apiserver.registry.registry import strategy_for
from apiserver.registry.strategy import Strategy


def _strategy(plural: str) -> Strategy:
    return strategy_for(next(i for i in RESOURCES
                             if i.group == "networking.k8s.io" and i.plural == plural))


def found(causes: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in causes]


def netpol(**spec: Any) -> dict[str, Any]:
    spec.setdefault("podSelector", {})
    return {"metadata": {"name": "n"}, "spec": spec}


def test_network_policy() -> None:
    s = _strategy("networkpolicies")
    assert s.validate(netpol(policyTypes=["Ingress", "Egress"])) == []
    assert found(s.validate(netpol(policyTypes=["Bogus"]))) == [
        ("spec.policyTypes[0]",
         'Unsupported value: "Bogus": supported values: "Egress", "Ingress"')]
    ports = [{"protocol": "ICMP", "port": 80, "endPort": 79}, {"port": "http", "endPort": 90}]
    assert found(s.validate(netpol(ingress=[{"ports": ports}]))) == [
        ("spec.ingress[0].ports[0].protocol",
         'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'),
        ("spec.ingress[0].ports[0].endPort",
         "Invalid value: 79: must be greater than or equal to `port`"),
        ("spec.ingress[0].ports[1].endPort",
         "Invalid value: 90: may not be specified when `port` is non-numeric")]
    peers = [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.1.0.0/24", "10.0.1.0/24"]}},
             {}, {"ipBlock": {"cidr": "bad"}}]
    assert found(s.validate(netpol(egress=[{"to": peers}]))) == [
        ("spec.egress[0].to[0].ipBlock.except[0]",
         'Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`'),
        ("spec.egress[0].to[1]", "Required value: must specify a peer"),
        ("spec.egress[0].to[2].ipBlock.cidr", 'Invalid value: "bad": invalid CIDR address: bad')]


def test_ip_address() -> None:
    s = _strategy("ipaddresses")
    ref = {"group": "", "resource": "services", "namespace": "default", "name": "x"}
    obj = {"metadata": {"name": "10.0.0.1"}, "spec": {"parentRef": ref}}
    assert s.validate(obj) == []
    assert s.name_errors("10.0.0.1") == [] and s.name_errors("2001:db8::1") == []
    assert s.name_errors("2001:DB8::1") == ["must be a canonical format IP address"]
    assert s.name_errors("nope") != []
    assert found(s.validate({"spec": {}})) == [("spec.parentRef", "Required value")]
    assert found(s.validate({"spec": {"parentRef": {}}})) == [
        ("spec.parentRef.resource", "Required value"), ("spec.parentRef.name", "Required value")]
    moved = {"metadata": {"name": "10.0.0.1"}, "spec": {"parentRef": {**ref, "name": "y"}}}
    assert [f for f, _ in found(s.validate_update(moved, obj))] == ["spec.parentRef"]


def test_service_cidr() -> None:
    s = _strategy("servicecidrs")
    one = {"spec": {"cidrs": ["10.0.0.0/24"]}}
    dual = {"spec": {"cidrs": ["10.0.0.0/24", "fd00::/108"]}}
    assert s.validate(one) == [] and s.validate(dual) == []
    assert found(s.validate({"spec": {"cidrs": ["bogus"]}})) == [
        ("spec.cidrs[0]", 'Invalid value: "bogus": invalid CIDR address: bogus')]
    assert [f for f, _ in found(s.validate({"spec": {"cidrs": []}}))] == ["spec.cidrs"]
    same = {"spec": {"cidrs": ["10.0.0.0/24", "10.1.0.0/24"]}}
    assert [f for f, _ in found(s.validate(same))] == ["spec.cidrs"]
    assert s.validate_update(dual, one) == []
    assert [f for f, _ in found(s.validate_update(one, dual))] == ["spec.cidrs"]
