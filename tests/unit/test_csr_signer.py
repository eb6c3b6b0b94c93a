"""The local signer of approved CertificateSigningRequests: upstream's per-signer checks and
the certificate it signs with the cluster CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from controllers.certificates.signer import (
    Authority,
    SignerValidationError,
    check_request,
)

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def _ca() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def _request(cn: str, orgs: tuple[str, ...] = (), dns: tuple[str, ...] = (),
             ips: tuple[str, ...] = (), emails: tuple[str, ...] = ()) \
        -> x509.CertificateSigningRequest:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    names += [x509.RFC822Name(e) for e in emails]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), False)
    return builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())


CLIENT = "kubernetes.io/kube-apiserver-client"
KUBELET_CLIENT = "kubernetes.io/kube-apiserver-client-kubelet"
SERVING = "kubernetes.io/kubelet-serving"


@pytest.mark.parametrize(("signer", "request_args", "usages", "message"), [
    (CLIENT, ("jane",), ["client auth", "server auth"],
     "invalid usage for client certificate: server auth"),
    (CLIENT, ("jane",), ["digital signature"],
     "missing required usage for client certificate: client auth"),
    (KUBELET_CLIENT, ("system:node:n1",), ["digital signature", "client auth"],
     "subject organization is not system:nodes"),
    (KUBELET_CLIENT, ("system:node:n1", ("system:nodes",), ("n1",)),
     ["digital signature", "client auth"], "DNS subjectAltNames are not allowed"),
    (KUBELET_CLIENT, ("n1", ("system:nodes",)), ["digital signature", "client auth"],
     "subject common name does not begin with system:node:"),
    (KUBELET_CLIENT, ("system:node:n1", ("system:nodes",)), ["client auth"],
     "usages did not match [client auth digital signature key encipherment]"),
    (SERVING, ("system:node:n1", ("system:nodes",)), ["digital signature", "server auth"],
     "DNS or IP subjectAltName is required"),
    (SERVING, ("system:node:n1", ("system:nodes",), (), ("10.0.0.1",), ("a@b.c",)),
     ["digital signature", "server auth"], "Email subjectAltNames are not allowed"),
    (SERVING, ("system:node:n1", ("system:nodes",), ("n1",)), ["server auth"],
     "usages did not match [digital signature key encipherment server auth]"),
])
def test_each_signer_refuses_with_upstreams_message(signer: str, request_args: tuple[Any, ...],
                                                    usages: list[str], message: str) -> None:
    with pytest.raises(SignerValidationError) as caught:
        check_request(signer, _request(*request_args), usages)
    assert str(caught.value) == message


def test_requests_each_signer_accepts() -> None:
    check_request(CLIENT, _request("jane"), ["client auth", "digital signature"])
    node = ("system:node:n1", ("system:nodes",))
    check_request(KUBELET_CLIENT, _request(*node), ["digital signature", "client auth"])
    check_request(KUBELET_CLIENT, _request(*node),
                  ["digital signature", "key encipherment", "client auth"])
    check_request(SERVING, _request(*node, ("n1",), ("10.0.0.1",)),
                  ["digital signature", "key encipherment", "server auth"])
    check_request("kubernetes.io/legacy-unknown", _request("anything"), ["any"])


def test_the_certificate_carries_the_request_and_its_usages() -> None:
    ca_pem, key_pem = _ca()
    authority = Authority(ca_pem, key_pem, dt.timedelta(days=365))
    request = _request("system:node:n1", ("system:nodes",), ("n1",), ("10.0.0.1",))
    pem = authority.sign(request.public_bytes(serialization.Encoding.PEM),
                         ["key encipherment", "server auth", "digital signature"], None, NOW)
    cert = x509.load_pem_x509_certificate(pem)
    ca = x509.load_pem_x509_certificate(ca_pem)
    cert.verify_directly_issued_by(ca)
    assert cert.subject == request.subject and cert.issuer == ca.subject
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["n1"]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    # No longer than the CA: the signing duration (a year) is cut at its end.
    assert cert.not_valid_before_utc == NOW - dt.timedelta(minutes=5)
    assert cert.not_valid_after_utc == ca.not_valid_after_utc


def test_the_lifetime_follows_expiration_seconds_within_bounds() -> None:
    ca_pem, key_pem = _ca()
    authority = Authority(ca_pem, key_pem, dt.timedelta(days=2))
    assert authority.lifetime(None) == dt.timedelta(days=2)
    assert authority.lifetime(60) == dt.timedelta(minutes=10)
    assert authority.lifetime(3600) == dt.timedelta(hours=1)
    assert authority.lifetime(10 * 86400) == dt.timedelta(days=2)
    request = _request("jane").public_bytes(serialization.Encoding.PEM)
    short = x509.load_pem_x509_certificate(authority.sign(request, ["client auth"], 3600, NOW))
    # A short certificate is not backdated.
    assert short.not_valid_before_utc == NOW
    assert short.not_valid_after_utc == NOW + dt.timedelta(hours=1)


class _Store:
    def __init__(self, *objs: dict[str, Any]) -> None:
        self.objs = {o["metadata"]["name"]: o for o in objs}

    def get(self, _namespace: object, name: str) -> dict[str, Any] | None:
        return self.objs.get(name)


class _Writer:
    def __init__(self) -> None:
        self.written: list[dict[str, Any]] = []

    async def update_status(self, _info: object, _ns: object,
                            obj: dict[str, Any]) -> dict[str, Any]:
        self.written.append(obj)
        return obj


def _csr(name: str, signer: str, usages: list[str], approved: bool,
         request: x509.CertificateSigningRequest) -> dict[str, Any]:
    import base64

    pem = request.public_bytes(serialization.Encoding.PEM)
    status = {"conditions": [{"type": "Approved", "status": "True"}]} if approved else {}
    return {"metadata": {"name": name},
            "spec": {"request": base64.b64encode(pem).decode(), "signerName": signer,
                     "usages": usages},
            "status": status}


def test_the_controller_signs_approved_requests_and_fails_invalid_ones() -> None:
    import asyncio
    import base64

    from controllers.certificates.signing import CSRSigningController

    ca_pem, key_pem = _ca()
    good = _csr("good", CLIENT, ["client auth"], True, _request("jane"))
    pending = _csr("pending", CLIENT, ["client auth"], False, _request("joe"))
    bad = _csr("bad", CLIENT, ["server auth"], True, _request("eve"))
    other = _csr("other", "example.com/signer", ["client auth"], True, _request("x"))
    writer = _Writer()
    controller = CSRSigningController(
        _Store(good, pending, bad, other), writer,  # type: ignore[arg-type]
        Authority(ca_pem, key_pem, dt.timedelta(days=1)))
    for key in ("good", "pending", "bad", "other"):
        asyncio.run(controller.sync(key))
    signed, failed = writer.written
    cert = x509.load_pem_x509_certificate(base64.b64decode(signed["status"]["certificate"]))
    assert signed["metadata"]["name"] == "good" and cert.subject == _name_of(signed)
    condition = failed["status"]["conditions"][-1]
    assert failed["metadata"]["name"] == "bad"
    assert (condition["type"], condition["status"], condition["reason"], condition["message"]) \
        == ("Failed", "True", "SignerValidationFailure",
            "invalid usage for client certificate: server auth")


def _name_of(csr: dict[str, Any]) -> x509.Name:
    import base64

    return x509.load_pem_x509_csr(base64.b64decode(csr["spec"]["request"])).subject
