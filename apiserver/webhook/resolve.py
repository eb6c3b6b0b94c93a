"""A webhook's ``clientConfig.service`` resolved to a ready endpoint (upstream's
``NewEndpointServiceResolver``).

Contract: :func:`resolve_service` finds the Service, its port numbered ``port``, and a
ready address of its Endpoints (the subset port of the same name as the Service port),
else of an EndpointSlice labelled ``kubernetes.io/service-name``. It raises
:class:`LookupError` with the reason upstream gives when nothing is reachable. Objects
are read through ``lookup(resource, namespace, name)`` (``"services"``, ``"endpoints"``)
and ``lookup_slices(namespace, service)`` — the caller's watch cache.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

ObjectLookup = Callable[[str, str, str], Mapping[str, Any] | None]
SliceLookup = Callable[[str, str], Sequence[Mapping[str, Any]]]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _from_endpoints(endpoints: Mapping[str, Any], port_name: str) -> tuple[str, int] | None:
    for subset in endpoints.get("subsets") or []:
        ports = [p for p in _m(subset).get("ports") or [] if _m(p).get("name", "") == port_name]
        addresses = [a for a in _m(subset).get("addresses") or [] if _m(a).get("ip")]
        if ports and addresses:
            return str(_m(addresses[0])["ip"]), int(_m(ports[0])["port"])
    return None


def _from_slices(slices: Sequence[Mapping[str, Any]], port_name: str) -> tuple[str, int] | None:
    for eps in slices:
        ports = [p for p in eps.get("ports") or [] if (_m(p).get("name") or "") == port_name]
        if not ports or _m(ports[0]).get("port") is None:
            continue
        for endpoint in eps.get("endpoints") or []:
            ready = _m(_m(endpoint).get("conditions")).get("ready")
            addresses = _m(endpoint).get("addresses") or []
            if ready is not False and addresses:
                return str(addresses[0]), int(_m(ports[0])["port"])
    return None


def resolve_service(lookup: ObjectLookup, lookup_slices: SliceLookup, namespace: str,
                    name: str, port: int) -> tuple[str, int]:
    """The (address, port) a request to ``name.namespace.svc:port`` reaches."""
    service = lookup("services", namespace, name)
    if service is None:
        raise LookupError(f'service "{name}" not found')
    svc_port = next((p for p in _m(service.get("spec")).get("ports") or []
                     if _m(p).get("port") == port), None)
    if svc_port is None:
        raise LookupError(f"no service port {port} found for service {name!r}".replace(
            "'", '"'))
    port_name = str(_m(svc_port).get("name") or "")
    endpoints = lookup("endpoints", namespace, name)
    found = _from_endpoints(endpoints, port_name) if endpoints is not None else None
    if found is None:
        found = _from_slices(lookup_slices(namespace, name), port_name)
    if found is None:
        raise LookupError(f'no endpoints available for service "{name}"')
    return found
