"""Service validation with upstream's field paths and messages.

Mirrors ``ValidateService``, ``ValidateServiceUpdate``,
``ValidateServiceClusterIPsRelatedFields`` and ``ValidateServiceStatusUpdate``
of ``pkg/apis/core/validation/validation.go``. Values in messages are printed
the way Go's field errors print them (``[]string{"10.0.0.1"}``, ``30080``,
``"None"``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from apiserver.api import errors, meta
from apiserver.registry.service.defaults import (
    MAX_CLIENT_IP_TIMEOUT,
    externally_accessible,
    needs_health_check,
    ports_of,
)
from apiserver.registry.strategy import Cause
from apiserver.registry.validation import _label_value_errors, _qualified_name_errors

_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_AFFINITIES = ("ClientIP", "None")
_TRAFFIC_POLICIES = ("Cluster", "Local")
_IP_FAMILIES = ("IPv4", "IPv6")
_IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
_TRAFFIC_DISTRIBUTIONS = ("PreferClose", "PreferSameNode", "PreferSameZone")
_IP_MODES = ("Proxy", "VIP")
_PORT_NAME_CHARS = re.compile(r"^[-a-z0-9]+$")
_PORT_NUM_MSG = "must be between 1 and 65535, inclusive"
_IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
_CIDR_MSG = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


# -- Go-style value printing ----------------------------------------------------------


def go_value(value: Any) -> str:
    """A bad value as ``field.Error`` prints it (strings quoted, ints bare)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _go_quote(value)
    return str(value)


def go_list(value: Any, elem: str = "string") -> str:
    """``[]string{"a", "b"}`` (Go's ``%#v`` of a slice); ``[]string(nil)`` when empty."""
    items = value if isinstance(value, list) else []
    if not items:
        return f"[]{elem}(nil)"
    return f"[]{elem}{{" + ", ".join(_go_quote(str(i)) for i in items) + "}"


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def invalid(path: str, shown: str, detail: str) -> Cause:
    """``path: Invalid value: <shown>: detail`` with ``shown`` already formatted."""
    return errors.field_cause("FieldValueInvalid", path, f"Invalid value: {shown}: {detail}")


def required(path: str, detail: str = "") -> Cause:
    msg = "Required value" + (f": {detail}" if detail else "")
    return errors.field_cause("FieldValueRequired", path, msg)


def forbidden(path: str, detail: str) -> Cause:
    return errors.forbidden_field(path, detail)


def not_supported(path: str, value: Any, supported: tuple[str, ...]) -> Cause:
    listed = ", ".join(_go_quote(s) for s in supported)
    return errors.field_cause(
        "FieldValueNotSupported", path,
        f"Unsupported value: {go_value(value)}: supported values: {listed}",
    )


def duplicate(path: str, shown: str) -> Cause:
    return errors.field_cause("FieldValueDuplicate", path, f"Duplicate value: {shown}")


# -- small validators --------------------------------------------------------------------


def port_num_errors(value: Any) -> list[str]:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        return [_PORT_NUM_MSG]
    return []


