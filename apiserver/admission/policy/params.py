"""The parameter objects one binding gives its policy (upstream ``generic.CollectParams``).

Contracts:

* a policy without ``paramKind`` is evaluated once, with ``params`` null;
* with ``paramKind``, the binding's ``paramRef`` names one object (``name``) or selects
  several (``selector``: one evaluation each) of that kind, read from the watch cache.
  A namespaced kind is looked up in ``paramRef.namespace``, else in the request's
  namespace (a cluster-scoped request then has none to offer: a configuration error);
* when nothing is found, ``parameterNotFoundAction: Allow`` skips the binding and
  ``Deny`` (the default) is the configuration error ``no params found for policy binding
  with `Deny` parameterNotFoundAction``.

:func:`collect` returns the parameters and the configuration error ("" when none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apiserver.admission.attributes import AdmissionAttributes, ObjectSource
from apiserver.api.labels import SelectorError, selector_from_label_selector_object
from apiserver.api.resources import by_kind

Param = Mapping[str, Any] | None


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def collect(param_kind: Mapping[str, Any] | None, param_ref: Any,
            attrs: AdmissionAttributes, source: ObjectSource) -> tuple[list[Param], str]:
    """The parameters to evaluate the policy with, or the configuration error."""
    if param_kind is None:
        return [None], ""
    api_version, kind = str(param_kind.get("apiVersion") or ""), str(param_kind.get("kind"))
    if not isinstance(param_ref, Mapping):
        return [], f"paramKind kind `{kind}` is configured but paramRef is unset"
    info = by_kind(api_version, kind)
    if info is None:
        return [], (f"failed to find resource referenced by paramKind: "
                    f"'{api_version}, Kind={kind}'")
    namespace = ""
    if info.namespaced:
        namespace = str(param_ref.get("namespace") or attrs.namespace)
        if not namespace:
            return [], ("cannot use namespaced paramRef in policy binding that matches "
                        "cluster-scoped resources")
    found: list[Param] = []
    if param_ref.get("name"):
        obj = source.cached(info, namespace, str(param_ref["name"]))
        if obj is not None:
            found.append(obj)
    else:
        try:
            selector = selector_from_label_selector_object(param_ref.get("selector") or {})
        except SelectorError as exc:
            return [], str(exc)
        found = [obj for obj in source.cached_list(info, namespace)
                 if selector.matches(_labels(obj))]
    if not found:
        if param_ref.get("parameterNotFoundAction") == "Allow":
            return [], ""
        return [], "no params found for policy binding with `Deny` parameterNotFoundAction"
    return found, ""
