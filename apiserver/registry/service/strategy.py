"""The Service strategy: defaults, clusterIP normalisation, type transitions, validation.

Upstream ``pkg/registry/core/service/strategy.go`` plus the parts of
``storage/storage.go`` that only rewrite fields (``patchAllocatedValues``,
``NormalizeClusterIPs``); allocation itself lives in
:mod:`apiserver.registry.service.alloc` and runs from the Service store.
"""

from __future__ import annotations

from typing import Any

from apiserver.api import meta
from apiserver.registry.service.alloc import needs_cluster_ip
from apiserver.registry.service.defaults import (
    default_service,
    default_status,
    externally_accessible,
    needs_health_check,
    ports_of,
    spec_of,
)
from apiserver.registry.service.nodeports import needs_node_port
from apiserver.registry.service.validation import (
    validate_service,
    validate_service_update,
    validate_status,
)
from apiserver.registry.strategy import Cause, Strategy


def _strs(spec: dict[str, Any], key: str) -> list[Any]:
    value = spec.get(key)
    return list(value) if isinstance(value, list) else []


def normalize_cluster_ips(new: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Keep ``clusterIP`` and ``clusterIPs`` in step (upstream ``NormalizeClusterIPs``)."""
    spec = spec_of(new)
    cluster_ip = spec.get("clusterIP") or ""
    ips = _strs(spec, "clusterIPs")
    if old is None:
        if cluster_ip and not ips:
            spec["clusterIPs"] = [cluster_ip]
        return
    old_spec = spec_of(old)
    old_ip = old_spec.get("clusterIP") or ""
    old_ips = _strs(old_spec, "clusterIPs")
    if old_ips and not ips and old_ip == cluster_ip:
        spec["clusterIPs"] = ips = old_ips
    if old_ip != cluster_ip:
        if old_ip and not cluster_ip and ips == old_ips:
            spec.pop("clusterIPs", None)
        if cluster_ip and _strs(spec, "clusterIPs") == old_ips:
            spec["clusterIPs"] = [cluster_ip]


def patch_allocated_values(new: dict[str, Any], old: dict[str, Any]) -> None:
    """Carry allocated values a client left out of an update (``patchAllocatedValues``)."""
    spec, old_spec = spec_of(new), spec_of(old)
    if needs_cluster_ip(old_spec) and needs_cluster_ip(spec):
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs"):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if needs_node_port(old_spec) and needs_node_port(spec):
        def used(s: dict[str, Any]) -> set[Any]:
            return {p.get("nodePort") for p in ports_of(s) if p.get("nodePort")}

        both = used(old_spec) & used(spec)
        by_name = {p.get("name") or "": p.get("nodePort") for p in ports_of(old_spec)}
        for port in ports_of(spec):
            if not port.get("nodePort"):
                previous = by_name.get(port.get("name") or "")
                if previous and previous not in both:
                    port["nodePort"] = previous
    if needs_health_check(old_spec) and needs_health_check(spec) and \
            not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort"):
        spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


def drop_type_dependent_fields(new: dict[str, Any], old: dict[str, Any]) -> None:
    """Wipe fields the new type does not use, when the client left them unchanged."""
    spec, old_spec = spec_of(new), spec_of(old)

    def same(key: str) -> bool:
        return spec.get(key) == old_spec.get(key)

    if needs_cluster_ip(old_spec) and not needs_cluster_ip(spec):
        if same("clusterIPs") and same("clusterIP"):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if same("ipFamilies"):
            spec.pop("ipFamilies", None)
        if same("ipFamilyPolicy"):
            spec.pop("ipFamilyPolicy", None)
    if needs_node_port(old_spec) and not needs_node_port(spec):
        old_nps = [p.get("nodePort") for p in ports_of(old_spec)]
        new_nps = [p.get("nodePort") for p in ports_of(spec)]
        if old_nps == new_nps:
            for port in ports_of(spec):
                port.pop("nodePort", None)
    if needs_health_check(old_spec) and not needs_health_check(spec) and \
            same("healthCheckNodePort"):
        spec.pop("healthCheckNodePort", None)
    if old_spec.get("type") == "LoadBalancer" and spec.get("type") != "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is not None and \
                same("allocateLoadBalancerNodePorts"):
            spec.pop("allocateLoadBalancerNodePorts", None)
        if same("loadBalancerClass"):
            spec.pop("loadBalancerClass", None)
    if externally_accessible(old_spec) and not externally_accessible(spec) and \
            same("externalTrafficPolicy"):
        spec.pop("externalTrafficPolicy", None)
    if spec.get("type") != "LoadBalancer":
        status = new.get("status")
        if isinstance(status, dict):
            status["loadBalancer"] = {}


class ServiceStrategy(Strategy):
    """Services: DNS-1035 names, status subresource, upstream defaults and validation."""

    has_status_subresource = True
    allow_create_on_update = True

    def name_errors(self, name: str) -> list[str]:
        return meta.dns1035_label_errors(name)

    def initial_status(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"loadBalancer": {}}

    def default(self, obj: dict[str, Any]) -> None:
        default_service(obj)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        normalize_cluster_ips(obj, None)

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        default_service(new)
        patch_allocated_values(new, old)
        normalize_cluster_ips(new, old)
        drop_type_dependent_fields(new, old)

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_status_update(new, old)
        default_status(new)

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_service(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return validate_service_update(new, old)

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return validate_status(new)
