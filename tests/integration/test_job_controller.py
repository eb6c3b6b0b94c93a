"""A Job runs to completion: apiserver, scheduler, one node agent and the job controller."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import httpx

from kubemu.addresses import Addresses
from tests.integration.test_nodes import Proc, wait_for
from tests.support.apiserver import ApiServerProcess

JOB: dict[str, Any] = {
    "apiVersion": "batch/v1", "kind": "Job",
    "metadata": {"name": "pi"},
    "spec": {"completions": 3, "parallelism": 2, "backoffLimit": 2, "template": {"spec": {
        "restartPolicy": "Never",
        "containers": [{"name": "c", "image": "busybox",
                        "command": ["sh", "-c", "exit 0"]}]}}},
}


def test_job_completes_under_the_builtin_runtime(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc],
    address_block: Addresses,
) -> None:
    server = fresh_apiserver
    procs(server, "controllers.scheduler")
    procs(server, "controllers.node", "--node-name", "kn-job",
          "--pod-cidr", address_block.pod_cidr(10), "--finite-container-seconds", "0.5")
    procs(server, "controllers.manager", "--leader-elect=false", "--controllers=job")
    base = server.url + "/apis/batch/v1/namespaces/default/jobs"
    assert httpx.post(base, json=JOB, timeout=5).status_code == 201

    def complete() -> dict[str, Any] | None:
        job: dict[str, Any] = httpx.get(base + "/pi", timeout=5).json()
        conds = {c["type"]: c for c in job.get("status", {}).get("conditions", [])}
        return job if conds.get("Complete", {}).get("status") == "True" else None

    started = time.monotonic()
    job = wait_for("the Job to complete", complete, timeout=60.0)
    status = job["status"]
    assert status["succeeded"] == 3 and status.get("failed", 0) == 0
    assert status.get("active", 0) == 0 and status["completionTime"]
    assert {c["type"] for c in status["conditions"]} >= {"SuccessCriteriaMet", "Complete"}
    pods = httpx.get(server.url + "/api/v1/namespaces/default/pods",
                     params={"labelSelector": "job-name=pi"}, timeout=5).json()["items"]
    assert len(pods) == 3
    for pod in pods:
        assert pod["status"]["phase"] == "Succeeded"
        assert "batch.kubernetes.io/job-tracking" not in (pod["metadata"].get("finalizers")
                                                          or [])
        term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert term["reason"] == "Completed" and term["exitCode"] == 0
    assert time.monotonic() - started < 60


def test_finished_job_is_deleted_after_its_ttl(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc],
    address_block: Addresses,
) -> None:
    server = fresh_apiserver
    procs(server, "controllers.scheduler")
    procs(server, "controllers.node", "--node-name", "kn-ttl",
          "--pod-cidr", address_block.pod_cidr(11), "--finite-container-seconds", "0.2")
    procs(server, "controllers.manager", "--leader-elect=false",
          "--controllers=job,ttl-after-finished")
    base = server.url + "/apis/batch/v1/namespaces/default/jobs"
    job: dict[str, Any] = copy.deepcopy(JOB)
    job["metadata"]["name"] = "brief"
    job["spec"].update(completions=1, parallelism=1, ttlSecondsAfterFinished=1)
    assert httpx.post(base, json=job, timeout=5).status_code == 201

    def gone() -> bool:
        return httpx.get(base + "/brief", timeout=5).status_code == 404

    wait_for("the finished Job to be deleted", gone, timeout=60.0)


def test_failing_host_command_fails_the_job(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc],
    address_block: Addresses,
) -> None:
    server = fresh_apiserver
    procs(server, "controllers.scheduler")
    procs(server, "controllers.node", "--node-name", "kn-fail", "--pod-cidr",
          address_block.pod_cidr(12), "--allow-host-commands")
    procs(server, "controllers.manager", "--leader-elect=false", "--controllers=job")
    base = server.url + "/apis/batch/v1/namespaces/default/jobs"
    job: dict[str, Any] = copy.deepcopy(JOB)
    job["metadata"]["name"] = "doomed"
    job["spec"].update(completions=1, parallelism=1, backoffLimit=0)
    job["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh", "-c", "exit 3"]
    assert httpx.post(base, json=job, timeout=5).status_code == 201

    def failed() -> dict[str, Any] | None:
        got: dict[str, Any] = httpx.get(base + "/doomed", timeout=5).json()
        conds = {c["type"]: c for c in got.get("status", {}).get("conditions", [])}
        return got if conds.get("Failed", {}).get("status") == "True" else None

    status = wait_for("the Job to fail", failed, timeout=60.0)["status"]
    reasons = {c["type"]: c["reason"] for c in status["conditions"]}
    assert reasons == {"FailureTarget": "BackoffLimitExceeded", "Failed": "BackoffLimitExceeded"}
    assert status["failed"] == 1 and "completionTime" not in status
    pods = httpx.get(server.url + "/api/v1/namespaces/default/pods",
                     params={"labelSelector": "job-name=doomed"}, timeout=5).json()["items"]
    assert [p["status"]["phase"] for p in pods] == ["Failed"]
    term = pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 3 and term["reason"] == "Error"
