"""IP-family fields of a Service: ``ipFamilyPolicy``, ``ipFamilies``, ``clusterIPs``.

:func:`init_ip_family_fields` fills the policy and families a Service needs on
this cluster (upstream ``initIPFamilyFields``) before any address is taken, and
raises a 422 Invalid Status when the request conflicts with itself, with the
previous object or with the families the cluster has ranges for.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from apiserver.registry.service.allocerrors import invalid_service
from apiserver.registry.service.defaults import spec_view, strs_of
from apiserver.registry.service.fielderrors import go_list, go_value, invalid
from apiserver.registry.service.ipvalidation import ip_family, validate_cluster_ips_related_fields


def init_ip_family_fields(svc: dict[str, Any], old: dict[str, Any] | None,
                          configured: Collection[str], default_family: str) -> None:
    """Upstream ``initIPFamilyFields``: default policy/families; 422 on conflicts.

    ``configured`` are the families this cluster has a service range for,
    ``default_family`` the one of its primary range.
    """
    spec = spec_view(svc)
    if spec.get("type") == "ExternalName":
        return
    if old is not None and matching_prefer_dual_stack(spec, spec_view(old)):
        return
    old_spec = spec_view(old) if old is not None else None
    if spec.get("ipFamilyPolicy") is None:
        if old_spec is not None and old_spec.get("ipFamilyPolicy") is not None:
            spec["ipFamilyPolicy"] = old_spec["ipFamilyPolicy"]
        elif spec.get("clusterIP") == "None" and not spec.get("selector"):
            spec["ipFamilyPolicy"] = "RequireDualStack"
        else:
            spec["ipFamilyPolicy"] = "SingleStack"
    causes = validate_cluster_ips_related_fields(spec)
    if causes:
        raise invalid_service(svc, causes)
    policy = spec["ipFamilyPolicy"]
    shown_policy = go_value(policy)
    if old_spec is not None:
        if policy == "SingleStack":
            if strs_of(old_spec, "clusterIPs") == strs_of(spec, "clusterIPs") and \
                    len(strs_of(spec, "clusterIPs")) > 1:
                spec["clusterIPs"] = strs_of(spec, "clusterIPs")[:1]
            if strs_of(old_spec, "ipFamilies") == strs_of(spec, "ipFamilies") and \
                    len(strs_of(spec, "ipFamilies")) > 1:
                spec["ipFamilies"] = strs_of(spec, "ipFamilies")[:1]
        else:
            new_ips, old_ips = strs_of(spec, "clusterIPs"), strs_of(old_spec, "clusterIPs")
            if new_ips and len(new_ips) < len(old_ips):
                causes.append(invalid("spec.ipFamilyPolicy", shown_policy,
                                      "must be 'SingleStack' to release the secondary "
                                      "cluster IP"))
            new_f, old_f = strs_of(spec, "ipFamilies"), strs_of(old_spec, "ipFamilies")
            if new_f and len(new_f) < len(old_f):
                causes.append(invalid("spec.ipFamilyPolicy", shown_policy,
                                      "must be 'SingleStack' to release the secondary IP "
                                      "family"))
    if policy == "SingleStack":
        if len(strs_of(spec, "clusterIPs")) == 2:
            causes.append(invalid("spec.ipFamilyPolicy", shown_policy,
                                  "must be 'RequireDualStack' or 'PreferDualStack' when "
                                  "multiple cluster IPs are specified"))
        if len(strs_of(spec, "ipFamilies")) == 2:
            causes.append(invalid("spec.ipFamilyPolicy", shown_policy,
                                  "must be 'RequireDualStack' or 'PreferDualStack' when "
                                  "multiple IP families are specified"))
    families = strs_of(spec, "ipFamilies")
    ips = strs_of(spec, "clusterIPs")
    for i, ip in enumerate(ips):
        if ip == "None":
            break
        fam = ip_family(ip) or "IPv4"
        if i >= len(families):
            if fam not in configured:
                causes.append(invalid(f"spec.clusterIPs[{i}]", go_list(ips),
                                      f"{fam} is not configured on this cluster"))
            else:
                families.append(fam)
    if causes:
        raise invalid_service(svc, causes)
    if families:
        spec["ipFamilies"] = families
    if spec.get("clusterIP") == "None" and not spec.get("selector"):
        if not families:
            families = [default_family]
        if len(families) < 2 and policy != "SingleStack":
            families.append("IPv6" if families[0] == "IPv4" else "IPv4")
        spec["ipFamilies"] = families
        return
    if policy == "RequireDualStack" and len(configured) < 2:
        causes.append(invalid("spec.ipFamilyPolicy", shown_policy,
                              "this cluster is not configured for dual-stack services"))
    for i, fam in enumerate(families):
        if fam not in configured:
            causes.append(invalid(f"spec.ipFamilies[{i}]", go_value(fam),
                                  "not configured on this cluster"))
    if causes:
        raise invalid_service(svc, causes)
    if not families:
        families = [default_family]
    if policy != "SingleStack" and len(families) == 1 and len(configured) == 2:
        families.append("IPv6" if families[0] == "IPv4" else "IPv4")
    spec["ipFamilies"] = families


def matching_prefer_dual_stack(spec: dict[str, Any], old: dict[str, Any]) -> bool:
    """``isMatchingPreferDualStackClusterIPFields``."""
    ip_types = ("ClusterIP", "NodePort", "LoadBalancer")
    return (
        spec.get("ipFamilyPolicy") == "PreferDualStack"
        and old.get("ipFamilyPolicy") in (None, "PreferDualStack")
        and spec.get("type") == old.get("type")
        and spec.get("type") in ip_types
        and strs_of(spec, "clusterIPs") == strs_of(old, "clusterIPs")
        and strs_of(spec, "ipFamilies") == strs_of(old, "ipFamilies")
    )
