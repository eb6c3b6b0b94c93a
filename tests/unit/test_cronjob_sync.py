"""The cronjob and ttl-after-finished controllers' syncs with a fake writer and clock."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from controllers.batch.cronjob import SCHEDULED_TIMESTAMP, CronJobController, job_name
from controllers.batch.ttl import TTLAfterFinishedController, expires_at
from controllers.client.store import Store
from tests.unit.batch_fakes import FakeClock, FakeWriter

KEY = "default/tick"
CREATED = datetime(2026, 1, 1, 11, 58, 0, tzinfo=UTC)


def _cronjob(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schedule": "* * * * *", "concurrencyPolicy": "Allow", "suspend": False,
        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
        "jobTemplate": {"metadata": {"labels": {"app": "tick"}},
                        "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}}
    base.update(spec)
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "tick", "namespace": "default", "uid": "cj-uid",
                         "creationTimestamp": "2026-01-01T11:58:00Z"},
            "spec": base}


class Harness:
    def __init__(self, cronjob: dict[str, Any]) -> None:
        self.cronjobs, self.jobs = Store(), Store()
        self.cronjobs.add(cronjob)
        self.clock = FakeClock(datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC))
        self.events = Store()
        self.writer = FakeWriter({"cronjobs": self.cronjobs, "jobs": self.jobs,
                                  "events": self.events})
        self.ctl = CronJobController(self.cronjobs, self.jobs, self.writer, self.clock)

    def sync(self) -> None:
        async def run() -> None:
            await self.ctl.sync(KEY)
            self.ctl.queue.shutdown()
        asyncio.run(run())

    def status(self) -> dict[str, Any]:
        cj = self.cronjobs.get("default", "tick")
        assert cj is not None
        return dict(cj.get("status") or {})

    def names(self) -> list[str]:
        return sorted(j["metadata"]["name"] for j in self.jobs.list()
                      if not j["metadata"].get("deletionTimestamp"))

    def finish(self, name: str, outcome: str) -> None:
        job = copy.deepcopy(self.jobs.get("default", name))
        assert job is not None
        job["status"] = {"conditions": [{"type": outcome, "status": "True"}],
                         "startTime": self.clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if outcome == "Complete":
            job["status"]["completionTime"] = self.clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.jobs.add(job)


def test_creates_the_job_of_the_minute() -> None:
    h = Harness(_cronjob())
    h.sync()
    due = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert h.names() == [job_name("tick", due)] == [f"tick-{int(due.timestamp()) // 60}"]
    job = h.jobs.list()[0]
    assert job["metadata"]["labels"] == {"app": "tick"}
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP] == "2026-01-01T12:00:00+00:00"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    status = h.status()
    assert status["lastScheduleTime"] == "2026-01-01T12:00:00Z"
    assert [a["name"] for a in status["active"]] == h.names()
    h.sync()
    assert len(h.names()) == 1  # the same minute starts nothing twice
    h.clock.advance(60)
    h.sync()
    assert len(h.names()) == 2  # Allow: side by side


def test_time_zone_schedule() -> None:
    h = Harness(_cronjob(schedule="0 21 * * *", timeZone="Asia/Tokyo"))  # 12:00 UTC
    h.sync()
    assert len(h.names()) == 1
    ts = h.jobs.list()[0]["metadata"]["annotations"][SCHEDULED_TIMESTAMP]
    assert ts == "2026-01-01T21:00:00+09:00"


def test_forbid_skips_and_replace_deletes() -> None:
    h = Harness(_cronjob(concurrencyPolicy="Forbid"))
    h.sync()
    first = h.names()
    h.clock.advance(60)
    h.sync()
    assert h.names() == first
    h.finish(first[0], "Complete")
    h.clock.advance(60)
    h.sync()
    assert len(h.names()) == 2 and h.status()["lastSuccessfulTime"]

    r = Harness(_cronjob(concurrencyPolicy="Replace"))
    r.sync()
    old = r.names()
    r.clock.advance(60)
    r.sync()
    assert ("delete", "jobs", old[0]) in r.writer.calls
    assert [a["name"] for a in r.status()["active"]] != old


def test_suspend_and_starting_deadline() -> None:
    h = Harness(_cronjob(suspend=True))
    h.sync()
    assert h.names() == []
    late = Harness(_cronjob(schedule="0 12 * * *", startingDeadlineSeconds=3))
    late.sync()  # 12:00:05 is 5 s late for 12:00
    assert late.names() == []


def test_history_limits_delete_the_oldest() -> None:
    h = Harness(_cronjob(successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0))
    for outcome in ("Complete", "Complete", "Failed"):
        h.sync()
        h.finish(h.names()[-1], outcome)
        h.clock.advance(60)
    h.sync()
    deleted = [c[2] for c in h.writer.calls if c[0] == "delete"]
    assert len(deleted) == 2  # the older Complete and the Failed one
    assert len(h.names()) == 2  # the newest Complete and the new active Job


def _finished_job(ttl: int | None) -> dict[str, Any]:
    job: dict[str, Any] = {"metadata": {"name": "j", "namespace": "default", "uid": "u"},
                           "spec": {}, "status": {"conditions": [{
                               "type": "Complete", "status": "True",
                               "lastTransitionTime": "2026-01-01T12:00:00Z"}]}}
    if ttl is not None:
        job["spec"]["ttlSecondsAfterFinished"] = ttl
    return job


def test_ttl_after_finished() -> None:
    assert expires_at(_finished_job(None)) is None
    assert expires_at(_finished_job(30)) == datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
    jobs = Store()
    jobs.add(_finished_job(30))
    writer = FakeWriter({"jobs": jobs})
    clock = FakeClock(datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC))

    async def get(namespace: str, name: str) -> Mapping[str, Any] | None:
        return jobs.get(namespace, name)

    ctl = TTLAfterFinishedController(jobs, writer, get, clock)

    async def run() -> None:
        await ctl.sync("default/j")
        assert writer.calls == [] and ctl.queue.waiting == 1
        clock.advance(25)
        await ctl.sync("default/j")
        ctl.queue.shutdown()

    asyncio.run(run())
    assert writer.calls == [("delete", "jobs", "j")]


def test_long_outage_starts_only_the_latest_time_and_warns() -> None:
    h = Harness(_cronjob())
    h.clock.now = datetime(2027, 1, 1, 12, 0, 30, tzinfo=UTC)  # a year of minutes missed
    h.sync()
    assert h.names() == [job_name("tick", datetime(2027, 1, 1, 12, 0, tzinfo=UTC))]
    reasons = [e["reason"] for e in h.events.list()]
    assert "TooManyMissedTimes" in reasons and "SuccessfulCreate" in reasons


def test_invalid_time_zone_starts_nothing() -> None:
    h = Harness(_cronjob(timeZone="Mars/Olympus"))
    h.sync()
    assert h.names() == []
    assert [e["reason"] for e in h.events.list()] == ["UnknownTimeZone"]


def test_every_schedule_is_anchored_at_the_last_schedule_time() -> None:
    h = Harness(_cronjob(schedule="@every 5m"))
    h.sync()  # created 11:58, first time 12:03
    assert h.names() == []
    h.clock.advance(3 * 60)
    h.sync()
    assert h.names() == [job_name("tick", datetime(2026, 1, 1, 12, 3, tzinfo=UTC))]
    h.clock.advance(11 * 60)  # 12:14:05: 12:08 and 12:13 were due; only 12:13 starts
    h.sync()
    assert h.names()[-1] == job_name("tick", datetime(2026, 1, 1, 12, 13, tzinfo=UTC))


def test_a_job_it_did_not_create_is_not_adopted() -> None:
    """``kubectl create job manual --from=cronjob/tick``: owned by the CronJob but not in
    its active list, so upstream warns ``UnexpectedJob`` and leaves it out."""
    h = Harness(_cronjob(suspend=True))
    h.jobs.add({"apiVersion": "batch/v1", "kind": "Job", "metadata": {
        "name": "manual", "namespace": "default", "uid": "j-manual",
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "tick",
                             "uid": "cj-uid", "controller": True}]}, "status": {}})
    h.sync()
    assert "active" not in h.status()
    assert [(e["reason"], e["message"]) for e in h.events.list()] == [
        ("UnexpectedJob", "Saw a job that the controller did not create or forgot: manual")]


def test_its_own_job_is_not_unexpected_while_the_cache_lags() -> None:
    h = Harness(_cronjob())
    h.sync()
    (created,) = h.names()
    stale = copy.deepcopy(h.cronjobs.get("default", "tick"))
    assert stale is not None
    stale["status"] = {}  # the CronJob as a lagging cache still shows it
    h.cronjobs.add(stale)
    h.sync()
    assert "UnexpectedJob" not in [e["reason"] for e in h.events.list()]
    assert [a["name"] for a in h.status().get("active") or []] == [created]
