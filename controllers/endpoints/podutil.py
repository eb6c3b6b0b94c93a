"""Pod and Service helpers shared by the endpoints and EndpointSlice controllers.

Upstream homes: ``k8s.io/kubernetes/pkg/api/v1/pod`` (``IsPodReady``,
``FindPort``), ``k8s.io/endpointslice/util`` (``ShouldPodBeInEndpoints``,
``ShouldSetHostname``, ``GetServicesToUpdateOnPodChange``) and the trigger-time
tracker. Objects are JSON dicts as the API serves them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from apiserver.api.labels import selector_from_set
from controllers.runtime.objects import is_ready, parse_time, ready_condition

__all__ = [
    "HEADLESS_LABEL",
    "find_port",
    "format_rfc3339_nano",
    "is_ipv6",
    "is_pod_ready",
    "is_pod_terminal",
    "is_service_ip_set",
    "parse_time",
    "pod_endpoints_changed",
    "pod_ips",
    "ready_condition",
    "service_selector",
    "should_pod_be_in_endpoints",
    "should_set_hostname",
]

Obj = Mapping[str, Any]

#: ``v1.IsHeadlessService``.
HEADLESS_LABEL = "service.kubernetes.io/headless"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def meta(obj: Obj) -> Mapping[str, Any]:
    """``obj.metadata`` (``{}`` if missing)."""
    return _m(obj.get("metadata"))


def spec(obj: Obj) -> Mapping[str, Any]:
    """``obj.spec`` (``{}`` if missing)."""
    return _m(obj.get("spec"))


def status(obj: Obj) -> Mapping[str, Any]:
    """``obj.status`` (``{}`` if missing)."""
    return _m(obj.get("status"))


def is_pod_ready(pod: Obj) -> bool:
    """``IsPodReady``: the Ready condition is ``True``."""
    return is_ready(pod)


def is_pod_terminal(pod: Obj) -> bool:
    """Phase ``Succeeded`` or ``Failed``."""
    return status(pod).get("phase") in ("Succeeded", "Failed")


def pod_ips(pod: Obj) -> list[str]:
    """``status.podIPs[*].ip``; falls back to ``status.podIP`` (what defaulting fills in)."""
    st = status(pod)
    ips = [
        str(p.get("ip")) for p in st.get("podIPs") or [] if isinstance(p, Mapping) and p.get("ip")
    ]
    if not ips and st.get("podIP"):
        ips = [str(st["podIP"])]
    return ips


def should_pod_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """Not terminal, has an IP, and (unless ``include_terminating``) not being deleted."""
    if is_pod_terminal(pod):
        return False
    if not status(pod).get("podIP") and not status(pod).get("podIPs"):
        return False
    return include_terminating or not meta(pod).get("deletionTimestamp")


def should_set_hostname(pod: Obj, service: Obj) -> bool:
    """``spec.hostname`` set and ``spec.subdomain`` is the Service's name (same namespace)."""
    ps = spec(pod)
    return (
        bool(ps.get("hostname"))
        and ps.get("subdomain") == meta(service).get("name")
        and meta(service).get("namespace") == meta(pod).get("namespace")
    )


def is_service_ip_set(service: Obj) -> bool:
    """``IsServiceIPSet``: clusterIP neither empty nor ``None``."""
    ip = spec(service).get("clusterIP")
    return bool(ip) and ip != "None"


def is_ipv6(ip: str) -> bool:
    """Whether ``ip`` is an IPv6 literal."""
    try:
        return ipaddress.ip_address(ip).version == 6
    except ValueError:
        return False


def service_selector(service: Obj) -> dict[str, str] | None:
    """``spec.selector``, ``None`` when nil or empty (an empty map does not survive the wire)."""
    sel = spec(service).get("selector")
    if not isinstance(sel, Mapping) or not sel:
        return None
    return {str(k): str(v) for k, v in sel.items()}


def selects(service: Obj, pod: Obj) -> bool:
    """Whether the Service's selector (non-nil) selects the pod (same namespace)."""
    sel = service_selector(service)
    if sel is None or meta(service).get("namespace") != meta(pod).get("namespace"):
        return False
    return selector_from_set(sel).matches(_m(meta(pod).get("labels")))


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """``FindPort``: resolve ``targetPort`` on the pod (``None`` when a name is not found).

    A name is looked up by name **and** protocol in ``containers[].ports``, then
    in restartable init containers (``restartPolicy: Always`` sidecars).
    """
    target = service_port.get("targetPort")
    if target is None:
        target = service_port.get("port")
    if isinstance(target, bool):
        return None
    if isinstance(target, int):
        return target
    name = str(target)
    protocol = service_port.get("protocol") or "TCP"
    ps = spec(pod)
    groups = [ps.get("containers") or []]
    groups.append([
        c for c in ps.get("initContainers") or []
        if isinstance(c, Mapping) and c.get("restartPolicy") == "Always"
    ])
    for containers in groups:
        for container in containers:
            if not isinstance(container, Mapping):
                continue
            for port in container.get("ports") or []:
                if (
                    isinstance(port, Mapping)
                    and port.get("name") == name
                    and (port.get("protocol") or "TCP") == protocol
                ):
                    number = port.get("containerPort")
                    if isinstance(number, int):
                        return number
    return None


def _hostname_and_domain(pod: Obj) -> tuple[Any, Any]:
    return spec(pod).get("hostname"), spec(pod).get("subdomain")


def pod_endpoints_changed(old: Obj, new: Obj) -> tuple[bool, bool]:
    """``(pod_changed, labels_changed)`` as upstream ``podEndpointsChanged``.

    The phase is compared too (upstream relies on readiness flipping with it).
    """
    labels_changed = (
        meta(old).get("labels") != meta(new).get("labels")
        or _hostname_and_domain(old) != _hostname_and_domain(new)
    )
    changed = (
        meta(old).get("deletionTimestamp") != meta(new).get("deletionTimestamp")
        or is_pod_ready(old) != is_pod_ready(new)
        or pod_ips(old) != pod_ips(new)
        or status(old).get("phase") != status(new).get("phase")
    )
    return changed, labels_changed


def format_rfc3339_nano(when: datetime) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: fractional seconds without trailing zeros."""
    when = when.astimezone(UTC)
    base = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        base += "." + f"{when.microsecond:06d}".rstrip("0")
    return base + "Z"
