"""Signing an approved CertificateSigningRequest with the cluster CA, as upstream's local signer.

kube-controller-manager's ``csrsigning`` controllers (``pkg/controller/certificates/signer``)
sign for four signers, each checking the request first:

* ``kubernetes.io/kube-apiserver-client``: usages ``client auth``, optionally ``digital
  signature`` and ``key encipherment``, nothing else;
* ``kubernetes.io/kube-apiserver-client-kubelet``: organization ``system:nodes``, common
  name ``system:node:…``, no subject alternative names, usages ``digital signature``,
  ``client auth`` and optionally ``key encipherment``;
* ``kubernetes.io/kubelet-serving``: the same subject, a DNS or IP name and no other kind,
  usages ``digital signature``, ``server auth`` and optionally ``key encipherment``;
* ``kubernetes.io/legacy-unknown``: anything.

A request that fails its signer's check gets upstream's message as a ``Failed`` condition
(reason ``SignerValidationFailure``). The certificate (upstream's permissive policy) has
the request's subject, names and public key, the usages of ``spec.usages``, no other
extension of the request, and lasts ``spec.expirationSeconds`` (at least 10 minutes) or
the signing duration if shorter, never past the CA's own end; it is backdated 5 minutes
unless it lasts 8 hours or less (the backdating would eat much of it).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["SIGNERS", "Authority", "SignerValidationError", "check_request"]

CLIENT = "kubernetes.io/kube-apiserver-client"
KUBELET_CLIENT = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN = "kubernetes.io/legacy-unknown"
#: The signers this controller signs for.
SIGNERS = (KUBELET_SERVING, KUBELET_CLIENT, CLIENT, LEGACY_UNKNOWN)

BACKDATE = dt.timedelta(minutes=5)
SHORT = dt.timedelta(hours=8)
MIN_DURATION = dt.timedelta(minutes=10)

#: ``spec.usages`` → the key usage flags they set (cryptography's KeyUsage arguments).
_KEY_USAGES = {
    "signing": "digital_signature", "digital signature": "digital_signature",
    "content commitment": "content_commitment", "key encipherment": "key_encipherment",
    "key agreement": "key_agreement", "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign", "crl sign": "crl_sign", "encipher only": "encipher_only",
    "decipher only": "decipher_only",
}
#: ``spec.usages`` → extended key usages, in Go's ``x509.ExtKeyUsage`` order.
_EXT_USAGES = {
    "any": (0, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE),
    "server auth": (1, ExtendedKeyUsageOID.SERVER_AUTH),
    "client auth": (2, ExtendedKeyUsageOID.CLIENT_AUTH),
    "code signing": (3, ExtendedKeyUsageOID.CODE_SIGNING),
    "email protection": (4, ExtendedKeyUsageOID.EMAIL_PROTECTION),
    "s/mime": (4, ExtendedKeyUsageOID.EMAIL_PROTECTION),
    "ipsec end system": (5, x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5")),
    "ipsec tunnel": (6, x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6")),
    "ipsec user": (7, x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7")),
    "timestamping": (8, ExtendedKeyUsageOID.TIME_STAMPING),
    "ocsp signing": (9, ExtendedKeyUsageOID.OCSP_SIGNING),
    "microsoft sgc": (10, x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3")),
    "netscape sgc": (11, x509.ObjectIdentifier("2.16.840.1.113730.4.1")),
}


class SignerValidationError(ValueError):
    """The request is not one its signer signs (the message is upstream's)."""


def _names(request: x509.CertificateSigningRequest) -> x509.SubjectAlternativeName | None:
    try:
        return request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def _node_subject(request: x509.CertificateSigningRequest) -> tuple[list[str], str]:
    subject = request.subject
    organizations = [str(a.value) for a in subject.get_attributes_for_oid(
        NameOID.ORGANIZATION_NAME)]
    common = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return organizations, str(common[0].value) if common else ""


def check_request(signer: str, request: x509.CertificateSigningRequest,
                  usages: Sequence[str]) -> None:
    """Raise :class:`SignerValidationError` when ``signer`` does not sign this request."""
    wanted = set(usages)
    names = _names(request)
    kinds = {kind: list(names.get_values_for_type(kind)) if names is not None else []
             for kind in (x509.DNSName, x509.IPAddress, x509.RFC822Name,
                          x509.UniformResourceIdentifier)}
    if signer == CLIENT:
        for usage in usages:
            if usage not in ("digital signature", "key encipherment", "client auth"):
                raise SignerValidationError(f"invalid usage for client certificate: {usage}")
        if "client auth" not in wanted:
            raise SignerValidationError(
                "missing required usage for client certificate: client auth")
        return
    if signer not in (KUBELET_CLIENT, KUBELET_SERVING):
        return  # legacy-unknown: no restriction
    organizations, common = _node_subject(request)
    if organizations != ["system:nodes"]:
        raise SignerValidationError("subject organization is not system:nodes")
    auth = "client auth" if signer == KUBELET_CLIENT else "server auth"
    required = {"digital signature", "key encipherment", auth}
    usages_ok = wanted in (required, required - {"key encipherment"})
    mismatch = SignerValidationError(f"usages did not match [{' '.join(sorted(required))}]")
    not_node = SignerValidationError("subject common name does not begin with system:node:")
    if signer == KUBELET_SERVING:
        if not kinds[x509.DNSName] and not kinds[x509.IPAddress]:
            raise SignerValidationError("DNS or IP subjectAltName is required")
        if kinds[x509.RFC822Name]:
            raise SignerValidationError("Email subjectAltNames are not allowed")
        if kinds[x509.UniformResourceIdentifier]:
            raise SignerValidationError("URI subjectAltNames are not allowed")
        if not usages_ok:
            raise mismatch
        if not common.startswith("system:node:"):
            raise not_node
        return
    for kind, what in ((x509.DNSName, "DNS"), (x509.RFC822Name, "Email"),
                       (x509.IPAddress, "IP"), (x509.UniformResourceIdentifier, "URI")):
        if kinds[kind]:
            raise SignerValidationError(f"{what} subjectAltNames are not allowed")
    if not common.startswith("system:node:"):
        raise not_node
    if not usages_ok:
        raise mismatch


SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


class Authority:
    """The CA that signs: its certificate and key (PEM), and the longest duration it gives."""

    def __init__(self, cert_pem: bytes, key_pem: bytes, duration: dt.timedelta) -> None:
        self.cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
                          | ed25519.Ed25519PrivateKey):
            raise ValueError("the signing key must be an EC, RSA or Ed25519 private key")
        self.key: SigningKey = key
        self.duration = duration

    def lifetime(self, expiration_seconds: int | None) -> dt.timedelta:
        """How long a certificate lasts for ``spec.expirationSeconds`` (upstream's bounds)."""
        if expiration_seconds is None:
            return self.duration
        return max(MIN_DURATION, min(dt.timedelta(seconds=expiration_seconds), self.duration))

    def sign(self, request_pem: bytes, usages: Sequence[str], expiration_seconds: int | None,
             now: dt.datetime | None = None) -> bytes:
        """The PEM certificate for ``request_pem`` (raises ValueError for a request whose
        signature does not verify, an unknown usage, or an expired CA)."""
        request = x509.load_pem_x509_csr(request_pem)
        if not request.is_signature_valid:
            raise ValueError("unable to verify certificate request signature")
        unknown = [u for u in usages if u not in _KEY_USAGES and u not in _EXT_USAGES]
        if unknown:
            raise ValueError("unrecognized usage values: " + str(unknown))
        now = now or dt.datetime.now(dt.UTC)
        lifetime = self.lifetime(expiration_seconds)
        ca_end = self.cert.not_valid_after_utc
        if now >= ca_end:
            raise ValueError("the signer has expired")
        not_before = now - (BACKDATE if lifetime > SHORT else dt.timedelta())
        builder = (x509.CertificateBuilder().subject_name(request.subject)
                   .issuer_name(self.cert.subject).public_key(request.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before)
                   .not_valid_after(min(now + lifetime, ca_end))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), True))
        flags = {_KEY_USAGES[u] for u in usages if u in _KEY_USAGES}
        if flags:
            builder = builder.add_extension(x509.KeyUsage(**{
                name: name in flags for name in sorted(set(_KEY_USAGES.values()))}), True)
        extended = sorted({_EXT_USAGES[u] for u in usages if u in _EXT_USAGES})
        if extended:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([oid for _, oid in extended]), False)
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            self.key.public_key()), False)
        names = _names(request)
        if names is not None:
            builder = builder.add_extension(names, False)
        algorithm = None if isinstance(self.key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        cert = builder.sign(self.key, algorithm)
        return cert.public_bytes(serialization.Encoding.PEM)


def decode_request(spec_request: str) -> bytes:
    """``spec.request`` (base64 in JSON) as PEM bytes; ValueError when it is not one."""
    pem = base64.b64decode(spec_request, validate=True)
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    return pem
