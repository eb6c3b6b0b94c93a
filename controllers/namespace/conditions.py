"""The status conditions a terminating namespace carries (upstream ``status_condition_utils.go``).

A deletion pass records what went wrong in a :class:`ConditionUpdater`; :meth:`apply`
then sets all five condition types the namespace controller owns on the namespace's
status: a failure as ``True`` with the upstream reason and message, everything else as
the ``False`` "ok" variant. A condition's ``lastTransitionTime`` moves only when its
status flips.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CONDITION_TYPES",
    "CONTENT_FAILURE",
    "CONTENT_REMAINING",
    "DISCOVERY_FAILURE",
    "FINALIZERS_REMAINING",
    "GV_PARSING_FAILURE",
    "ConditionUpdater",
]

DISCOVERY_FAILURE = "NamespaceDeletionDiscoveryFailure"
GV_PARSING_FAILURE = "NamespaceDeletionGroupVersionParsingFailure"
CONTENT_FAILURE = "NamespaceDeletionContentFailure"
CONTENT_REMAINING = "NamespaceContentRemaining"
FINALIZERS_REMAINING = "NamespaceFinalizersRemaining"

#: The condition types the controller maintains, in upstream's order.
CONDITION_TYPES = (DISCOVERY_FAILURE, GV_PARSING_FAILURE, CONTENT_FAILURE, CONTENT_REMAINING,
                   FINALIZERS_REMAINING)

_OK: dict[str, tuple[str, str]] = {
    DISCOVERY_FAILURE: ("ResourcesDiscovered", "All resources successfully discovered"),
    GV_PARSING_FAILURE: ("ParsedGroupVersions", "All legacy kube types successfully parsed"),
    CONTENT_FAILURE: ("ContentDeleted",
                      "All content successfully deleted, may be waiting on finalization"),
    CONTENT_REMAINING: ("ContentRemoved", "All content successfully removed"),
    FINALIZERS_REMAINING: ("ContentRemoved", "All content successfully removed"),
}


@dataclass
class ConditionUpdater:
    """Failures of one deletion pass, turned into conditions by :meth:`apply`."""

    now: Callable[[], str]
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)
    content_errors: list[str] = field(default_factory=list)

    def discovery_failed(self, message: str) -> None:
        """Discovery failed (for some groups, or entirely)."""
        self.failures[DISCOVERY_FAILURE] = ("DiscoveryFailed", message)

    def content_failed(self, error: str) -> None:
        """Deleting (or listing) one resource's content failed."""
        self.content_errors.append(error)

    def content_totals(self, by_resource: Mapping[str, int],
                       by_finalizer: Mapping[str, int]) -> None:
        """What is left: ``resource.group`` → instances, finalizer → instances."""
        resources = sorted(f"{r} has {n} resource instances"
                           for r, n in by_resource.items() if n)
        if resources:
            self.failures[CONTENT_REMAINING] = (
                "SomeResourcesRemain", f"Some resources are remaining: {', '.join(resources)}")
        finalizers = sorted(f"{f} in {n} resource instances"
                            for f, n in by_finalizer.items() if n)
        if finalizers:
            self.failures[FINALIZERS_REMAINING] = (
                "SomeFinalizerRemain", f"Some finalizers are remaining: {', '.join(finalizers)}")

    def apply(self, status: dict[str, Any]) -> bool:
        """Set the five conditions on ``status`` (in place); whether anything changed."""
        if self.content_errors and CONTENT_FAILURE not in self.failures:
            errors = sorted(self.content_errors)
            self.failures[CONTENT_FAILURE] = (
                "ContentDeletionFailed",
                f"Failed to delete all resource types, {len(errors)} remaining: "
                f"{', '.join(errors)}")
        conditions = status.get("conditions")
        if not isinstance(conditions, list):
            conditions = []
        changed = False
        for kind in CONDITION_TYPES:
            failed = kind in self.failures
            reason, message = self.failures[kind] if failed else _OK[kind]
            wanted = "True" if failed else "False"
            old = next((c for c in conditions if isinstance(c, dict) and c.get("type") == kind),
                       None)
            if old is None:
                conditions.append({"type": kind, "status": wanted,
                                   "lastTransitionTime": self.now(),
                                   "reason": reason, "message": message})
                changed = True
            elif (old.get("status"), old.get("reason"), old.get("message")) != (
                    wanted, reason, message):
                if old.get("status") != wanted:
                    old["lastTransitionTime"] = self.now()
                old.update(status=wanted, reason=reason, message=message)
                changed = True
        status["conditions"] = conditions
        return changed
