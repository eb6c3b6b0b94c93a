"""batch/v1 Jobs and CronJobs: selector generation, upstream field paths and messages."""

from __future__ import annotations

import copy
from typing import Any

from apiserver.api.resources import RESOURCES
from apiserver.registry.registry import strategy_for
from apiserver.registry.strategy import Strategy
from apiserver.registry.workloads.batch import cron_schedule_error


def _strategy(plural: str) -> Strategy:
    return strategy_for(next(i for i in RESOURCES if i.group == "batch" and i.plural == plural))


def job(**spec: Any) -> dict[str, Any]:
    spec.setdefault("template", {"spec": {"containers": [{"name": "c", "image": "busybox"}],
                                          "restartPolicy": "Never"}})
    return {"metadata": {"name": "pi", "namespace": "default", "uid": "u-1"}, "spec": spec}


def cronjob(**spec: Any) -> dict[str, Any]:
    spec.setdefault("schedule", "*/5 * * * *")
    spec.setdefault("jobTemplate", {"spec": job()["spec"]})
    return {"metadata": {"name": "cj", "namespace": "default"}, "spec": spec}


def found(causes: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in causes]


def test_job_selector_is_generated_from_uid() -> None:
    obj = job()
    assert _strategy("jobs").validate(obj) == []
    assert obj["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    assert obj["spec"]["template"]["metadata"]["labels"] == {
        "controller-uid": "u-1", "job-name": "pi",
        "batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "pi"}


def test_manual_selector_required_and_matched() -> None:
    s = _strategy("jobs")
    assert found(s.validate(job(manualSelector=True))) == [("spec.selector", "Required value")]
    obj = job(manualSelector=True, selector={"matchLabels": {"a": "b"}})
    assert found(s.validate(obj))[0][0] == "spec.template.metadata.labels"


def test_job_counts_and_completion_mode() -> None:
    causes = found(_strategy("jobs").validate(
        job(parallelism=-1, completions=-2, backoffLimit=-3, completionMode="Sometimes")))
    assert ("spec.parallelism", "Invalid value: -1: must be greater than or equal to 0") in causes
    assert ("spec.completions", "Invalid value: -2: must be greater than or equal to 0") in causes
    assert ("spec.backoffLimit", "Invalid value: -3: must be greater than or equal to 0") in causes
    assert ("spec.completionMode",
            'Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"') in causes
    indexed = found(_strategy("jobs").validate(job(completionMode="Indexed")))
    assert indexed == [("spec.completions", "Required value: when completion mode is Indexed")]


def test_job_restart_policy() -> None:
    s = _strategy("jobs")
    always = job(template={"spec": {"containers": [{"name": "c", "image": "x"}],
                                    "restartPolicy": "Always"}})
    assert found(s.validate(always)) == [(
        "spec.template.spec.restartPolicy",
        'Unsupported value: "Always": supported values: "OnFailure", "Never"')]
    missing = job(template={"spec": {"containers": [{"name": "c", "image": "x"}]}})
    assert found(s.validate(missing)) == [(
        "spec.template.spec.restartPolicy", 'Required value: valid values: "OnFailure", "Never"')]


def test_job_template_immutable_unless_suspended() -> None:
    s = _strategy("jobs")
    old = job()
    s.validate(old)
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
    assert found(s.validate_update(new, old)) == [
        ("spec.template", "Invalid value: core.PodTemplateSpec{…}: field is immutable")]
    old["spec"]["suspend"] = True
    sched = copy.deepcopy(old)
    sched["spec"]["template"]["spec"]["nodeSelector"] = {"zone": "a"}
    assert s.validate_update(sched, old) == []


def test_cron_schedule_parsing() -> None:
    assert cron_schedule_error("*/5 * * * *") is None
    assert cron_schedule_error("0 0 * JAN-MAR mon,fri") is None
    assert cron_schedule_error("@hourly") is None
    assert cron_schedule_error("@every 1h30m") is None
    assert cron_schedule_error("* * *") == "expected exactly 5 fields, found 3: [* * *]"
    assert cron_schedule_error("60 * * * *") == "end of range (60) above maximum (59): 60"
    assert cron_schedule_error("@sometimes") == "unrecognized descriptor: @sometimes"
    assert cron_schedule_error("x * * * *") == (
        'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax')


def test_cronjob_rules() -> None:
    s = _strategy("cronjobs")
    assert s.validate(cronjob()) == []
    assert found(s.validate(cronjob(schedule=""))) == [("spec.schedule", "Required value")]
    assert found(s.validate(cronjob(schedule="TZ=UTC 0 * * * *"))) == [(
        "spec.schedule", 'Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in '
        "schedule, use timeZone field instead")]
    assert found(s.validate(cronjob(schedule="* * *")))[0][0] == "spec.schedule"
    assert found(s.validate(cronjob(timeZone="Mars/Olympus"))) == [(
        "spec.timeZone", 'Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus')]
    assert s.validate(cronjob(timeZone="Europe/Berlin")) == []
    causes = found(s.validate(cronjob(concurrencyPolicy="Sometimes",
                                      startingDeadlineSeconds=-1,
                                      successfulJobsHistoryLimit=-1)))
    assert ("spec.concurrencyPolicy",
            'Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"'
            ) in causes
    assert ("spec.startingDeadlineSeconds",
            "Invalid value: -1: must be greater than or equal to 0") in causes
    long = cronjob()
    long["metadata"]["name"] = "x" * 53
    assert found(s.validate(long)) == [
        ("metadata.name", f'Invalid value: "{"x" * 53}": must be no more than 52 characters')]
    bad_template = cronjob(jobTemplate={"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "x"}], "restartPolicy": "Always"}}}})
    restart = "spec.jobTemplate.spec.template.spec.restartPolicy"
    assert found(s.validate(bad_template))[0][0] == restart


def test_malformed_never_raises() -> None:
    for spec in (None, 3, {"template": "x", "selector": 1, "schedule": 5, "jobTemplate": 2}):
        _strategy("jobs").validate({"metadata": {"name": "x"}, "spec": spec})
        _strategy("cronjobs").validate({"metadata": {"name": "x"}, "spec": spec})
