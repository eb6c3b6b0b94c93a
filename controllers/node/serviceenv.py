"""The Service variables the kubelet gives every container (``KUBERNETES_SERVICE_HOST`` …).

As upstream's kubelet (``getServiceEnvVarMap`` in ``pkg/kubelet/kubelet_pods.go`` and
``FromServices`` in ``pkg/kubelet/envvars``): a container sees

* the ``kubernetes`` Service of ``default`` always, so in-cluster clients find the
  apiserver (client-go's ``InClusterConfig``, the Python client's
  ``load_incluster_config``);
* every other Service of the pod's namespace when ``enableServiceLinks`` is true (the
  default; a Service of the pod's namespace named ``kubernetes`` then wins over
  ``default``'s, as upstream's map does);

only Services whose ClusterIP is set (not ``None``, not empty: headless and ExternalName
Services give nothing). Per Service ``NAME`` (upper case, ``-`` as ``_``):
``NAME_SERVICE_HOST``, ``NAME_SERVICE_PORT`` (the first port), ``NAME_SERVICE_PORT_<PORT
NAME>`` per named port, and Docker's link variables: ``NAME_PORT`` (the first port's URL)
and per port ``NAME_PORT_<port>_<PROTO>`` with ``_PROTO``, ``_PORT`` and ``_ADDR``.

Upstream builds them from a Go map, so the order among Services is random there; here
Services are taken by name, so a container's environment is the same at every start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MASTER_SERVICE", "MASTER_SERVICE_NAMESPACE", "from_services", "service_env"]

#: The Service every pod learns about, and its namespace (the kubelet's
#: ``--master-service-namespace``, deprecated and always ``default``).
MASTER_SERVICE = "kubernetes"
MASTER_SERVICE_NAMESPACE = "default"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _env_name(name: str) -> str:
    """Upstream's ``makeEnvVariableName``: upper case, ``-`` becomes ``_``."""
    return name.replace("-", "_").upper()


def _cluster_ip_set(service: Mapping[str, Any]) -> bool:
    """Upstream's ``IsServiceIPSet``."""
    ip = str(_m(service.get("spec")).get("clusterIP") or "")
    return ip not in ("", "None")


def _host_port(ip: str, port: int) -> str:
    """``net.JoinHostPort``: an IPv6 address in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def from_services(services: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Upstream's ``FromServices``: the variables of ``services``, in their order, each
    Service's in upstream's order (host, port, named ports, then the link variables)."""
    result: list[tuple[str, str]] = []
    for service in services:
        spec = _m(service.get("spec"))
        ports = [_m(p) for p in spec.get("ports") or []]
        if not _cluster_ip_set(service) or not ports:
            continue  # validation gives every Service with a ClusterIP a port
        ip = str(spec["clusterIP"])
        prefix = _env_name(str(_m(service.get("metadata")).get("name") or ""))
        result.append((f"{prefix}_SERVICE_HOST", ip))
        result.append((f"{prefix}_SERVICE_PORT", str(ports[0].get("port"))))
        # Only the first port may be unnamed (validation): the others are all here.
        result.extend((f"{prefix}_SERVICE_PORT_{_env_name(str(p['name']))}", str(p.get("port")))
                      for p in ports if p.get("name"))
        for index, port in enumerate(ports):
            protocol = str(port.get("protocol") or "TCP")
            number = int(port.get("port") or 0)
            url = f"{protocol.lower()}://{_host_port(ip, number)}"
            if index == 0:  # Docker special-cases the first port
                result.append((f"{prefix}_PORT", url))
            port_prefix = f"{prefix}_PORT_{number}_{protocol.upper()}"
            result.extend([(port_prefix, url), (f"{port_prefix}_PROTO", protocol.lower()),
                           (f"{port_prefix}_PORT", str(number)),
                           (f"{port_prefix}_ADDR", ip)])
    return result


def service_env(services: Iterable[Mapping[str, Any]], namespace: str,
                enable_service_links: bool = True) -> dict[str, str]:
    """The Service variables a container of a pod in ``namespace`` gets, from every
    Service the node knows (``services``, any namespace): upstream's
    ``getServiceEnvVarMap``."""
    chosen: dict[str, Mapping[str, Any]] = {}
    for service in services:
        if not _cluster_ip_set(service):
            continue
        md = _m(service.get("metadata"))
        name, ns = str(md.get("name") or ""), str(md.get("namespace") or "")
        if ns == MASTER_SERVICE_NAMESPACE and name == MASTER_SERVICE:
            chosen.setdefault(name, service)
        elif ns == namespace and enable_service_links:
            chosen[name] = service  # the pod's own namespace wins over default's
    return dict(from_services(chosen[name] for name in sorted(chosen)))
