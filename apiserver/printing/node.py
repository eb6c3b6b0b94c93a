"""Table cells of a Node, as upstream ``printNode`` computes them (always wide)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apiserver.printing.duration import translate_timestamp_since

__all__ = ["print_node"]

_ROLE_PREFIX = "node-role.kubernetes.io/"
_ROLE_LABEL = "kubernetes.io/role"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def node_status(node: Mapping[str, Any]) -> str:
    """``Ready``/``NotReady``/``Unknown``, plus ``,SchedulingDisabled`` when cordoned."""
    status: list[str] = []
    for cond in _m(node.get("status")).get("conditions") or []:
        cond = _m(cond)
        if cond.get("type") == "Ready":
            status = ["Ready" if cond.get("status") == "True" else "NotReady"]
    if not status:
        status = ["Unknown"]
    if _m(node.get("spec")).get("unschedulable") is True:
        status.append("SchedulingDisabled")
    return ",".join(status)


def node_roles(node: Mapping[str, Any]) -> str:
    """Roles from ``node-role.kubernetes.io/<role>`` and ``kubernetes.io/role`` labels."""
    roles: set[str] = set()
    for key, value in _m(_m(node.get("metadata")).get("labels")).items():
        if key.startswith(_ROLE_PREFIX) and key[len(_ROLE_PREFIX):]:
            roles.add(key[len(_ROLE_PREFIX):])
        elif key == _ROLE_LABEL and _s(value):
            roles.add(_s(value))
    return ",".join(sorted(roles)) if roles else "<none>"


def _address(node: Mapping[str, Any], kind: str) -> str:
    for addr in _m(node.get("status")).get("addresses") or []:
        if _m(addr).get("type") == kind:
            return _s(_m(addr).get("address"))
    return "<none>"


def print_node(node: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Status, Roles, Age, Version; wide: addresses, OS image, kernel, runtime."""
    meta = _m(node.get("metadata"))
    info = _m(_m(node.get("status")).get("nodeInfo"))
    return [
        _s(meta.get("name")),
        node_status(node),
        node_roles(node),
        translate_timestamp_since(meta.get("creationTimestamp"), now),
        _s(info.get("kubeletVersion")),
        _address(node, "InternalIP"),
        _address(node, "ExternalIP"),
        _s(info.get("osImage")) or "<unknown>",
        _s(info.get("kernelVersion")) or "<unknown>",
        _s(info.get("containerRuntimeVersion")) or "<unknown>",
    ]
