"""The custom resources' part of ``/openapi/v2``, as apiextensions-apiserver publishes it.

Each served custom resource version adds its operations (paths) and two definitions
(the kind and its list, named ``<reversed group>.<version>.<Kind>``) made from its
structural schema, turned into what OpenAPI v2 clients (kubectl's ``explain`` and
client-side validation) can use, as upstream's ``ToStructuralOpenAPIV2`` does:

* ``allOf``, ``anyOf``, ``oneOf`` and ``not`` are dropped, and so are
  ``x-kubernetes-validations``;
* a ``nullable`` node loses its type, items and properties (untyped values are
  nullable in v2), and a nullable property is no longer ``required``;
* a node preserving unknown fields loses its items and properties, and an array
  left without items loses its type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apiserver.api.resources import ResourceInfo
from apiserver.openapi._render import referenced, schemas, served_group_versions
from apiserver.openapi._schemas import definitions
from apiserver.openapi.operations import Operation, resource_operations

_DROPPED = ("allOf", "anyOf", "oneOf", "not", "x-kubernetes-validations")


def _v2_node(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out = {k: v for k, v in node.items() if k not in _DROPPED}
    if out.pop("nullable", False) is True:
        for key in ("type", "items", "properties"):
            out.pop(key, None)
    if out.get("x-kubernetes-preserve-unknown-fields") is True:
        out.pop("items", None)
        out.pop("properties", None)
    if out.get("type") == "array" and "items" not in out:
        del out["type"]
    props = out.get("properties")
    if isinstance(props, dict):
        nullable = {k for k, v in props.items() if isinstance(v, dict) and v.get("nullable")}
        out["properties"] = {k: _v2_node(v) for k, v in props.items()}
        if nullable and isinstance(out.get("required"), list):
            out["required"] = [r for r in out["required"] if r not in nullable]
            if not out["required"]:
                del out["required"]
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _v2_node(out[key])
    return out


def custom_v2_parts(infos: Sequence[ResourceInfo]) \
        -> tuple[list[Operation], dict[str, object]]:
    """The operations of the custom resources ``infos`` and the definitions they add
    (their own, converted as above; shared meta definitions are already published)."""
    ops = [op for info in infos for op in resource_operations(info)]
    served = served_group_versions() | {(i.group, i.version) for i in infos}
    upstream = definitions()
    found = schemas(referenced(ops), v3=False, served=served)
    return ops, {name: (schema if name in upstream else _v2_node(schema))
                 for name, schema in found.items()}
