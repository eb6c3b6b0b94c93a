"""The ``pods/eviction`` subresource: a pod deletion that honours PodDisruptionBudgets.

As upstream's ``EvictionREST``:

* A pod that already caused its disruption (phase Succeeded, Failed or Pending, or
  already being deleted) is deleted without looking at budgets.
* Otherwise the PodDisruptionBudgets of the pod's namespace whose selector matches
  the pod are found (an empty, missing or invalid selector matches nothing). More
  than one is a 500. None: the pod is deleted.
* With one budget: a pod that is not Ready does not count as healthy, so it is
  deleted without spending the budget when the budget's
  ``unhealthyPodEvictionPolicy`` is ``AlwaysAllow``, or (``IfHealthyBudget``, the
  default) when ``currentHealthy >= desiredHealthy > 0``. Every other case spends one
  disruption: a budget the disruption controller has not observed yet is a 429 (retry
  after 10s), a negative allowance a 403, no allowance left a 429 naming the budget;
  else ``status.disruptionsAllowed`` is decremented and ``status.disruptedPods[pod]``
  stamped, in one compare-and-swap on the budget's status.
* Pods not deleted unconditionally are deleted with a resourceVersion precondition
  (the version whose readiness was judged); losing that race is a 429 so clients retry.

``dryRun`` (from the request or the Eviction's ``deleteOptions``) decides and answers
the same but writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from apiserver.api import errors, meta
from apiserver.api.labels import SelectorError, selector_from_label_selector_object
from apiserver.api.resources import ResourceInfo, lookup
from apiserver.registry.store import DeleteOptions, ListOptions, Store

#: Upstream ``MaxDisruptedPodSize``: evictions approved but not yet seen by the controller.
MAX_DISRUPTED_PODS = 2000
#: How often a conflicting pod deletion (pod changed meanwhile) is retried.
_RETRIES = 20
_VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
_CAUSE = "DisruptionBudget"
_TERMINAL = frozenset({"Succeeded", "Failed"})


def budgets_info() -> ResourceInfo:
    """The ``policy/v1`` PodDisruptionBudget resource."""
    info = lookup("policy", "v1", "poddisruptionbudgets")
    assert info is not None
    return info


# -- the decision, as pure functions ----------------------------------------------------


def can_ignore_budget(pod: dict[str, Any]) -> bool:
    """Whether evicting ``pod`` disrupts nothing new (terminal, pending or terminating)."""
    phase = (pod.get("status") or {}).get("phase")
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    return phase in _TERMINAL or phase == "Pending" or deleting


def enforces_resource_version(pod: dict[str, Any]) -> bool:
    """Whether deleting ``pod`` must be conditional on the version that was judged."""
    phase = (pod.get("status") or {}).get("phase")
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    return not (phase in _TERMINAL or deleting)


def is_ready(pod: dict[str, Any]) -> bool:
    """Upstream ``IsPodReady``: the Ready condition is True."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def matching_budgets(pod: dict[str, Any], budgets: Iterable[dict[str, Any]]) -> list[
        dict[str, Any]]:
    """The budgets of the pod's namespace that select it."""
    md = pod.get("metadata") or {}
    namespace = md.get("namespace")
    labels = md.get("labels") or {}
    out: list[dict[str, Any]] = []
    for pdb in budgets:
        if (pdb.get("metadata") or {}).get("namespace") != namespace:
            continue
        raw = (pdb.get("spec") or {}).get("selector")
        try:
            selector = selector_from_label_selector_object(raw if isinstance(raw, dict)
                                                           else None)
        except SelectorError:
            continue
        if selector.empty or not selector.matches(labels):
            continue
        out.append(pdb)
    return out


def spends_budget(pod: dict[str, Any], pdb: dict[str, Any]) -> bool:
    """Whether evicting ``pod`` must take one disruption from ``pdb``.

    A Ready pod always does. An unready one does not count as healthy: it is free
    under ``AlwaysAllow``, and under ``IfHealthyBudget`` (the default) while the budget
    has its desired healthy pods.
    """
    if is_ready(pod):
        return True
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return False
    status = pdb.get("status") or {}
    desired = int(status.get("desiredHealthy") or 0)
    return not (int(status.get("currentHealthy") or 0) >= desired and desired > 0)


def too_many_requests(cause: str, retry_after: int = 0) -> errors.ApiError:
    """429 ``Cannot evict pod …`` with one ``DisruptionBudget`` cause."""
    details: dict[str, Any] = {"causes": [{"reason": _CAUSE, "message": cause}]}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
    return errors.ApiError(429, "TooManyRequests", _VIOLATION, details)


def not_processed(name: str) -> errors.ApiError:
    """The 429 for a budget the disruption controller has not caught up with."""
    return too_many_requests(
        f"The disruption budget {name} is still being processed by the server.", 10)


def _budget_forbidden(name: str, why: str) -> errors.ApiError:
    return errors.ApiError(
        403, "Forbidden", f'poddisruptionbudget.policy "{name}" is forbidden: {why}',
        {"name": name, "group": "policy", "kind": "poddisruptionbudget"})


