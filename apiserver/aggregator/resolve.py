"""Where a request for a service-backed APIService goes (upstream ``resolvers.go``).

Contract: :meth:`Resolver.resolve` returns ``(host, port)`` for the Service
``namespace/name`` and the APIService's ``spec.service.port``, or raises
:class:`LookupError` with upstream's reason. With ``--enable-aggregator-routing`` it is
a ready endpoint of the Service (its EndpointSlices, else its Endpoints: the endpoint
port named as the Service port numbered ``port``); without, the Service's ClusterIP and
``port`` (an ExternalName Service: its external name). Objects come from the watch cache.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from apiserver.api.resources import ENDPOINTSLICES, ResourceInfo, served
from apiserver.registry.registry import Registry
from apiserver.webhook.resolve import resolve_service

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def cluster_address(service: Mapping[str, Any] | None, name: str, port: int) \
        -> tuple[str, int]:
    """Upstream's ``ResolveCluster``: the ClusterIP (or external name) and ``port``."""
    if service is None:
        raise LookupError(f'service "{name}" not found')
    spec = _m(service.get("spec"))
    kind = spec.get("type") or "ClusterIP"
    if kind == "ExternalName":
        return str(spec.get("externalName") or ""), port
    if kind not in ("ClusterIP", "NodePort", "LoadBalancer"):
        raise LookupError(f'unsupported service type "{kind}"')
    ip = str(spec.get("clusterIP") or "")
    if not ip or ip == "None":
        raise LookupError(f'invalid service "{name}": ClusterIP None')
    if not any(_m(p).get("port") == port for p in spec.get("ports") or []):
        raise LookupError(f"no service port {port} found for service \"{name}\"")
    return ip, port


class Resolver:
    """Services resolved through the registry's watch cache."""

    def __init__(self, registry: Registry, routing: bool) -> None:
        self.registry = registry
        self.routing = routing

    def get(self, info: ResourceInfo, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The cached object, or None."""
        store = self.registry.store(info)
        found = store.cache.get(store.key(namespace, name))
        return found.obj if found is not None else None

    def core(self, resource: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        """A cached core/v1 object (``services``, ``endpoints``), or None."""
        return self.get(served("", "v1", resource), namespace, name)

    def slices(self, namespace: str, service: str) -> Sequence[Mapping[str, Any]]:
        """The EndpointSlices of ``namespace/service``."""
        # Filtered on the cached labels: ``obj`` decodes on every access.
        cache = self.registry.store(ENDPOINTSLICES).cache
        return [c.obj for c in cache.objects() if c.namespace == namespace
                and c.labels.get(SERVICE_NAME_LABEL) == service]

    def resolve(self, namespace: str, name: str, port: int) -> tuple[str, int]:
        """(host, port) of the Service, as the module docstring says."""
        if self.routing:
            return resolve_service(self.core, self.slices, namespace, name, port)
        return cluster_address(self.core("services", namespace, name), name, port)
