"""X.509 client-certificate authentication (upstream ``request/x509``).

The TLS layer (:mod:`apiserver.auth.tls`) has already verified the client's chain
against ``--client-ca-file`` during the handshake; what reaches this module is the
verified leaf certificate in DER form. :class:`X509Authenticator` maps it as
upstream's ``CommonNameUserConversion``: username = the subject's CN (an empty CN
authenticates no one), groups = every O value, UID = the subject's UID attribute
(if any), and the extra ``authentication.kubernetes.io/credential-id`` =
``X509SHA256=<hex sha256 of the DER>``. Results are cached per certificate (a
connection presents the same one for each of its requests).

When the handshake also trusts the front-proxy CA (``--requestheader-client-ca-file``),
the authenticator is given the ``--client-ca-file`` certificates (``issuers``) and
accepts only leaves one of them issued, as upstream verifies each against its own pool.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from apiserver.api.user import UserInfo
from apiserver.auth.credentials import CredentialError

CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
#: OID of the subject UID attribute (``0.9.2342.19200300.100.1.1``).
_UID_OID = NameOID.USER_ID
_CACHE_SIZE = 1024


def user_for_certificate(cert: x509.Certificate, der: bytes) -> UserInfo | None:
    """The user a (verified) client certificate names; None when its CN is empty."""
    subject = cert.subject
    common = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name = str(common[0].value) if common else ""
    if not name:
        return None
    groups = tuple(str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    uids = subject.get_attributes_for_oid(_UID_OID)
    fingerprint = hashlib.sha256(der).hexdigest()
    return UserInfo(username=name, uid=str(uids[0].value) if uids else "", groups=groups,
                    extra={CREDENTIAL_ID: (f"X509SHA256={fingerprint}",)})


class X509Authenticator:
    """Users of verified client certificates, with a small per-certificate cache."""

    def __init__(self, issuers: Sequence[x509.Certificate] = ()) -> None:
        self._cache: OrderedDict[bytes, tuple[UserInfo | None, datetime]] = OrderedDict()
        self.issuers = tuple(issuers)

    def authenticate_certificate(self, der: bytes, now: datetime | None = None) \
            -> UserInfo | None:
        """The user of the leaf certificate ``der``; None if its CN is empty.

        Raises :class:`CredentialError` once the certificate has expired: the handshake
        checked validity already, but a keep-alive connection can outlive it.
        """
        cached = self._cache.get(der)
        if cached is None:
            cert = x509.load_der_x509_certificate(der)
            if self.issuers and not issued_by(cert, self.issuers):
                # Verified by the handshake against the front-proxy CA only.
                raise CredentialError("x509: certificate signed by unknown authority")
            cached = (user_for_certificate(cert, der), cert.not_valid_after_utc)
            self._cache[der] = cached
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        user, not_after = cached
        if (now or datetime.now(UTC)) > not_after:
            raise CredentialError("x509: certificate has expired or is not yet valid")
        return user


def issued_by(cert: x509.Certificate, cas: Sequence[x509.Certificate]) -> bool:
    """Whether one of ``cas`` signed ``cert`` directly."""
    for ca in cas:
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False
