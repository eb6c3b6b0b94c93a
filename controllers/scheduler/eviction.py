"""Carrying out a preemption: upstream's ``prepareCandidate`` and ``PreemptPod``.

The scheduling cycle (:func:`controllers.scheduler.core.schedule`) only decides; this
module writes. For each victim not already being deleted, in the order chosen:

1. the ``DisruptionTarget`` condition (``True``, reason ``PreemptionByScheduler``,
   ``<preemptor's schedulerName>: preempting to accommodate a higher priority pod``)
   through ``pods/{name}/status``, unless the victim has it already — so that the node
   agent and controllers (a Job's pod failure policy) see why the pod goes;
2. ``DELETE`` of the pod (the apiserver applies its grace period; a node agent then
   terminates it), with its uid as precondition so that a pod recreated under the same
   name is left alone;
3. a ``Normal`` ``Preempted`` Event about the victim, action ``Preempting``, the
   preemptor as its ``related`` object: ``Preempted by pod <preemptor uid> on node <node>``.

A victim already gone (404, or 409 for another pod of that name) is skipped; another
error aborts, and the controller retries the preemptor. Then the lower-priority pods
nominated to that node lose their nomination (``status.nominatedNodeName`` cleared): they
may no longer fit there and should look elsewhere. The preemptor's own nomination is
written by the controller with its ``PodScheduled`` condition, as upstream's
``handleSchedulingFailure`` does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from apiserver.api.resources import PODS
from controllers.client.errors import ApiError
from controllers.client.rest import STRATEGIC_MERGE_PATCH
from controllers.runtime.events import EventRecorder
from controllers.scheduler.core import DEFAULT_SCHEDULER
from controllers.scheduler.preemption import (
    DISRUPTION_TARGET,
    PREEMPTION_BY_SCHEDULER,
    Preemption,
)

__all__ = ["clear_nomination", "disruption_condition", "preempt"]

log = logging.getLogger("controllers.scheduler")

_GONE = (404, 409)


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _name(pod: Mapping[str, Any]) -> tuple[str, str]:
    meta = _m(pod.get("metadata"))
    return str(meta.get("namespace") or "default"), str(meta.get("name") or "")


def disruption_condition(preemptor: Mapping[str, Any]) -> dict[str, Any]:
    """The condition a victim of ``preemptor`` gets."""
    scheduler = _m(preemptor.get("spec")).get("schedulerName") or DEFAULT_SCHEDULER
    return {"type": DISRUPTION_TARGET, "status": "True", "reason": PREEMPTION_BY_SCHEDULER,
            "message": f"{scheduler}: preempting to accommodate a higher priority pod",
            "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _has(victim: Mapping[str, Any], condition: Mapping[str, Any]) -> bool:
    """Whether the victim has the condition already (upstream ``UpdatePodCondition``
    reports no change then, and no patch is sent)."""
    for current in _m(victim.get("status")).get("conditions") or []:
        if _m(current).get("type") == condition["type"]:
            return all(current.get(k) == condition[k] for k in ("status", "reason", "message"))
    return False


async def _preempt_one(writer: Any, events: EventRecorder, preemptor: Mapping[str, Any],
                       victim: Mapping[str, Any], node: str) -> bool:
    """Mark, delete and report one victim; False when it was gone already."""
    namespace, name = _name(victim)
    condition = disruption_condition(preemptor)
    try:
        if not _has(victim, condition):
            await writer.patch(PODS, namespace, name, {"status": {"conditions": [condition]}},
                               content_type=STRATEGIC_MERGE_PATCH, subresource="status")
        uid = _m(victim.get("metadata")).get("uid")
        await writer.delete(PODS, namespace, name,
                            **({"preconditions": {"uid": str(uid)}} if uid else {}))
    except ApiError as exc:
        if exc.code in _GONE:
            log.info("victim %s/%s is already gone: %s", namespace, name, exc)
            return False
        raise
    preemptor_meta = _m(preemptor.get("metadata"))
    log.info("preempted %s/%s on %s for %s/%s", namespace, name, node,
             preemptor_meta.get("namespace"), preemptor_meta.get("name"))
    await events.event(victim, "Normal", "Preempted",
                       f"Preempted by pod {preemptor_meta.get('uid')} on node {node}",
                       action="Preempting", related=preemptor)
    return True


async def clear_nomination(writer: Any, pod: Mapping[str, Any]) -> None:
    """Clear ``status.nominatedNodeName`` of ``pod`` (a pod gone meanwhile is fine)."""
    namespace, name = _name(pod)
    try:
        await writer.patch(PODS, namespace, name, {"status": {"nominatedNodeName": None}},
                           content_type=STRATEGIC_MERGE_PATCH, subresource="status")
    except ApiError as exc:
        if exc.code not in _GONE:
            raise


async def preempt(writer: Any, events: EventRecorder, preemptor: Mapping[str, Any],
                  preemption: Preemption) -> int:
    """Evict the victims of ``preemption`` and clear the lower nominations (see the
    module docstring); returns how many writes were made. ``writer`` needs ``patch`` and
    ``delete``; ``events`` records as the scheduler."""
    candidate = preemption.candidate
    if candidate is None:
        return 0
    writes = 0
    for victim in candidate.victims:
        if _m(victim.get("metadata")).get("deletionTimestamp"):
            continue  # its graceful deletion has started: nothing more to send
        if await _preempt_one(writer, events, preemptor, victim, candidate.node):
            writes += 2
    for pod in preemption.lower_nominated:
        # Not critical (upstream logs and goes on): the pod is requeued anyway.
        try:
            await clear_nomination(writer, pod)
            writes += 1
        except ApiError as exc:
            log.warning("could not clear the nomination of %s/%s: %s", *_name(pod), exc)
    return writes
