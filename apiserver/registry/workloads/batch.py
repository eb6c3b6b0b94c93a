"""batch/v1 Jobs and CronJobs: selector generation and validation with upstream's messages.

Counterparts of the Job strategy's ``generateSelector`` and of ``ValidateJob``,
``ValidateJobUpdate``, ``ValidateCronJobCreate``/``Update`` (``pkg/apis/batch/validation``).
Cron schedules are checked like ``robfig/cron``'s ``ParseStandard``.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Any

from apiserver.api import meta
from apiserver.registry import common as c
from apiserver.registry.strategy import Cause
from apiserver.registry.table_strategy import TableStrategy
from apiserver.registry.workloads.validation import pod_template, spec_of, template_labels

#: Labels the server puts on a Job's pod template (the prefixed ones and their legacy forms).
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"
_JOB_RESTART = ("OnFailure", "Never")
_CRONJOB_NAME_MAX = 52
_DESCRIPTORS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily",
                          "@midnight", "@hourly"})
_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
_CRON_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_TZ_SEGMENT = re.compile(r"^[A-Za-z.\-_0-9+]{1,14}$")
#: Pod-template fields a suspended, never-started Job may still change (upstream allows
#: the scheduling directives so queueing controllers can place the Job).
_SUSPENDED_MUTABLE = ("nodeSelector", "affinity", "tolerations", "schedulingGates")


def generate_selector(job: dict[str, Any]) -> None:
    """Label the template with the Job's UID and name and select on the UID, as upstream."""
    md = meta.metadata(job)
    uid = str(md.get("uid") or "")
    name = str(md.get("name") or "")
    spec = job.get("spec")
    if not isinstance(spec, dict):
        return
    template = spec.get("template")
    if not isinstance(template, dict):
        return
    tmd = template.get("metadata")
    if not isinstance(tmd, dict):
        tmd = template["metadata"] = {}
    labels = tmd.get("labels")
    if not isinstance(labels, dict):
        labels = tmd["labels"] = {}
    for key, value in ((LEGACY_CONTROLLER_UID, uid), (LEGACY_JOB_NAME, name),
                       (CONTROLLER_UID, uid), (JOB_NAME, name)):
        labels.setdefault(key, value)
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = spec["selector"] = {}
    match = selector.get("matchLabels")
    if not isinstance(match, dict):
        match = selector["matchLabels"] = {}
    match.setdefault(CONTROLLER_UID, uid)


def _job_spec(spec: dict[str, Any], path: str, needs_selector: bool) -> list[Cause]:
    """``validateJobSpec`` at ``path``."""
    causes: list[Cause] = []
    for name in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                 "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"):
        causes += c.nonnegative(f"{path}.{name}", spec.get(name))
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        causes.append(c.not_supported(f"{path}.completionMode", mode, ("NonIndexed", "Indexed")))
    if mode == "Indexed" and spec.get("completions") is None:
        causes.append(c.required(f"{path}.completions", "when completion mode is Indexed"))
    selector = spec.get("selector")
    if selector is None:
        if needs_selector:
            causes.append(c.required(f"{path}.selector"))
    else:
        sel_causes = c.label_selector(selector, f"{path}.selector")
        labels = template_labels(spec.get("template"))
        if not sel_causes and not c.selector_matches(selector, labels):
            sel_causes.append(c.invalid(f"{path}.template.metadata.labels", c.go_map(labels),
                                        "`selector` does not match template `labels`"))
        causes += sel_causes
    template = spec.get("template")
    if not isinstance(template, dict):
        return causes
    causes += pod_template(template, f"{path}.template", _JOB_RESTART)
    pod = template.get("spec")
    if isinstance(pod, dict) and not pod.get("restartPolicy"):
        causes.append(c.required(f"{path}.template.spec.restartPolicy",
                                 'valid values: "OnFailure", "Never"'))
    return causes


def validate_job(obj: dict[str, Any]) -> list[Cause]:
    """``ValidateJob`` without metadata."""
    return _job_spec(spec_of(obj), "spec", needs_selector=True)


def _frozen_template(spec: dict[str, Any], suspended: bool) -> Any:
    template = spec.get("template")
    if not suspended or not isinstance(template, dict):
        return template
    out = {k: v for k, v in template.items() if k not in ("metadata", "spec")}
    pod = template.get("spec")
    if isinstance(pod, dict):
        out["spec"] = {k: v for k, v in pod.items() if k not in _SUSPENDED_MUTABLE}
    return out


def validate_job_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """``ValidateJobUpdate``: selector, template and completion mode are fixed after create."""
    spec, old_spec = spec_of(new), spec_of(old)
    causes = validate_job(new)
    selector = spec.get("selector")
    causes += c.immutable("spec.selector", selector, old_spec.get("selector"),
                          c.go_selector(selector))
    started = bool((old.get("status") or {}).get("startTime"))
    suspended = bool(old_spec.get("suspend")) and not started
    if _frozen_template(spec, suspended) != _frozen_template(old_spec, suspended):
        causes.append(c.invalid("spec.template", "core.PodTemplateSpec{…}", c.IMMUTABLE))
    for name in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex"):
        if spec.get(name) != old_spec.get(name):
            causes.append(c.invalid(f"spec.{name}", c.go_value(spec.get(name)), c.IMMUTABLE))
    completions = spec.get("completions")
    elastic = (spec.get("completionMode") == "Indexed"
               and completions == spec.get("parallelism"))
    if completions != old_spec.get("completions") and not elastic:
        causes.append(c.invalid("spec.completions", c.go_value(completions), c.IMMUTABLE))
    return causes


