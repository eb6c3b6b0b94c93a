"""Validation of Endpoints, PodTemplates, ResourceQuotas and of the small API-group kinds.

Counterparts of ``ValidateEndpoints``, ``ValidatePodTemplate`` and ``ValidateResourceQuota``
(``pkg/apis/core/validation``), ``ValidateEndpointSlice`` (``pkg/apis/discovery``),
``ValidateRuntimeClass`` (``pkg/apis/node``), ``ValidateLease`` (``pkg/apis/coordination``)
and ``ValidateEventCreate`` for events.k8s.io/v1, with upstream's field paths and messages.
They assume defaults were applied and never raise on malformed input.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from apiserver.api import meta
from apiserver.registry import common as c
from apiserver.registry.quantity import nonnegative_quantity
from apiserver.registry.service.fielderrors import duplicate
from apiserver.registry.service.ipvalidation import IP_MSG, non_special_ip
from apiserver.registry.service.portvalidation import port_num_errors
from apiserver.registry.strategy import Cause
from apiserver.registry.table_strategy import TableStrategy
from apiserver.registry.validation import _label_value_errors, _qualified_name_errors
from apiserver.registry.workloads.validation import pod_template, spec_of

PROTOCOLS = ("SCTP", "TCP", "UDP")
ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
QUOTA_SCOPES = ("BestEffort", "CrossNamespacePodAffinity", "NotBestEffort",
                "NotTerminating", "PriorityClass", "Terminating", "VolumeAttributesClass")
LEASE_STRATEGIES = ("OldestEmulationVersion",)
EVENT_TYPES = ("Normal", "Warning")
_SLICE_MAX_ENDPOINTS = 1000
_SLICE_MAX_ADDRESSES = 100
_SLICE_MAX_PORTS = 20000
_EVENT_FIELD_LIMIT = 128
_EVENT_NOTE_LIMIT = 1024


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _too_many(path: str, count: int, limit: int) -> Cause:
    return {"reason": "FieldValueTooMany", "field": path,
            "message": f"Too many: {count}: must have at most {limit} items"}


def _label(path: str, value: Any) -> list[Cause]:
    return [c.invalid(path, c.go_value(value), m) for m in meta.dns1123_label_errors(str(value))]


def _subdomain(path: str, value: Any) -> list[Cause]:
    return [c.invalid(path, c.go_value(value), m)
            for m in meta.dns1123_subdomain_errors(str(value))]


def _port(port: Any, path: str, require_name: bool, require_number: bool) -> list[Cause]:
    """An Endpoints or EndpointSlice port: name, number 1..65535, protocol."""
    if not isinstance(port, dict):
        return [c.required(path)]
    causes: list[Cause] = []
    name = port.get("name")
    if name:
        causes += _label(f"{path}.name", name)
    elif require_name:
        causes.append(c.required(f"{path}.name"))
    number = port.get("port")
    if number is not None or require_number:
        causes += [c.invalid(f"{path}.port", c.go_value(number), m)
                   for m in port_num_errors(number)]
    protocol = port.get("protocol")
    if not protocol:
        causes.append(c.required(f"{path}.protocol"))
    elif protocol not in PROTOCOLS:
        causes.append(c.not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    return causes


def _endpoint_address(address: Any, path: str) -> list[Cause]:
    if not isinstance(address, dict):
        return [c.required(path)]
    ip = address.get("ip")
    try:
        ipaddress.ip_address(str(ip))
    except ValueError:
        return [c.invalid(f"{path}.ip", c.go_value(ip), IP_MSG)]
    # Upstream also refuses loopback addresses here; kubemu's pods, nodes and apiserver
    # live on 127.0.0.0/8 by design (a lab without privileges), so loopback is allowed.
    causes = [] if ipaddress.ip_address(str(ip)).is_loopback else non_special_ip(
        f"{path}.ip", str(ip))
    if address.get("hostname"):
        causes += _label(f"{path}.hostname", address["hostname"])
    if address.get("nodeName"):
        causes += _subdomain(f"{path}.nodeName", address["nodeName"])
    return causes


def validate_endpoints(obj: dict[str, Any]) -> list[Cause]:
    """Every subset has addresses (valid, non-special IPs) and valid ports."""
    causes: list[Cause] = []
    for i, subset in enumerate(_list(obj.get("subsets"))):
        path = f"subsets[{i}]"
        if not isinstance(subset, dict):
            causes.append(c.required(path))
            continue
        ready = _list(subset.get("addresses"))
        not_ready = _list(subset.get("notReadyAddresses"))
        if not ready and not not_ready:
            causes.append(c.required(path, "must specify `addresses` or `notReadyAddresses`"))
        for j, address in enumerate(ready):
            causes += _endpoint_address(address, f"{path}.addresses[{j}]")
        for j, address in enumerate(not_ready):
            causes += _endpoint_address(address, f"{path}.notReadyAddresses[{j}]")
        ports = _list(subset.get("ports"))
        for j, port in enumerate(ports):
            causes += _port(port, f"{path}.ports[{j}]", len(ports) > 1, True)
    return causes


def _slice_address(address: Any, path: str, kind: str) -> list[Cause]:
    text = str(address)
    if kind == "FQDN":
        return _subdomain(path, text)
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        parsed = None
    want = 4 if kind == "IPv4" else 6
    if parsed is None or parsed.version != want:
        return [c.invalid(path, c.go_value(address), f"must be a valid {kind} address")]
    return []


def validate_endpoint_slice(obj: dict[str, Any]) -> list[Cause]:
    """Address type among the supported ones; 1..100 addresses per endpoint; valid ports."""
    kind = obj.get("addressType")
    causes: list[Cause] = []
    if not kind:
        causes.append(c.required("addressType"))
    elif kind not in ADDRESS_TYPES:
        causes.append(c.not_supported("addressType", kind, ADDRESS_TYPES))
    endpoints = _list(obj.get("endpoints"))
    if len(endpoints) > _SLICE_MAX_ENDPOINTS:
        causes.append(_too_many("endpoints", len(endpoints), _SLICE_MAX_ENDPOINTS))
    for i, endpoint in enumerate(endpoints):
        path = f"endpoints[{i}]"
        if not isinstance(endpoint, dict):
            causes.append(c.required(path))
            continue
        addresses = _list(endpoint.get("addresses"))
        if not addresses:
            causes.append(c.required(f"{path}.addresses", "must contain at least 1 address"))
        elif len(addresses) > _SLICE_MAX_ADDRESSES:
            causes.append(_too_many(f"{path}.addresses", len(addresses), _SLICE_MAX_ADDRESSES))
        elif kind in ADDRESS_TYPES:
            for j, address in enumerate(addresses):
                causes += _slice_address(address, f"{path}.addresses[{j}]", str(kind))
        if endpoint.get("nodeName"):
            causes += _subdomain(f"{path}.nodeName", endpoint["nodeName"])
        if endpoint.get("hostname"):
            causes += _label(f"{path}.hostname", endpoint["hostname"])
    ports = _list(obj.get("ports"))
    if len(ports) > _SLICE_MAX_PORTS:
        causes.append(_too_many("ports", len(ports), _SLICE_MAX_PORTS))
    names: set[str] = set()
    for i, port in enumerate(ports):
        path = f"ports[{i}]"
        if not isinstance(port, dict):
            causes.append(c.required(path))
            continue
        name = str(port.get("name") or "")
        if name in names:
            causes.append(duplicate(f"{path}.name", c.go_value(name)))
        names.add(name)
        causes += _port(port, path, False, False)
    return causes


def validate_pod_template(obj: dict[str, Any]) -> list[Cause]:
    """``template`` required; its labels valid; its pod spec as any pod's."""
    template = obj.get("template")
    if not isinstance(template, dict):
        return [c.required("template")]
    labels = (template.get("metadata") or {}).get("labels") if isinstance(
        template.get("metadata"), dict) else None
    causes: list[Cause] = []
    for key, value in (labels if isinstance(labels, dict) else {}).items():
        causes += [c.invalid("template.metadata.labels", c.go_value(str(key)), m)
                   for m in _qualified_name_errors(str(key))]
        causes += [c.invalid("template.metadata.labels", c.go_value(str(value)), m)
                   for m in _label_value_errors(str(value))]
    return causes + pod_template(template, "template", ("Always", "OnFailure", "Never"))


