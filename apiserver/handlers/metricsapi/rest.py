"""``metrics.k8s.io/v1beta1``: NodeMetrics and PodMetrics, get and list.

The resources metrics-server serves, with its answers: a list selects the Nodes or Pods
(watch cache) by label and field selector and returns the metrics of those that have
any, sorted by namespace and name; a get of an object that does not exist is that
object's 404 (``node "x" not found``, ``pods "x" not found``), and of one without
metrics yet ``nodemetrics.metrics.k8s.io "x" not found`` /
``podmetrics.metrics.k8s.io "ns/x" not found``. ``metadata.creationTimestamp`` is the
time of the answer and ``labels`` are the Node's or Pod's, as metrics-server sets them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from apiserver.api import errors, meta
from apiserver.api.fields import FieldSelector
from apiserver.api.gostrings import go_duration
from apiserver.api.labels import LabelSelector
from apiserver.api.resources import NODES, PODS, ResourceInfo
from apiserver.handlers.metricsapi.points import PointStore
from apiserver.registry.registry import Registry
from apiserver.registry.store.options import ListOptions

__all__ = ["GROUP", "NODE_METRICS", "POD_METRICS", "VERSION", "MetricsREST"]

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"


def _info(plural: str, kind: str, namespaced: bool) -> ResourceInfo:
    return ResourceInfo(group=GROUP, version=VERSION, kind=kind, plural=plural,
                        singular="", namespaced=namespaced,
                        schema_ref=f"io.k8s.metrics.pkg.apis.metrics.{VERSION}.{kind}",
                        list_kind=f"{kind}List", verbs=("get", "list"))


#: The two resources, as metrics-server's discovery lists them.
NODE_METRICS = _info("nodes", "NodeMetrics", False)
POD_METRICS = _info("pods", "PodMetrics", True)


def _time(ms: int) -> str:
    return meta.rfc3339(datetime.fromtimestamp(ms // 1000, UTC))


class MetricsREST:
    """Get and list of both resources over ``store`` and the registry's caches."""

    def __init__(self, registry: Registry, store: PointStore,
                 clock: Callable[[], datetime]) -> None:
        self.registry = registry
        self.store = store
        self.clock = clock

    def _metadata(self, obj: dict[str, Any], namespaced: bool) -> dict[str, Any]:
        md = meta.metadata(obj)
        out: dict[str, Any] = {"name": md.get("name", "")}
        if namespaced:
            out["namespace"] = md.get("namespace", "")
        out["creationTimestamp"] = meta.rfc3339(self.clock())
        if md.get("labels"):
            out["labels"] = md["labels"]
        return out

    def _node_metrics(self, node: dict[str, Any]) -> dict[str, Any] | None:
        usage = self.store.node_usage(str(meta.metadata(node).get("name", "")))
        if usage is None:
            return None
        return {"kind": "NodeMetrics", "apiVersion": API_VERSION,
                "metadata": self._metadata(node, False),
                "timestamp": _time(usage.timestamp_ms),
                "window": go_duration(usage.window_ns), "usage": usage.resources()}

    def _pod_metrics(self, pod: dict[str, Any]) -> dict[str, Any] | None:
        md = meta.metadata(pod)
        # Only the pod's own node speaks for it.
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        usage = self.store.pod_usage(str(md.get("namespace", "")), str(md.get("name", "")),
                                     node)
        if usage is None:
            return None
        return {"kind": "PodMetrics", "apiVersion": API_VERSION,
                "metadata": self._metadata(pod, True),
                "timestamp": _time(usage.timestamp_ms),
                "window": go_duration(usage.window_ns),
                "containers": [{"name": name, "usage": u.resources()}
                               for name, u in usage.containers.items()]}

    async def get(self, info: ResourceInfo, namespace: str | None,
                  name: str) -> dict[str, Any]:
        """One object's metrics (404s as the module docstring says)."""
        source = PODS if info.namespaced else NODES
        try:
            obj = (await self.registry.store(source).get(namespace, name)).obj
        except errors.ApiError as exc:
            if exc.code == 404 and not info.namespaced:
                # metrics-server's typed node lister names the resource in the singular.
                raise errors.not_found(replace(NODES, plural="node"), name) from None
            raise
        found = self._pod_metrics(obj) if info.namespaced else self._node_metrics(obj)
        if found is None:
            shown = f"{namespace}/{name}" if info.namespaced else name
            # metrics-server names the resource by its kind here: nodemetrics, podmetrics.
            raise errors.not_found(replace(info, plural=info.kind.lower()), shown)
        return found

    async def list(self, info: ResourceInfo, namespace: str | None,
                   labels: LabelSelector | None,
                   fields: FieldSelector | None) -> list[dict[str, Any]]:
        """The metrics of the selected Nodes or Pods that have any, sorted."""
        source = PODS if info.namespaced else NODES
        result = await self.registry.store(source).list_objects(ListOptions(
            namespace=namespace, label_selector=labels, field_selector=fields,
            resource_version="0"))
        build = self._pod_metrics if info.namespaced else self._node_metrics
        found = [m for m in (build(o.obj) for o in result.items) if m is not None]
        found.sort(key=lambda m: (m["metadata"].get("namespace", ""), m["metadata"]["name"]))
        return found