def port_name_errors(name: str) -> list[str]:
    """``IsValidPortName`` (IANA service name)."""
    errs = []
    if len(name) > 15:
        errs.append("must be no more than 15 characters")
    if not _PORT_NAME_CHARS.match(name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _parse_ip(text: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(text, str):
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def ip_family(text: str) -> str | None:
    """``IPv4``/``IPv6`` of an address string, None when not an IP."""
    addr = _parse_ip(text)
    if addr is None:
        return None
    return "IPv4" if addr.version == 4 else "IPv6"


def _valid_ip(path: str, value: Any) -> list[Cause]:
    if _parse_ip(value) is None:
        return [invalid(path, go_value(value), _IP_MSG)]
    return []


def _non_special_ip(path: str, value: str) -> list[Cause]:
    addr = _parse_ip(value)
    if addr is None:
        return []
    if addr.is_unspecified:
        return [invalid(path, go_value(value), f"may not be unspecified ({value})")]
    if addr.is_loopback:
        return [invalid(path, go_value(value), "may not be in the loopback range "
                        "(127.0.0.0/8, ::1/128)")]
    if addr.is_link_local:
        return [invalid(path, go_value(value), "may not be in the link-local range "
                        "(169.254.0.0/16, fe80::/10)")]
    link_local_mc = (ipaddress.ip_network("224.0.0.0/24"), ipaddress.ip_network("ff02::/16"))
    if any(addr in net for net in link_local_mc if net.version == addr.version):
        return [invalid(path, go_value(value), "may not be in the link-local multicast range "
                        "(224.0.0.0/24, ff02::/10)")]
    return []


def _qualified_name(path: str, value: str) -> list[Cause]:
    return [invalid(path, go_value(value), msg) for msg in _qualified_name_errors(value)]


def is_headless(spec: dict[str, Any]) -> bool:
    ips = spec.get("clusterIPs")
    return isinstance(ips, list) and len(ips) == 1 and ips[0] == "None"


def _go_service_port(protocol: Any, port: Any) -> str:
    return (
        f'core.ServicePort{{Name:"", Protocol:{_go_quote(str(protocol or ""))}, '
        f"AppProtocol:(*string)(nil), Port:{port if isinstance(port, int) else 0}, "
        'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
    )


# -- ValidateService -----------------------------------------------------------------------


def validate_service(obj: dict[str, Any]) -> list[Cause]:
    """``ValidateService`` without ObjectMeta (the store validates metadata)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes: list[Cause] = []
    svc_type = spec.get("type")
    ports = _list(spec, "ports")
    cluster_ips = _list(spec, "clusterIPs")
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
        causes += _validate_port(port, len(ports) > 1, names, f"spec.ports[{i}]")

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
        bad = _valid_ip(path, ip)
        causes += bad or _non_special_ip(path, ip)

    if not svc_type:
        causes.append(required("spec.type"))
    elif svc_type not in _SERVICE_TYPES:
        causes.append(not_supported("spec.type", svc_type, _SERVICE_TYPES))

    if svc_type == "ClusterIP":
        for i, port in enumerate(ports_of(spec)):
            if port.get("nodePort"):
                causes.append(forbidden(f"spec.ports[{i}].nodePort",
                                        "may not be used when `type` is 'ClusterIP'"))

    seen_node_ports: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        if not isinstance(port, dict) or not port.get("nodePort"):
            continue
        key = (port.get("protocol"), port.get("nodePort"))
        if key in seen_node_ports:
            causes.append(duplicate(f"spec.ports[{i}].nodePort", go_value(port["nodePort"])))
        seen_node_ports.add(key)

    seen_ports: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        key = (port.get("protocol"), port.get("port"))
        if key in seen_ports:
            causes.append(duplicate(f"spec.ports[{i}]", _go_service_port(*key)))
        seen_ports.add(key)

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


def _validate_port(port: dict[str, Any], require_name: bool, names: set[str],
                   path: str) -> list[Cause]:
    causes: list[Cause] = []
    name = port.get("name") or ""
    if require_name and not name:
        causes.append(required(f"{path}.name"))
    elif name:
        causes += [invalid(f"{path}.name", go_value(name), msg)
                   for msg in meta.dns1123_label_errors(str(name))]
        if name in names:
            causes.append(duplicate(f"{path}.name", go_value(name)))
        else:
            names.add(name)
    for msg in port_num_errors(port.get("port")):
        causes.append(invalid(f"{path}.port", go_value(port.get("port", 0)), msg))
    protocol = port.get("protocol")
    if not protocol:
        causes.append(required(f"{path}.protocol"))
    elif protocol not in _PROTOCOLS:
        causes.append(not_supported(f"{path}.protocol", protocol, _PROTOCOLS))
    target = port.get("targetPort")
    if isinstance(target, str):
        causes += [invalid(f"{path}.targetPort", go_value(target), msg)
                   for msg in port_name_errors(target)]
    else:
        causes += [invalid(f"{path}.targetPort", go_value(target if target is not None else 0),
                           msg) for msg in port_num_errors(target)]
    app_protocol = port.get("appProtocol")
    if isinstance(app_protocol, str):
        causes += _qualified_name(f"{path}.appProtocol", app_protocol)
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
            causes += _qualified_name("spec.loadBalancerClass", cls)
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


def validate_cluster_ips_related_fields(spec: dict[str, Any]) -> list[Cause]:
    """``ValidateServiceClusterIPsRelatedFields``."""
    if spec.get("type") == "ExternalName":
        return []
    causes: list[Cause] = []
    cluster_ip = spec.get("clusterIP") or ""
    ips = _list(spec, "clusterIPs")
    families = _list(spec, "ipFamilies")
    if cluster_ip:
        if not ips:
            causes.append(required("spec.clusterIPs"))
        elif ips[0] != cluster_ip:
            causes.append(invalid("spec.clusterIPs", go_list(ips),
                                  "first value must match `clusterIP`"))
    elif ips:
        causes.append(invalid("spec.clusterIPs", go_list(ips),
                              "must be empty when `clusterIP` is not specified"))
    seen: set[Any] = set()
    for i, family in enumerate(families):
        if family not in _IP_FAMILIES:
            causes.append(not_supported(f"spec.ipFamilies[{i}]", family, _IP_FAMILIES))
        if family in seen:
            causes.append(duplicate(f"spec.ipFamilies[{i}]", go_value(family)))
        seen.add(family)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in _IP_FAMILY_POLICIES:
        causes.append(not_supported("spec.ipFamilyPolicy", policy, _IP_FAMILY_POLICIES))
    has_invalid = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                has_invalid = True
                causes.append(invalid("spec.clusterIPs", go_list(ips),
                                      "'None' must be the first and only value"))
            continue
        bad = _valid_ip(f"spec.clusterIPs[{i}]", ip)
        has_invalid = has_invalid or bool(bad)
        causes += bad
    if len(ips) > 2:
        causes.append(invalid("spec.clusterIPs", go_list(ips), "may only hold up to 2 values"))
    if has_invalid:
        return causes
    if len(ips) > 1 and len({ip_family(str(ip)) for ip in ips}) != len(ips):
        causes.append(invalid("spec.clusterIPs", go_list(ips),
                              "may specify no more than one IP for each IP family"))
    if not is_headless(spec) and ips and families:
        for i, ip in enumerate(ips[: len(families)]):
            fam = ip_family(str(ip))
            if families[i] == "IPv4" and fam == "IPv6":
                causes.append(invalid(f"spec.clusterIPs[{i}]", go_value(ip),
                                      f"expected an IPv4 value as indicated by `ipFamilies[{i}]`"))
            if families[i] == "IPv6" and fam != "IPv6":
                causes.append(invalid(f"spec.clusterIPs[{i}]", go_value(ip),
                                      f"expected an IPv6 value as indicated by `ipFamilies[{i}]`"))
    return causes


# -- updates ---------------------------------------------------------------------------------


def validate_service_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """``ValidateServiceUpdate`` (spec part)."""
    spec = new.get("spec") if isinstance(new.get("spec"), dict) else {}
    old_spec = old.get("spec") if isinstance(old.get("spec"), dict) else {}
    assert isinstance(spec, dict) and isinstance(old_spec, dict)
    causes = _upgrade_downgrade_cluster_ips(old_spec, spec)
    causes += _upgrade_downgrade_ip_families(old_spec, spec)
    causes += [c for c in _load_balancer_class(old_spec, spec)
               if c["message"].endswith("may not change once set")]
    if (
        needs_health_check(old_spec)
        and needs_health_check(spec)
        and spec.get("healthCheckNodePort") != old_spec.get("healthCheckNodePort")
    ):
        causes.append(forbidden("spec.healthCheckNodePort", "field is immutable"))
    return causes + validate_service(new)


def _list(spec: dict[str, Any], key: str) -> list[Any]:
    value = spec.get(key)
    return value if isinstance(value, list) else []


def _upgrade_downgrade_cluster_ips(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    if new.get("type") == "ExternalName" or old.get("type") == "ExternalName":
        return []
    if is_headless(old) and is_headless(new):
        return []
    old_ips, ips = _list(old, "clusterIPs"), _list(new, "clusterIPs")
    causes: list[Cause] = []
    if len(old_ips) == len(ips):
        for i, ip in enumerate(old_ips):
            if ip != ips[i]:
                causes.append(invalid(f"spec.clusterIPs[{i}]", go_list(ips),
                                      "may not change once set"))
    elif len(old_ips) > len(ips):
        if not ips:
            causes.append(invalid("spec.clusterIPs[0]", go_list(ips),
                                  "primary clusterIP can not be unset"))
        if old_ips and ips and ips[0] != old_ips[0]:
            causes.append(invalid("spec.clusterIPs[0]", go_list(ips), "may not change once set"))
        if len(ips) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
            causes.append(invalid("spec.ipFamilyPolicy", go_value(new.get("ipFamilyPolicy")),
                                  "must be set to 'SingleStack' when releasing the secondary "
                                  "clusterIP"))
    elif old_ips and ips[0] != old_ips[0]:
        causes.append(invalid("spec.clusterIPs[0]", go_list(ips), "may not change once set"))
    return causes


def _upgrade_downgrade_ip_families(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    if new.get("type") == "ExternalName" or old.get("type") == "ExternalName":
        return []
    if is_headless(old) or is_headless(new):
        return []
    old_fams, fams = _list(old, "ipFamilies"), _list(new, "ipFamilies")
    ips = _list(new, "clusterIPs")
    causes: list[Cause] = []
    shown = go_list(fams, "core.IPFamily")
    if len(old_fams) == len(fams):
        for i, fam in enumerate(old_fams):
            if fam != fams[i]:
                causes.append(invalid("spec.ipFamilies[0]", shown, "may not change once set"))
    elif len(old_fams) > len(fams):
        if not ips:
            causes.append(invalid("spec.ipFamilies[0]", shown, "primary ipFamily can not be unset"))
        if fams and fams[0] != old_fams[0]:
            causes.append(invalid("spec.ipFamilies[0]", go_list(ips), "may not change once set"))
        if len(fams) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
            causes.append(invalid("spec.ipFamilyPolicy", go_value(new.get("ipFamilyPolicy")),
                                  "must be set to 'SingleStack' when releasing the secondary "
                                  "ipFamily"))
    elif old_fams and fams and fams[0] != old_fams[0]:
        causes.append(invalid("spec.ipFamilies[0]", go_list(ips), "may not change once set"))
    return causes


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
            causes += _valid_ip(f"{path}.ip", ip)
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
            if _parse_ip(hostname) is not None:
                causes.append(invalid(f"{path}.hostname", go_value(hostname),
                                      "must be a DNS name, not an IP address"))
    return causes
