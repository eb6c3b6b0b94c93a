"""Table cells of a Pod, as upstream ``printPod`` computes them (always wide).

Cells: Name, Ready (``"n/m"``), Status (the reason shown by ``kubectl get``),
Restarts (``"0"`` or ``"2 (5m ago)"``), Age, IP, Node, Nominated Node,
Readiness Gates. Succeeded/Failed pods also carry a ``Completed`` row condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apiserver.api.fields import primary_pod_ip
from apiserver.printing.duration import parse_time, translate_timestamp_since

__all__ = ["PrintedRow", "print_pod"]

_NODE_LOST = "NodeLost"
_SCHEDULING_GATED = "SchedulingGated"


@dataclass
class PrintedRow:
    """Cells plus optional ``TableRowCondition`` dicts of one row."""

    cells: list[Any]
    conditions: list[dict[str, str]] = field(default_factory=list)


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _i(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _is_restartable_init(container: Mapping[str, Any] | None) -> bool:
    return container is not None and container.get("restartPolicy") == "Always"


def _has_condition(status: Mapping[str, Any], ctype: str) -> bool | None:
    """Status of the first condition of ``ctype`` (True/False), ``None`` if absent."""
    for cond in _l(status.get("conditions")):
        if _m(cond).get("type") == ctype:
            return _m(cond).get("status") == "True"
    return None


class _Restarts:
    """Accumulates restart counts and the latest last-termination time."""

    def __init__(self) -> None:
        self.count = 0
        self.last: datetime | None = None

    def add(self, cs: Mapping[str, Any]) -> None:
        self.count += _i(cs.get("restartCount"))
        term = _m(cs.get("lastState")).get("terminated")
        if isinstance(term, Mapping):
            finished = parse_time(term.get("finishedAt"))
            if finished is not None and (self.last is None or self.last < finished):
                self.last = finished


def _terminated_reason(term: Mapping[str, Any], prefix: str) -> str:
    if _s(term.get("reason")):
        return prefix + _s(term.get("reason"))
    if _i(term.get("signal")) != 0:
        return f"{prefix}Signal:{_i(term.get('signal'))}"
    return f"{prefix}ExitCode:{_i(term.get('exitCode'))}"


def _readiness_gates(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    gates = _l(spec.get("readinessGates"))
    if not gates:
        return "<none>"
    true_count = 0
    for gate in gates:
        ctype = _m(gate).get("conditionType")
        for cond in _l(status.get("conditions")):
            if _m(cond).get("type") == ctype:
                if _m(cond).get("status") == "True":
                    true_count += 1
                break
    return f"{true_count}/{len(gates)}"


def print_pod(pod: Mapping[str, Any], now: datetime) -> PrintedRow:
    """Compute the pod row exactly as upstream ``printPod`` with ``Wide: true``."""
    meta, spec, status = _m(pod.get("metadata")), _m(pod.get("spec")), _m(pod.get("status"))
    phase = _s(status.get("phase"))
    reason = _s(status.get("reason")) or phase
    for cond in _l(status.get("conditions")):
        c = _m(cond)
        if c.get("type") == "PodScheduled" and c.get("reason") == _SCHEDULING_GATED:
            reason = _SCHEDULING_GATED

    row = PrintedRow(cells=[])
    if phase == "Succeeded":
        row.conditions = [_completed("Succeeded", "The pod has completed successfully.")]
    elif phase == "Failed":
        row.conditions = [_completed("Failed", "The pod failed.")]

    init_specs = _l(spec.get("initContainers"))
    init_by_name = {_s(_m(c).get("name")): _m(c) for c in init_specs}
    total = len(_l(spec.get("containers"))) + sum(
        1 for c in init_specs if _is_restartable_init(_m(c))
    )
    ready = 0
    all_restarts, sidecar_restarts = _Restarts(), _Restarts()

    initializing = False
    for i, raw in enumerate(_l(status.get("initContainerStatuses"))):
        cs = _m(raw)
        all_restarts.add(cs)
        restartable = _is_restartable_init(init_by_name.get(_s(cs.get("name"))))
        if restartable:
            sidecar_restarts.add(cs)
        state = _m(cs.get("state"))
        term, waiting = state.get("terminated"), state.get("waiting")
        if isinstance(term, Mapping) and _i(term.get("exitCode")) == 0:
            continue
        if restartable and cs.get("started") is True:
            if cs.get("ready") is True:
                ready += 1
            continue
        if isinstance(term, Mapping):
            reason = _terminated_reason(term, "Init:")
        elif (
            isinstance(waiting, Mapping)
            and _s(waiting.get("reason"))
            and waiting.get("reason") != "PodInitializing"
        ):
            reason = "Init:" + _s(waiting.get("reason"))
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    restarts = all_restarts
    if not initializing or _has_condition(status, "Initialized") is True:
        restarts = sidecar_restarts
        has_running = False
        for raw in reversed(_l(status.get("containerStatuses"))):
            cs = _m(raw)
            restarts.add(cs)
            state = _m(cs.get("state"))
            waiting, term = _m(state.get("waiting")), state.get("terminated")
            if _s(waiting.get("reason")):
                reason = _s(waiting.get("reason"))
            elif isinstance(term, Mapping):
                reason = _terminated_reason(term, "")
            elif cs.get("ready") is True and isinstance(state.get("running"), Mapping):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(status, "Ready") is True else "NotReady"

    if meta.get("deletionTimestamp") is not None:
        if _s(status.get("reason")) == _NODE_LOST:
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_str = str(restarts.count)
    if restarts.count != 0 and restarts.last is not None:
        restarts_str = f"{restarts.count} ({translate_timestamp_since(restarts.last, now)} ago)"

    row.cells = [
        _s(meta.get("name")),
        f"{ready}/{total}",
        reason,
        restarts_str,
        translate_timestamp_since(meta.get("creationTimestamp"), now),
        primary_pod_ip(pod) or "<none>",
        _s(spec.get("nodeName")) or "<none>",
        _s(status.get("nominatedNodeName")) or "<none>",
        _readiness_gates(spec, status),
    ]
    return row


def _completed(reason: str, message: str) -> dict[str, str]:
    return {"type": "Completed", "status": "True", "reason": reason, "message": message}
