"""Node health decisions of the ``nodelifecycle`` controller, free of I/O.

As upstream ``tryUpdateNodeHealth``: the controller keeps, per node, the *local* time it
last saw the node show signs of life (its Ready condition's ``lastHeartbeatTime`` changing,
or its Lease's ``renewTime`` moving forward) — the probe time — so that clock skew between
kubelet and controller does not matter. A node whose probe time is older than the grace
period (``--node-monitor-grace-period``, or ``--node-startup-grace-period`` while it never
posted a Ready condition, counted from its creation) gets every condition set to Unknown.

:func:`desired_taints` is the taint side: NoExecute ``not-ready``/``unreachable`` from the
Ready condition (the taint-based eviction pass) and NoSchedule taints from the conditions
and ``spec.unschedulable`` (the taint-by-condition pass).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controllers.nodelifecycle.util import (
    NOT_READY,
    UNREACHABLE,
    UNSCHEDULABLE,
    format_time,
    m,
    parse_time,
)

__all__ = [
    "HealthTracker",
    "NodeRecord",
    "desired_taints",
    "ready_status",
    "unknown_conditions",
]

#: The conditions the controller turns Unknown, in upstream's order.
CONDITION_TYPES = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
STOPPED = ("NodeStatusUnknown", "Kubelet stopped posting node status.")
NEVER = ("NodeStatusNeverUpdated", "Kubelet never posted node status.")

#: NoSchedule taints by condition: (condition type, status) → taint key.
_CONDITION_TAINTS = {
    ("Ready", "False"): NOT_READY,
    ("Ready", "Unknown"): UNREACHABLE,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
}
_NO_SCHEDULE_KEYS = frozenset({*_CONDITION_TAINTS.values(), UNSCHEDULABLE})
_NO_EXECUTE_KEYS = frozenset({NOT_READY, UNREACHABLE})


def _conditions(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [m(c) for c in m(node.get("status")).get("conditions") or []]


def ready_status(node: Mapping[str, Any]) -> str | None:
    """The Ready condition's status ("True", "False", "Unknown"), None when absent."""
    for cond in _conditions(node):
        if cond.get("type") == "Ready":
            return str(cond.get("status") or "Unknown")
    return None


@dataclass
class NodeRecord:
    """What the controller last saw of one node."""

    probe: float
    heartbeat: str | None
    lease_renew: float | None = None


class HealthTracker:
    """The per-node probe times (upstream ``nodeHealthMap``)."""

    def __init__(self) -> None:
        self.records: dict[str, NodeRecord] = {}

    def forget(self, name: str) -> None:
        """Drop a deleted node."""
        self.records.pop(name, None)

    def observe(
        self, node: Mapping[str, Any], lease: Mapping[str, Any] | None, now: float
    ) -> NodeRecord:
        """Update and return the node's record from its current object and Lease.

        First sight: probe time ``now`` — or the node's creation time when it has no Ready
        condition, so that the startup grace period counts from creation. Later: ``now``
        whenever the Ready heartbeat changed, or the Lease was first seen or renewed later
        than before (a Lease alone keeps a node that never posted status alive).
        """
        md = m(node.get("metadata"))
        name = str(md.get("name") or "")
        heartbeat = next((str(c.get("lastHeartbeatTime") or "") for c in _conditions(node)
                          if c.get("type") == "Ready"), None)
        record = self.records.get(name)
        if record is None:
            created = parse_time(md.get("creationTimestamp"))
            probe = created if heartbeat is None and created is not None else now
            record = self.records[name] = NodeRecord(probe, heartbeat)
        elif heartbeat != record.heartbeat:
            record.heartbeat = heartbeat
            record.probe = now
        renew = parse_time(m(m(lease).get("spec")).get("renewTime")) if lease else None
        if renew is not None and (record.lease_renew is None or renew > record.lease_renew):
            record.probe = now
            record.lease_renew = renew
        return record


def unknown_conditions(
    node: Mapping[str, Any], record: NodeRecord, now: float, grace: float,
    startup_grace: float,
) -> list[dict[str, Any]] | None:
    """The node's new ``status.conditions`` once its grace period ran out, else None.

    Existing conditions of :data:`CONDITION_TYPES` not yet Unknown become Unknown with
    ``NodeStatusUnknown`` (heartbeat kept, transition time ``now``); missing ones are added
    Unknown with ``NodeStatusNeverUpdated`` (heartbeat = creation time). None when nothing
    changes.
    """
    conditions = [dict(c) for c in _conditions(node)]
    never = ready_status(node) is None
    if now <= record.probe + (startup_grace if never else grace):
        return None
    stamp = format_time(now)
    created = str(m(node.get("metadata")).get("creationTimestamp") or stamp)
    changed = False
    for ctype in CONDITION_TYPES:
        cond = next((c for c in conditions if c.get("type") == ctype), None)
        if cond is None:
            conditions.append({"type": ctype, "status": "Unknown", "reason": NEVER[0],
                               "message": NEVER[1], "lastHeartbeatTime": created,
                               "lastTransitionTime": stamp})
            changed = True
        elif cond.get("status") != "Unknown":
            cond.update(status="Unknown", reason=STOPPED[0], message=STOPPED[1],
                        lastTransitionTime=stamp)
            changed = True
    return conditions if changed else None


def desired_taints(node: Mapping[str, Any], now: float) -> list[dict[str, Any]]:
    """The node's taints as the controller wants them.

    Taints the controller does not manage are kept as they are, and so are managed taints
    that still apply (with their ``timeAdded``); new NoExecute taints get ``timeAdded`` now.
    """
    statuses = {(str(c.get("type")), str(c.get("status"))) for c in _conditions(node)}
    want_no_schedule = {key for cs, key in _CONDITION_TAINTS.items() if cs in statuses}
    if m(node.get("spec")).get("unschedulable"):
        want_no_schedule.add(UNSCHEDULABLE)
    ready = ready_status(node)
    want_no_execute = ({NOT_READY} if ready == "False"
                       else {UNREACHABLE} if ready == "Unknown" else set())
    kept: list[dict[str, Any]] = []
    present: set[tuple[str, str]] = set()
    for taint in (m(t) for t in m(node.get("spec")).get("taints") or []):
        key, effect = str(taint.get("key") or ""), str(taint.get("effect") or "")
        if effect == "NoSchedule" and key in _NO_SCHEDULE_KEYS and key not in want_no_schedule:
            continue
        if effect == "NoExecute" and key in _NO_EXECUTE_KEYS and key not in want_no_execute:
            continue
        kept.append(dict(taint))
        present.add((key, effect))
    for key in sorted(want_no_schedule):
        if (key, "NoSchedule") not in present:
            kept.append({"key": key, "effect": "NoSchedule"})
    for key in sorted(want_no_execute):
        if (key, "NoExecute") not in present:
            kept.append({"key": key, "effect": "NoExecute", "timeAdded": format_time(now)})
    return kept
