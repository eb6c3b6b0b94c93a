"""The HPA's view of the resource metrics API (upstream ``metrics/client.go``
``resourceMetricsClient``).

:meth:`ResourceMetricsClient.resource_metric` lists ``PodMetrics`` of
``metrics.k8s.io/v1beta1`` for a label selector (as metrics-server serves them) and returns
each pod's usage of one resource in milli-units, with the sample's timestamp and window:

* pod metrics (``container == ""``): the sum over the pod's containers; a pod with no
  containers, or one container without the resource, has no metric (upstream skips it);
* container metrics: that container's usage; a pod whose metrics lack the container fails
  the whole call (``container X not present in metrics for pod ns/name``).

Every failure raises :class:`MetricsError` with upstream's text (``unable to fetch metrics
from resource metrics API: …``, ``no metrics returned from resource metrics API``), which
the calculator wraps as upstream does.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from apiserver.api.quantity import parse_quantity
from controllers.client.errors import ApiError
from controllers.runtime.flags import duration
from controllers.runtime.objects import parse_time

__all__ = ["MetricsError", "PodMetric",
           "ResourceMetricsClient", "milli_value", "parse_window"]

_PATH = "/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"
#: client-go's text for an error response without a usable Status message, by code
#: (``NewGenericServerResponse`` with verb ``get`` and ``pods.metrics.k8s.io``). A 404 always
#: reads so: kube-apiserver answers an unregistered API group with a plain-text 404.
_GENERIC = {404: "the server could not find the requested resource",
            503: "the server is currently unable to handle the request"}


class MetricsError(Exception):
    """A metric could not be read; ``str()`` is upstream's message."""


class _Reader(Protocol):
    async def request(self, method: str, path: str, *,
                      params: Mapping[str, str] | None = ...) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PodMetric:
    """One pod's usage: ``value`` in milli-units, when it was sampled and over how long
    (seconds); ``timestamp`` is None when the API sent none."""

    value: int
    timestamp: datetime | None = None
    window: float = 0.0


def milli_value(quantity: Any) -> int | None:
    """``resource.Quantity.MilliValue()``: the value in thousandths, rounded up; None when
    ``quantity`` is not a quantity."""
    value = parse_quantity(quantity)
    if value is None:
        return None
    return math.ceil(value * 1000)


def parse_window(text: Any) -> float:
    """A ``metav1.Duration`` (Go duration text: ``15s``, ``1m0s``, ``500ms``) in seconds;
    0 when unset or malformed (upstream's zero Duration; Go wants a unit)."""
    if not isinstance(text, str) or not any(c.isalpha() for c in text):
        return 0.0
    try:
        return duration(text)
    except argparse.ArgumentTypeError:
        return 0.0


def _describe(exc: ApiError) -> str:
    generic = _GENERIC.get(exc.code)
    if exc.code == 404 or (generic and not exc.message):
        return f"{generic} (get pods.metrics.k8s.io)"
    return exc.message or f"the server responded with status {exc.code}"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class ResourceMetricsClient:
    """Reads ``PodMetrics`` through ``reader`` (a REST client's ``request``)."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader

    async def resource_metric(self, resource: str, namespace: str, selector: str,
                              container: str = "") -> dict[str, PodMetric]:
        """Pod name → usage of ``resource`` for the pods ``selector`` selects (see the
        module docstring); raises :class:`MetricsError`."""
        try:
            listed = await self.reader.request("GET", _PATH.format(namespace=namespace),
                                               params={"labelSelector": selector})
        except ApiError as exc:
            raise MetricsError(
                f"unable to fetch metrics from resource metrics API: {_describe(exc)}"
            ) from exc
        items = [_m(item) for item in listed.get("items") or [] if isinstance(item, Mapping)]
        if not items:
            raise MetricsError("no metrics returned from resource metrics API")
        if container:
            return _container_metrics(items, resource, container)
        return _pod_metrics(items, resource)


def _sample(item: Mapping[str, Any], value: int) -> PodMetric:
    return PodMetric(value, parse_time(item.get("timestamp")), parse_window(item.get("window")))


def _pod_metrics(items: list[Mapping[str, Any]], resource: str) -> dict[str, PodMetric]:
    result: dict[str, PodMetric] = {}
    for item in items:
        containers = [_m(c) for c in item.get("containers") or []]
        values = [milli_value(_m(c.get("usage")).get(resource)) for c in containers]
        # A pod is left out when a container misses the resource: a partial sum would
        # understate its usage (upstream logs "missing resource metric" and skips it).
        if not containers or any(v is None for v in values):
            continue
        result[str(_m(item.get("metadata")).get("name") or "")] = _sample(
            item, sum(v for v in values if v is not None))
    return result


def _container_metrics(items: list[Mapping[str, Any]], resource: str,
                       container: str) -> dict[str, PodMetric]:
    result: dict[str, PodMetric] = {}
    for item in items:
        meta = _m(item.get("metadata"))
        found = next((_m(c) for c in item.get("containers") or []
                      if _m(c).get("name") == container), None)
        if found is None:
            raise MetricsError(f"failed to get container metrics: container {container} not "
                               f"present in metrics for pod {meta.get('namespace') or ''}/"
                               f"{meta.get('name') or ''}")
        value = milli_value(_m(found.get("usage")).get(resource))
        if value is not None:
            result[str(meta.get("name") or "")] = _sample(item, value)
    return result
