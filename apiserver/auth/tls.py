"""TLS serving: the server's SSL context and the client certificate of each connection.

kube-apiserver asks every client for a certificate and accepts connections without one
(``--client-ca-file``: ``tls.RequestClientCert``); kubemu does the same with
``ssl.CERT_OPTIONAL`` and the client CA bundle, so a presented certificate is verified
by the handshake (for client authentication). Unlike upstream, a certificate from an
unknown CA fails the handshake instead of getting a 401: Python's ``ssl`` cannot
request a certificate without verifying it.

uvicorn puts no TLS details into the ASGI scope, so :func:`peer_certificate_protocol`
derives its HTTP protocol class: when a connection is made it copies the app state
with the verified leaf certificate (DER) under
:data:`apiserver.auth.authentication.PEER_CERTIFICATE`; uvicorn hands each request's
scope (and a WebSocket upgrade's protocol) a copy of that state. It also sends what a
connection writes in one event-loop iteration as one TLS record (:class:`CoalescingWriter`):
uvicorn writes a response's head and body separately, and each write costs a record, a
context copy and a system call of its own.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

from apiserver.auth.authentication import PEER_CERTIFICATE


def server_ssl_context(cert_file: Path, key_file: Path, client_ca_file: Path | None,
                       requestheader_ca_file: Path | None = None) -> ssl.SSLContext:
    """TLS 1.2+ server context; client certificates optional but verified when a CA is set
    (``--client-ca-file`` and the front proxy's ``--requestheader-client-ca-file``; the
    authenticators tell which CA issued a certificate)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    for ca_file in (client_ca_file, requestheader_ca_file):
        if ca_file is not None:
            ctx.load_verify_locations(cafile=str(ca_file))
            ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


#: Held writes up to this many bytes in all are joined into one record; larger ones are
#: handed over as a list (one system call, no copy).
_JOIN_LIMIT = 64 * 1024


class CoalescingWriter:
    """A transport whose writes are held until the end of the current event-loop
    iteration, then written at once; everything else is the wrapped transport's.

    ``close`` writes what is held first; ``abort`` drops it.
    """

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        """Hold ``data`` (written before the loop next polls for I/O)."""
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self._flush)
        self._held.append(data)

    def writelines(self, items: list[bytes]) -> None:
        """Hold each of ``items``."""
        for data in items:
            self.write(data)

    def _flush(self) -> None:
        held = self._held
        if not held:
            return
        self._held = []
        if self._transport.is_closing():
            return
        if len(held) == 1:
            self._transport.write(held[0])
        elif sum(len(data) for data in held) <= _JOIN_LIMIT:
            self._transport.write(b"".join(held))
        else:
            self._transport.writelines(held)

    def close(self) -> None:
        """Write what is held, then close."""
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        """Drop what is held and the connection."""
        self._held = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def peer_certificate_protocol(base: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """``base`` (a uvicorn HTTP protocol class) recording each connection's client cert
    and coalescing its writes."""

    class PeerCertificateProtocol(base):  # type: ignore[valid-type,misc]
        app_state: dict[str, Any]

        def connection_made(self, transport: Any) -> None:
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is not None:
                der = ssl_object.getpeercert(binary_form=True)
                if der:
                    self.app_state = {**self.app_state, PEER_CERTIFICATE: der}
            super().connection_made(transport)
            if ssl_object is not None:
                self.transport = CoalescingWriter(transport, asyncio.get_running_loop())

    PeerCertificateProtocol.__name__ = f"PeerCertificate{base.__name__}"
    return PeerCertificateProtocol
