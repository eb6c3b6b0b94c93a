"""A ``* * * * *`` CronJob starts a Job on the next minute, and the Job runs to completion.

Real processes and the real clock: a private apiserver, the scheduler, one node agent
(built-in runtime: a container with a command exits 0 after a short time) and
``python -m controllers.manager --controllers=cronjob,job``. The schedule's arithmetic
under an injected clock is covered by tests/unit/test_cronjob_sync.py; this test waits for
one real minute boundary (at most a minute).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.integration.test_nodes import Proc, get, wait_for
from tests.support.apiserver import ApiServerProcess

pytestmark = pytest.mark.slow

CRONJOBS = "/apis/batch/v1/namespaces/default/cronjobs"
JOBS = "/apis/batch/v1/namespaces/default/jobs"

CRONJOB: dict[str, Any] = {
    "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
    "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
        "restartPolicy": "OnFailure",
        "containers": [{"name": "c", "image": "busybox", "command": ["date"]}]}}}}},
}


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_every_minute_cronjob_starts_a_job_on_schedule(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc]
) -> None:
    server = fresh_apiserver
    procs(server, "controllers.scheduler")
    procs(server, "controllers.node", "--node-name", "kn-cron", "--pod-cidr",
          "127.244.215.0/24", "--finite-container-seconds", "0.3")
    procs(server, "controllers.manager", "--leader-elect=false", "--controllers=cronjob,job")
    response = httpx.post(server.url + CRONJOBS, json=CRONJOB, timeout=5)
    assert response.status_code == 201, response.text
    created = _parse(response.json()["metadata"]["creationTimestamp"])

    def first_job() -> dict[str, Any] | None:
        items: list[dict[str, Any]] = get(server, JOBS)["items"]
        return items[0] if items else None

    job = wait_for("the first scheduled Job", first_job, timeout=75)
    # Named after the schedule time in minutes since the epoch, at the first minute
    # boundary after the CronJob was made, owned by the CronJob.
    scheduled = _parse(job["metadata"]["annotations"][
        "batch.kubernetes.io/cronjob-scheduled-timestamp"])
    assert scheduled.second == 0 and scheduled > created
    assert (scheduled - created).total_seconds() <= 60
    assert job["metadata"]["name"] == f"tick-{int(scheduled.timestamp()) // 60}"
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("CronJob", "tick", True)
    # Not before its time.
    assert _parse(job["metadata"]["creationTimestamp"]) >= scheduled

    def succeeded() -> dict[str, Any] | None:
        status: dict[str, Any] = get(server, f"{CRONJOBS}/tick").get("status") or {}
        return status if status.get("lastSuccessfulTime") and not status.get("active") \
            else None

    status = wait_for("the CronJob to record the success", succeeded, timeout=30)
    assert _parse(status["lastScheduleTime"]) == scheduled
    assert _parse(status["lastSuccessfulTime"]) >= scheduled
    job = get(server, f"{JOBS}/{job['metadata']['name']}")
    conditions = {c["type"]: c["status"] for c in job["status"]["conditions"]}
    assert conditions["Complete"] == "True"
    assert datetime.now(UTC) >= scheduled
