"""The cronjob controller: Jobs on a schedule (kube-controller-manager's ``cronjob``).

Contract, as upstream's CronJob controller (v2):

* the schedule (:mod:`controllers.batch.cron`) is read in ``spec.timeZone`` (``zoneinfo``;
  UTC when unset); an unknown zone or an unparsable schedule starts nothing;
* the Job for a schedule time ``t`` is ``<cronjob>-<t in minutes since the epoch>``, owned by
  the CronJob, with the template's labels and annotations plus
  ``batch.kubernetes.io/cronjob-scheduled-timestamp`` (``t`` in RFC 3339, in the zone);
* only the most recent missed time since ``status.lastScheduleTime`` (else the creation time)
  is started, and not at all once it is more than ``startingDeadlineSeconds`` late;
* ``concurrencyPolicy``: ``Allow`` runs Jobs side by side, ``Forbid`` skips a time while one is
  active, ``Replace`` deletes the active Jobs (propagation Background) first;
* ``suspend`` starts nothing; finished Jobs beyond ``successfulJobsHistoryLimit`` /
  ``failedJobsHistoryLimit`` are deleted, oldest first;
* ``status.active`` lists the owned unfinished Jobs, ``lastScheduleTime`` the last time started,
  ``lastSuccessfulTime`` the latest completion.

The CronJob is synced again at its next schedule time. The time is the injected ``clock``.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apiserver.api.resources import served
from controllers.batch.cron import CronError, Schedule, parse
from controllers.batch.job import JOBS
from controllers.batch.jobutil import Clock, get_condition, parse_time, rfc3339, utcnow
from controllers.client.errors import is_already_exists, is_not_found
from controllers.client.store import DeletedFinalStateUnknown, Store
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.events import EventRecorder
from controllers.runtime.writer import Writer

__all__ = ["CRONJOB", "CRONJOBS", "CronJobController", "job_name"]

CRONJOBS = served("batch", "v1", "cronjobs")
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def job_name(cronjob: str, scheduled: datetime) -> str:
    """``<cronjob>-<minutes since the epoch>`` for a schedule time."""
    return f"{cronjob}-{int(scheduled.timestamp()) // 60}"


def _cronjob_of(job: Mapping[str, Any]) -> tuple[str, str] | None:
    md = _m(job.get("metadata"))
    for ref in md.get("ownerReferences") or []:
        ref = _m(ref)
        if ref.get("controller") and ref.get("kind") == "CronJob":
            return str(ref.get("name")), str(ref.get("uid"))
    return None


def _finished(job: Mapping[str, Any]) -> str | None:
    status = _m(job.get("status"))
    if get_condition(status, "Complete"):
        return "Complete"
    if get_condition(status, "Failed"):
        return "Failed"
    return None


#: Look-back windows tried, shortest first, for the latest missed time (seconds).
_WINDOWS = (3600, 86400, 32 * 86400, 367 * 86400)


def latest_time(schedule: Schedule, earliest: datetime, now: datetime,
                tz: ZoneInfo) -> datetime | None:
    """The latest schedule time in ``(earliest, now]`` (None when there is none).

    Short windows before ``now`` are searched first, so a CronJob that missed many times
    costs no more than its most recent day, month or year of schedule times.
    """
    if schedule.every is not None:
        first = earliest.replace(microsecond=0) + schedule.every
        if first > now:
            return None
        return first + schedule.every * ((now - first) // schedule.every)
    for window in (*_WINDOWS, None):
        start = earliest if window is None else max(earliest, now - timedelta(seconds=window))
        found: datetime | None = None
        for when in schedule.times(start, tz):
            if when > now:
                break
            found = when
        if found is not None or start == earliest:
            return found
    return None


class CronJobController(KeyedController):
    """Reconciles each CronJob (key ``namespace/name``) with its Jobs."""

    name = "cronjob"

    def __init__(self, cronjobs: Store, jobs: Store, writer: Writer,
                 clock: Clock = utcnow) -> None:
        super().__init__()
        self.cronjobs = cronjobs
        self.jobs = jobs
        self.writer = writer
        self.clock = clock
        self.recorder = EventRecorder(writer, "cronjob-controller", clock=clock)
        #: The ``status.active`` this controller last wrote, per CronJob key.
        self._written_active: dict[str, dict[str, dict[str, Any]]] = {}

    def on_cronjob(self, obj: Any, new: Any = None) -> None:
        """Handler for CronJob events."""
        obj = new if new is not None else obj
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        md = _m(_m(obj).get("metadata"))
        self.queue.add(f"{md.get('namespace')}/{md.get('name')}")

    def on_job(self, obj: Any, new: Any = None) -> None:
        """Handler for Job events: enqueue the owning CronJob."""
        obj = new if new is not None else obj
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        owner = _cronjob_of(_m(obj))
        if owner is not None:
            self.queue.add(f"{_m(_m(obj).get('metadata')).get('namespace')}/{owner[0]}")

    async def sync(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        cronjob = self.cronjobs.get(namespace, name)
        if cronjob is None:
            self._written_active.pop(key, None)
            return
        cronjob = copy.deepcopy(cronjob)
        uid = str(cronjob["metadata"].get("uid") or "")
        status: dict[str, Any] = copy.deepcopy(dict(_m(cronjob.get("status"))))
        original = copy.deepcopy(status)
        now = self.clock()
        owned = [j for j in self.jobs.in_namespace(namespace)
                 if _cronjob_of(j) == (name, uid)]
        owned_names = {str(j["metadata"]["name"]) for j in owned}

        active = [a for a in status.get("active") or [] if a.get("name") in owned_names]
        listed = {a.get("name") for a in active}
        # The cache may not show this controller's last status write yet (upstream reads
        # the CronJob again before it calls a Job unexpected): its Jobs are still ours.
        for job_name_, ref in self._written_active.get(key, {}).items():
            if job_name_ in owned_names and job_name_ not in listed:
                active.append(ref)
                listed.add(job_name_)
        for job in owned:
            md = job["metadata"]
            outcome = _finished(job)
            if outcome is None and md["name"] not in listed:
                # Upstream does not adopt it: a Job it did not create (kubectl create job
                # --from=cronjob/x), or one whose status write was lost.
                await self.recorder.event(
                    cronjob, "Warning", "UnexpectedJob",
                    f"Saw a job that the controller did not create or forgot: {md['name']}")
            elif outcome is not None:
                if md["name"] in listed:
                    await self.recorder.event(
                        cronjob, "Normal", "SawCompletedJob",
                        f"Saw completed job: {md['name']}, condition: {outcome}")
                active = [a for a in active if a.get("name") != md["name"]]
                done = parse_time(_m(job.get("status")).get("completionTime"))
                last = parse_time(status.get("lastSuccessfulTime"))
                if outcome == "Complete" and done and (last is None or done > last):
                    status["lastSuccessfulTime"] = rfc3339(done)
        status["active"] = active

        requeue = await self._schedule(cronjob, status, owned_names, now)
        if not status["active"]:
            status.pop("active")
        if status != original:
            body = dict(cronjob)
            body["status"] = status
            await self.writer.update(CRONJOBS, namespace, body, subresource="status")
            self.metrics.writes += 1
            self._written_active[key] = {str(a.get("name")): a
                                         for a in status.get("active") or []}
        await self._cleanup(cronjob, owned)
        if requeue is not None:
            self.queue.add_after(key, max((requeue - now).total_seconds(), 0.0) + 0.1)

    async def _schedule(self, cronjob: dict[str, Any], status: dict[str, Any],
                        owned_names: set[str], now: datetime) -> datetime | None:
        """Start the Job due now, if any; returns the next time to look again (or None)."""
        md, spec = cronjob["metadata"], _m(cronjob.get("spec"))
        if md.get("deletionTimestamp") or spec.get("suspend"):
            return None
        try:
            tz = ZoneInfo(str(spec["timeZone"])) if spec.get("timeZone") else ZoneInfo("UTC")
        except (ZoneInfoNotFoundError, ValueError) as exc:
            await self.recorder.event(cronjob, "Warning", "UnknownTimeZone",
                                      f"invalid timeZone: {spec.get('timeZone')!r}: {exc}")
            return None
        try:
            schedule = parse(str(spec.get("schedule") or ""))
        except CronError as exc:
            await self.recorder.event(cronjob, "Warning", "InvalidSchedule",
                                      f"invalid schedule: {spec.get('schedule')} : {exc}")
            return None
        earliest = parse_time(status.get("lastScheduleTime")) or parse_time(
            md.get("creationTimestamp")) or now
        deadline = spec.get("startingDeadlineSeconds")
        if isinstance(deadline, int):
            earliest = max(earliest, now - timedelta(seconds=deadline))
        due = latest_time(schedule, earliest, now, tz)
        missed = sum(1 for _, t in zip(range(101), schedule.times(earliest, tz), strict=False)
                     if t <= now)
        if missed > 100:
            await self.recorder.event(
                cronjob, "Warning", "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                "or check clock skew")
        upcoming = schedule.next(now, tz)
        if due is None:
            return upcoming
        name = job_name(str(md["name"]), due)
        if name in owned_names:
            return upcoming
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status["active"]:
            await self.recorder.event(
                cronjob, "Normal", "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy "
                "is Forbid")
            return upcoming
        if policy == "Replace":
            for ref in status["active"]:
                try:
                    await self.writer.delete(JOBS, md["namespace"], str(ref["name"]),
                                             propagation_policy="Background")
                    self.metrics.writes += 1
                except Exception as exc:
                    if not is_not_found(exc):
                        raise
                else:
                    await self.recorder.event(cronjob, "Normal", "SuccessfulDelete",
                                              f"Deleted job {ref['name']}")
            status["active"] = []
        try:
            job = await self.writer.create(JOBS, md["namespace"],
                                           self.job_for(cronjob, due, tz))
            self.metrics.writes += 1
        except Exception as exc:
            if not is_already_exists(exc):
                raise
            return upcoming
        await self.recorder.event(cronjob, "Normal", "SuccessfulCreate",
                                  f"Created job {job['metadata']['name']}")
        status["active"] = [*status["active"], self._ref(job)]
        status["lastScheduleTime"] = rfc3339(due)
        return upcoming

    def job_for(self, cronjob: Mapping[str, Any], scheduled: datetime,
                tz: ZoneInfo) -> dict[str, Any]:
        """The Job the CronJob's template describes for the schedule time ``scheduled``."""
        md = _m(cronjob.get("metadata"))
        template = _m(_m(cronjob.get("spec")).get("jobTemplate"))
        tmd = _m(template.get("metadata"))
        annotations = dict(_m(tmd.get("annotations")))
        annotations[SCHEDULED_TIMESTAMP] = scheduled.astimezone(tz).isoformat()
        meta: dict[str, Any] = {
            "name": job_name(str(md.get("name")), scheduled), "namespace": md.get("namespace"),
            "annotations": annotations,
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob",
                                 "name": md.get("name"), "uid": md.get("uid"),
                                 "controller": True, "blockOwnerDeletion": True}]}
        if tmd.get("labels"):
            meta["labels"] = dict(_m(tmd.get("labels")))
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": copy.deepcopy(dict(_m(template.get("spec"))))}

    @staticmethod
    def _ref(job: Mapping[str, Any]) -> dict[str, Any]:
        md = _m(job.get("metadata"))
        return {"apiVersion": "batch/v1", "kind": "Job", "namespace": md.get("namespace"),
                "name": md.get("name"), "uid": md.get("uid"),
                "resourceVersion": md.get("resourceVersion")}

    async def _cleanup(self, cronjob: Mapping[str, Any], owned: list[dict[str, Any]]) -> None:
        """Delete the oldest finished Jobs beyond the history limits."""
        namespace = str(_m(cronjob.get("metadata")).get("namespace"))
        spec = _m(cronjob.get("spec"))
        for outcome, field in (("Complete", "successfulJobsHistoryLimit"),
                               ("Failed", "failedJobsHistoryLimit")):
            limit = spec.get(field)
            if not isinstance(limit, int):
                continue
            done = sorted((j for j in owned if _finished(j) == outcome
                           and not j["metadata"].get("deletionTimestamp")),
                          key=lambda j: (str(_m(j.get("status")).get("startTime") or ""),
                                         str(j["metadata"].get("creationTimestamp") or ""),
                                         str(j["metadata"]["name"])))
            for job in done[:max(len(done) - limit, 0)]:
                try:
                    await self.writer.delete(JOBS, namespace, str(job["metadata"]["name"]),
                                             propagation_policy="Background")
                    self.metrics.writes += 1
                except Exception as exc:
                    if not is_not_found(exc):
                        raise
                else:
                    await self.recorder.event(cronjob, "Normal", "SuccessfulDelete",
                                              f"Deleted job {job['metadata']['name']}")


def _build(ctx: ControllerContext) -> KeyedController:
    cronjobs = ctx.informers.informer_for(CRONJOBS)
    jobs = ctx.informers.informer_for(JOBS)
    controller = CronJobController(cronjobs.store, jobs.store, ctx.writer)
    cronjobs.add_event_handler(controller.on_cronjob, controller.on_cronjob)
    jobs.add_event_handler(controller.on_job, controller.on_job, controller.on_job)
    return controller


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrent-cron-job-syncs", type=int, default=5,
                        help="cronjob workers (default 5)")


CRONJOB = ControllerSpec("cronjob", _build, lambda args: int(args.concurrent_cron_job_syncs),
                         add_flags=_flags)