def validate_resource_quota(obj: dict[str, Any]) -> list[Cause]:
    """Hard limits: qualified resource names, non-negative quantities; known scopes."""
    spec = spec_of(obj)
    causes: list[Cause] = []
    hard = spec.get("hard")
    for name, value in (hard if isinstance(hard, dict) else {}).items():
        path = f"spec.hard[{name}]"
        causes += [c.invalid(path, c.go_value(str(name)), m)
                   for m in _qualified_name_errors(str(name))]
        causes += nonnegative_quantity(path, value)
    for i, scope in enumerate(_list(spec.get("scopes"))):
        if scope not in QUOTA_SCOPES:
            causes.append(c.not_supported(f"spec.scopes[{i}]", scope, QUOTA_SCOPES))
    return causes


class PodTemplateStrategy(TableStrategy):
    """core/v1 PodTemplates."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_pod_template(obj)


class ResourceQuotaStrategy(TableStrategy):
    """core/v1 ResourceQuotas."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_resource_quota(obj)


def validate_runtime_class(obj: dict[str, Any]) -> list[Cause]:
    """``handler`` required and a DNS-1123 label; overhead quantities non-negative."""
    handler = obj.get("handler")
    if not handler:
        return [c.required("handler")]
    causes = _label("handler", handler)
    overhead = obj.get("overhead")
    pod_fixed = overhead.get("podFixed") if isinstance(overhead, dict) else None
    for name, value in (pod_fixed if isinstance(pod_fixed, dict) else {}).items():
        causes += nonnegative_quantity(f"overhead.podFixed[{name}]", value)
    return causes


