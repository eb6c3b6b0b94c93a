"""The ttl-after-finished controller: deletes finished Jobs once their TTL ran out.

As kube-controller-manager's ``ttl-after-finished``: a Job with
``spec.ttlSecondsAfterFinished`` whose ``Complete`` or ``Failed`` condition is True expires
``ttlSecondsAfterFinished`` seconds after that condition's ``lastTransitionTime``. An expired
Job is read again from the apiserver (the cache may be stale: the TTL may have been changed)
and deleted with ``propagationPolicy: Background`` and a uid precondition; one not yet expired
is looked at again when it expires. The time is the injected ``clock``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from controllers.batch.job import JOBS
from controllers.batch.jobutil import Clock, parse_time, utcnow
from controllers.client.errors import is_conflict, is_not_found
from controllers.client.store import DeletedFinalStateUnknown, Store
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.writer import Writer

__all__ = ["TTL_AFTER_FINISHED", "TTLAfterFinishedController", "expires_at"]

#: Reads one Job fresh from the apiserver (None when it is gone).
Getter = Callable[[str, str], Awaitable[Mapping[str, Any] | None]]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def expires_at(job: Mapping[str, Any]) -> datetime | None:
    """When a finished Job with a TTL expires (None: no TTL, not finished, being deleted)."""
    ttl = _m(job.get("spec")).get("ttlSecondsAfterFinished")
    if not isinstance(ttl, int) or _m(job.get("metadata")).get("deletionTimestamp"):
        return None
    for cond in _m(job.get("status")).get("conditions") or []:
        cond = _m(cond)
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            finished = parse_time(cond.get("lastTransitionTime"))
            if finished is not None:
                return finished + timedelta(seconds=ttl)
    return None


class TTLAfterFinishedController(KeyedController):
    """Deletes expired Jobs (key ``namespace/name``)."""

    name = "ttl_jobs_to_delete"

    def __init__(self, jobs: Store, writer: Writer, get: Getter, clock: Clock = utcnow) -> None:
        super().__init__()
        self.jobs = jobs
        self.writer = writer
        self.get = get
        self.clock = clock

    def on_job(self, obj: Any, new: Any = None) -> None:
        """Handler for Job adds and updates: only Jobs that can expire are queued."""
        obj = new if new is not None else obj
        if isinstance(obj, DeletedFinalStateUnknown):
            return
        if expires_at(_m(obj)) is not None:
            md = _m(_m(obj).get("metadata"))
            self.queue.add(f"{md.get('namespace')}/{md.get('name')}")

    async def sync(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        job = self.jobs.get(namespace, name)
        if job is None or expires_at(job) is None:
            return
        now = self.clock()
        when = expires_at(job)
        if when is not None and when > now:
            self.queue.add_after(key, (when - now).total_seconds())
            return
        fresh = await self.get(namespace, name)
        when = expires_at(fresh) if fresh is not None else None
        if fresh is None or when is None:
            return
        if when > now:
            self.queue.add_after(key, (when - now).total_seconds())
            return
        uid = str(_m(fresh.get("metadata")).get("uid") or "")
        try:
            await self.writer.delete(JOBS, namespace, name, propagation_policy="Background",
                                     preconditions={"uid": uid})
            self.metrics.writes += 1
        except Exception as exc:
            if not (is_not_found(exc) or is_conflict(exc)):
                raise


def _build(ctx: ControllerContext) -> KeyedController:
    jobs = ctx.informers.informer_for(JOBS)

    async def get(namespace: str, name: str) -> Mapping[str, Any] | None:
        try:
            return await ctx.client.get(JOBS, namespace, name)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise

    controller = TTLAfterFinishedController(jobs.store, ctx.writer, get)
    jobs.add_event_handler(controller.on_job, controller.on_job)
    return controller


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrent-ttl-after-finished-syncs", type=int, default=5,
                        help="ttl-after-finished workers (default 5)")


TTL_AFTER_FINISHED = ControllerSpec(
    "ttl-after-finished", _build,
    lambda args: int(args.concurrent_ttl_after_finished_syncs), add_flags=_flags,
)
