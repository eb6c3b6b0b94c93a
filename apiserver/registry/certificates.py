"""CertificateSigningRequests (certificates.k8s.io/v1).

Counterpart of ``ValidateCertificateSigningRequestCreate``/``Update``
(``pkg/apis/certificates/validation``): the request must be a PEM ``CERTIFICATE REQUEST``
that parses and whose signature verifies, the signer name must be a qualified
``<domain>/<path>``, usages are required and known, ``expirationSeconds`` ≥ 600. The spec
is immutable on update.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from cryptography import x509

from apiserver.api import meta
from apiserver.api.user import REQUEST_USER
from apiserver.registry import common as c
from apiserver.registry.service.fielderrors import duplicate
from apiserver.registry.strategy import Cause
from apiserver.registry.table_strategy import TableStrategy

USAGES = tuple(sorted((
    "signing", "digital signature", "content commitment", "key encipherment",
    "key agreement", "data encipherment", "cert sign", "crl sign", "encipher only",
    "decipher only", "any", "server auth", "client auth", "code signing", "email protection",
    "s/mime", "ipsec end system", "ipsec tunnel", "ipsec user", "timestamping",
    "ocsp signing", "microsoft sgc", "netscape sgc")))
_PEM = re.compile(rb"-----BEGIN ([^-]+)-----\r?\n(.*?)-----END \1-----", re.S)
_PEM_TYPE = "PEM block type must be CERTIFICATE REQUEST"


def go_bytes(data: bytes) -> str:
    """A ``[]byte`` as Go's ``%#v`` prints it."""
    if not data:
        return "[]byte(nil)"
    return "[]byte{" + ", ".join(f"0x{b:x}" for b in data) + "}"


def csr_error(request: Any) -> tuple[bytes, str]:
    """The decoded request bytes and why they are not a valid CSR ("" when valid)."""
    try:
        data = base64.b64decode(str(request), validate=True)
    except (binascii.Error, ValueError):
        return str(request).encode(), "must be base64 encoded"
    block = _PEM.search(data)
    if block is None or block.group(1) != b"CERTIFICATE REQUEST":
        return data, _PEM_TYPE
    try:
        csr = x509.load_pem_x509_csr(block.group(0))
    except ValueError as exc:
        return data, f"x509: {exc}"
    if not csr.is_signature_valid:
        return data, "x509: signature verification failed"
    return data, ""


def signer_name_errors(name: str) -> list[str]:
    """``ValidateSignerName``: ``<fully qualified domain>/<path>``."""
    domain, sep, path = name.partition("/")
    if not sep:
        return ["must be a fully qualified domain and path of the form "
                "'example.com/signer-name'"]
    errs = meta.dns1123_subdomain_errors(domain)
    if not errs and len(domain.split(".")) < 2:
        errs.append("should be a domain with at least two segments separated by dots")
    if not path:
        errs.append("validating path part of signerName: must not be empty")
    elif "/" in path.strip("/") or len(path) > 571:
        errs.append("validating path part of signerName: must be a valid path segment")
    return errs


def validate_csr(obj: dict[str, Any]) -> list[Cause]:
    """Request, signer name, usages and expiration of a CSR."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    causes: list[Cause] = []
    request = spec.get("request")
    if not request:
        causes.append(c.required("spec.request"))
    else:
        data, err = csr_error(request)
        if err:
            causes.append(c.invalid("spec.request", go_bytes(data), err))
    signer = spec.get("signerName")
    if not signer:
        causes.append(c.required("spec.signerName"))
    else:
        causes += [c.invalid("spec.signerName", c.go_value(signer), e)
                   for e in signer_name_errors(str(signer))]
    expiration = spec.get("expirationSeconds")
    if c.is_int(expiration) and expiration < 600:
        causes.append(c.invalid("spec.expirationSeconds", c.go_value(expiration),
                                "may not specify a duration less than 600 seconds (10 minutes)"))
    usages = spec.get("usages") if isinstance(spec.get("usages"), list) else []
    assert isinstance(usages, list)
    if not usages:
        causes.append(c.required("spec.usages"))
    seen: set[str] = set()
    for i, usage in enumerate(usages):
        if usage not in USAGES:
            causes.append(c.not_supported(f"spec.usages[{i}]", usage, USAGES))
        elif usage in seen:
            causes.append(duplicate(f"spec.usages[{i}]", c.go_value(usage)))
        seen.add(str(usage))
    return causes


class CertificateSigningRequestStrategy(TableStrategy):
    """certificates.k8s.io/v1 CertificateSigningRequests: the spec is fixed once created."""

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        """As upstream: who asks is the requester (``spec.username``, ``uid``, ``groups``,
        ``extra``), whatever the client wrote, and a request starts without any condition
        (so none is created pre-approved)."""
        super().prepare_for_create(obj)
        spec = obj.get("spec")
        if isinstance(spec, dict):
            for field in ("username", "uid", "groups", "extra"):
                spec.pop(field, None)
            spec.update(REQUEST_USER.get().to_api())
        obj["status"] = {}

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_csr(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        causes = validate_csr(new)
        if new.get("spec") != old.get("spec"):
            causes.append(c.invalid("spec", "<object>", c.IMMUTABLE))
        return causes
