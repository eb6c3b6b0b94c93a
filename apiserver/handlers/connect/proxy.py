"""The ``proxy`` subresources: HTTP to a pod, a Service's ready endpoint, or a kubelet.

``{pods,services,nodes}/[scheme:]NAME[:PORT]/proxy[/PATH]`` (upstream
``net.SplitSchemeNamePort``; scheme ``http`` or ``https``) resolves to:

* pods: ``podIP:PORT`` (default: the first declared container port, else 80);
* services: a ready address of the Service's Endpoints, on the endpoint port of the
  Service port named or numbered PORT (default: the only port); 503 ``no endpoints
  available for service "NAME"`` when there is none;
* nodes: the node's kubelet (its daemon-endpoint port unless PORT is given), over the
  kubelet-client TLS configuration.

The request goes upstream with any method and body; as upstream's reverse proxy does, the
hop-by-hop headers (``Connection`` and those it names, ``Keep-Alive``, ``Proxy-*``,
``TE``, ``Trailer``, ``Transfer-Encoding``, ``Upgrade``) are dropped both ways,
``X-Forwarded-For`` gets the client's address appended and ``X-Forwarded-Host`` /
``X-Forwarded-Proto`` / ``X-Forwarded-Uri`` say what the client asked for; CORS headers
of the backend are removed, and a ``Location`` pointing at the backend (or
host-relative) is rewritten to go through the same proxy path. A path-less request
(``…/proxy``) is redirected (301) to ``…/proxy/``. Certificates of ``https`` backends are
not verified (as upstream). A WebSocket upgrade is relayed to the backend
(:func:`.relay.relay_websocket`: the subprotocols and messages, not other headers).
"""

from __future__ import annotations

import logging
import random
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from apiserver.api import errors
from apiserver.api.resources import ENDPOINTS, PODS, SERVICES
from apiserver.handlers.connect.kubelet import KubeletClientConfig, node_location
from apiserver.handlers.connect.relay import refuse_error, relay_websocket, send_body
from apiserver.handlers.http import Receive, Scope, Send, respond_error
from apiserver.registry.registry import Registry

__all__ = ["HOP_BY_HOP", "Proxy", "split_scheme_name_port"]

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate",
                        "proxy-authorization", "proxy-connection", "te", "trailer",
                        "transfer-encoding", "upgrade"})
#: Request headers the apiserver consumed itself (credentials, impersonation).
_CONSUMED = ("authorization", "impersonate-")
_CORS = ("access-control-",)


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def split_scheme_name_port(text: str) -> tuple[str, str, str] | None:
    """``(scheme, name, port)`` of ``[scheme:]name[:port]`` (None: malformed)."""
    parts = text.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return None
    if not name or scheme not in ("", "http", "https"):
        return None
    return scheme, name, port


def _header_list(scope: Scope) -> list[tuple[str, str]]:
    return [(k.decode("latin-1").lower(), v.decode("latin-1"))
            for k, v in scope.get("headers") or []]


def _drop(headers: list[tuple[str, str]], extra: tuple[str, ...] = ()) \
        -> list[tuple[str, str]]:
    named = {t.strip().lower() for k, v in headers if k == "connection" for t in v.split(",")}
    return [(k, v) for k, v in headers
            if k not in HOP_BY_HOP and k not in named and not k.startswith(extra)]


