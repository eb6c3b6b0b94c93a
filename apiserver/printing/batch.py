"""Tables of Jobs and CronJobs (upstream ``printJob`` / ``printCronJob``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apiserver.printing.cells import (
    age,
    bool_ptr,
    condition,
    container_cells,
    deleting,
    format_label_selector,
    i,
    lst,
    m,
    name,
    opt_int,
    s,
)
from apiserver.printing.duration import human_duration, parse_time, translate_timestamp_since
from apiserver.printing.spec import AGE, CONTAINERS, IMAGES, NAME, Col, Doc, KindTable

__all__ = ["TABLES", "job_completions", "job_duration", "job_status"]


def _true(conditions: Any, ctype: str) -> bool:
    cond = condition(conditions, ctype)
    return cond is not None and cond.get("status") == "True"


def job_status(job: Mapping[str, Any]) -> str:
    """The first of Complete, Failed, Terminating, Suspended, FailureTarget, else Running."""
    conditions = m(job.get("status")).get("conditions")
    if _true(conditions, "Complete"):
        return "Complete"
    if _true(conditions, "Failed"):
        return "Failed"
    if deleting(job):
        return "Terminating"
    if _true(conditions, "Suspended"):
        return "Suspended"
    if _true(conditions, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def job_completions(job: Mapping[str, Any]) -> str:
    """``succeeded/completions``; without completions ``succeeded/1 of P`` (P > 1) or ``/1``."""
    spec = m(job.get("spec"))
    succeeded = i(m(job.get("status")).get("succeeded"))
    completions = opt_int(spec.get("completions"))
    if completions is not None:
        return f"{succeeded}/{completions}"
    parallelism = i(spec.get("parallelism"))
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def job_duration(job: Mapping[str, Any], now: datetime) -> str:
    """Empty before start; start → now while running; start → completion once complete."""
    status = m(job.get("status"))
    start = parse_time(status.get("startTime"))
    if start is None:
        return ""
    end = parse_time(status.get("completionTime"))
    if end is None:
        return translate_timestamp_since(start, now)
    return human_duration(end - start)


def print_job(job: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Status, Completions, Duration, Age, Containers, Images, Selector."""
    spec = m(job.get("spec"))
    names, images = container_cells(m(spec.get("template")).get("spec"))
    return [
        name(job),
        job_status(job),
        job_completions(job),
        job_duration(job, now),
        age(job, now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def print_cronjob(cj: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Schedule, Timezone, Suspend, Active, Last Schedule, Age, Containers, Images,
    Selector. Timezone and Last Schedule are ``<none>`` when unset; Suspend is the
    text ``True``/``False``/``<unset>``."""
    spec, status = m(cj.get("spec")), m(cj.get("status"))
    job_spec = m(m(spec.get("jobTemplate")).get("spec"))
    names, images = container_cells(m(job_spec.get("template")).get("spec"))
    last = status.get("lastScheduleTime")
    tz = spec.get("timeZone")
    return [
        name(cj),
        s(spec.get("schedule")),
        tz if isinstance(tz, str) else "<none>",
        bool_ptr(spec.get("suspend")),
        len(lst(status.get("active"))),
        translate_timestamp_since(last, now) if last else "<none>",
        age(cj, now),
        names,
        images,
        format_label_selector(job_spec.get("selector")),
    ]


_SELECTOR = Col("Selector", Doc("batch.v1.JobSpec", "selector"), priority=1)

TABLES = (
    KindTable("batch", "Job", (
        NAME,
        Col("Status", "Status of the job."),
        Col("Completions", Doc("batch.v1.JobStatus", "succeeded")),
        Col("Duration", "Time required to complete the job."),
        AGE, CONTAINERS, IMAGES, _SELECTOR,
    ), print_job),
    KindTable("batch", "CronJob", (
        NAME,
        Col("Schedule", Doc("batch.v1.CronJobSpec", "schedule")),
        Col("Timezone", Doc("batch.v1.CronJobSpec", "timeZone")),
        Col("Suspend", Doc("batch.v1.CronJobSpec", "suspend"), "boolean"),
        Col("Active", Doc("batch.v1.CronJobStatus", "active"), "integer"),
        Col("Last Schedule", Doc("batch.v1.CronJobStatus", "lastScheduleTime")),
        AGE, CONTAINERS, IMAGES, _SELECTOR,
    ), print_cronjob),
)
