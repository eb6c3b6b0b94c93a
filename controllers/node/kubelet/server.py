"""The kubelet API server of the node agent: logs, exec, attach, port-forward, pods,
resource metrics, the stats summary.

Served with uvicorn (HTTP/1.1 and WebSocket) on the node's address — kubemu up uses the
node IP and the kubelet's port 10250; the agent's ``--port`` defaults to 0, a free port —
and advertised as the Node's ``status.daemonEndpoints.kubeletEndpoint.Port``, which is
where the apiserver finds it.

Security (:class:`KubeletServing`): with ``tls_cert_file`` the server speaks HTTPS, and
with ``client_ca_file`` it asks for client certificates and admits only the apiserver's
kubelet-client identity (CN ``kube-apiserver-kubelet-client``) and ``system:masters``: a
request without a certificate gets 401, any other identity 403 (the kubelet delegates
that decision to the apiserver; kubemu keeps the one decision the apiserver would make
for its own client). Without TLS it serves plain HTTP and must be bound to a loopback
address.

Routes are collected from the handler modules, each exposing ``routes(host) ->
list[BaseRoute]`` (see :data:`ROUTE_MODULES`); :mod:`.pods` is what they may know of the
node.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from cryptography import x509
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from apiserver.api.hosts import is_loopback
from controllers.node.kubelet import (
    attach,
    exec,
    logs,
    portforward,
    resourcemetrics,
    statssummary,
)
from controllers.node.kubelet.pods import NodeHost

__all__ = ["AUTHORIZED_GROUPS", "AUTHORIZED_USERS", "ROUTE_MODULES", "KubeletServer",
           "KubeletServing"]

log = logging.getLogger("controllers.node")

#: Client identities the kubelet API admits (the apiserver's, and cluster admins).
AUTHORIZED_USERS = frozenset({"kube-apiserver-kubelet-client"})
AUTHORIZED_GROUPS = frozenset({"system:masters"})

#: The modules whose ``routes(host)`` make up the API.
ROUTE_MODULES: tuple[Callable[[NodeHost], list[BaseRoute]], ...] = (
    logs.routes, exec.routes, attach.routes, portforward.routes, resourcemetrics.routes,
    statssummary.routes)

_PEER = "kubemu.kubelet.peer"


@dataclass(frozen=True)
class KubeletServing:
    """Where and how the kubelet API is served (the kubelet's flags)."""

    address: str
    #: ``--port``; 0 picks a free port.
    port: int = 0
    tls_cert_file: Path | None = None
    tls_private_key_file: Path | None = None
    client_ca_file: Path | None = None

    def check(self) -> None:
        """ValueError for an unsafe or incomplete setting."""
        if (self.tls_cert_file is None) != (self.tls_private_key_file is None):
            raise ValueError("--tls-cert-file and --tls-private-key-file go together")
        if self.client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("--client-ca-file needs --tls-cert-file")
        if self.client_ca_file is None and not is_loopback(self.address):
            raise ValueError("the kubelet API without --client-ca-file may only listen on a "
                             f"loopback address, not {self.address}")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server's TLS context (None: plain HTTP)."""
        if self.tls_cert_file is None or self.tls_private_key_file is None:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self.tls_cert_file), str(self.tls_private_key_file))
        if self.client_ca_file is not None:
            ctx.load_verify_locations(cafile=str(self.client_ca_file))
            ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx


class _PeerProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, keeping the connection's client certificate in the
    request state (uvicorn puts no TLS details into the scope)."""

    app_state: dict[str, Any]

    def connection_made(self, transport: Any) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der:
            self.app_state = {**self.app_state, _PEER: der}
        super().connection_made(transport)


def _identity(der: bytes) -> tuple[str, list[str]]:
    cert = x509.load_der_x509_certificate(der)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    groups = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return (str(names[0].value) if names else "", [str(g.value) for g in groups])


def client_cert_filter(app: ASGIApp) -> ASGIApp:
    """Admit only requests whose client certificate is an authorized identity."""

    async def checked(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        der = (scope.get("state") or {}).get(_PEER)
        if not der:
            status, text = 401, "Unauthorized"
        else:
            user, groups = _identity(der)
            if user in AUTHORIZED_USERS or AUTHORIZED_GROUPS.intersection(groups):
                await app(scope, receive, send)
                return
            status, text = 403, f"Forbidden (user={user}, verb=get, resource=nodes)"
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.http.response.start", "status": status,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "websocket.http.response.body", "body": text.encode()})
            return
        await PlainTextResponse(text + "\n", status_code=status)(scope, receive, send)

    return checked


class KubeletServer:
    """The kubelet API of one node agent."""

    def __init__(self, host: NodeHost, serving: KubeletServing) -> None:
        serving.check()
        self.host = host
        self.serving = serving
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def routes(self) -> list[BaseRoute]:
        """``/healthz``, ``/pods`` and every handler module's routes."""
        out: list[BaseRoute] = [Route("/healthz", self._healthz), Route("/pods", self._pods)]
        for module_routes in ROUTE_MODULES:
            out.extend(module_routes(self.host))
        return out

    async def _healthz(self, request: Request) -> Response:
        del request
        return PlainTextResponse("ok")

    async def _pods(self, request: Request) -> Response:
        del request
        items = [dict(p, apiVersion="v1", kind="Pod") for p in self.host.pods.store.list()]
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        return Response(orjson.dumps(body), media_type="application/json")

    def app(self) -> ASGIApp:
        """The ASGI app: the routes, behind the client-certificate check when required."""
        app: ASGIApp = Starlette(routes=self.routes())
        if self.serving.client_ca_file is not None:
            app = client_cert_filter(app)
        return app

    async def start(self) -> int:
        """Listen and serve in the background; the bound port."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.serving.address, self.serving.port))
        sock.listen(1024)
        sock.setblocking(False)
        context = self.serving.ssl_context()
        extra: dict[str, Any] = {}
        if context is not None:
            def factory(config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) \
                    -> ssl.SSLContext:
                del config, default
                return context

            extra["ssl_context_factory"] = factory
        config = uvicorn.Config(self.app(), lifespan="off", http=_PeerProtocol,
                                ws="websockets-sansio", log_level="warning",
                                timeout_graceful_shutdown=1, **extra)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server._serve([sock]))
        port: int = sock.getsockname()[1]
        log.info("serving the kubelet API on %s:%d (%s)", self.serving.address, port,
                 "https" if context is not None else "http")
        return port

    async def stop(self) -> None:
        """Stop serving (open streams are closed)."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await asyncio.gather(self._task, return_exceptions=True)


def routes_of(modules: Sequence[Callable[[NodeHost], list[BaseRoute]]],
              host: NodeHost) -> list[BaseRoute]:
    """The routes of ``modules`` for ``host`` (for tests mounting a subset)."""
    return [route for module_routes in modules for route in module_routes(host)]