def take_disruption(pdb: dict[str, Any], pod_name: str, now: str) -> dict[str, Any]:
    """``pdb`` with one disruption spent on ``pod_name`` (in place), or the refusal.

    Raises 429 when the budget is unobserved or exhausted, 403 when its allowance is
    negative or too many evictions are still unconfirmed.
    """
    md = pdb.get("metadata") or {}
    name = md.get("name", "")
    status = pdb.setdefault("status", {})
    if int(status.get("observedGeneration") or 0) < int(md.get("generation") or 0):
        raise not_processed(name)
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise _budget_forbidden(name, "pdb disruptions allowed is negative")
    disrupted = status.get("disruptedPods") or {}
    if len(disrupted) > MAX_DISRUPTED_PODS:
        raise _budget_forbidden(
            name, "DisruptedPods map too big - too many evictions not confirmed by PDB "
            "controller")
    if allowed == 0:
        raise too_many_requests(
            f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} "
            f"healthy pods and has {int(status.get('currentHealthy') or 0)} currently")
    status["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        _set_insufficient(status, now)
    status["disruptedPods"] = {**disrupted, pod_name: now}
    return pdb


def _set_insufficient(status: dict[str, Any], now: str) -> None:
    """The ``DisruptionAllowed=False/InsufficientPods`` condition (upstream helper)."""
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    index = next((i for i, c in enumerate(conditions) if c.get("type") == "DisruptionAllowed"),
                 None)
    since = now
    if index is not None and conditions[index].get("status") == "False":
        since = conditions[index].get("lastTransitionTime") or now
    condition = {"type": "DisruptionAllowed", "status": "False",
                 "observedGeneration": int(status.get("observedGeneration") or 0),
                 "lastTransitionTime": since, "reason": "InsufficientPods", "message": ""}
    if index is None:
        conditions.append(condition)
    else:
        conditions[index] = condition
    status["conditions"] = conditions


def delete_options(eviction: dict[str, Any], request_dry_run: bool) -> DeleteOptions:
    """The pod deletion the Eviction asks for, with the request's dry-run merged in."""
    raw = eviction.get("deleteOptions")
    opts = raw if isinstance(raw, dict) else {}
    body_dry = opts.get("dryRun") or []
    if body_dry and body_dry != ["All"]:
        raise errors.bad_request(f"Invalid dryRun value: {body_dry}; supported values: All")
    pre = opts.get("preconditions") if isinstance(opts.get("preconditions"), dict) else {}
    assert isinstance(pre, dict)
    grace = opts.get("gracePeriodSeconds")
    return DeleteOptions(
        grace_period_seconds=grace if isinstance(grace, int) else None,
        precondition_uid=pre.get("uid"),
        precondition_resource_version=pre.get("resourceVersion"),
        propagation_policy=opts.get("propagationPolicy"),
        dry_run=request_dry_run or body_dry == ["All"],
    )


# -- the subresource ---------------------------------------------------------------------


class EvictionREST:
    """``POST pods/{name}/eviction`` over the pod and PodDisruptionBudget stores."""

    def __init__(self, pods: Store, budgets: Store, clock: Any) -> None:
        self.pods = pods
        self.budgets = budgets
        self.clock = clock

    def _now(self) -> str:
        moment: datetime = self.clock()
        return meta.rfc3339(moment)

    async def evict(self, namespace: str, name: str, eviction: dict[str, Any],
                    request_dry_run: bool) -> None:
        """Evict the pod, or raise the refusal (404, 409, 429, 500…)."""
        named = (eviction.get("metadata") or {}).get("name")
        if named != name:
            raise errors.bad_request("name in URL does not match name in Eviction object")
        opts = delete_options(eviction, request_dry_run)
        user_rv = opts.precondition_resource_version is not None
        for _ in range(_RETRIES):
            pod = (await self.pods.get(namespace, name)).obj
            if not can_ignore_budget(pod):
                break
            attempt = opts
            if enforces_resource_version(pod) and not user_rv:
                attempt = replace(opts, precondition_resource_version=_rv(pod))
            try:
                await self.pods.delete(namespace, name, attempt)
                return
            except errors.ApiError as exc:
                if exc.code != 409 or user_rv:
                    raise
        else:
            raise errors.timeout(f"couldn't evict pod {name} due to conflicts")
        conditional, budget = await self._spend(namespace, name, pod, opts.dry_run)
        attempt = opts
        if conditional and not user_rv:
            attempt = replace(opts, precondition_resource_version=_rv(pod))
        try:
            await self.pods.delete(namespace, name, attempt)
        except errors.ApiError as exc:
            if exc.code == 409 and conditional and not user_rv:
                raise not_processed(budget) from None
            raise

    async def _spend(self, namespace: str, name: str, pod: dict[str, Any],
                     dry_run: bool) -> tuple[bool, str]:
        """Take a disruption from the pod's budget.

        Returns whether the pod deletion must be conditional on the judged version,
        and the budget's name (``""`` without one).
        """
        listed = await self.budgets.list_objects(ListOptions(namespace=namespace))
        budgets = matching_budgets(pod, (o.obj for o in listed.items))
        if len(budgets) > 1:
            raise errors.ApiError(
                500, "", "This pod has more than one PodDisruptionBudget, which the eviction "
                "subresource does not support.")
        if not budgets:
            return False, ""
        pdb = budgets[0]
        budget = str(pdb["metadata"]["name"])
        if not spends_budget(pod, pdb):
            return True, budget
        now = self._now()
        await self.budgets.guaranteed_update(
            namespace, budget, lambda current: take_disruption(current, name, now),
            subresource="status", dry_run=dry_run)
        return False, budget


def _rv(pod: dict[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("resourceVersion") or "")
