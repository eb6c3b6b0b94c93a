"""Pure helpers shared by the node lifecycle controllers: times, taints, tolerations, and
the pods-by-node index.

Times are float seconds since the epoch (what the injectable clocks return); API
timestamps are RFC 3339 strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from apiserver.api.taints import tolerated, toleration_matches
from controllers.client.store import Store
from controllers.runtime.objects import parse_time as parse_rfc3339

__all__ = [
    "NODE_NAME_INDEX",
    "NOT_READY",
    "UNREACHABLE",
    "UNSCHEDULABLE",
    "ensure_node_index",
    "format_time",
    "m",
    "min_toleration_seconds",
    "no_execute_taints",
    "parse_time",
    "pods_on_node",
    "tolerates",
]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
#: Index of the pods informer's store: ``spec.nodeName`` (unbound pods are not indexed).
NODE_NAME_INDEX = "spec.nodeName"


def m(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one (tolerates malformed objects)."""
    return value if isinstance(value, Mapping) else {}


def parse_time(text: Any) -> float | None:
    """Seconds since the epoch of an RFC 3339 time (Time or MicroTime); None if unparsable."""
    parsed = parse_rfc3339(text)
    return None if parsed is None else parsed.timestamp()


def format_time(seconds: float) -> str:
    """An API ``Time`` (RFC 3339, whole seconds, UTC) for ``seconds`` since the epoch."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _node_name_index(obj: Mapping[str, Any]) -> list[str]:
    name = m(obj.get("spec")).get("nodeName")
    return [str(name)] if name else []


def ensure_node_index(pods: Store) -> None:
    """Add :data:`NODE_NAME_INDEX` to the shared pods store unless already there."""
    if NODE_NAME_INDEX not in pods.indexer_names():
        pods.add_indexers({NODE_NAME_INDEX: _node_name_index})


def pods_on_node(pods: Store, node: str) -> list[dict[str, Any]]:
    """The cached pods bound to ``node`` (the store needs :func:`ensure_node_index`)."""
    return list(pods.by_index(NODE_NAME_INDEX, node))


def no_execute_taints(node: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The node's taints with effect NoExecute (none for a missing node)."""
    if node is None:
        return []
    return [m(t) for t in m(node.get("spec")).get("taints") or []
            if m(t).get("effect") == "NoExecute"]


def tolerates(pod: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Whether some toleration of ``pod`` tolerates ``taint``."""
    return tolerated(m(pod.get("spec")).get("tolerations") or [], taint)


def min_toleration_seconds(
    pod: Mapping[str, Any], taints: Sequence[Mapping[str, Any]]
) -> float | bool | None:
    """How long ``pod`` may stay with ``taints`` (NoExecute) on its node.

    ``False`` when some taint is not tolerated (evict at once); ``None`` when every taint
    is tolerated forever (no ``tolerationSeconds``); otherwise the smallest
    ``tolerationSeconds`` of the tolerations used, the first matching one per taint
    (negative values count as 0, as upstream).
    """
    tolerations = [m(t) for t in m(pod.get("spec")).get("tolerations") or []]
    used: list[Mapping[str, Any]] = []
    for taint in taints:
        first = next((t for t in tolerations if toleration_matches(t, taint)), None)
        if first is None:
            return False
        used.append(first)
    best: float | None = None
    for tol in used:
        seconds = tol.get("tolerationSeconds")
        if seconds is None:
            continue
        value = max(0.0, float(seconds))
        best = value if best is None else min(best, value)
    return best
