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
import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from cryptography import x509

from apiserver.api import errors, meta
from apiserver.api.resources import served
from apiserver.api.user import REQUEST_USER, UserInfo
from apiserver.registry import common as c
from apiserver.registry.service.fielderrors import duplicate
from apiserver.registry.strategy import Cause
from apiserver.registry.table_strategy import TableStrategy

CSRS = served("certificates.k8s.io", "v1", "certificatesigningrequests")

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


#: The signer of v1beta1 requests that named none; v1 refuses new requests for it.
LEGACY_SIGNER = "kubernetes.io/legacy-unknown"


def validate_csr(obj: dict[str, Any], allow_legacy_signer: bool = False) -> list[Cause]:
    """Request, signer name, usages and expiration of a CSR (``allow_legacy_signer``: an
    update of a request stored with :data:`LEGACY_SIGNER`)."""
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
        if signer == LEGACY_SIGNER and not allow_legacy_signer:
            causes.append(c.invalid("spec.signerName", c.go_value(signer),
                                    "the legacy signerName is not allowed via this API version"))
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


#: Whether a user may ``verb`` (``approve``, ``sign``) requests of a signer; None: no
#: authorizer (every such write is allowed, as without the admission plugins).
SignerPermission = Callable[[UserInfo, str, str], bool]


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _conditions(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [cond for cond in (obj.get("status") or {}).get("conditions") or []
            if isinstance(cond, dict)]


def _stamp(conditions: list[dict[str, Any]], old: list[dict[str, Any]]) -> None:
    """Upstream ``populateConditionTimestamps``: a condition's ``lastUpdateTime`` defaults
    to now, its ``lastTransitionTime`` to the old one of the same type and status, else now."""
    now = _now()
    for cond in conditions:
        cond.setdefault("lastUpdateTime", now)
        if not cond.get("lastTransitionTime"):
            same = next((o for o in old if o.get("type") == cond.get("type")
                         and o.get("status") == cond.get("status")
                         and o.get("lastTransitionTime")), None)
            cond["lastTransitionTime"] = same["lastTransitionTime"] if same else now


class CertificateSigningRequestStrategy(TableStrategy):
    """certificates.k8s.io/v1 CertificateSigningRequests: the spec is fixed once created;
    ``/approval`` changes only the conditions, ``/status`` everything but the spec and the
    Approved/Denied conditions (upstream's three strategies). With an authorizer,
    :attr:`signer_permission` makes an approval need ``approve`` and a new certificate need
    ``sign`` on the request's signer (upstream's CertificateApproval and CertificateSigning
    admission plugins)."""

    signer_permission: SignerPermission | None = None

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

    def prepare_for_subresource_update(self, subresource: str, new: dict[str, Any],
                                       old: dict[str, Any]) -> None:
        if subresource not in ("approval", "status"):
            super().prepare_for_subresource_update(subresource, new, old)
            return
        old_status = dict(old.get("status") or {})
        old_conditions = _conditions(old)
        new_conditions = _conditions(new)
        signer = str((old.get("spec") or {}).get("signerName") or "")
        self.prepare_for_status_update(new, old)  # the spec and metadata as on /status
        if subresource == "approval":
            self._check_signer(old, "approve", signer)
            status = {**old_status, "conditions": new_conditions}
        else:
            approval = ("Approved", "Denied")
            status = {**dict(new.get("status") or {}), "conditions": [
                *(cond for cond in new_conditions if cond.get("type") not in approval),
                *(cond for cond in old_conditions if cond.get("type") in approval)]}
            if status.get("certificate") != old_status.get("certificate"):
                self._check_signer(old, "sign", signer)
        if not status["conditions"]:
            del status["conditions"]
        new["status"] = status
        _stamp(_conditions(new), old_conditions)

    def _check_signer(self, csr: dict[str, Any], verb: str, signer: str) -> None:
        allowed = self.signer_permission
        if allowed is not None and not allowed(REQUEST_USER.get(), verb, signer):
            name = str((csr.get("metadata") or {}).get("name") or "")
            raise errors.forbidden(CSRS, name, f"user not permitted to {verb} requests with "
                                               f"signerName {c.go_value(signer)}")

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_csr(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        legacy = (old.get("spec") or {}).get("signerName") == LEGACY_SIGNER
        causes = validate_csr(new, allow_legacy_signer=legacy)
        if new.get("spec") != old.get("spec"):
            causes.append(c.invalid("spec", "<object>", c.IMMUTABLE))
        return causes
