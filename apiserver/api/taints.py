"""Whether a pod's toleration tolerates a node's taint (upstream ``Toleration.ToleratesTaint``).

A toleration with an ``effect`` matches only that effect; one with a ``key`` only that key;
operator ``Exists`` matches any value, ``Equal`` (the default) only an equal value.
Validation refuses ``Equal`` with an empty key, so an empty key with ``Exists`` is what
tolerates every taint. Used alike by the scheduler, the DaemonSet controller and the node
lifecycle controller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["tolerated", "toleration_matches"]


def toleration_matches(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Whether ``toleration`` tolerates ``taint``."""
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("key") and toleration.get("key") != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerated(tolerations: Iterable[Any], taint: Mapping[str, Any]) -> bool:
    """Whether one of ``tolerations`` (pod ``spec.tolerations``) tolerates ``taint``."""
    return any(isinstance(t, Mapping) and toleration_matches(t, taint) for t in tolerations)
