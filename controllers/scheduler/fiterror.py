"""The FailedScheduling message: upstream's ``FitError.Error()`` and the preemption suffix.

``0/N nodes are available: <histogram>. preemption: <preemption's own FitError>``

* The histogram counts every reason of every node's status (a node rejected by
  NodeResourcesFit for cpu and memory counts once for each), adds the status shared by
  the nodes a PreFilter excluded, formats each as ``"<count> <reason>"``, sorts those
  strings (as strings: ``10 x`` sorts before ``2 y``, as in Go) and joins them with
  ``", "``, ending in ``"."``. When a PreFilter rejected the pod outright its message
  replaces the histogram.
* The DefaultPreemption PostFilter then explains why preemption did not help: not at all
  for a pod with ``preemptionPolicy: Never``; otherwise only nodes rejected with a
  resolvable status (NodePorts, NodeResourcesFit, the skew of PodTopologySpread, pod
  anti-affinity) are tried, the rest being "Preemption is not helpful for scheduling".
  On a tried node, the pods of lower priority are the possible victims: with none, "No
  preemption victims found for incoming pod"; else the filters run again without them
  and their new verdict is the node's status.
* kubemu does not evict: when removing victims would make the pod fit somewhere,
  upstream would preempt them and the message has no preemption part;
  :func:`preemption_message` returns ``""`` then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace

from controllers.scheduler.filters import Code, PodInfo, Status, priority, run_filters
from controllers.scheduler.nodeinfo import NodeInfo

__all__ = [
    "NOT_HELPFUL",
    "NO_VICTIMS",
    "fit_error_message",
    "preemption_message",
]

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NEVER = "not eligible due to preemptionPolicy=Never."


def fit_error_message(num_nodes: int, statuses: Mapping[str, Status],
                      absent: Status | None = None, *, prefilter: str = "",
                      postfilter: str = "") -> str:
    """Upstream ``FitError.Error()``.

    ``statuses`` holds the explicit status of each rejected node; ``absent`` applies to the
    ``num_nodes - len(statuses)`` others; ``prefilter`` is a PreFilter rejection's message
    (it replaces the histogram); ``postfilter`` is appended after a space.
    """
    message = f"0/{num_nodes} nodes are available:"
    if prefilter:
        message += f" {prefilter}."
    else:
        counts: Counter[str] = Counter()
        for status in statuses.values():
            counts.update(status.reasons)
        missing = num_nodes - len(statuses)
        if absent is not None and missing > 0:
            for reason in absent.reasons:
                counts[reason] += missing
        parts = sorted(f"{count} {reason}" for reason, count in counts.items())
        if parts:
            message += f" {', '.join(parts)}."
    if postfilter:
        message += f" {postfilter}"
    return message


def _dry_run(pod: PodInfo, node: NodeInfo, nodes: Sequence[NodeInfo]) -> Status | None:
    """``SelectVictimsOnNode`` without the victim choice: the node's status once every
    lower-priority pod is gone, or ``None`` when the pod would then fit. The PreFilter
    counts (spreading, pod affinity) are taken again without them, as upstream's
    ``RemovePod`` extensions update them."""
    victims = [p for p in node.pods if priority(p) < priority(pod.pod)]
    if not victims:
        return Status.of(Code.UNRESOLVABLE, NO_VICTIMS)
    emptied = node.without(victims)
    if pod.spread is not None or pod.affinity is not None:
        pod = replace(PodInfo.of(pod.pod, [emptied if n is node else n for n in nodes],
                                 pod.namespaces), volume_affinity=pod.volume_affinity)
    return run_filters(pod, emptied)


def preemption_message(pod: PodInfo, nodes: Sequence[NodeInfo],
                       statuses: Mapping[str, Status]) -> str:
    """The DefaultPreemption PostFilter's message (``"preemption: …"``), or ``""`` when
    evicting lower-priority pods would let the pod fit (see the module docstring).

    ``nodes`` are all the nodes; ``statuses`` the filter verdicts (nodes missing from it
    were excluded by a PreFilter, an unresolvable rejection)."""
    spec = pod.pod.get("spec")
    if isinstance(spec, Mapping) and spec.get("preemptionPolicy") == "Never":
        return f"preemption: {NEVER}"
    tried: dict[str, Status] = {}
    for node in nodes:
        status = statuses.get(node.name)
        if status is None or status.code is not Code.UNSCHEDULABLE:
            continue
        verdict = _dry_run(pod, node, nodes)
        if verdict is None:
            return ""
        tried[node.name] = verdict
    absent = Status.of(Code.UNRESOLVABLE, NOT_HELPFUL)
    return f"preemption: {fit_error_message(len(nodes), tried, absent)}"
