"""Validation of a Service's IP fields: ``clusterIPs``, ``ipFamilies``, ``ipFamilyPolicy``.

Mirrors ``ValidateServiceClusterIPsRelatedFields`` and the clusterIP / ipFamily
upgrade-downgrade rules of ``ValidateServiceUpdate``; also the IP parsing
helpers (``IsValidIP``, ``ValidateNonSpecialIP``) other Service checks use.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from apiserver.registry.service.defaults import list_of
from apiserver.registry.service.fielderrors import (
    duplicate,
    go_list,
    go_value,
    invalid,
    not_supported,
    required,
)
from apiserver.registry.strategy import Cause

_IP_FAMILIES = ("IPv4", "IPv6")
_IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def parse_ip(text: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``text`` spells, or None when it is not an IP string."""
    if not isinstance(text, str):
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def ip_family(text: str) -> str | None:
    """``IPv4``/``IPv6`` of an address string, None when not an IP."""
    addr = parse_ip(text)
    if addr is None:
        return None
    return "IPv4" if addr.version == 4 else "IPv6"


def valid_ip(path: str, value: Any) -> list[Cause]:
    """``IsValidIP``: one ``Invalid value`` cause unless ``value`` is an IP."""
    if parse_ip(value) is None:
        return [invalid(path, go_value(value), IP_MSG)]
    return []


def non_special_ip(path: str, value: str) -> list[Cause]:
    """``ValidateNonSpecialIP``: no unspecified, loopback or link-local addresses."""
    addr = parse_ip(value)
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


def is_headless(spec: dict[str, Any]) -> bool:
    """Whether ``clusterIPs`` is exactly ``["None"]``."""
    ips = spec.get("clusterIPs")
    return isinstance(ips, list) and len(ips) == 1 and ips[0] == "None"


def validate_cluster_ips_related_fields(spec: dict[str, Any]) -> list[Cause]:
    """``ValidateServiceClusterIPsRelatedFields``."""
    if spec.get("type") == "ExternalName":
        return []
    causes: list[Cause] = []
    cluster_ip = spec.get("clusterIP") or ""
    ips = list_of(spec, "clusterIPs")
    families = list_of(spec, "ipFamilies")
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
        bad = valid_ip(f"spec.clusterIPs[{i}]", ip)
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


def validate_cluster_ips_update(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    """``validateUpgradeDowngradeClusterIPs``: cluster IPs keep their primary once set."""
    if new.get("type") == "ExternalName" or old.get("type") == "ExternalName":
        return []
    if is_headless(old) and is_headless(new):
        return []
    old_ips, ips = list_of(old, "clusterIPs"), list_of(new, "clusterIPs")
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


def validate_ip_families_update(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    """``validateUpgradeDowngradeIPFamilies``: IP families keep their primary once set."""
    if new.get("type") == "ExternalName" or old.get("type") == "ExternalName":
        return []
    if is_headless(old) or is_headless(new):
        return []
    old_fams, fams = list_of(old, "ipFamilies"), list_of(new, "ipFamilies")
    ips = list_of(new, "clusterIPs")
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
