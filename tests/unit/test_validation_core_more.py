"""Endpoints, EndpointSlices, PodTemplates, ResourceQuotas, RuntimeClasses, Leases, Events."""

from __future__ import annotations

from typing import Any

from apiserver.api.resources import RESOURCES
from apiserver.registry.registry import strategy_for
from apiserver.registry.strategy import Strategy


def _strategy(group: str, plural: str) -> Strategy:
    return strategy_for(next(i for i in RESOURCES if i.group == group and i.plural == plural))


def found(causes: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in causes]


def endpoints(ip: str = "192.0.2.1", **port: Any) -> dict[str, Any]:
    return {"subsets": [{"addresses": [{"ip": ip}],
                         "ports": [{"port": 80, "protocol": "TCP", **port}]}]}


def test_endpoints() -> None:
    s = _strategy("", "endpoints")
    assert s.validate(endpoints()) == []
    assert found(s.validate(endpoints("not-an-ip"))) == [(
        "subsets[0].addresses[0].ip",
        'Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or '
        '2001:db8::ffff)')]
    assert found(s.validate(endpoints(port=0))) == [
        ("subsets[0].ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive")]
    assert found(s.validate(endpoints(protocol="ICMP"))) == [(
        "subsets[0].ports[0].protocol",
        'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"')]
    assert [f for f, _ in found(s.validate({"subsets": [{}]}))] == ["subsets[0]"]


def test_endpoint_slice() -> None:
    s = _strategy("discovery.k8s.io", "endpointslices")
    good = {"addressType": "IPv4", "endpoints": [{"addresses": ["10.1.2.3"]}],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    assert s.validate(good) == []
    assert found(s.validate({**good, "addressType": "Bogus"})) == [
        ("addressType", 'Unsupported value: "Bogus": supported values: "FQDN", "IPv4", "IPv6"')]
    assert found(s.validate({**good, "endpoints": [{"addresses": []}]})) == [
        ("endpoints[0].addresses", "Required value: must contain at least 1 address")]
    assert found(s.validate({**good, "endpoints": [{"addresses": ["::1"]}]})) == [
        ("endpoints[0].addresses[0]", 'Invalid value: "::1": must be a valid IPv4 address')]
    too_many = {**good, "endpoints": [{"addresses": ["10.0.0.1"] * 101}]}
    assert found(s.validate(too_many)) == [
        ("endpoints[0].addresses", "Too many: 101: must have at most 100 items")]


def test_pod_template() -> None:
    s = _strategy("", "podtemplates")
    spec = {"containers": [{"name": "c", "image": "nginx"}], "restartPolicy": "Always"}
    good = {"template": {"metadata": {"labels": {"app": "x"}}, "spec": spec}}
    assert s.validate(good) == []
    bad = {"template": {"spec": {**spec, "restartPolicy": "Bogus"}}}
    assert found(s.validate(bad)) == [(
        "template.spec.restartPolicy",
        'Unsupported value: "Bogus": supported values: "Always", "OnFailure", "Never"')]
    assert [f for f, _ in found(s.validate({"template": {"spec": {}}}))] == [
        "template.spec.containers"]
    assert [f for f, _ in found(s.validate({}))] == ["template"]


def test_resource_quota() -> None:
    s = _strategy("", "resourcequotas")
    assert s.validate({"spec": {"hard": {"pods": "10", "requests.cpu": "500m"}}}) == []
    assert found(s.validate({"spec": {"hard": {"requests.cpu": "-1"}}})) == [
        ("spec.hard[requests.cpu]", 'Invalid value: "-1": must be greater than or equal to 0')]
    assert [f for f, _ in found(s.validate({"spec": {"hard": {"pods": "ten"}}}))] == [
        "spec.hard[pods]"]


def test_runtime_class_and_lease() -> None:
    r = _strategy("node.k8s.io", "runtimeclasses")
    assert r.validate({"handler": "runc"}) == []
    assert found(r.validate({})) == [("handler", "Required value")]
    assert [f for f, _ in found(r.validate({"handler": "Bad_Handler"}))] == ["handler"]
    lease = _strategy("coordination.k8s.io", "leases")
    assert lease.validate({"spec": {"holderIdentity": "a", "leaseDurationSeconds": 40}}) == []
    assert found(lease.validate({"spec": {"leaseDurationSeconds": 0}})) == [
        ("spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0")]
    assert found(lease.validate({"spec": {"leaseTransitions": -1}})) == [
        ("spec.leaseTransitions", "Invalid value: -1: must be greater than or equal to 0")]


def test_event_v1() -> None:
    s = _strategy("events.k8s.io", "events")
    good = {"eventTime": "2025-01-01T00:00:00.000000Z", "reportingController": "example.com/c",
            "reportingInstance": "c-1", "action": "Scheduling", "reason": "Scheduled",
            "type": "Normal", "note": "ok"}
    assert s.validate(good) == []
    missing = {k: v for k, v in good.items() if k not in ("reportingController", "eventTime")}
    assert [f for f, _ in found(s.validate(missing))][:2] == ["eventTime", "reportingController"]
    assert found(s.validate({**good, "type": "Odd"})) == [
        ("type", 'Invalid value: "": has invalid value: Odd')]
    assert found(s.validate({**good, "deprecatedCount": 3})) == [
        ("count", 'Invalid value: "": needs to be unset')]
    assert found(s.validate({**good, "action": "a" * 129})) == [
        ("action", 'Invalid value: "": can have at most 128 characters')]


def test_endpoints_may_hold_loopback_addresses() -> None:
    """kubemu's pods and apiserver live on 127.0.0.0/8; their Endpoints must be valid."""
    from apiserver.registry.core_more import validate_endpoints

    obj = {"subsets": [{"addresses": [{"ip": "127.244.0.5"}],
                        "ports": [{"port": 80, "protocol": "TCP"}]}]}
    assert validate_endpoints(obj) == []
    obj = {"subsets": [{"addresses": [{"ip": "0.0.0.0"}],
                        "ports": [{"port": 80, "protocol": "TCP"}]}]}
    assert [c["field"] for c in validate_endpoints(obj)] == ["subsets[0].addresses[0].ip"]
