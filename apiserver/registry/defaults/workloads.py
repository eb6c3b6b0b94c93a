"""Defaults of the workload kinds (``pkg/apis/{apps,batch,core}/v1`` ``SetDefaults_*``).

Each workload's pod template gets the PodSpec defaults (:func:`default_template`), never
the Pod-only ones. Tables hold the scalar defaults; the functions hold the conditions
upstream attaches to them (a strategy's rolling-update block only for RollingUpdate …).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from apiserver.registry.defaults.fields import Obj, child, each, ensure, fill, fill_zero
from apiserver.registry.defaults.podspec import default_pvc, default_template

MAX_INT32 = 2**31 - 1

DEPLOYMENT_SPEC = {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}
DEPLOYMENT_ROLLING_UPDATE = {"maxUnavailable": "25%", "maxSurge": "25%"}
DAEMON_SET_ROLLING_UPDATE = {"maxUnavailable": 1, "maxSurge": 0}
STATEFUL_SET_SPEC = {"replicas": 1, "revisionHistoryLimit": 10}
STATEFUL_SET_SPEC_ZERO = {"podManagementPolicy": "OrderedReady"}
PVC_RETENTION_ZERO = {"whenDeleted": "Retain", "whenScaled": "Retain"}
JOB_SPEC = {"completionMode": "NonIndexed", "suspend": False}
CRON_JOB_SPEC = {"suspend": False, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}
CRON_JOB_SPEC_ZERO = {"concurrencyPolicy": "Allow"}


def _spec(obj: Obj) -> Obj | None:
    # Upstream's spec is a plain struct: a missing spec is defaulted like an empty one.
    return ensure(obj, "spec")


def _labels(obj: Obj) -> Obj | None:
    md = child(obj, "metadata")
    return child(md, "labels") if md is not None else None


def _template_labels(spec: Obj) -> Obj | None:
    template = child(spec, "template")
    return _labels(template) if template is not None else None


def _copy_labels_when_empty(obj: Obj, labels: Obj) -> None:
    md = ensure(obj, "metadata")
    if md is not None and not md.get("labels"):
        md["labels"] = dict(labels)


def _rolling_update(strategy: Obj, table: Mapping[str, object]) -> None:
    # The rolling-update block is defaulted only for the RollingUpdate type.
    if strategy.get("type") == "RollingUpdate":
        rolling = ensure(strategy, "rollingUpdate")
        if rolling is not None:
            fill(rolling, table)


def default_deployment(obj: Obj) -> None:
    """apps/v1 Deployment: replicas 1, RollingUpdate 25%/25%, history 10, deadline 600 s."""
    spec = _spec(obj)
    if spec is None:
        return
    fill(spec, DEPLOYMENT_SPEC)
    strategy = ensure(spec, "strategy")
    if strategy is not None:
        fill_zero(strategy, {"type": "RollingUpdate"})
        _rolling_update(strategy, DEPLOYMENT_ROLLING_UPDATE)
    default_template(spec)


def default_replica_set(obj: Obj) -> None:
    """apps/v1 ReplicaSet: replicas 1."""
    spec = _spec(obj)
    if spec is None:
        return
    fill(spec, {"replicas": 1})
    default_template(spec)


def default_daemon_set(obj: Obj) -> None:
    """apps/v1 DaemonSet: RollingUpdate with maxUnavailable 1 and maxSurge 0, history 10."""
    spec = _spec(obj)
    if spec is None:
        return
    strategy = ensure(spec, "updateStrategy")
    if strategy is not None:
        fill_zero(strategy, {"type": "RollingUpdate"})
        _rolling_update(strategy, DAEMON_SET_ROLLING_UPDATE)
    fill(spec, {"revisionHistoryLimit": 10})
    default_template(spec)


def default_stateful_set(obj: Obj) -> None:
    """apps/v1 StatefulSet: OrderedReady, RollingUpdate partition 0, PVC retention Retain.

    As upstream, ``rollingUpdate`` is created only when the strategy type was empty; an
    explicit RollingUpdate without it stays without it. Claim templates are defaulted as
    PersistentVolumeClaims (``volumeMode`` and ``status.phase`` Pending).
    """
    spec = _spec(obj)
    if spec is None:
        return
    fill_zero(spec, STATEFUL_SET_SPEC_ZERO)
    strategy = ensure(spec, "updateStrategy")
    if strategy is not None:
        if strategy.get("type") in (None, ""):
            strategy["type"] = "RollingUpdate"
            ensure(strategy, "rollingUpdate")
        rolling = child(strategy, "rollingUpdate")
        if strategy.get("type") == "RollingUpdate" and rolling is not None:
            fill(rolling, {"partition": 0})
    retention = ensure(spec, "persistentVolumeClaimRetentionPolicy")
    if retention is not None:
        fill_zero(retention, PVC_RETENTION_ZERO)
    fill(spec, STATEFUL_SET_SPEC)
    default_template(spec)
    for claim in each(spec, "volumeClaimTemplates"):
        default_pvc(claim)


def default_replication_controller(obj: Obj) -> None:
    """core/v1 ReplicationController: selector and labels from the template, replicas 1."""
    spec = _spec(obj)
    if spec is None:
        return
    labels = _template_labels(spec)
    # An empty label map would be copied as an empty map, which the wire omits.
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        _copy_labels_when_empty(obj, labels)
    fill(spec, {"replicas": 1})
    default_template(spec)


def default_pod_template(obj: Obj) -> None:
    """core/v1 PodTemplate: PodSpec defaults on ``template.spec``."""
    default_template(obj)


def _default_job_spec_types(spec: Obj) -> None:
    # Type-level defaults: also apply inside a CronJob's job template.
    policy = child(spec, "podFailurePolicy")
    if policy is not None:
        for rule in each(policy, "rules"):
            for pattern in each(rule, "onPodConditions"):
                fill_zero(pattern, {"status": "True"})
    default_template(spec)


def default_job(obj: Obj) -> None:
    """batch/v1 Job: completions/parallelism, backoffLimit, completion mode, labels …

    With neither ``completions`` nor ``parallelism`` both become 1, otherwise only
    ``parallelism`` does. ``backoffLimit`` is 6, or MaxInt32 with a per-index limit.
    ``podReplacementPolicy`` is Failed with a ``podFailurePolicy``, else
    TerminatingOrFailed. The Job takes its template's labels when it has none.
    """
    spec = _spec(obj)
    if spec is None:
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    fill(spec, {"parallelism": 1})
    if spec.get("backoffLimit") is None:
        per_index = spec.get("backoffLimitPerIndex") is not None
        spec["backoffLimit"] = MAX_INT32 if per_index else 6
    labels = _template_labels(spec)
    if labels:
        _copy_labels_when_empty(obj, labels)
    fill(spec, JOB_SPEC)
    if spec.get("podReplacementPolicy") is None:
        failure_policy = spec.get("podFailurePolicy") is not None
        spec["podReplacementPolicy"] = "Failed" if failure_policy else "TerminatingOrFailed"
    _default_job_spec_types(spec)


def default_cron_job(obj: Obj) -> None:
    """batch/v1 CronJob: Allow, not suspended, history 3 succeeded / 1 failed.

    The job template gets only type-level defaults: ``SetDefaults_Job`` is for Jobs.
    """
    spec = _spec(obj)
    if spec is None:
        return
    fill_zero(spec, CRON_JOB_SPEC_ZERO)
    fill(spec, CRON_JOB_SPEC)
    job_spec = child(child(spec, "jobTemplate") or {}, "spec")
    if job_spec is not None:
        _default_job_spec_types(job_spec)


#: Kind defaulters of this module, by (group, version, kind).
DEFAULTERS: dict[tuple[str, str, str], Callable[[Obj], None]] = {
    ("apps", "v1", "Deployment"): default_deployment,
    ("apps", "v1", "ReplicaSet"): default_replica_set,
    ("apps", "v1", "DaemonSet"): default_daemon_set,
    ("apps", "v1", "StatefulSet"): default_stateful_set,
    ("", "v1", "ReplicationController"): default_replication_controller,
    ("", "v1", "PodTemplate"): default_pod_template,
    ("batch", "v1", "Job"): default_job,
    ("batch", "v1", "CronJob"): default_cron_job,
}
