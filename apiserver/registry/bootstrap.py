"""Objects kube-apiserver creates itself once it starts (its post-start hooks).

Only what kubemu's registry owns: the two system PriorityClasses of the
``scheduling/bootstrap-system-priority-classes`` hook. Missing ones are created;
existing ones, whatever a user did to them, are left alone.
"""

from __future__ import annotations

import contextlib
from typing import Any

from apiserver.api import errors
from apiserver.registry.policy import SYSTEM_PRIORITY_CLASSES
from apiserver.registry.store import Store

__all__ = ["ensure_system_priority_classes"]

_DESCRIPTIONS = {
    "system-node-critical": "Used for system critical pods that must not be moved from their "
                            "current node.",
    "system-cluster-critical": "Used for system critical pods that must run in the cluster, "
                               "but can be moved to another node if necessary.",
}


async def ensure_system_priority_classes(priority_classes: Store) -> list[str]:
    """Create the missing system PriorityClasses; return the names created."""
    created: list[str] = []
    for name, value in SYSTEM_PRIORITY_CLASSES.items():
        if priority_classes.cache.get(priority_classes.key(None, name)) is not None:
            continue
        obj: dict[str, Any] = {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value,
            "description": _DESCRIPTIONS[name],
        }
        with contextlib.suppress(errors.ApiError):
            await priority_classes.create(None, obj)
            created.append(name)
    return created
