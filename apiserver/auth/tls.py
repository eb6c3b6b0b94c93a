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
scope (and a WebSocket upgrade's protocol) a copy of that state.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

from apiserver.auth.authentication import PEER_CERTIFICATE


def server_ssl_context(cert_file: Path, key_file: Path, client_ca_file: Path | None) \
        -> ssl.SSLContext:
    """TLS 1.2+ server context; client certificates optional but verified when a CA is set."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    if client_ca_file is not None:
        ctx.load_verify_locations(cafile=str(client_ca_file))
        ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def peer_certificate_protocol(base: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """``base`` (a uvicorn HTTP protocol class) recording each connection's client cert."""

    class PeerCertificateProtocol(base):  # type: ignore[valid-type,misc]
        app_state: dict[str, Any]

        def connection_made(self, transport: Any) -> None:
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is not None:
                der = ssl_object.getpeercert(binary_form=True)
                if der:
                    self.app_state = {**self.app_state, PEER_CERTIFICATE: der}
            super().connection_made(transport)

    PeerCertificateProtocol.__name__ = f"PeerCertificate{base.__name__}"
    return PeerCertificateProtocol
