"""Front-proxy (request header) authentication (upstream ``request/headerrequest``).

An authenticating proxy — kube-aggregator in front of an extension server, or any front
proxy in front of kube-apiserver — presents a client certificate signed by
``--requestheader-client-ca-file`` and names the user it authenticated in headers:

* the user: the first non-empty value among ``--requestheader-username-headers``
  (kubeadm: ``X-Remote-User``); none authenticates no one (the next authenticator runs);
* the UID: the first non-empty value among ``--requestheader-uid-headers``;
* groups: every value of every ``--requestheader-group-headers`` header (one header per
  group, no comma splitting), in order;
* extra: every header starting with one of ``--requestheader-extra-headers-prefix``; the
  key is the rest of the name, percent-unescaped and lower-cased.

The certificate must be issued by the requestheader CA, and when
``--requestheader-allowed-names`` is set its CN must be one of them (upstream's message
``x509: subject with cn=… is not in the allowed list``). The headers are removed from
the request once read (:func:`strip_headers`), as upstream's
``ClearAuthenticationHeaders``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

from cryptography import x509
from cryptography.x509.oid import NameOID

from apiserver.api.user import UserInfo
from apiserver.auth.credentials import CredentialError
from apiserver.auth.x509 import issued_by

#: kubeadm's (and upstream's documented) defaults for the header flags.
DEFAULT_USERNAME_HEADERS = ("X-Remote-User",)
DEFAULT_GROUP_HEADERS = ("X-Remote-Group",)
DEFAULT_EXTRA_PREFIXES = ("X-Remote-Extra-",)


@dataclass(frozen=True)
class RequestHeaderOptions:
    """kube-apiserver's ``--requestheader-*`` flags (the header names also tell the
    aggregator which headers it sends the user in)."""

    client_ca_file: Path | None = None
    allowed_names: tuple[str, ...] = ()
    username_headers: tuple[str, ...] = DEFAULT_USERNAME_HEADERS
    uid_headers: tuple[str, ...] = ()
    group_headers: tuple[str, ...] = DEFAULT_GROUP_HEADERS
    extra_headers_prefix: tuple[str, ...] = DEFAULT_EXTRA_PREFIXES
    #: Filled from :attr:`client_ca_file` by :meth:`load`.
    ca_certificates: tuple[x509.Certificate, ...] = field(default=(), compare=False)

    def load(self) -> RequestHeaderOptions:
        """These options with the CA certificates read (raises OSError/ValueError)."""
        if self.client_ca_file is None:
            return self
        certs = tuple(x509.load_pem_x509_certificates(self.client_ca_file.read_bytes()))
        return replace(self, ca_certificates=certs)

    def header_names(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(exact lower-case header names, lower-case prefixes) that carry a user."""
        exact = tuple(h.lower() for h in (*self.username_headers, *self.uid_headers,
                                          *self.group_headers))
        return exact, tuple(p.lower() for p in self.extra_headers_prefix)


#: Certificates whose verdict is remembered.
_VERDICTS = 1024
_EVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Verdict:
    """What a certificate's parse and signature say, once: the signature (or parse) error,
    the CN error, and the validity window (checked on each use)."""

    signature: str | None
    name: str | None = None
    not_before: datetime = _EVER
    not_after: datetime = _EVER


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


class RequestHeaderAuthenticator:
    """Users named by a trusted front proxy's headers (see the module docstring)."""

    def __init__(self, options: RequestHeaderOptions) -> None:
        self.options = options
        self.exact, self.prefixes = options.header_names()
        lower = options.username_headers, options.uid_headers, options.group_headers
        self._username, self._uid, self._groups = (tuple(h.lower() for h in names)
                                                    for names in lower)
        #: The verdict on each certificate seen (its error, or None) and its validity:
        #: parsing and the signature check are paid once, the dates checked each time.
        self._verdicts: OrderedDict[bytes, _Verdict] = OrderedDict()

    def _verdict(self, der: bytes) -> _Verdict:
        cached = self._verdicts.get(der)
        if cached is not None:
            self._verdicts.move_to_end(der)
            return cached
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            verdict = _Verdict("x509: malformed certificate")
        else:
            allowed = self.options.allowed_names
            verdict = _Verdict(
                None if issued_by(cert, self.options.ca_certificates)
                else "x509: certificate signed by unknown authority",
                None if not allowed or _common_name(cert) in allowed
                else f"x509: subject with cn={_common_name(cert)} is not in the allowed list",
                cert.not_valid_before_utc, cert.not_valid_after_utc)
        self._verdicts[der] = verdict
        if len(self._verdicts) > _VERDICTS:
            self._verdicts.popitem(last=False)
        return verdict

    def verify_proxy(self, der: bytes) -> None:
        """Raise :class:`CredentialError` unless ``der`` is a front-proxy certificate."""
        verdict = self._verdict(der)
        if verdict.signature is not None:
            raise CredentialError(verdict.signature)
        # Checked on every request, as upstream's Verify: a kept-alive connection outlives
        # the handshake.
        now = datetime.now(UTC)
        if not verdict.not_before <= now <= verdict.not_after:
            raise CredentialError(
                "x509: certificate has expired or is not yet valid: current time "
                f"{now.strftime('%Y-%m-%dT%H:%M:%SZ')} is outside "
                f"{verdict.not_before.strftime('%Y-%m-%dT%H:%M:%SZ')} to "
                f"{verdict.not_after.strftime('%Y-%m-%dT%H:%M:%SZ')}")
        if verdict.name is not None:
            raise CredentialError(verdict.name)

    def authenticate(self, headers: Sequence[tuple[str, str]], der: bytes | None) \
            -> UserInfo | None:
        """The user the headers name, when a front-proxy certificate vouches for them.

        ``headers`` are (lower-case name, value) pairs. None when there is no certificate
        or no username header; raises :class:`CredentialError` when the certificate is not
        the front proxy's (the next authenticator may still accept it).
        """
        if der is None:
            return None
        self.verify_proxy(der)
        return self.user_of(headers)

    def user_of(self, headers: Sequence[tuple[str, str]]) -> UserInfo | None:
        """The user ``headers`` name (after :meth:`verify_proxy`); None without a name."""
        name = next((v for k, v in headers if k in self._username and v), "")
        if not name:
            return None
        uid = next((v for k, v in headers if k in self._uid and v), "")
        groups = tuple(v for k, v in headers if k in self._groups and v.strip())
        extra: dict[str, list[str]] = {}
        for key, value in headers:
            for prefix in self.prefixes:
                if key.startswith(prefix):
                    # Lower-cased (here by ASGI) before unescaping, as upstream.
                    extra.setdefault(unquote(key[len(prefix):]), []).append(value)
                    break
        return UserInfo(username=name, uid=uid, groups=groups,
                        extra={k: tuple(v) for k, v in extra.items()})


def strip_headers(pairs: list[tuple[bytes, bytes]], exact: Sequence[str],
                  prefixes: Sequence[str]) -> list[tuple[bytes, bytes]]:
    """``pairs`` (ASGI headers) without those named ``exact`` or starting with
    ``prefixes`` (all lower-case)."""
    names = {n.encode("latin-1") for n in exact}
    starts = tuple(p.encode("latin-1") for p in prefixes)
    return [(k, v) for k, v in pairs
            if k.lower() not in names and not (starts and k.lower().startswith(starts))]
