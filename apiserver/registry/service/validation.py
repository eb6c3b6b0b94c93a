"""Service validation with upstream's field paths and messages.

Mirrors ``ValidateService``, ``ValidateServiceUpdate``,
``ValidateServiceClusterIPsRelatedFields`` and ``ValidateServiceStatusUpdate``
of ``pkg/apis/core/validation/validation.go``. Values in messages are printed
the way Go's field errors print them (``[]string{"10.0.0.1"}``, ``30080``,
``"None"``).

Each function returns the list of causes (empty when valid) for a 422 Status
and never raises on malformed input. Port checks live in
:mod:`~apiserver.registry.service.portvalidation`, the clusterIPs / ipFamilies
rules in :mod:`~apiserver.registry.service.ipvalidation`, the cause builders in
:mod:`~apiserver.registry.service.fielderrors`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from apiserver.api import meta
from apiserver.registry.service.defaults import (
    MAX_CLIENT_IP_TIMEOUT,
    externally_accessible,
    list_of,
    needs_health_check,
    ports_of,
)
from apiserver.registry.service.fielderrors import (
    forbidden,
    go_value,
    invalid,
    not_supported,
    qualified_name,
    required,
)
from apiserver.registry.service.ipvalidation import (
    is_headless,
    non_special_ip,
    parse_ip,
    valid_ip,
    validate_cluster_ips_related_fields,
    validate_cluster_ips_update,
    validate_ip_families_update,
)
from apiserver.registry.service.portvalidation import (
    port_num_errors,
    validate_port,
    validate_port_uniqueness,
)
from apiserver.registry.strategy import Cause
from apiserver.registry.validation import _label_value_errors, _qualified_name_errors

_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_AFFINITIES = ("ClientIP", "None")
_TRAFFIC_POLICIES = ("Cluster", "Local")
_TRAFFIC_DISTRIBUTIONS = ("PreferClose", "PreferSameNode", "PreferSameZone")
_IP_MODES = ("Proxy", "VIP")
_CIDR_MSG = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


# -- ValidateService -----------------------------------------------------------------------


def validate_service(obj: dict[str, Any]) -> list[Cause]:
    """``ValidateService`` without ObjectMeta (the store validates metadata)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes: list[Cause] = []
    svc_type = spec.get("type")
    ports = list_of(spec, "ports")
    cluster_ips = list_of(spec, "clusterIPs")
    headless = is_headless(spec)
    if not ports and not headless and svc_type != "ExternalName":
        causes.append(required("spec.ports"))
    if svc_type in ("LoadBalancer", "NodePort") and headless:
        causes.append(invalid("spec.clusterIPs[0]", go_value(cluster_ips[0]),
                              f"may not be set to 'None' for {svc_type} services"))
    elif svc_type == "ExternalName":
        if cluster_ips:
            causes.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if spec.get("ipFamilies"):
            causes.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            causes.append(forbidden("spec.ipFamilyPolicy",
                                    "may not be set for ExternalName services"))
        name = spec.get("externalName")
        cname = name.removesuffix(".") if isinstance(name, str) else ""
        if cname:
            causes += [invalid("spec.externalName", go_value(cname), msg)
                       for msg in meta.dns1123_subdomain_errors(cname)]
        else:
            causes.append(required("spec.externalName"))

    names: set[str] = set()
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            causes.append(invalid(f"spec.ports[{i}]", go_value(str(port)), "must be an object"))
            continue
        causes += validate_port(port, len(ports) > 1, names, f"spec.ports[{i}]")

    selector = spec.get("selector")
    if isinstance(selector, dict):
        for key, value in selector.items():
            causes += [invalid("spec.selector", go_value(key), msg)
                       for msg in _qualified_name_errors(str(key))]
            causes += [invalid("spec.selector", go_value(value), msg)
                       for msg in _label_value_errors(str(value))]

    affinity = spec.get("sessionAffinity")
    if not affinity:
        causes.append(required("spec.sessionAffinity"))
    elif affinity not in _AFFINITIES:
        causes.append(not_supported("spec.sessionAffinity", affinity, _AFFINITIES))
    if affinity == "ClientIP":
        causes += _client_ip_config(spec.get("sessionAffinityConfig"))
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        causes.append(forbidden("spec.sessionAffinityConfig",
                                "must not be set when session affinity is None"))

    causes += validate_cluster_ips_related_fields(spec)

    for i, ip in enumerate(spec.get("externalIPs") or []):
        path = f"spec.externalIPs[{i}]"
        bad = valid_ip(path, ip)
        causes += bad or non_special_ip(path, ip)

    if not svc_type:
        causes.append(required("spec.type"))
    elif svc_type not in _SERVICE_TYPES:
        causes.append(not_supported("spec.type", svc_type, _SERVICE_TYPES))

    if svc_type == "ClusterIP":
        for i, port in enumerate(ports_of(spec)):
            if port.get("nodePort"):
                causes.append(forbidden(f"spec.ports[{i}].nodePort",
                                        "may not be used when `type` is 'ClusterIP'"))

    causes += validate_port_uniqueness(ports)

    source_ranges = spec.get("loadBalancerSourceRanges") or []
    if source_ranges:
        path = "spec.LoadBalancerSourceRanges"  # sic: upstream's path
        if svc_type != "LoadBalancer":
            causes.append(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
        for i, value in enumerate(source_ranges):
            text = str(value).strip()
            try:
                ipaddress.ip_network(text, strict=False)
                if "/" not in text:
                    raise ValueError(text)
            except ValueError:
                causes.append(invalid(f"{path}[{i}]", go_value(text), _CIDR_MSG))

    if spec.get("allocateLoadBalancerNodePorts") is not None and svc_type != "LoadBalancer":
        causes.append(forbidden("spec.allocateLoadBalancerNodePorts",
                                "may only be used when `type` is 'LoadBalancer'"))
    if svc_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        causes.append(required("allocateLoadBalancerNodePorts"))

    causes += _load_balancer_class(None, spec)
    causes += _external_traffic_policy(spec)

    itp = spec.get("internalTrafficPolicy")
    if itp is None:
        if svc_type in ("NodePort", "LoadBalancer", "ClusterIP"):
            causes.append(required("spec.internalTrafficPolicy"))
    elif itp not in _TRAFFIC_POLICIES:
        causes.append(not_supported("spec.internalTrafficPolicy", itp, _TRAFFIC_POLICIES))

    distribution = spec.get("trafficDistribution")
    if distribution is not None and distribution not in _TRAFFIC_DISTRIBUTIONS:
        causes.append(not_supported("spec.trafficDistribution", distribution,
                                    _TRAFFIC_DISTRIBUTIONS))
    return causes


def _client_ip_config(config: Any) -> list[Cause]:
    detail = "when session affinity type is ClientIP"
    path = "spec.sessionAffinityConfig"
    if not isinstance(config, dict):
        return [required(path, detail)]
    client_ip = config.get("clientIP")
    if not isinstance(client_ip, dict):
        return [required(f"{path}.clientIP", detail)]
    timeout = client_ip.get("timeoutSeconds")
    if timeout is None:
        return [required(f"{path}.clientIP.timeoutSeconds", detail)]
    if not isinstance(timeout, int) or not 0 < timeout <= MAX_CLIENT_IP_TIMEOUT:
        return [invalid(f"{path}.clientIP.timeoutSeconds", go_value(timeout),
                        f"must be greater than 0 and less than {MAX_CLIENT_IP_TIMEOUT}")]
    return []


def _load_balancer_class(old: dict[str, Any] | None, spec: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    cls = spec.get("loadBalancerClass")
    if (
        old is not None
        and old.get("type") == "LoadBalancer"
        and spec.get("type") == "LoadBalancer"
        and old.get("loadBalancerClass") != cls
    ):
        causes.append(invalid("spec.loadBalancerClass", go_value(cls), "may not change once set"))
    if spec.get("type") == "LoadBalancer":
        if isinstance(cls, str):
            causes += qualified_name("spec.loadBalancerClass", cls)
    elif cls is not None:
        causes.append(forbidden("spec.loadBalancerClass",
                                "may only be used when `type` is 'LoadBalancer'"))
    return causes


def _external_traffic_policy(spec: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    etp = spec.get("externalTrafficPolicy")
    if not externally_accessible(spec):
        if etp:
            causes.append(invalid("spec.externalTrafficPolicy", go_value(etp),
                                  "may only be set for externally-accessible services"))
    elif not etp:
        causes.append(required("spec.externalTrafficPolicy"))
    elif etp not in _TRAFFIC_POLICIES:
        causes.append(not_supported("spec.externalTrafficPolicy", etp, _TRAFFIC_POLICIES))
    hc = spec.get("healthCheckNodePort") or 0
    if not needs_health_check(spec):
        if hc:
            causes.append(invalid(
                "spec.healthCheckNodePort", go_value(hc),
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is "
                "'Local'"))
    elif not hc:
        causes.append(required("spec.healthCheckNodePort"))
    else:
        causes += [invalid("spec.healthCheckNodePort", go_value(hc), msg)
                   for msg in port_num_errors(hc)]
    return causes


# -- updates ---------------------------------------------------------------------------------


def validate_service_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """``ValidateServiceUpdate`` (spec part)."""
    spec = new.get("spec") if isinstance(new.get("spec"), dict) else {}
    old_spec = old.get("spec") if isinstance(old.get("spec"), dict) else {}
    assert isinstance(spec, dict) and isinstance(old_spec, dict)
    causes = validate_cluster_ips_update(old_spec, spec)
    causes += validate_ip_families_update(old_spec, spec)
    causes += [c for c in _load_balancer_class(old_spec, spec)
               if c["message"].endswith("may not change once set")]
    if (
        needs_health_check(old_spec)
        and needs_health_check(spec)
        and spec.get("healthCheckNodePort") != old_spec.get("healthCheckNodePort")
    ):
        causes.append(forbidden("spec.healthCheckNodePort", "field is immutable"))
    return causes + validate_service(new)


def validate_status(obj: dict[str, Any]) -> list[Cause]:
    """``ValidateLoadBalancerStatus`` of ``status.loadBalancer``."""
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    assert isinstance(status, dict)
    lb = status.get("loadBalancer") if isinstance(status.get("loadBalancer"), dict) else {}
    assert isinstance(lb, dict)
    causes: list[Cause] = []
    for i, ingress in enumerate(lb.get("ingress") or []):
        path = f"status.loadBalancer.ingress[{i}]"
        if not isinstance(ingress, dict):
            continue
        ip = ingress.get("ip")
        if ip:
            causes += valid_ip(f"{path}.ip", ip)
        mode = ingress.get("ipMode")
        if mode is not None:
            if not ip:
                causes.append(forbidden(f"{path}.ipMode", "may not be specified when `ip` is not "
                                        "set"))
            elif mode not in _IP_MODES:
                causes.append(not_supported(f"{path}.ipMode", mode, _IP_MODES))
        hostname = ingress.get("hostname")
        if hostname:
            causes += [invalid(f"{path}.hostname", go_value(hostname), msg)
                       for msg in meta.dns1123_subdomain_errors(str(hostname))]
            if parse_ip(hostname) is not None:
                causes.append(invalid(f"{path}.hostname", go_value(hostname),
                                      "must be a DNS name, not an IP address"))
    return causes
