"""Service defaults, as upstream ``SetDefaults_Service`` (``pkg/apis/core/v1/defaults.go``).

IP-family fields (``ipFamilyPolicy``, ``ipFamilies``, ``clusterIPs``) are not
static defaults upstream either: they depend on the cluster's ranges and are
filled during allocation (see :mod:`apiserver.registry.service.ipfamilies`).

Also the read-only spec accessors (``spec_view``, ``ports_of``, ``list_of``,
``strs_of``) the Service modules share; they never raise on malformed specs.
"""

from __future__ import annotations

from typing import Any

#: ``v1.DefaultClientIPServiceAffinitySeconds``.
DEFAULT_CLIENT_IP_TIMEOUT = 10800
#: ``core.MaxClientIPServiceAffinitySeconds``.
MAX_CLIENT_IP_TIMEOUT = 86400


def spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj["spec"]``, created when missing or not an object."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
        obj["spec"] = spec
    return spec


def ports_of(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The port objects of a spec (anything else is skipped)."""
    ports = spec.get("ports")
    if not isinstance(ports, list):
        return []
    return [p for p in ports if isinstance(p, dict)]


def spec_view(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj["spec"]`` when it is an object, else a new empty dict (``obj`` is not changed)."""
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def strs_of(spec: dict[str, Any], key: str) -> list[str]:
    """``spec[key]`` as a new list of strings, empty when it is not a list."""
    value = spec.get(key)
    return [str(v) for v in value] if isinstance(value, list) else []


def list_of(spec: dict[str, Any], key: str) -> list[Any]:
    """``spec[key]`` when it is a list, else an empty list."""
    value = spec.get(key)
    return value if isinstance(value, list) else []


def externally_accessible(spec: dict[str, Any]) -> bool:
    """``service.ExternallyAccessible``: NodePort, LoadBalancer, or ClusterIP with externalIPs."""
    svc_type = spec.get("type")
    return svc_type in ("LoadBalancer", "NodePort") or (
        svc_type == "ClusterIP" and bool(spec.get("externalIPs"))
    )


def needs_health_check(spec: dict[str, Any]) -> bool:
    """``service.NeedsHealthCheck``: LoadBalancer with externalTrafficPolicy Local."""
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def default_service(obj: dict[str, Any]) -> None:
    """Apply ``SetDefaults_Service`` in place."""
    spec = spec_of(obj)
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = spec.get("sessionAffinityConfig")
        client_ip = config.get("clientIP") if isinstance(config, dict) else None
        if not isinstance(client_ip, dict) or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {
                "clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_TIMEOUT}
            }
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    for port in ports_of(spec):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        target = port.get("targetPort")
        if (target is None or target == 0 or target == "") and "port" in port:
            port["targetPort"] = port["port"]
    if externally_accessible(spec) and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and spec["type"] in (
        "NodePort", "LoadBalancer", "ClusterIP"
    ):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    default_status(obj)


def default_status(obj: dict[str, Any]) -> None:
    """``ipMode: VIP`` on LoadBalancer ingress entries with an IP (LoadBalancerIPMode)."""
    spec = obj.get("spec")
    status = obj.get("status")
    if not isinstance(spec, dict) or spec.get("type") != "LoadBalancer":
        return
    if not isinstance(status, dict):
        return
    lb = status.get("loadBalancer")
    if not isinstance(lb, dict):
        return
    for ingress in lb.get("ingress") or []:
        if isinstance(ingress, dict) and ingress.get("ip") and not ingress.get("ipMode"):
            ingress["ipMode"] = "VIP"
