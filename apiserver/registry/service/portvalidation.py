"""Validation of a Service's ports (``spec.ports[*]``) with upstream's paths and messages.

:func:`validate_port` checks one port object (``validateServicePort``);
:func:`validate_port_uniqueness` reports ports and node ports used twice. The
IANA port-name and port-number checks are shared with other registries.
"""

from __future__ import annotations

import re
from typing import Any

from apiserver.api import meta
from apiserver.registry.service.fielderrors import (
    duplicate,
    go_quote,
    go_value,
    invalid,
    not_supported,
    qualified_name,
    required,
)
from apiserver.registry.strategy import Cause

_PROTOCOLS = ("SCTP", "TCP", "UDP")
_PORT_NAME_CHARS = re.compile(r"^[-a-z0-9]+$")
_PORT_NUM_MSG = "must be between 1 and 65535, inclusive"


def port_num_errors(value: Any) -> list[str]:
    """``IsValidPortNum``: an integer in 1..65535."""
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


def go_service_port(protocol: Any, port: Any) -> str:
    """A duplicate port as upstream prints the ``core.ServicePort`` key it compares."""
    return (
        f'core.ServicePort{{Name:"", Protocol:{go_quote(str(protocol or ""))}, '
        f"AppProtocol:(*string)(nil), Port:{port if isinstance(port, int) else 0}, "
        'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
    )


def validate_port(port: dict[str, Any], require_name: bool, names: set[str],
                   path: str) -> list[Cause]:
    """``validateServicePort`` of the port at ``path``; records its name in ``names``."""
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
        causes += qualified_name(f"{path}.appProtocol", app_protocol)
    return causes


def validate_port_uniqueness(ports: list[Any]) -> list[Cause]:
    """Duplicate ``(protocol, nodePort)`` and ``(protocol, port)`` pairs, in that order."""
    causes: list[Cause] = []
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
            causes.append(duplicate(f"spec.ports[{i}]", go_service_port(*key)))
        seen_ports.add(key)
    return causes
