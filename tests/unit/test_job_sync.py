"""The job controller's sync against hand-filled stores, a fake writer and a fake clock."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from controllers.batch.job import JobController
from controllers.batch.jobutil import (
    TRACKING_FINALIZER,
    backoff_delay,
    format_indexes,
    parse_indexes,
    pod_index,
)
from controllers.client.store import Store
from tests.unit.batch_fakes import FakeClock, FakeWriter

KEY = "default/work"


def _job(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"completions": 3, "parallelism": 2, "backoffLimit": 6,
                            "completionMode": "NonIndexed", "template": {
                                "metadata": {"labels": {"job-name": "work"}},
                                "spec": {"restartPolicy": "Never",
                                         "containers": [{"name": "c", "image": "x"}]}}}
    base.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "work", "namespace": "default", "uid": "job-uid"},
            "spec": base}


class Harness:
    def __init__(self, job: dict[str, Any]) -> None:
        self.jobs, self.pods = Store(), Store()
        self.jobs.add(job)
        self.clock = FakeClock()
        self.events = Store()
        self.writer = FakeWriter({"jobs": self.jobs, "pods": self.pods, "events": self.events})
        self.ctl = JobController(self.jobs, self.pods, self.writer, self.clock)

    def sync(self) -> None:
        async def run() -> None:
            await self.ctl.sync(KEY)
            self.ctl.queue.shutdown()
        asyncio.run(run())

    def job(self) -> dict[str, Any]:
        job = self.jobs.get("default", "work")
        assert job is not None
        return job

    def status(self) -> dict[str, Any]:
        return dict(self.job().get("status") or {})

    def conditions(self) -> dict[str, str]:
        return {c["type"]: c["reason"] for c in self.status().get("conditions", [])
                if c["status"] == "True"}

    def live(self) -> list[dict[str, Any]]:
        return [p for p in self.pods.list() if p.get("status", {}).get("phase")
                not in ("Succeeded", "Failed") and not p["metadata"].get("deletionTimestamp")]

    def finish(self, phase: str, count: int = 1) -> None:
        for pod in sorted(self.live(), key=lambda p: p["metadata"]["name"])[:count]:
            pod = copy.deepcopy(pod)
            pod["status"] = {"phase": phase, "containerStatuses": [{"state": {"terminated": {
                "exitCode": 0 if phase == "Succeeded" else 1,
                "finishedAt": self.clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")}}}]}
            self.pods.add(pod)


def test_creates_parallelism_pods_with_owner_finalizer_and_labels() -> None:
    h = Harness(_job())
    h.sync()
    pods = h.pods.list()
    assert len(pods) == 2
    md = pods[0]["metadata"]
    assert md["generateName"] == "work-"
    assert md["finalizers"] == [TRACKING_FINALIZER]
    assert md["labels"] == {"job-name": "work"}
    assert md["ownerReferences"][0]["uid"] == "job-uid" and md["ownerReferences"][0]["controller"]
    status = h.status()
    assert status["active"] == 2 and status["startTime"]
    h.sync()
    assert len(h.pods.list()) == 2


def test_completes_at_completions_and_removes_finalizers() -> None:
    h = Harness(_job())
    h.sync()
    h.finish("Succeeded", 2)
    h.sync()
    assert h.status()["succeeded"] == 2
    assert len(h.live()) == 1
    h.finish("Succeeded", 1)
    h.sync()
    status = h.status()
    assert status["succeeded"] == 3 and "active" not in status and "failed" not in status
    assert h.conditions() == {"SuccessCriteriaMet": "CompletionsReached",
                              "Complete": "CompletionsReached"}
    assert status["completionTime"] and status["uncountedTerminatedPods"] == {}
    assert all(not p["metadata"].get("finalizers") for p in h.pods.list())
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    reasons = [e["reason"] for e in h.events.list()]
    assert reasons.count("SuccessfulCreate") == 3 and reasons[-1] == "Completed"
    assert all(e["involvedObject"]["name"] == "work" and e["source"]["component"] ==
               "job-controller" for e in h.events.list())


def test_backoff_delays_replacements_and_limit_fails_the_job() -> None:
    h = Harness(_job(backoffLimit=1, parallelism=1, completions=1))
    h.sync()
    h.finish("Failed")
    h.sync()
    assert h.status()["failed"] == 1 and not h.live()
    h.clock.advance(9)
    h.sync()
    assert not h.live()
    h.clock.advance(2)
    h.sync()
    assert len(h.live()) == 1
    h.finish("Failed")
    h.sync()
    assert h.conditions() == {"FailureTarget": "BackoffLimitExceeded",
                              "Failed": "BackoffLimitExceeded"}
    assert h.status()["failed"] == 2 and "completionTime" not in h.status()


def test_backoff_delay_doubles_and_caps() -> None:
    assert [backoff_delay(n).total_seconds() for n in (0, 1, 2, 3, 7, 50)] == [
        0, 10, 20, 40, 600, 600]


def test_indexed_pods_and_completed_indexes() -> None:
    h = Harness(_job(completionMode="Indexed", completions=4, parallelism=4))
    h.sync()
    pods = sorted(h.pods.list(), key=lambda p: pod_index(p) or 0)
    assert [pod_index(p) for p in pods] == [0, 1, 2, 3]
    assert pods[2]["spec"]["hostname"] == "work-2"
    assert pods[2]["metadata"]["generateName"] == "work-2-"
    assert pods[2]["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == "2"
    for pod in pods:
        if pod_index(pod) in (0, 1, 3):
            pod = copy.deepcopy(pod)
            pod["status"] = {"phase": "Succeeded"}
            h.pods.add(pod)
    h.sync()
    assert h.status()["completedIndexes"] == "0-1,3" and h.status()["succeeded"] == 3
    failed = next(p for p in h.live() if pod_index(p) == 2)
    failed = copy.deepcopy(failed)
    failed["status"] = {"phase": "Failed"}
    h.pods.add(failed)
    h.sync()
    h.clock.advance(11)
    h.sync()
    again = h.live()
    assert [pod_index(p) for p in again] == [2]


def test_index_strings() -> None:
    assert format_indexes({0, 1, 2, 4, 6, 7}) == "0-2,4,6-7"
    assert parse_indexes("0-2,4,6-7") == {0, 1, 2, 4, 6, 7}
    assert format_indexes(set()) == "" and parse_indexes("") == set()


def test_active_deadline_fails_and_deletes_pods() -> None:
    h = Harness(_job(activeDeadlineSeconds=30))
    h.sync()
    assert len(h.live()) == 2
    h.clock.advance(31)
    h.sync()
    assert h.conditions() == {"FailureTarget": "DeadlineExceeded"}
    assert not h.live()
    # The deleted pods finish terminating (the node removes them), then the Job fails.
    for pod in list(h.pods.list()):
        h.pods.delete(pod)
    h.sync()
    assert h.conditions()["Failed"] == "DeadlineExceeded"


def test_suspend_deletes_pods_and_resume_restarts() -> None:
    h = Harness(_job(suspend=True))
    h.sync()
    assert not h.pods.list() and h.conditions() == {"Suspended": "JobSuspended"}
    job = copy.deepcopy(h.job())
    job["spec"]["suspend"] = False
    h.jobs.add(job)
    h.sync()
    assert len(h.live()) == 2 and h.status()["startTime"]


def test_pods_of_a_deleted_job_lose_the_finalizer() -> None:
    h = Harness(_job())
    h.sync()
    h.jobs.delete(h.job())
    h.sync()
    assert all(not p["metadata"].get("finalizers") for p in h.pods.list())


def test_on_failure_restarts_count_towards_the_backoff_limit() -> None:
    job = _job(backoffLimit=2, parallelism=1, completions=1)
    job["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    h = Harness(job)
    h.sync()
    pod = copy.deepcopy(h.live()[0])
    pod["status"] = {"phase": "Running", "containerStatuses": [{"restartCount": 3}]}
    h.pods.add(pod)
    h.sync()
    assert h.conditions() == {"FailureTarget": "BackoffLimitExceeded"}
    assert not h.live()
