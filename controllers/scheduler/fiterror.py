"""The FailedScheduling message: upstream's ``FitError.Error()`` and the preemption suffix.

``0/N nodes are available: <histogram>. preemption: <preemption's own FitError>``

* The histogram counts every reason of every node's status (a node rejected by
  NodeResourcesFit for cpu and memory counts once for each), adds the status shared by
  the nodes a PreFilter excluded, formats each as ``"<count> <reason>"``, sorts those
  strings (as strings: ``10 x`` sorts before ``2 y``, as in Go) and joins them with
  ``", "``, ending in ``"."``. When a PreFilter rejected the pod outright its message
  replaces the histogram.
* The DefaultPreemption PostFilter's message follows after a space
  (:func:`controllers.scheduler.preemption.postfilter`): why the pod may not preempt, or
  ``preemption: `` and a FitError of its own over the nodes it tried; nothing when it
  chose victims to evict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from controllers.scheduler.filters import Status

__all__ = ["fit_error_message"]


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
