"""Reaching a node's kubelet API: where it is and how to talk to it.

The location of a pod's kubelet is its Node's ``InternalIP`` and
``status.daemonEndpoints.kubeletEndpoint.Port``. :class:`KubeletClientConfig` holds the
apiserver's kubelet-client flags (upstream's names):

* ``--kubelet-client-certificate`` / ``--kubelet-client-key`` — the client certificate
  the apiserver presents (kubeadm: CN ``kube-apiserver-kubelet-client``);
* ``--kubelet-certificate-authority`` — the CA that signs the kubelets' serving
  certificates; without it the serving certificate is not verified (as upstream).

With none of them set, kubelets are reached over plain HTTP (the insecure, loopback-only
setup); with any, over HTTPS.

Errors are upstream's: a pod without a node is ``pod <name> does not have a host
assigned`` (400); a node that cannot be found or has no kubelet port answers 400/503.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from apiserver.api import errors
from apiserver.api.resources import NODES, PODS
from apiserver.registry.registry import Registry

__all__ = ["KubeletClientConfig", "KubeletLocation", "get_pod", "kubelet_location",
           "kubelet_path", "node_location", "pod_location"]


@dataclass(frozen=True)
class KubeletClientConfig:
    """The apiserver's kubelet-client flags."""

    client_certificate: Path | None = None
    client_key: Path | None = None
    certificate_authority: Path | None = None

    def check(self) -> None:
        """ValueError for flags that do not go together."""
        if (self.client_certificate is None) != (self.client_key is None):
            raise ValueError("--kubelet-client-certificate and --kubelet-client-key go "
                             "together")

    @property
    def secure(self) -> bool:
        """Whether kubelets are reached over HTTPS."""
        return self.client_certificate is not None or self.certificate_authority is not None

    @property
    def scheme(self) -> str:
        return "https" if self.secure else "http"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The client TLS context (None: plain HTTP)."""
        if not self.secure:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if self.certificate_authority is not None:
            ctx.load_verify_locations(cafile=str(self.certificate_authority))
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.client_certificate is not None and self.client_key is not None:
            ctx.load_cert_chain(str(self.client_certificate), str(self.client_key))
        return ctx

    def insecure_context(self) -> ssl.SSLContext | None:
        """The context for ``insecureSkipTLSVerifyBackend``: the client certificate, no
        verification of the kubelet's."""
        ctx = self.ssl_context()
        if ctx is not None:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def http_client(self, *, skip_verify: bool = False) -> httpx.AsyncClient:
        """A client for kubelet requests (no timeout: streams last as long as they last)."""
        context = self.insecure_context() if skip_verify else self.ssl_context()
        return httpx.AsyncClient(verify=context if context is not None else False,
                                 timeout=httpx.Timeout(None, connect=10.0))


@dataclass(frozen=True)
class KubeletLocation:
    """A kubelet's base URLs."""

    scheme: str
    host: str
    port: int

    def url(self, path: str, *, websocket: bool = False) -> str:
        """``path`` on the kubelet (``ws``/``wss`` for WebSocket)."""
        scheme = self.scheme
        if websocket:
            scheme = "wss" if scheme == "https" else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        return f"{scheme}://{host}:{self.port}{path}"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


async def node_location(registry: Registry, config: KubeletClientConfig,
                        node_name: str) -> KubeletLocation:
    """Where the kubelet of ``node_name`` listens (404 without the Node)."""
    node = (await registry.store(NODES).get(None, node_name)).obj
    location = kubelet_location(node, config)
    if location is None:
        raise errors.service_unavailable(f"node {node_name} has no kubelet endpoint")
    return location


def kubelet_location(node: Mapping[str, Any], config: KubeletClientConfig,
                     ) -> KubeletLocation | None:
    """Where ``node``'s kubelet listens: its first ``InternalIP`` (else ``ExternalIP``,
    ``Hostname``) and its kubelet endpoint port; None when it has no such endpoint."""
    status = _m(node.get("status"))
    port = _m(_m(status.get("daemonEndpoints")).get("kubeletEndpoint")).get("Port")
    addresses = [_m(a) for a in status.get("addresses") or []]
    host = ""
    for kind in ("InternalIP", "ExternalIP", "Hostname"):
        host = next((str(a.get("address")) for a in addresses
                     if a.get("type") == kind and a.get("address")), "")
        if host:
            break
    if not isinstance(port, int) or port <= 0 or not host:
        return None
    return KubeletLocation(config.scheme, host, port)


async def get_pod(registry: Registry, namespace: str, name: str) -> dict[str, Any]:
    """The pod (404 ``pods "<name>" not found`` without it)."""
    return (await registry.store(PODS).get(namespace, name)).obj


async def pod_location(registry: Registry, config: KubeletClientConfig,
                       pod: Mapping[str, Any]) -> KubeletLocation | None:
    """The kubelet of ``pod``'s node (None: the pod is not bound yet)."""
    node_name = str(_m(pod.get("spec")).get("nodeName") or "")
    if not node_name:
        return None
    return await node_location(registry, config, node_name)


def kubelet_path(kind: str, namespace: str, pod: str, container: str | None = None) -> str:
    """``/<kind>/<namespace>/<pod>[/<container>]``, each segment escaped."""
    parts = [kind, namespace, pod] + ([container] if container is not None else [])
    return "/" + "/".join(quote(p, safe="") for p in parts)
