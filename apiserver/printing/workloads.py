"""Tables of the workload kinds: Deployments, ReplicaSets, StatefulSets, DaemonSets,
ControllerRevisions, ReplicationControllers and PodTemplates (upstream ``printers.go``).

``spec.replicas`` absent counts as 1, the value the API defaults it to.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apiserver.api.labels import format_labels
from apiserver.printing.cells import (
    age,
    container_cells,
    format_label_selector,
    i,
    label_selector_string,
    lst,
    m,
    name,
    s,
)
from apiserver.printing.spec import AGE, CONTAINERS, IMAGES, NAME, Col, Doc, KindTable

__all__ = ["TABLES"]

_READY_PODS = "Number of the pod with ready state"


def _template_spec(obj: Mapping[str, Any]) -> Any:
    return m(m(m(obj.get("spec")).get("template")).get("spec"))


def print_deployment(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Ready (``ready/desired``), Up-to-date, Available, Age, Containers, Images, Selector."""
    spec, status = m(obj.get("spec")), m(obj.get("status"))
    names, images = container_cells(_template_spec(obj))
    return [
        name(obj),
        f"{i(status.get('readyReplicas'))}/{i(spec.get('replicas'), 1)}",
        i(status.get("updatedReplicas")),
        i(status.get("availableReplicas")),
        age(obj, now),
        names,
        images,
        label_selector_string(spec.get("selector")),
    ]


def print_replicaset(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Desired, Current, Ready, Age, Containers, Images, Selector."""
    spec, status = m(obj.get("spec")), m(obj.get("status"))
    names, images = container_cells(_template_spec(obj))
    return [
        name(obj),
        i(spec.get("replicas"), 1),
        i(status.get("replicas")),
        i(status.get("readyReplicas")),
        age(obj, now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def print_statefulset(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Ready (``ready/desired``), Age, Containers, Images."""
    spec, status = m(obj.get("spec")), m(obj.get("status"))
    names, images = container_cells(_template_spec(obj))
    ready = f"{i(status.get('readyReplicas'))}/{i(spec.get('replicas'), 1)}"
    return [name(obj), ready, age(obj, now), names, images]


def print_daemonset(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Desired, Current, Ready, Up-to-date, Available, Node Selector, Age, wide cells."""
    spec, status = m(obj.get("spec")), m(obj.get("status"))
    pod_spec = _template_spec(obj)
    names, images = container_cells(pod_spec)
    return [
        name(obj),
        i(status.get("desiredNumberScheduled")),
        i(status.get("currentNumberScheduled")),
        i(status.get("numberReady")),
        i(status.get("updatedNumberScheduled")),
        i(status.get("numberAvailable")),
        format_labels(m(m(pod_spec).get("nodeSelector"))),
        age(obj, now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def _controller_of(obj: Mapping[str, Any]) -> str:
    """``kind.group/name`` (lower-cased kind and group) of the controlling owner, or ``<none>``."""
    for ref in lst(m(obj.get("metadata")).get("ownerReferences")):
        ref = m(ref)
        if ref.get("controller") is not True:
            continue
        api_version, kind = s(ref.get("apiVersion")), s(ref.get("kind"))
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        group_kind = f"{kind}.{group}" if group else kind
        owner = s(ref.get("name"))
        return f"{group_kind.lower()}/{owner}" if group_kind else owner
    return "<none>"


def print_controllerrevision(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Controller (``daemonset.apps/web`` or ``<none>``), Revision, Age."""
    return [name(obj), _controller_of(obj), i(obj.get("revision")), age(obj, now)]


def print_replicationcontroller(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Desired, Current, Ready, Age, Containers, Images, Selector (a label map)."""
    spec, status = m(obj.get("spec")), m(obj.get("status"))
    names, images = container_cells(_template_spec(obj))
    return [
        name(obj),
        i(spec.get("replicas"), 1),
        i(status.get("replicas")),
        i(status.get("readyReplicas")),
        age(obj, now),
        names,
        images,
        format_labels(m(spec.get("selector"))),
    ]


def print_podtemplate(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Containers, Images, Pod Labels (no Age column, as upstream)."""
    template = m(obj.get("template"))
    names, images = container_cells(template.get("spec"))
    return [name(obj), names, images, format_labels(m(m(template.get("metadata")).get("labels")))]


_APPS = "apps.v1."
_CORE = "core.v1."

TABLES = (
    KindTable("apps", "Deployment", (
        NAME,
        Col("Ready", _READY_PODS),
        Col("Up-to-date", Doc(_APPS + "DeploymentStatus", "updatedReplicas")),
        Col("Available", Doc(_APPS + "DeploymentStatus", "availableReplicas")),
        AGE, CONTAINERS, IMAGES,
        Col("Selector", Doc(_APPS + "DeploymentSpec", "selector"), priority=1),
    ), print_deployment),
    KindTable("apps", "ReplicaSet", (
        NAME,
        Col("Desired", Doc(_APPS + "ReplicaSetSpec", "replicas"), "integer"),
        Col("Current", Doc(_APPS + "ReplicaSetStatus", "replicas"), "integer"),
        Col("Ready", Doc(_APPS + "ReplicaSetStatus", "readyReplicas"), "integer"),
        AGE, CONTAINERS, IMAGES,
        Col("Selector", Doc(_APPS + "ReplicaSetSpec", "selector"), priority=1),
    ), print_replicaset),
    KindTable("apps", "StatefulSet", (
        NAME, Col("Ready", _READY_PODS), AGE, CONTAINERS, IMAGES,
    ), print_statefulset),
    KindTable("apps", "DaemonSet", (
        NAME,
        Col("Desired", Doc(_APPS + "DaemonSetStatus", "desiredNumberScheduled"), "integer"),
        Col("Current", Doc(_APPS + "DaemonSetStatus", "currentNumberScheduled"), "integer"),
        Col("Ready", Doc(_APPS + "DaemonSetStatus", "numberReady"), "integer"),
        Col("Up-to-date", Doc(_APPS + "DaemonSetStatus", "updatedNumberScheduled"), "integer"),
        Col("Available", Doc(_APPS + "DaemonSetStatus", "numberAvailable"), "integer"),
        Col("Node Selector", Doc(_CORE + "PodSpec", "nodeSelector")),
        AGE, CONTAINERS, IMAGES,
        Col("Selector", Doc(_APPS + "DaemonSetSpec", "selector"), priority=1),
    ), print_daemonset),
    KindTable("apps", "ControllerRevision", (
        NAME,
        Col("Controller", "Controller of the object"),
        Col("Revision", Doc(_APPS + "ControllerRevision", "revision")),
        AGE,
    ), print_controllerrevision),
    KindTable("", "ReplicationController", (
        NAME,
        Col("Desired", Doc(_CORE + "ReplicationControllerSpec", "replicas"), "integer"),
        Col("Current", Doc(_CORE + "ReplicationControllerStatus", "replicas"), "integer"),
        Col("Ready", Doc(_CORE + "ReplicationControllerStatus", "readyReplicas"), "integer"),
        AGE, CONTAINERS, IMAGES,
        Col("Selector", Doc(_CORE + "ReplicationControllerSpec", "selector"), priority=1),
    ), print_replicationcontroller),
    KindTable("", "PodTemplate", (
        NAME,
        Col("Containers", "Names of each container in the template."),
        Col("Images", "Images referenced by each container in the template."),
        Col("Pod Labels", "The labels for the pod template."),
    ), print_podtemplate),
)
