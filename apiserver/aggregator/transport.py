"""TLS to extension servers and the headers that name the user (upstream
``remote.BuildTransportConfig`` and client-go's ``SetAuthProxyHeaders``).

Contract:

* :meth:`Transports.client` — one pooled ``httpx.AsyncClient`` per (caBundle,
  insecureSkipTLSVerify): it verifies the server against ``spec.caBundle`` (the server
  name is given per request: ``<service>.<namespace>.svc``) unless insecure, and presents
  ``--proxy-client-cert-file``/``--proxy-client-key-file``. A caBundle that holds no
  certificate raises :class:`TransportError` (the caller answers 503).
* :func:`forwarded_headers` — the client's headers without hop-by-hop ones, credentials
  (``Authorization``, ``Impersonate-*``) and any user headers the client sent, plus the
  requester in ``--requestheader-username-headers`` / ``-group-headers`` (one header per
  group) / ``-extra-headers-prefix`` (key escaped as upstream).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from apiserver.api.user import UserInfo
from apiserver.auth.requestheader import RequestHeaderOptions
from apiserver.handlers.connect.proxy import HOP_BY_HOP

#: Seconds to connect to an extension server (the rest is bounded by the request chain).
CONNECT_TIMEOUT = 10.0
#: RFC 7230 ``tchar``s but ``%`` (which escapes the rest), as client-go's
#: ``legalHeaderByte``.
_LEGAL = frozenset(b"!#$&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                   b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class TransportError(Exception):
    """The APIService's TLS settings cannot make a transport (message for the client)."""


@dataclass(frozen=True)
class UserHeaders:
    """The header names the user goes in (the first of each ``--requestheader-*`` flag)
    and every name that could carry a user (removed from what the client sent)."""

    username: str = "X-Remote-User"
    uid: str = ""
    group: str = "X-Remote-Group"
    extra_prefix: str = "X-Remote-Extra-"
    #: Lower-case names and prefixes to strip from the client's headers.
    strip_exact: tuple[str, ...] = ("x-remote-user", "x-remote-group", "x-remote-uid")
    strip_prefixes: tuple[str, ...] = ("x-remote-extra-",)

    @classmethod
    def from_options(cls, options: RequestHeaderOptions) -> UserHeaders:
        """The names of ``options`` (upstream's fixed ``X-Remote-*`` when a flag is empty)."""
        exact, prefixes = options.header_names()
        default = cls()
        return cls(username=(options.username_headers or (default.username,))[0],
                   uid=(options.uid_headers or ("",))[0],
                   group=(options.group_headers or (default.group,))[0],
                   extra_prefix=(options.extra_headers_prefix or (default.extra_prefix,))[0],
                   strip_exact=tuple({*exact, *default.strip_exact}),
                   strip_prefixes=tuple({*prefixes, *default.strip_prefixes}))


def escape_extra_key(key: str) -> str:
    """An extra key as a header-name suffix: bytes outside ``tchar`` (and ``%``) become
    ``%XX`` (client-go ``headerKeyEscape``)."""
    return "".join(chr(b) if b in _LEGAL else f"%{b:02X}" for b in key.encode("utf-8"))


def _utf8(value: str) -> str:
    """``value``'s UTF-8 bytes as a latin-1 string: every header travels as latin-1 text
    here and is encoded back to the exact bytes on the wire (as Go sends UTF-8)."""
    return value.encode("utf-8", "replace").decode("latin-1")


def user_headers(user: UserInfo, names: UserHeaders) -> list[tuple[str, str]]:
    """The headers naming ``user`` (values as :func:`_utf8` strings)."""
    out = [(names.username, _utf8(user.username))]
    if names.uid and user.uid:
        out.append((names.uid, _utf8(user.uid)))
    out += [(names.group, _utf8(group)) for group in user.groups]
    for key, values in user.extra.items():
        out += [(names.extra_prefix + escape_extra_key(key), _utf8(value)) for value in values]
    return out