class JobStrategy(TableStrategy):
    """batch/v1 Jobs.

    ``validate`` also generates the selector (unless ``spec.manualSelector`` is true):
    the UID it selects on is assigned after ``prepare_for_create``, so upstream does the
    same in its ``Validate``. It is the one ``validate`` that changes its object.
    """

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        if spec_of(obj).get("manualSelector") is not True:
            generate_selector(obj)
        return validate_job(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return validate_job_update(new, old)


# -- CronJobs ------------------------------------------------------------------------------


def _cron_value(text: str, names: dict[str, int]) -> int | str:
    """A field value as an int, or the robfig/cron error for it."""
    lowered = text.lower()
    if lowered in names:
        return names[lowered]
    if not text.isdigit():
        return f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax'
    return int(text)


def _cron_field(expr: str, low: int, high: int, names: dict[str, int]) -> str | None:
    """The error of one cron field (comma list of ``a``, ``a-b``, ``*``, with ``/step``)."""
    for part in expr.split(","):
        rng, _, step = part.partition("/")
        if rng in ("*", "?"):
            start, end = low, high
        else:
            first, _, last = rng.partition("-")
            start_v = _cron_value(first, names)
            if isinstance(start_v, str):
                return start_v
            end_v = _cron_value(last, names) if last else start_v
            if isinstance(end_v, str):
                return end_v
            start, end = start_v, end_v
        if step:
            step_v = _cron_value(step, {})
            if isinstance(step_v, str):
                return step_v
            if step_v == 0:
                return f"step of range should be a positive number: {part}"
        if start < low:
            return f"beginning of range ({start}) below minimum ({low}): {part}"
        if end > high:
            return f"end of range ({end}) above maximum ({high}): {part}"
        if start > end:
            return f"beginning of range ({start}) beyond end of range ({end}): {part}"
    return None


def cron_schedule_error(schedule: str) -> str | None:
    """The error ``cron.ParseStandard`` gives for ``schedule`` (None when it parses)."""
    if schedule.startswith("@"):
        if schedule in _DESCRIPTORS:
            return None
        if schedule.startswith("@every "):
            duration = schedule[len("@every "):]
            if _DURATION.match(duration):
                return None
            return f'failed to parse duration {schedule}: time: invalid duration "{duration}"'
        return f"unrecognized descriptor: {schedule}"
    fields = schedule.split()
    if len(fields) != 5:
        shown = " ".join(fields)
        return f"expected exactly 5 fields, found {len(fields)}: [{shown}]"
    for expr, (low, high), names in zip(fields, _CRON_BOUNDS,
                                        ({}, {}, {}, _MONTHS, _DAYS), strict=True):
        error = _cron_field(expr, low, high, names)
        if error:
            return error
    return None


def time_zone_errors(tz: str) -> list[str]:
    """Why ``tz`` is not an explicit IANA time zone (empty when it is)."""
    if tz.lower() == "local":
        return ["timeZone must be an explicit time zone as defined in "
                "https://www.iana.org/time-zones"]
    if not all(_TZ_SEGMENT.match(part) for part in tz.split("/")):
        return [f"unknown time zone {tz}"]
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [f"unknown time zone {tz}"]
    return []


def _cron_spec(spec: dict[str, Any], check_schedule: bool) -> list[Cause]:
    causes: list[Cause] = []
    schedule = spec.get("schedule")
    if not schedule or not isinstance(schedule, str):
        causes.append(c.required("spec.schedule"))
    elif check_schedule:
        if "TZ" in schedule:
            causes.append(c.invalid("spec.schedule", c.go_value(schedule),
                                    "cannot use TZ or CRON_TZ in schedule, use timeZone "
                                    "field instead"))
        else:
            error = cron_schedule_error(schedule)
            if error:
                causes.append(c.invalid("spec.schedule", c.go_value(schedule), error))
    tz = spec.get("timeZone")
    if isinstance(tz, str):
        causes += [c.invalid("spec.timeZone", c.go_value(tz), m) for m in time_zone_errors(tz)]
    policy = spec.get("concurrencyPolicy")
    if policy is not None and policy not in ("Allow", "Forbid", "Replace"):
        causes.append(c.not_supported("spec.concurrencyPolicy", policy,
                                      ("Allow", "Forbid", "Replace")))
    for name in ("startingDeadlineSeconds", "successfulJobsHistoryLimit",
                 "failedJobsHistoryLimit"):
        causes += c.nonnegative(f"spec.{name}", spec.get(name))
    template = spec.get("jobTemplate")
    job_spec = template.get("spec") if isinstance(template, dict) else None
    if isinstance(job_spec, dict):
        causes += _job_spec(job_spec, "spec.jobTemplate.spec", needs_selector=False)
    return causes


def validate_cron_job(obj: dict[str, Any]) -> list[Cause]:
    """``ValidateCronJobCreate`` without the generic metadata checks."""
    causes: list[Cause] = []
    name = str(meta.metadata(obj).get("name") or "")
    if len(name) > _CRONJOB_NAME_MAX:
        causes.append(c.invalid("metadata.name", c.go_value(name),
                                f"must be no more than {_CRONJOB_NAME_MAX} characters"))
    return causes + _cron_spec(spec_of(obj), check_schedule=True)


class CronJobStrategy(TableStrategy):
    """batch/v1 CronJobs (an unchanged schedule is not re-parsed on update, as upstream)."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_cron_job(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        changed = spec_of(new).get("schedule") != spec_of(old).get("schedule")
        return _cron_spec(spec_of(new), check_schedule=changed)
