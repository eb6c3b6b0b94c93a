"""Pod mutations of upstream's built-in admission plugins that only fill in defaults.

* DefaultTolerationSeconds (``plugin/pkg/admission/defaulttolerationseconds``): every
  pod tolerates the ``not-ready`` and ``unreachable`` NoExecute taints for 300 s (the
  apiserver's ``--default-*-toleration-seconds``) unless it already tolerates them.
  Upstream runs it on pod create and update.
* ServiceAccount (``plugin/pkg/admission/serviceaccount``), only its defaulting part: a
  pod that names no service account gets ``default``. Upstream runs it on create only
  and leaves mirror pods alone; it is not a ``SetDefaults`` and so not in the table.
"""

from __future__ import annotations

from typing import Any

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
#: The default of upstream's ``--default-not-ready-toleration-seconds`` and
#: ``--default-unreachable-toleration-seconds``.
DEFAULT_TOLERATION_SECONDS = 300
#: The seconds the plugin adds, by taint key. Process-wide, as upstream's plugin reads its
#: two flags: :func:`configure_default_tolerations` sets them from the apiserver's flags.
_SECONDS = {NOT_READY_TAINT: DEFAULT_TOLERATION_SECONDS,
            UNREACHABLE_TAINT: DEFAULT_TOLERATION_SECONDS}


def configure_default_tolerations(not_ready: int = DEFAULT_TOLERATION_SECONDS,
                                  unreachable: int = DEFAULT_TOLERATION_SECONDS) -> None:
    """Set the ``tolerationSeconds`` DefaultTolerationSeconds adds for each taint."""
    _SECONDS[NOT_READY_TAINT] = not_ready
    _SECONDS[UNREACHABLE_TAINT] = unreachable
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"


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


def default_toleration_seconds(spec: dict[str, Any]) -> None:
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
                "tolerationSeconds": _SECONDS[taint],
            })
            added = True
    if added:
        spec["tolerations"] = tolerations


def admit_pod_create(pod: dict[str, Any]) -> None:
    """Create-time pod admission defaults: the ``default`` service account.

    Both the field and its deprecated mirror ``serviceAccount`` are set, as the v1
    encoding of upstream's single internal field shows them.
    """
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    md = pod.get("metadata")
    annotations = md.get("annotations") if isinstance(md, dict) else None
    if isinstance(annotations, dict) and MIRROR_POD_ANNOTATION in annotations:
        return
    name = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if name in (None, ""):
        spec["serviceAccountName"] = spec["serviceAccount"] = "default"
