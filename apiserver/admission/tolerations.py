"""DefaultTolerationSeconds (``plugin/pkg/admission/defaulttolerationseconds``).

Every pod tolerates the ``node.kubernetes.io/not-ready`` and ``…/unreachable`` NoExecute
taints for 300 s (upstream's ``--default-not-ready-toleration-seconds`` and
``--default-unreachable-toleration-seconds``) unless it already tolerates them. Mutating,
on pod create and update, never on subresources.
"""

from __future__ import annotations

from typing import Any

from apiserver.admission.attributes import AdmissionAttributes, Operation

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_SECONDS = 300

#: The seconds added per taint: the apiserver's two flags (process-wide, as upstream reads
#: them once at start).
_SECONDS = {NOT_READY_TAINT: DEFAULT_TOLERATION_SECONDS,
            UNREACHABLE_TAINT: DEFAULT_TOLERATION_SECONDS}


def configure_default_tolerations(not_ready: int = DEFAULT_TOLERATION_SECONDS,
                                  unreachable: int = DEFAULT_TOLERATION_SECONDS) -> None:
    """Set the ``tolerationSeconds`` DefaultTolerationSeconds adds for each taint
    (``--default-not-ready-toleration-seconds``, ``--default-unreachable-toleration-seconds``)."""
    _SECONDS[NOT_READY_TAINT] = not_ready
    _SECONDS[UNREACHABLE_TAINT] = unreachable


def _tolerates(tolerations: list[Any], taint: str) -> bool:
    # As upstream: an empty key or effect matches any, and the operator is not looked at.
    for toleration in tolerations:
        if not isinstance(toleration, dict):
            continue
        if toleration.get("key") in (None, "", taint) and toleration.get("effect") in (
            None, "", "NoExecute",
        ):
            return True
    return False


def default_toleration_seconds(spec: dict[str, Any], seconds: int | None = None) -> None:
    """Add the not-ready/unreachable NoExecute tolerations to a pod ``spec`` lacking them."""
    tolerations = spec.get("tolerations")
    if tolerations is None:
        tolerations = []
    elif not isinstance(tolerations, list):
        return
    added = False
    for taint in (NOT_READY_TAINT, UNREACHABLE_TAINT):
        if not _tolerates(tolerations, taint):
            tolerations.append({
                "key": taint,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": _SECONDS[taint] if seconds is None else seconds,
            })
            added = True
    if added:
        spec["tolerations"] = tolerations


class DefaultTolerationSeconds:
    """Adds the default NoExecute tolerations to pods."""

    name = "DefaultTolerationSeconds"
    core_resources = frozenset({"pods"})

    def handles(self, operation: Operation) -> bool:
        return operation in (Operation.CREATE, Operation.UPDATE)

    async def admit(self, attrs: AdmissionAttributes) -> None:
        if not attrs.is_core("pods") or attrs.object is None:
            return
        spec = attrs.object.get("spec")
        if isinstance(spec, dict):
            default_toleration_seconds(spec)