class Proxy:
    """The proxy subresources of one apiserver."""

    def __init__(self, registry: Registry, kubelet: KubeletClientConfig) -> None:
        self.registry = registry
        self.kubelet = kubelet

    async def _pod_target(self, namespace: str, name: str, port: str, scheme: str) \
            -> tuple[str, str]:
        pod = (await self.registry.store(PODS).get(namespace, name)).obj
        ip = str(_m(pod.get("status")).get("podIP") or "")
        if not ip:
            raise errors.service_unavailable(f"pod {name} does not have an IP address")
        if not port:
            for container in _m(pod.get("spec")).get("containers") or []:
                ports = _m(container).get("ports") or []
                if ports:
                    port = str(_m(ports[0]).get("containerPort") or "")
                    break
        return scheme or "http", f"{ip}:{port}" if port else ip

    async def _service_target(self, namespace: str, name: str, port: str, scheme: str) \
            -> tuple[str, str]:
        svc = (await self.registry.store(SERVICES).get(namespace, name)).obj
        port_name: str | None = None
        for sp in _m(svc.get("spec")).get("ports") or []:
            sp = _m(sp)
            if not port or sp.get("name") == port or str(sp.get("port")) == port:
                port_name = str(sp.get("name") or "")
                break
        if port_name is None:
            raise errors.service_unavailable(
                f'no service port "{port}" found for service "{name}"')
        try:
            eps = (await self.registry.store(ENDPOINTS).get(namespace, name)).obj
        except errors.ApiError as exc:
            if exc.code == 404:
                raise errors.service_unavailable(
                    f'no endpoints available for service "{name}"') from None
            raise
        candidates: list[str] = []
        for subset in eps.get("subsets") or []:
            subset = _m(subset)
            for ep_port in subset.get("ports") or []:
                ep_port = _m(ep_port)
                if str(ep_port.get("name") or "") != port_name:
                    continue
                candidates.extend(f"{_m(a).get('ip')}:{ep_port.get('port')}"
                                  for a in subset.get("addresses") or [] if _m(a).get("ip"))
        if not candidates:
            raise errors.service_unavailable(f'no endpoints available for service "{name}"')
        return scheme or "http", random.choice(candidates)

    async def _target(self, resource: str, namespace: str | None, ident: str) \
            -> tuple[str, str, ssl.SSLContext | None]:
        """``(scheme, host:port, TLS context)`` of the backend ``ident`` names."""
        parsed = split_scheme_name_port(ident)
        singular = resource[:-1]
        if parsed is None:
            raise errors.bad_request(f'invalid {singular} request "{ident}"')
        scheme, name, port = parsed
        if resource == "nodes":
            location = await node_location(self.registry, self.kubelet, name)
            host = f"{location.host}:{port or location.port}"
            return scheme or location.scheme, host, self.kubelet.ssl_context()
        assert namespace is not None
        if resource == "pods":
            scheme, host = await self._pod_target(namespace, name, port, scheme)
        else:
            scheme, host = await self._service_target(namespace, name, port, scheme)
        return scheme, host, _unverified() if scheme == "https" else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send, target: Any) -> None:
        """Serve one proxy request (``target``: a :class:`.routes.ConnectTarget`)."""
        path: str = scope.get("path", "")
        raw_query = scope.get("query_string", b"").decode("latin-1")
        # The backend is resolved first, as upstream does: a missing pod, service or node
        # is a 404 even for the path-less form, which is only then redirected.
        try:
            scheme, host, context = await self._target(target.resource, target.namespace,
                                                       target.name)
        except errors.ApiError as exc:
            if scope["type"] == "http":
                await respond_error(send, exc)
            else:
                await refuse_error(receive, send, exc)
            return
        if not target.rest and scope["type"] == "http":
            # Percent-encoded, so any name the path carried makes a valid header value.
            location = _escape(path + "/") + (f"?{raw_query}" if raw_query else "")
            await send({"type": "http.response.start", "status": 301,
                        "headers": [(b"location", location.encode("ascii", "replace")),
                                    (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        if scope["type"] != "http":
            url = (f"{'wss' if scheme == 'https' else 'ws'}://{host}"
                   f"{_escape(target.rest or '/')}" + (f"?{raw_query}" if raw_query else ""))
            await relay_websocket(scope, receive, send, url, context)
            return
        client = httpx.AsyncClient(verify=context if context is not None else False,
                                   timeout=httpx.Timeout(None, connect=10.0))
        prefix = path[:len(path) - len(target.rest)]
        await _forward(scope, receive, send, client, scheme, host, target.rest, prefix)


def _unverified() -> ssl.SSLContext:
    """Backends' certificates are not verified (as upstream's proxy transport)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _escape(path: str) -> str:
    return quote(path, safe="/:@!$&()*+,;=~-._")


def _request_headers(scope: Scope, host: str) -> list[tuple[str, str]]:
    """What goes to the backend: the client's headers without hop-by-hop ones and the
    credentials the apiserver consumed, ``X-Forwarded-For`` extended with the client, and
    ``X-Forwarded-Uri``/``-Host``/``-Proto`` set to what the client asked the apiserver
    for (replacing any the client sent, as upstream's proxy transport does)."""
    client = scope.get("client") or ("", 0)
    incoming = _header_list(scope)
    own = ("x-forwarded-for", "x-forwarded-uri", "x-forwarded-host", "x-forwarded-proto",
           "host")
    headers = [(k, v) for k, v in _drop(incoming, _CONSUMED) if k not in own]
    forwarded = [v for k, v in incoming if k == "x-forwarded-for"]
    raw_path = scope.get("raw_path")
    uri = raw_path.decode("latin-1") if raw_path else str(scope.get("path", ""))
    headers += [("host", host),
                ("x-forwarded-for", ", ".join([*forwarded, str(client[0])])),
                ("x-forwarded-uri", uri),
                ("x-forwarded-proto", str(scope.get("scheme") or "http"))]
    server_host = next((v for k, v in incoming if k == "host"), "")
    if server_host:
        headers.append(("x-forwarded-host", server_host))
    return headers


def rewrite_location(value: str, backend_host: str, prefix: str) -> str:
    """A backend's ``Location`` routed back through the proxy path ``prefix`` (kept as it
    is when it points elsewhere)."""
    parts = urlsplit(value)
    if parts.netloc and parts.netloc != backend_host:
        return value
    if not parts.netloc and not parts.path.startswith("/"):
        return value  # relative to the current path: already under the proxy
    return urlunsplit(("", "", prefix.rstrip("/") + (parts.path or "/"), parts.query,
                       parts.fragment))


async def _body(receive: Receive) -> Any:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _forward(scope: Scope, receive: Receive, send: Send, client: httpx.AsyncClient,
                   scheme: str, host: str, rest: str, prefix: str) -> None:
    raw_query = scope.get("query_string", b"").decode("latin-1")
    url = f"{scheme}://{host}{_escape(rest)}"
    if raw_query:
        url += "?" + raw_query
    method = str(scope.get("method") or "GET")
    incoming = dict(_header_list(scope))
    has_body = "content-length" in incoming or "transfer-encoding" in incoming
    started = False
    try:
        async with client:
            request = client.build_request(method, url, headers=_request_headers(scope, host),
                                           content=_body(receive) if has_body else None)
            resp = await client.send(request, stream=True)
            try:
                headers = [(k, v) for k, v in _drop(list(resp.headers.multi_items()), _CORS)
                           if k != "content-length" or "content-encoding" not in resp.headers]
                headers = [(k, rewrite_location(v, host, prefix) if k == "location" else v)
                           for k, v in headers]
                await send({"type": "http.response.start", "status": resp.status_code,
                            "headers": [(k.encode("latin-1"), v.encode("latin-1"))
                                        for k, v in headers]})
                started = True
                await send_body(receive, send, resp.aiter_raw())
            finally:
                await resp.aclose()
    except httpx.HTTPError as exc:
        log.info("proxying to %s failed: %s", url, exc)
        if started:
            await send({"type": "http.response.body", "body": b""})
        else:
            await respond_error(send, errors.service_unavailable(
                f"error trying to reach service: {exc}"))