class RuntimeClassStrategy(TableStrategy):
    """node.k8s.io/v1 RuntimeClasses: the handler is fixed after create."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_runtime_class(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return validate_runtime_class(new) + c.immutable(
            "handler", new.get("handler"), old.get("handler"))


def validate_lease(obj: dict[str, Any]) -> list[Cause]:
    """Duration > 0, transitions ≥ 0, a preferred holder only with a known strategy."""
    spec = spec_of(obj)
    causes = c.positive("spec.leaseDurationSeconds", spec.get("leaseDurationSeconds"))
    causes += c.nonnegative("spec.leaseTransitions", spec.get("leaseTransitions"))
    strategy = spec.get("strategy")
    if strategy is not None and strategy not in LEASE_STRATEGIES:
        causes.append(c.not_supported("spec.strategy", strategy, LEASE_STRATEGIES))
    if spec.get("preferredHolder") and strategy is None:
        causes.append(c.forbidden("spec.preferredHolder",
                                  "may only be specified if `strategy` is defined"))
    return causes


class LeaseStrategy(TableStrategy):
    """coordination.k8s.io/v1 Leases."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_lease(obj)


def _unset(obj: dict[str, Any], key: str, path: str) -> list[Cause]:
    value = obj.get(key)
    if value in (None, 0, "", {}) or (isinstance(value, dict) and not any(value.values())):
        return []
    return [c.invalid(path, '""', "needs to be unset")]


def _limited(obj: dict[str, Any], key: str, path: str, limit: int,
             required: bool) -> list[Cause]:
    value = str(obj.get(key) or "")
    if not value:
        return [c.required(path)] if required else []
    if len(value) > limit:
        return [c.invalid(path, '""', f"can have at most {limit} characters")]
    return []


def validate_event_v1(obj: dict[str, Any]) -> list[Cause]:
    """events.k8s.io/v1 create: eventTime, type, reporting fields, action and reason set."""
    causes: list[Cause] = []
    if not obj.get("eventTime"):
        causes.append(c.required("eventTime"))
    kind = obj.get("type")
    if kind not in EVENT_TYPES:
        causes.append(c.invalid("type", '""', f"has invalid value: {kind or ''}"))
    causes += _unset(obj, "deprecatedFirstTimestamp", "firstTimestamp")
    causes += _unset(obj, "deprecatedLastTimestamp", "lastTimestamp")
    causes += _unset(obj, "deprecatedCount", "count")
    causes += _unset(obj, "deprecatedSource", "source")
    controller = str(obj.get("reportingController") or "")
    if not controller:
        causes.append(c.required("reportingController"))
    causes += [c.invalid("reportingController", c.go_value(controller), m)
               for m in _qualified_name_errors(controller)]
    causes += _limited(obj, "reportingInstance", "reportingInstance", _EVENT_FIELD_LIMIT, True)
    causes += _limited(obj, "action", "action", _EVENT_FIELD_LIMIT, True)
    causes += _limited(obj, "reason", "reason", _EVENT_FIELD_LIMIT, True)
    causes += _limited(obj, "note", "note", _EVENT_NOTE_LIMIT, False)
    series = obj.get("series")
    if isinstance(series, dict):
        count = series.get("count")
        if not c.is_int(count) or count < 2:
            causes.append(c.invalid("series.count", '""', "should be at least 2"))
        if not series.get("lastObservedTime"):
            causes.append(c.required("series.lastObservedTime"))
    return causes


class EventV1Strategy(TableStrategy):
    """events.k8s.io/v1 Events: strict rules on create, as upstream's ``ValidateEventCreate``.

    Updates are not checked against the create-time rules (an Event written through the
    core API before may lack the events.k8s.io/v1 fields).
    """

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_event_v1(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return []
