"""Which connect subresource a request is for, and the handler that serves it.

Paths (as upstream):

* ``/api/v1/namespaces/{ns}/pods/{name}/log`` — GET (:mod:`.logs`);
* ``…/pods/{name}/exec``, ``…/attach``, ``…/portforward`` — a WebSocket upgrade (GET)
  relayed to the kubelet (:mod:`.relay`); a plain upgrade (SPDY, POST) is refused and a
  request that is no upgrade at all is 400 ``Upgrade request required``;
* ``…/pods/{name}[:port]/proxy[/path]``, ``…/services/{name}[:port]/proxy[/path]`` and
  ``/api/v1/nodes/{name}[:port]/proxy[/path]`` — any method (:mod:`.proxy`).

Query parameters of exec and attach (``stdin``, ``stdout``, ``stderr``, ``tty``,
``command``, ``container``) and port-forward (``ports``) become the kubelet's
(``input``, ``output``, ``error``, ``tty`` as ``1``; ``command`` repeated; ``port``).
Authorization happened before (the request chain sees ``get`` for a WebSocket GET,
``create`` for a POST, as upstream).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from apiserver.api import errors
from apiserver.handlers.connect import logs, proxy
from apiserver.handlers.connect.kubelet import (
    KubeletClientConfig,
    get_pod,
    kubelet_path,
    pod_location,
)
from apiserver.handlers.connect.relay import (
    offered_subprotocols,
    refuse_error,
    refuse_upgrade,
    relay_websocket,
    tunnel_subprotocols,
)
from apiserver.handlers.http import Receive, Request, Scope, Send, respond_error
from apiserver.registry.registry import Registry

__all__ = ["ConnectAPI", "ConnectTarget", "match"]

_POD_STREAMS = frozenset({"exec", "attach", "portforward"})
_KUBELET_KIND = {"exec": "exec", "attach": "attach", "portforward": "portForward"}
_FALSE = frozenset({"0", "false"})


@dataclass(frozen=True)
class ConnectTarget:
    """A connect request: ``rest`` is the path after the subresource (``""`` or
    ``/…``)."""

    resource: str
    namespace: str | None
    name: str
    subresource: str
    rest: str


def match(path: str) -> ConnectTarget | None:
    """The connect subresource ``path`` names (None: not one)."""
    if not path.startswith("/api/v1/"):
        return None
    parts = path[len("/api/v1/"):].split("/")
    if len(parts) >= 3 and parts[0] == "nodes" and parts[2] == "proxy" and parts[1]:
        return ConnectTarget("nodes", None, parts[1], "proxy", _rest(parts[3:], path))
    if len(parts) < 5 or parts[0] != "namespaces" or not parts[1] or not parts[3]:
        return None
    resource, name, sub = parts[2], parts[3], parts[4]
    if resource == "pods" and (sub == "log" or sub in _POD_STREAMS) and len(parts) == 5:
        return ConnectTarget(resource, parts[1], name, sub, "")
    if resource in ("pods", "services") and sub == "proxy":
        return ConnectTarget(resource, parts[1], name, sub, _rest(parts[5:], path))
    return None


def _rest(parts: list[str], path: str) -> str:
    if not parts:
        return ""
    return "/" + "/".join(parts)


def _flag(query: Mapping[str, list[str]], name: str) -> bool:
    values = query.get(name) or []
    return bool(values) and values[0].lower() not in _FALSE


def kubelet_stream_query(subresource: str, query: Mapping[str, list[str]]) -> str:
    """The kubelet's query for an exec, attach or port-forward request (400 for a bad
    port)."""
    params: list[tuple[str, str]] = []
    if subresource == "portforward":
        for value in query.get("ports") or []:
            for item in value.split(","):
                try:
                    port = int(item)
                except ValueError:
                    raise errors.bad_request(
                        f'strconv.ParseUint: parsing "{item}": invalid syntax') from None
                if not 0 <= port <= 65535:
                    raise errors.bad_request(
                        f'strconv.ParseUint: parsing "{item}": value out of range')
                params.append(("port", str(port)))
        return urlencode(params)
    for ours, theirs in (("stdin", "input"), ("stdout", "output"), ("stderr", "error"),
                         ("tty", "tty")):
        if _flag(query, ours):
            params.append((theirs, "1"))
    if subresource == "exec":
        params.extend(("command", c) for c in query.get("command") or [])
    return urlencode(params)


def _is_upgrade(scope: Scope) -> bool:
    for key, value in scope.get("headers") or []:
        if key.lower() == b"connection" and b"upgrade" in value.lower():
            return True
    return False


class ConnectAPI:
    """Serves the connect subresources (see the module docstring)."""

    def __init__(self, registry: Registry, kubelet: KubeletClientConfig) -> None:
        self.registry = registry
        self.kubelet = kubelet
        self.proxy = proxy.Proxy(registry, kubelet)

    async def __call__(self, scope: Scope, receive: Receive, send: Send,
                       target: ConnectTarget) -> None:
        raw = scope.get("query_string", b"").decode("latin-1")
        query = parse_qs(raw, keep_blank_values=True)
        if target.subresource == "proxy":
            await self.proxy(scope, receive, send, target)
            return
        if target.subresource in _POD_STREAMS:
            await self._stream(scope, receive, send, target, query)
            return
        if scope["type"] != "http":
            await refuse_error(receive, send, errors.bad_request("Upgrade request not "
                                                                 "supported for pods/log"))
            return
        req = Request.from_scope(scope, receive, send)
        if req.method not in ("GET", "HEAD"):
            await respond_error(send, errors.method_not_allowed(
                "the server does not allow this method on the requested resource"))
            return
        assert target.namespace is not None
        await logs.serve_log(req, self.registry, self.kubelet, target.namespace, target.name,
                             query)

    async def _locate(self, target: ConnectTarget, query: Mapping[str, list[str]]) -> str:
        """The kubelet WebSocket URL of an exec, attach or port-forward request (the
        upstream errors for a missing pod, a bad container, a pod without a node)."""
        assert target.namespace is not None
        pod = await get_pod(self.registry, target.namespace, target.name)
        container = None
        if target.subresource != "portforward":
            container = logs.choose_container(pod, (query.get("container") or [""])[0])
        location = await pod_location(self.registry, self.kubelet, pod)
        if location is None:
            raise errors.bad_request(f"pod {target.name} does not have a host assigned")
        path = kubelet_path(_KUBELET_KIND[target.subresource], target.namespace, target.name,
                            container)
        params = kubelet_stream_query(target.subresource, query)
        return location.url(path + (f"?{params}" if params else ""), websocket=True)

    async def _stream(self, scope: Scope, receive: Receive, send: Send,
                      target: ConnectTarget, query: Mapping[str, list[str]]) -> None:
        if scope["type"] == "http":
            # A client that falls back from WebSocket to SPDY reports this answer: the
            # request's own errors come first, then the refusal of SPDY.
            if scope.get("method") not in ("GET", "POST"):
                await respond_error(send, errors.method_not_allowed(
                    "the server does not allow this method on the requested resource"))
            elif not _is_upgrade(scope):
                await respond_error(send, errors.bad_request("Upgrade request required"))
            else:
                try:
                    await self._locate(target, query)
                except errors.ApiError as exc:
                    await respond_error(send, exc)
                    return
                await refuse_upgrade(send)
            return
        try:
            url = await self._locate(target, query)
        except errors.ApiError as exc:
            await refuse_error(receive, send, exc)
            return
        offered, names = offered_subprotocols(scope), dict[str, str]()
        if target.subresource == "portforward":
            offered, names = tunnel_subprotocols(offered)
        await relay_websocket(scope, receive, send, url, self.kubelet.ssl_context(),
                              offered, names)
