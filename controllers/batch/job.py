"""The job controller: runs a Job's pods to completion (kube-controller-manager's ``job``).

Contract, as upstream's job controller in 1.33:

* pods are made from ``spec.template`` (``generateName: <job>-``, or ``<job>-<index>-`` in
  Indexed mode, with the completion index as annotation and label and hostname
  ``<job>-<index>``), owned by the Job (controller reference) and carrying the
  ``batch.kubernetes.io/job-tracking`` finalizer;
* up to ``parallelism`` pods run while fewer than ``completions`` succeeded (Indexed: one pod per
  index not yet completed); excess pods are deleted;
* finished pods are counted with the finalizer protocol: their uids first go to
  ``status.uncountedTerminatedPods``, then the finalizer is removed, then they move to
  ``succeeded``/``failed``. A pod being deleted before it succeeded counts as failed
  (``podReplacementPolicy: TerminatingOrFailed``);
* under ``restartPolicy: OnFailure`` the active pods' container restarts count as failures;
* after failures, new pods wait an exponential backoff (10 s doubling, capped at 10 min as
  upstream's code; its documentation says 6); more
  than ``backoffLimit`` failures, or ``activeDeadlineSeconds`` elapsed since ``startTime``,
  adds ``FailureTarget``, deletes the active pods, then ``Failed`` (reason
  ``BackoffLimitExceeded``/``DeadlineExceeded``) once no pod is left running;
* reaching ``completions`` adds ``SuccessCriteriaMet``, then ``Complete`` with
  ``completionTime`` once no pod is left running;
* pods whose Job is gone (or was replaced by a Job of the same name) lose the finalizer;
* ``suspend`` deletes the active pods, clears ``startTime`` and sets ``Suspended``; resuming
  sets a new ``startTime``.

The time is the injected ``clock``; the backoff record of each Job lives in memory, as
upstream's.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from apiserver.api.resources import PODS, served
from controllers.batch.jobutil import (
    TRACKING_FINALIZER,
    Clock,
    backoff_delay,
    finish_time,
    format_indexes,
    get_condition,
    is_ready,
    owner_job,
    parse_indexes,
    pod_for,
    pod_index,
    pod_outcome,
    restarts,
    rfc3339,
    set_condition,
    utcnow,
)
from controllers.client.errors import is_not_found
from controllers.client.store import DeletedFinalStateUnknown, Store
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.events import EventRecorder
from controllers.runtime.writer import Writer

__all__ = ["JOB", "JOBS", "JobController"]

JOBS = served("batch", "v1", "jobs")
#: Seconds after which unobserved writes stop blocking pod management.
EXPECTATIONS_TIMEOUT = 300.0
_BACKOFF_MSG = "Job has reached the specified backoff limit"
_DEADLINE_MSG = "Job was active longer than specified deadline"
_DONE_MSG = "Reached expected number of succeeded pods"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class JobController(KeyedController):
    """Reconciles each Job (key ``namespace/name``) with its pods."""

    name = "job"

    def __init__(self, jobs: Store, pods: Store, writer: Writer, clock: Clock = utcnow) -> None:
        super().__init__()
        self.jobs = jobs
        self.pods = pods
        self.writer = writer
        self.clock = clock
        self.recorder = EventRecorder(writer, "job-controller", clock=clock)
        #: job uid → (failures since the last success, time of the last failure).
        self.backoff: dict[str, tuple[int, datetime]] = {}
        #: job key → {pod name: (True for a create / False for a delete, when)}.
        self.expectations: dict[str, dict[str, tuple[bool, datetime]]] = {}

    # -- handlers -------------------------------------------------------------------------

    def on_job(self, obj: Any, new: Any = None) -> None:
        """Handler for Job adds, updates (``new``) and deletes."""
        obj = new if new is not None else obj
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        md = _m(_m(obj).get("metadata"))
        self.queue.add(f"{md.get('namespace')}/{md.get('name')}")

    def on_pod(self, obj: Any, new: Any = None) -> None:
        """Handler for pod events: enqueue the owning Job."""
        obj = new if new is not None else obj
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        key = owner_job(_m(obj))
        if key is not None:
            self.queue.add(key)

    # -- sync -----------------------------------------------------------------------------

    def _satisfied(self, key: str, by_name: Mapping[str, Mapping[str, Any]]) -> bool:
        """Whether every pod write this controller made for ``key`` is visible in the cache."""
        pending = self.expectations.get(key, {})
        now = self.clock()
        for name, (create, when) in list(pending.items()):
            pod = by_name.get(name)
            seen = (pod is not None) if create else (
                pod is None or bool(_m(pod.get("metadata")).get("deletionTimestamp")))
            if seen or (now - when).total_seconds() > EXPECTATIONS_TIMEOUT:
                del pending[name]
        return not pending

    async def sync(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        job = self.jobs.get(namespace, name)
        uid = str(_m(_m(job).get("metadata")).get("uid") or "")
        for pod in self.pods.in_namespace(namespace):
            md = _m(pod.get("metadata"))
            if owner_job(pod) == key and TRACKING_FINALIZER in (md.get("finalizers") or []) \
                    and not any(_m(r).get("uid") == uid for r in md.get("ownerReferences") or []):
                await self._drop_finalizer(namespace, pod)
        if job is None:
            self.expectations.pop(key, None)
            return
        job = copy.deepcopy(job)
        spec = _m(job.get("spec"))
        now = self.clock()
        pods = [p for p in self.pods.in_namespace(namespace) if owner_job(p) == key
                and any(_m(r).get("uid") == uid
                        for r in _m(p.get("metadata")).get("ownerReferences") or [])]
        by_name = {str(p["metadata"].get("name")): p for p in pods}
        status: dict[str, Any] = copy.deepcopy(dict(_m(job.get("status"))))
        original = copy.deepcopy(status)
        finished = get_condition(status, "Complete") or get_condition(status, "Failed")
        indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions")

        # 1. newly finished pods with the finalizer → uncountedTerminatedPods.
        uncounted = {k: list(_m(status.get("uncountedTerminatedPods")).get(k) or [])
                     for k in ("succeeded", "failed")}
        done_indexes = parse_indexes(status.get("completedIndexes"))
        added = False
        for pod in pods:
            md = _m(pod.get("metadata"))
            outcome = pod_outcome(pod)
            puid = str(md.get("uid") or "")
            if outcome is None or TRACKING_FINALIZER not in (md.get("finalizers") or []):
                continue
            if puid in uncounted["succeeded"] or puid in uncounted["failed"]:
                continue
            uncounted[outcome].append(puid)
            added = True
            fails, last = self.backoff.get(uid, (0, now))
            if outcome == "succeeded":
                self.backoff[uid] = (0, last)
                index = pod_index(pod)
                if indexed and index is not None and index < int(completions or 0):
                    done_indexes.add(index)
            else:
                self.backoff[uid] = (fails + 1, max(last, finish_time(pod, now))
                                     if fails else finish_time(pod, now))
        if added:
            status["uncountedTerminatedPods"] = {k: v for k, v in uncounted.items() if v}
            if indexed:
                status["completedIndexes"] = format_indexes(done_indexes)
            job = await self._write(job, status)

        # 2. remove the finalizer from finished pods (all pods once the Job finished).
        still_tracked: set[str] = set()
        for pod in pods:
            md = _m(pod.get("metadata"))
            if TRACKING_FINALIZER not in (md.get("finalizers") or []):
                continue
            if pod_outcome(pod) is None and not finished:
                still_tracked.add(str(md.get("uid")))
                continue
            await self._drop_finalizer(namespace, pod)

        # 3. counted uids leave uncountedTerminatedPods.
        for kind in ("succeeded", "failed"):
            status[kind] = int(status.get(kind) or 0) + len(uncounted[kind])
            uncounted[kind] = []
        if indexed:
            status["succeeded"] = len(done_indexes)
        status["uncountedTerminatedPods"] = {}
        succeeded, failed = int(status["succeeded"]), int(status["failed"])

        active = [p for p in pods if pod_outcome(p) is None]
        terminating = [p for p in pods if pod_outcome(p) == "failed"
                       and _m(p.get("status")).get("phase") not in ("Failed", "Succeeded")]
        if not finished:
            active = await self._manage(key, job, status, active, by_name, done_indexes,
                                        succeeded, failed, now)
        status["active"] = len(active)
        status["ready"] = sum(1 for p in active if is_ready(p))
        status["terminating"] = len(terminating)
        for field in ("active", "succeeded", "failed"):
            if not status.get(field):
                status.pop(field, None)
        if status != original:
            await self._write(job, status)

    async def _manage(self, key: str, job: dict[str, Any], status: dict[str, Any],
                      active: list[dict[str, Any]], by_name: Mapping[str, Any],
                      done_indexes: set[int], succeeded: int, failed: int,
                      now: datetime) -> list[dict[str, Any]]:
        """Conditions, then create/delete pods; returns the pods still active."""
        spec = _m(job.get("spec"))
        uid = str(job["metadata"].get("uid") or "")
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1) or 0)
        indexed = spec.get("completionMode") == "Indexed"
        if spec.get("suspend"):
            if set_condition(status, "Suspended", "True", "JobSuspended", "Job suspended", now):
                status.pop("startTime", None)
                await self.recorder.event(job, "Normal", "Suspended", "Job suspended")
            await self._delete_pods(key, job, active, now)
            return []
        if get_condition(status, "Suspended") and set_condition(
                status, "Suspended", "False", "JobResumed", "Job resumed", now):
            await self.recorder.event(job, "Normal", "Resumed", "Job resumed")
        if not status.get("startTime"):
            status["startTime"] = rfc3339(now)
        start = datetime.fromisoformat(str(status["startTime"]).replace("Z", "+00:00"))

        target = get_condition(status, "FailureTarget")
        met = get_condition(status, "SuccessCriteriaMet")
        deadline = spec.get("activeDeadlineSeconds")
        if target is None and met is None:
            if indexed:
                complete = len(done_indexes) >= int(completions or 0)
            elif completions is not None:
                complete = succeeded >= int(completions)
            else:
                complete = succeeded > 0 and not active
            if complete:
                set_condition(status, "SuccessCriteriaMet", "True", "CompletionsReached",
                              _DONE_MSG, now)
            elif failed + restarts(job, active) > int(spec.get("backoffLimit", 6) or 0):
                set_condition(status, "FailureTarget", "True", "BackoffLimitExceeded",
                              _BACKOFF_MSG, now)
            elif isinstance(deadline, int):
                left = start + timedelta(seconds=deadline) - now
                if left <= timedelta(0):
                    set_condition(status, "FailureTarget", "True", "DeadlineExceeded",
                                  _DEADLINE_MSG, now)
                else:
                    self.queue.add_after(key, left.total_seconds())
        target = get_condition(status, "FailureTarget")
        met = get_condition(status, "SuccessCriteriaMet")
        if target is not None or met is not None:
            await self._delete_pods(key, job, active, now)
            # The terminal condition waits until no pod is running or terminating.
            if not any(_m(p.get("status")).get("phase") not in ("Succeeded", "Failed")
                       for p in by_name.values()):
                cond = target or met or {}
                final = "Failed" if target is not None else "Complete"
                reason, message = str(cond.get("reason")), str(cond.get("message"))
                set_condition(status, final, "True", reason, message, now)
                if final == "Complete":
                    status["completionTime"] = rfc3339(now)
                    await self.recorder.event(job, "Normal", "Completed", "Job completed")
                else:
                    await self.recorder.event(job, "Warning", reason, message)
                self.backoff.pop(uid, None)
            return []
        if not self._satisfied(key, by_name):
            return active
        return await self._scale(key, job, active, done_indexes, succeeded, parallelism, now)

    async def _scale(self, key: str, job: dict[str, Any], active: list[dict[str, Any]],
                     done_indexes: set[int], succeeded: int, parallelism: int,
                     now: datetime) -> list[dict[str, Any]]:
        """Create or delete pods towards the wanted number of active pods."""
        spec = _m(job.get("spec"))
        namespace = str(job["metadata"].get("namespace"))
        completions = spec.get("completions")
        if spec.get("completionMode") == "Indexed":
            total = int(completions or 0)
            running: dict[int, dict[str, Any]] = {}
            extra: list[dict[str, Any]] = []
            for pod in active:
                index = pod_index(pod)
                if index is None or index >= total or index in done_indexes or index in running:
                    extra.append(pod)
                else:
                    running[index] = pod
            await self._delete_pods(key, job, extra, now)
            active = list(running.values())
            missing = [i for i in range(total) if i not in done_indexes and i not in running]
            want = min(parallelism, total - len(done_indexes))
            todo: list[int | None] = list(missing[:max(want - len(active), 0)])
        else:
            want = parallelism if completions is None else min(
                parallelism, max(int(completions) - succeeded, 0))
            if completions is None and succeeded > 0:
                want = 0
            if len(active) > want:
                excess = sorted(active, key=lambda p: (is_ready(p), str(
                    _m(p.get("metadata")).get("creationTimestamp") or "")))[:len(active) - want]
                await self._delete_pods(key, job, excess, now)
                return [p for p in active if p not in excess]
            todo = [None] * (want - len(active))
        if not todo:
            return active
        fails, last = self.backoff.get(str(job["metadata"].get("uid") or ""), (0, now))
        wait = last + backoff_delay(fails) - now
        if wait > timedelta(0):
            self.queue.add_after(key, wait.total_seconds())
            return active
        for index in todo:
            created = await self.writer.create(PODS, namespace, pod_for(job, index))
            self.metrics.writes += 1
            self.expectations.setdefault(key, {})[str(created["metadata"]["name"])] = (True, now)
            active = [*active, created]
            await self.recorder.event(job, "Normal", "SuccessfulCreate",
                                      f"Created pod: {created['metadata']['name']}")
        return active

    async def _delete_pods(self, key: str, job: Mapping[str, Any], pods: list[dict[str, Any]],
                           now: datetime) -> None:
        namespace = str(_m(job.get("metadata")).get("namespace"))
        for pod in pods:
            name = str(_m(pod.get("metadata")).get("name"))
            try:
                await self.writer.delete(PODS, namespace, name)
                self.metrics.writes += 1
            except Exception as exc:
                if not is_not_found(exc):
                    raise
            else:
                await self.recorder.event(job, "Normal", "SuccessfulDelete",
                                          f"Deleted pod: {name}")
            self.expectations.setdefault(key, {})[name] = (False, now)

    async def _drop_finalizer(self, namespace: str, pod: Mapping[str, Any]) -> None:
        md = _m(pod.get("metadata"))
        finalizers = list(md.get("finalizers") or [])
        i = finalizers.index(TRACKING_FINALIZER)
        patch = [{"op": "test", "path": f"/metadata/finalizers/{i}",
                  "value": TRACKING_FINALIZER},
                 {"op": "remove", "path": f"/metadata/finalizers/{i}"}]
        try:
            await self.writer.patch(PODS, namespace, str(md.get("name")), patch,
                                    content_type="application/json-patch+json")
            self.metrics.writes += 1
        except Exception as exc:
            if not is_not_found(exc):
                raise

    async def _write(self, job: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        body = dict(job)
        body["status"] = status
        written = await self.writer.update(JOBS, str(job["metadata"].get("namespace")), body,
                                           subresource="status")
        self.metrics.writes += 1
        return written


def _build(ctx: ControllerContext) -> KeyedController:
    jobs = ctx.informers.informer_for(JOBS)
    pods = ctx.informers.informer_for(PODS)
    controller = JobController(jobs.store, pods.store, ctx.writer)
    jobs.add_event_handler(controller.on_job, controller.on_job, controller.on_job)
    pods.add_event_handler(controller.on_pod, controller.on_pod, controller.on_pod)
    return controller


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrent-job-syncs", type=int, default=5,
                        help="job workers (default 5)")


JOB = ControllerSpec("job", _build, lambda args: int(args.concurrent_job_syncs),
                     add_flags=_flags)
