"""APIServices, ControllerRevisions, CSRs, FlowSchemas and PriorityLevelConfigurations."""

from __future__ import annotations

import base64
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apiserver.api.resources import RESOURCES
from apiserver.registry.registry import strategy_for
from apiserver.registry.strategy import Strategy


def _strategy(group: str, plural: str) -> Strategy:
    return strategy_for(next(i for i in RESOURCES if i.group == group and i.plural == plural))


def found(causes: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in causes]


def fields(causes: list[dict[str, str]]) -> list[str]:
    return [c["field"] for c in causes]


def test_api_service() -> None:
    s = _strategy("apiregistration.k8s.io", "apiservices")
    spec: dict[str, Any] = {"group": "g.example.com", "version": "v1", "groupPriorityMinimum": 1000,
                            "versionPriority": 15,
                            "service": {"namespace": "default", "name": "api", "port": 443},
                            "insecureSkipTLSVerify": True}
    good = {"metadata": {"name": "v1.g.example.com"}, "spec": spec}
    assert s.validate(good) == []
    assert found(s.validate({**good, "metadata": {"name": "v2.g.example.com"}})) == [
        ("metadata.name", 'Invalid value: "v2.g.example.com": must be '
         '`spec.version+"."+spec.group`: "v1.g.example.com"')]
    low = {**good, "spec": {**spec, "groupPriorityMinimum": 0, "versionPriority": 1001}}
    assert found(s.validate(low)) == [
        ("spec.groupPriorityMinimum", "Invalid value: 0: must be positive and less than 20000"),
        ("spec.versionPriority", "Invalid value: 1001: must be positive and less than 1000")]
    local = {**good, "spec": {**spec, "service": None}}
    assert fields(s.validate(local)) == ["spec.insecureSkipTLSVerify"]
    both = {**good, "spec": {**spec, "caBundle": "AAAA"}}
    assert found(s.validate(both)) == [
        ("spec.insecureSkipTLSVerify", "Invalid value: true: may not be true if caBundle is "
         "present")]


def test_controller_revision() -> None:
    s = _strategy("apps", "controllerrevisions")
    good = {"metadata": {"name": "r"}, "data": {"a": 1}, "revision": 1}
    assert s.validate(good) == []
    assert found(s.validate({"revision": -1})) == [
        ("data", "Required value: data is mandatory"),
        ("revision", "Invalid value: -1: must be greater than or equal to 0")]
    assert fields(s.validate_update({**good, "data": {"a": 2}}, good)) == ["data"]


def _csr_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "u")])).sign(key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def test_csr() -> None:
    s = _strategy("certificates.k8s.io", "certificatesigningrequests")
    spec = {"request": _csr_pem(), "signerName": "example.com/x", "usages": ["client auth"],
            "expirationSeconds": 3600}
    assert s.validate({"spec": spec}) == []
    assert found(s.validate({"spec": {**spec, "signerName": None}})) == [
        ("spec.signerName", "Required value")]
    cert = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n")
    (bad,) = s.validate({"spec": {**spec, "request": cert.decode()}})
    assert bad["field"] == "spec.request"
    assert bad["message"].startswith("Invalid value: []byte{0x2d, 0x2d")
    assert bad["message"].endswith(": PEM block type must be CERTIFICATE REQUEST")
    causes = s.validate({"spec": {**spec, "usages": ["bogus", "client auth", "client auth"],
                                  "expirationSeconds": 60, "signerName": "nodomain"}})
    assert fields(causes) == ["spec.signerName", "spec.expirationSeconds", "spec.usages[0]",
                              "spec.usages[2]"]


def test_flow_schema() -> None:
    s = _strategy("flowcontrol.apiserver.k8s.io", "flowschemas")
    rule = {"subjects": [{"kind": "Group", "group": {"name": "system:authenticated"}}],
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                               "namespaces": ["*"]}]}
    spec = {"priorityLevelConfiguration": {"name": "global-default"},
            "matchingPrecedence": 1000, "distinguisherMethod": {"type": "ByUser"},
            "rules": [rule]}
    assert s.validate({"spec": spec}) == []
    assert found(s.validate({"spec": {**spec, "priorityLevelConfiguration": {}}})) == [
        ("spec.priorityLevelConfiguration.name", "Required value: must reference a priority "
         "level")]
    assert found(s.validate({"spec": {**spec, "matchingPrecedence": 10001}})) == [
        ("spec.matchingPrecedence", "Invalid value: 10001: must not be greater than 10000")]
    bad_rule = {"subjects": [{"kind": "User", "user": {}}],
                "resourceRules": [{"verbs": ["get", "*"], "apiGroups": [], "resources": ["a"]}]}
    assert fields(s.validate({"spec": {**spec, "rules": [bad_rule, {"subjects": []}]}})) == [
        "spec.rules[0].subjects[0].user.name", "spec.rules[0].resourceRules[0].verbs",
        "spec.rules[0].resourceRules[0].apiGroups", "spec.rules[0].resourceRules[0].namespaces",
        "spec.rules[1].subjects", "spec.rules[1]"]


def test_priority_level() -> None:
    s = _strategy("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations")
    limited = {"nominalConcurrencyShares": 30, "lendablePercent": 0,
               "limitResponse": {"type": "Queue",
                                 "queuing": {"queues": 64, "handSize": 8, "queueLengthLimit": 50}}}
    assert s.validate({"spec": {"type": "Limited", "limited": limited}}) == []
    assert s.validate({"spec": {"type": "Exempt", "exempt": {}}}) == []
    assert found(s.validate({"spec": {"type": "Bogus"}})) == [
        ("spec.type", 'Unsupported value: "Bogus": supported values: "Exempt", "Limited"')]
    assert fields(s.validate({"spec": {"type": "Limited"}})) == ["spec.limited"]
    assert fields(s.validate({"spec": {"type": "Exempt", "limited": limited}})) == [
        "spec.limited"]
    bad = {"nominalConcurrencyShares": -1, "lendablePercent": 101,
           "limitResponse": {"type": "Queue", "queuing": {"queues": 2, "handSize": 3}}}
    assert fields(s.validate({"spec": {"type": "Limited", "limited": bad}})) == [
        "spec.limited.nominalConcurrencyShares", "spec.limited.lendablePercent",
        "spec.limited.limitResponse.queuing.handSize"]
    reject = {"limitResponse": {"type": "Reject", "queuing": {}}}
    assert fields(s.validate({"spec": {"type": "Limited", "limited": reject}})) == [
        "spec.limited.limitResponse.queuing"]