def wire_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Latin-1 header strings back to their bytes (never an encoding error)."""
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


def forwarded_headers(incoming: Iterable[tuple[str, str]], user: UserInfo,
                      names: UserHeaders, client_address: str = "") -> list[tuple[str, str]]:
    """What goes to the extension server (see the module docstring); ``incoming`` are
    (lower-case name, value) pairs."""
    pairs = list(incoming)
    named = {t.strip().lower() for k, v in pairs if k == "connection" for t in v.split(",")}
    out: list[tuple[str, str]] = []
    forwarded_for: list[str] = []
    for key, value in pairs:
        if key in HOP_BY_HOP or key in named or key in ("authorization", "host") \
                or key.startswith("impersonate-") or key in names.strip_exact \
                or key.startswith(names.strip_prefixes):
            continue
        if key == "x-forwarded-for":
            forwarded_for.append(value)
            continue
        out.append((key, value))
    if client_address:
        out.append(("x-forwarded-for", ", ".join([*forwarded_for, client_address])))
    return out + user_headers(user, names)


def response_headers(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The extension server's response headers (its exact bytes) without hop-by-hop ones,
    for ASGI."""
    pairs = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw]
    named = {t.strip().lower() for k, v in pairs if k == "connection" for t in v.split(",")}
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs
            if k not in HOP_BY_HOP and k not in named]


def ssl_context(ca_bundle: bytes | None, insecure: bool, cert_file: Path | None,
                key_file: Path | None) -> ssl.SSLContext:
    """The client TLS context of an APIService (see the module docstring): a ``caBundle``
    is the only set of roots trusted (as upstream's ``CAData``); without one, the system's."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif ca_bundle is None:
        raise TransportError("unable to load root certificates: caBundle is not valid base64")
    elif ca_bundle:
        try:
            context.load_verify_locations(cadata=ca_bundle.decode("ascii", "replace"))
        except (ssl.SSLError, ValueError) as exc:
            raise TransportError("unable to load root certificates: unable to parse bytes "
                                 f"as PEM block ({exc.__class__.__name__})") from None
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if cert_file is not None and key_file is not None:
        context.load_cert_chain(str(cert_file), str(key_file))
    return context


class Transports:
    """Pooled clients per TLS setting (see the module docstring)."""

    def __init__(self, cert_file: Path | None, key_file: Path | None) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self._clients: dict[tuple[bytes | None, bool, str], httpx.AsyncClient] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def client(self, ca_bundle: bytes | None, insecure: bool,
               server_name: str = "") -> httpx.AsyncClient:
        """The client for these TLS settings and server name (made on first use): a
        connection verified for one server name is never reused for another."""
        key = (ca_bundle, insecure, server_name)
        client = self._clients.get(key)
        if client is None:
            context = ssl_context(ca_bundle, insecure, self.cert_file, self.key_file)
            client = httpx.AsyncClient(verify=context, trust_env=False,
                                       timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT))
            if len(self._clients) > 64:
                # APIServices are few; a flood of caBundle edits must not pile up pools.
                for old in self._clients.values():
                    task = asyncio.create_task(old.aclose())
                    self._closing.add(task)
                    task.add_done_callback(self._closing.discard)
                self._clients.clear()
            self._clients[key] = client
        return client

    async def close(self) -> None:
        """Close every pooled client."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


def go_error(exc: BaseException, host: str, port: int) -> str:
    """A connection failure worded like Go's ``net`` errors (what upstream reports)."""
    text = str(exc) or exc.__class__.__name__
    lower = text.lower()
    if isinstance(exc, httpx.ConnectError) and ("refused" in lower or "all connection" in lower):
        return f"dial tcp {host}:{port}: connect: connection refused"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"dial tcp {host}:{port}: i/o timeout"
    if "certificate" in lower:
        return f"tls: failed to verify certificate: {text}"
    return text


def headers_of(scope_headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """ASGI headers as (lower-case name, value) strings."""
    return [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope_headers]

