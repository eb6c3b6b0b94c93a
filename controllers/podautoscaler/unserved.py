"""How ``Pods``, ``Object`` and ``External`` metrics fail when no adapter serves their API,
in upstream's words (``replica_calculator.go``, ``horizontal.go``), including its quirks.

* ``Pods``: ``unable to get metric <name>: <client error>``; counted as ``failed to get
  pods metric value: …``.
* ``Object``: upstream's format string takes its arguments out of order, so the text reads
  ``unable to get metric <name>: <Kind> on <namespace> <object>/<client error>``; an
  ``averageValue`` target adds ``failed to get <name> object metric: …``; counted as
  ``failed to get object metric value: …``.
* ``External``: ``unable to get external metric <namespace>/<name>/<selector>: <client
  error>``, the selector as Go's generated ``LabelSelector.String()`` prints it (``nil``
  when absent); a ``value`` target adds ``failed to get external metric <name>: …``, an
  ``averageValue`` one ``failed to get <name> external metric: …``; counted as ``failed to
  get <name> external metric value: …``.

The custom metrics client asks discovery first, so its error is ``no custom metrics API
(custom.metrics.k8s.io) registered``; the external one does not, and the apiserver's 404
reads ``the server could not find the requested resource (get
<name>.external.metrics.k8s.io)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["go_label_selector", "unserved_failure"]

_NO_CUSTOM = ("unable to fetch metrics from custom metrics API: no custom metrics API "
              "(custom.metrics.k8s.io) registered")


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def go_label_selector(selector: Any) -> str:
    """``selector`` (a LabelSelector's JSON) as Go's ``%+v`` of ``*metav1.LabelSelector``."""
    if not isinstance(selector, Mapping):
        return "nil"
    labels = _m(selector.get("matchLabels"))
    pairs = "".join(f"{k}: {labels[k]}," for k in sorted(labels))
    requirements = "".join(
        f"LabelSelectorRequirement{{Key:{_m(r).get('key', '')},"
        f"Operator:{_m(r).get('operator', '')},"
        f"Values:[{' '.join(str(v) for v in _m(r).get('values') or [])}],}},"
        for r in selector.get("matchExpressions") or [])
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{pairs}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{requirements}}},}}")


def unserved_failure(kind: str, source: Mapping[str, Any], namespace: str,
                     ) -> tuple[str, str]:
    """(the metric's own error, the error as the replica count reports it) of a ``Pods``,
    ``Object`` or ``External`` metric (``source`` is its ``pods``/``object``/``external``
    field)."""
    metric = _m(source.get("metric"))
    name = str(metric.get("name") or "")
    target = _m(source.get("target"))
    if kind == "External":
        client = ("unable to fetch metrics from external metrics API: the server could not "
                  f"find the requested resource (get {name}.external.metrics.k8s.io)")
        inner = (f"unable to get external metric {namespace}/{name}/"
                 f"{go_label_selector(metric.get('selector'))}: {client}")
        outer = (f"failed to get {name} external metric: {inner}" if "averageValue" in target
                 else f"failed to get external metric {name}: {inner}")
        return inner, f"failed to get {name} external metric value: {outer}"
    if kind == "Object":
        described = _m(source.get("describedObject"))
        inner = (f"unable to get metric {name}: {described.get('kind') or ''} on {namespace} "
                 f"{described.get('name') or ''}/{_NO_CUSTOM}")
        averaged = target.get("type") == "AverageValue" and "averageValue" in target
        outer = f"failed to get {name} object metric: {inner}" if averaged else inner
        return inner, f"failed to get object metric value: {outer}"
    inner = f"unable to get metric {name}: {_NO_CUSTOM}"
    return inner, f"failed to get pods metric value: {inner}"
