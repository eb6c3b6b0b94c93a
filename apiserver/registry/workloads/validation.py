"""Validation of apps/v1 workloads and ReplicationControllers, with upstream's paths and messages.

Counterparts of ``ValidateDeployment``, ``ValidateReplicaSet``, ``ValidateStatefulSet``,
``ValidateDaemonSet`` (``pkg/apis/apps/validation``) and ``ValidateReplicationController``
(``pkg/apis/core/validation``), and of their ``…Update`` functions. They assume defaults
were applied but report nothing (and never raise) for a defaulted field left unset.
"""

from __future__ import annotations

from typing import Any

from apiserver.registry import common as c
from apiserver.registry.podspec import validate_pod_spec
from apiserver.registry.strategy import Cause
from apiserver.registry.table_strategy import TableStrategy

_MISMATCH = "`selector` does not match template `labels`"
_STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
                "persistentVolumeClaimRetentionPolicy", "minReadySeconds")
_STS_FORBIDDEN = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
    "'minReadySeconds' are forbidden"
)


def spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj.spec`` when it is an object, else an empty dict."""
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def template_labels(template: Any) -> Any:
    """``template.metadata.labels`` (None when any level is missing)."""
    if not isinstance(template, dict):
        return None
    md = template.get("metadata")
    return md.get("labels") if isinstance(md, dict) else None


def pod_template(template: Any, path: str, restart_policies: tuple[str, ...]) -> list[Cause]:
    """A pod template: its pod spec, and ``restartPolicy`` among ``restart_policies``."""
    if not isinstance(template, dict):
        return []
    spec = template.get("spec")
    if not isinstance(spec, dict):
        return [c.required(f"{path}.spec.containers")]
    causes = validate_pod_spec(spec, f"{path}.spec")
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in restart_policies:
        causes.append(c.not_supported(f"{path}.spec.restartPolicy", policy, restart_policies))
    return causes


def selector_and_template(spec: dict[str, Any], kind: str) -> list[Cause]:
    """Selector required, non-empty, valid, and matching ``spec.template`` labels."""
    selector = spec.get("selector")
    if selector is None:
        return [c.required("spec.selector")]
    if c.selector_is_empty(selector):
        return [c.invalid("spec.selector", c.go_selector(selector),
                          f"empty selector is invalid for {kind}")]
    causes = c.label_selector(selector, "spec.selector")
    labels = template_labels(spec.get("template"))
    if not causes and not c.selector_matches(selector, labels):
        causes.append(c.invalid("spec.template.metadata.labels", c.go_map(labels), _MISMATCH))
    return causes


def _common_counts(spec: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for name in ("replicas", "minReadySeconds", "revisionHistoryLimit"):
        causes += c.nonnegative(f"spec.{name}", spec.get(name))
    return causes


def _surge_and_unavailable(rolling: Any, path: str) -> list[Cause]:
    """maxUnavailable/maxSurge: int ≥ 0 or percent ≤ 100%, not both 0."""
    if not isinstance(rolling, dict):
        return []
    unavailable = rolling.get("maxUnavailable")
    surge = rolling.get("maxSurge")
    causes = c.int_or_percent(f"{path}.maxUnavailable", unavailable)
    causes += c.int_or_percent(f"{path}.maxSurge", surge)
    if (unavailable is not None and c.percent_value(unavailable) == 0
            and c.percent_value(surge) in (0, None)):
        causes.append(c.invalid(f"{path}.maxUnavailable", c.go_int_or_string(unavailable),
                                "may not be 0 when `maxSurge` is 0"))
    return causes


def validate_deployment(obj: dict[str, Any]) -> list[Cause]:
    """``ValidateDeploymentSpec`` (metadata is validated by the store)."""
    spec = spec_of(obj)
    causes = _common_counts(spec) + selector_and_template(spec, "deployment")
    causes += pod_template(spec.get("template"), "spec.template", ("Always",))
    strategy = spec.get("strategy")
    if isinstance(strategy, dict):
        kind = strategy.get("type")
        if kind is not None and kind not in ("Recreate", "RollingUpdate"):
            causes.append(c.not_supported("spec.strategy.type", kind,
                                          ("Recreate", "RollingUpdate")))
        if kind == "Recreate" and strategy.get("rollingUpdate") is not None:
            causes.append(c.forbidden("spec.strategy.rollingUpdate",
                                      "may not be specified when strategy `type` is 'Recreate'"))
        elif kind == "RollingUpdate":
            causes += _surge_and_unavailable(strategy.get("rollingUpdate"),
                                             "spec.strategy.rollingUpdate")
    deadline = spec.get("progressDeadlineSeconds")
    causes += c.nonnegative("spec.progressDeadlineSeconds", deadline)
    ready = spec.get("minReadySeconds")
    if c.is_int(deadline) and deadline <= (ready if c.is_int(ready) else 0):
        causes.append(c.invalid("spec.progressDeadlineSeconds", c.go_value(deadline),
                                "must be greater than minReadySeconds"))
    return causes


def validate_replica_set(obj: dict[str, Any]) -> list[Cause]:
    """``ValidateReplicaSetSpec``."""
    spec = spec_of(obj)
    causes = c.nonnegative("spec.replicas", spec.get("replicas"))
    causes += c.nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    causes += selector_and_template(spec, "deployment")
    causes += pod_template(spec.get("template"), "spec.template", ("Always",))
    return causes


def validate_daemon_set(obj: dict[str, Any]) -> list[Cause]:
    """``ValidateDaemonSetSpec``."""
    spec = spec_of(obj)
    causes = _common_counts(spec) + selector_and_template(spec, "daemonset")
    causes += pod_template(spec.get("template"), "spec.template", ("Always",))
    update = spec.get("updateStrategy")
    if isinstance(update, dict):
        kind = update.get("type")
        if kind is not None and kind not in ("OnDelete", "RollingUpdate"):
            causes.append(c.not_supported("spec.updateStrategy.type", kind,
                                          ("OnDelete", "RollingUpdate")))
        if kind == "RollingUpdate":
            causes += _surge_and_unavailable(update.get("rollingUpdate"),
                                             "spec.updateStrategy.rollingUpdate")
    return causes


def validate_stateful_set(obj: dict[str, Any]) -> list[Cause]:
    """``ValidateStatefulSetSpec``."""
    spec = spec_of(obj)
    causes = _common_counts(spec)
    policy = spec.get("podManagementPolicy")
    if policy is not None and policy not in ("OrderedReady", "Parallel"):
        causes.append(c.invalid("spec.podManagementPolicy", c.go_value(policy),
                                "must be 'OrderedReady' or 'Parallel'"))
    update = spec.get("updateStrategy")
    if isinstance(update, dict):
        kind = update.get("type")
        if kind is not None and kind not in ("RollingUpdate", "OnDelete"):
            causes.append(c.invalid("spec.updateStrategy", c.go_value(kind),
                                    "must be 'RollingUpdate' or 'OnDelete'"))
        rolling = update.get("rollingUpdate")
        if kind == "OnDelete" and rolling is not None:
            causes.append(c.invalid("spec.updateStrategy.rollingUpdate", "null",
                                    "only allowed for updateStrategy 'RollingUpdate'"))
        if isinstance(rolling, dict):
            causes += c.nonnegative("spec.updateStrategy.rollingUpdate.partition",
                                    rolling.get("partition"))
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if isinstance(retention, dict):
        for name in ("whenDeleted", "whenScaled"):
            value = retention.get(name)
            if value is not None and value not in ("Retain", "Delete"):
                causes.append(c.not_supported(
                    f"spec.persistentVolumeClaimRetentionPolicy.{name}", value,
                    ("Retain", "Delete")))
    ordinals = spec.get("ordinals")
    if isinstance(ordinals, dict):
        causes += c.nonnegative("spec.ordinals.start", ordinals.get("start"))
    causes += selector_and_template(spec, "statefulset")
    causes += pod_template(spec.get("template"), "spec.template", ("Always",))
    return causes


def validate_replication_controller(obj: dict[str, Any]) -> list[Cause]:
    """``ValidateReplicationControllerSpec``: a map selector matching a required template."""
    spec = spec_of(obj)
    causes = c.nonnegative("spec.replicas", spec.get("replicas"))
    causes += c.nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not selector:
        causes.append(c.required("spec.selector"))
    template = spec.get("template")
    if not isinstance(template, dict):
        causes.append(c.required("spec.template"))
        return causes
    labels = template_labels(template)
    if isinstance(selector, dict) and selector:
        have = labels if isinstance(labels, dict) else {}
        if any(have.get(k) != v for k, v in selector.items()):
            causes.append(c.invalid("spec.template.metadata.labels", c.go_map(labels),
                                    _MISMATCH))
    causes += pod_template(template, "spec.template", ("Always",))
    return causes


def immutable_selector(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """apps/v1: ``spec.selector`` may not change."""
    selector = spec_of(new).get("selector")
    return c.immutable("spec.selector", selector, spec_of(old).get("selector"),
                       c.go_selector(selector))


class DeploymentStrategy(TableStrategy):
    """apps/v1 Deployments."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_deployment(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return validate_deployment(new) + immutable_selector(new, old)


class ReplicaSetStrategy(TableStrategy):
    """apps/v1 ReplicaSets."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_replica_set(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return validate_replica_set(new) + immutable_selector(new, old)


class DaemonSetStrategy(TableStrategy):
    """apps/v1 DaemonSets."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_daemon_set(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return validate_daemon_set(new) + immutable_selector(new, old)


class StatefulSetStrategy(TableStrategy):
    """apps/v1 StatefulSets: only a few spec fields may change after create."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_stateful_set(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        causes = validate_stateful_set(new)
        frozen_new = {k: v for k, v in spec_of(new).items() if k not in _STS_MUTABLE}
        frozen_old = {k: v for k, v in spec_of(old).items() if k not in _STS_MUTABLE}
        if frozen_new != frozen_old:
            causes.append(c.forbidden("spec", _STS_FORBIDDEN))
        return causes


class ReplicationControllerStrategy(TableStrategy):
    """core/v1 ReplicationControllers (selector may change, unlike apps/v1)."""

    orphans_dependents_by_default = True

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_replication_controller(obj)
