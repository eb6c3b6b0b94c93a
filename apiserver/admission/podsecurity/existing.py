"""The warnings a namespace gets when its enforce level is tightened: which of its pods
the new level would refuse (upstream ``EvaluatePodsInNamespace``).

Contract: :func:`existing_pod_warnings` never refuses anything; it returns upstream's
warnings, in upstream's order:

* ``new PodSecurity enforce level only checked against the first N of M existing pods``
  when the pod limit (3000) or the time limit (1 s) cut the check short;
* ``existing pods in namespace "x" violate the new PodSecurity enforce level "l:v"``;
* one line per distinct set of reasons, sorted: ``<first pod name> (and N other pods):
  <reasons>`` (reasons without details, as namespace-wide summaries show them).

Pods owned by the same controller are alike, so one of each controller's pods is checked
before the others; pods with an exempt runtime class are skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from apiserver.admission.podsecurity.levels import LevelVersion
from apiserver.admission.podsecurity.registry import evaluate
from apiserver.admission.podsecurity.result import Obj
from apiserver.api.gostrings import go_quote

#: Upstream's ``defaultNamespaceMaxPodsToCheck`` and ``defaultNamespacePodCheckTimeout``.
MAX_PODS_TO_CHECK = 3000
CHECK_SECONDS = 1.0


def _controller_uid(pod: Obj) -> str | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller") is True:
            return str(ref.get("uid") or "")
    return None


def prioritize(pods: Sequence[Obj], exempt_runtime_classes: Collection[str]) -> list[Obj]:
    """Unowned pods and the first pod of each controller, then the controllers' others."""
    first: list[Obj] = []
    later: list[Obj] = []
    seen: set[str] = set()
    for pod in pods:
        runtime_class = (pod.get("spec") or {}).get("runtimeClassName")
        if runtime_class and runtime_class in exempt_runtime_classes:
            continue
        uid = _controller_uid(pod)
        if uid is None:
            first.append(pod)
        elif uid in seen:
            later.append(pod)
        else:
            seen.add(uid)
            first.append(pod)
    return first + later


def _decorated(name: str, count: int, warning: str) -> str:
    if count == 1:
        return f"{name}: {warning}"
    if count == 2:
        return f"{name} (and 1 other pod): {warning}"
    return f"{name} (and {count - 1} other pods): {warning}"


def existing_pod_warnings(
    namespace: str, enforce: LevelVersion, pods: Sequence[Obj],
    exempt_runtime_classes: Collection[str] = (),
    clock: Callable[[], float] = time.monotonic,
    max_pods: int = MAX_PODS_TO_CHECK, seconds: float = CHECK_SECONDS,
) -> list[str]:
    """Upstream's warnings about ``pods`` (the namespace's) under the new ``enforce``."""
    deadline = clock() + seconds
    ordered = prioritize(pods, exempt_runtime_classes)
    total = len(ordered)
    ordered = ordered[:max_pods]
    checked = len(ordered)
    # reasons → [lexically first pod name, number of pods]
    found: dict[str, list[Any]] = {}
    for index, pod in enumerate(ordered):
        result = evaluate(enforce, pod.get("metadata") or {}, pod.get("spec") or {})
        if not result.allowed:
            reasons = result.forbidden_reason()
            pod_name = str((pod.get("metadata") or {}).get("name") or "")
            entry = found.get(reasons)
            if entry is None:
                found[reasons] = [pod_name, 1]
            else:
                entry[0] = min(entry[0], pod_name)
                entry[1] += 1
        if clock() > deadline:
            checked = index + 1
            break
    warnings: list[str] = []
    if checked < total:
        warnings.append(f"new PodSecurity enforce level only checked against the first "
                        f"{checked} of {total} existing pods")
    if found:
        warnings.append(f"existing pods in namespace {go_quote(namespace)} violate the new "
                        f"PodSecurity enforce level {go_quote(str(enforce))}")
    warnings.extend(sorted(_decorated(name, count, reasons)
                           for reasons, (name, count) in found.items()))
    return warnings
