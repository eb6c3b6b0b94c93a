"""What a CustomResourceDefinition defines: the served resource and its schema.

Pure functions over a CRD object (as stored, defaulted):

* :func:`storage_version` — the one version marked ``storage: true``;
* :func:`resource_info` — the :class:`ResourceInfo` row of one version (names, scope,
  subresources, selectable fields), ``custom=True``;
* :func:`definition_name` — the OpenAPI definition name upstream publishes
  (``com.example.stable.v1.CronTab`` for ``stable.example.com/v1`` ``CronTab``);
* :func:`definition_schema` — the version's ``openAPIV3Schema`` as a definition the
  schema layer navigates: ``apiVersion``, ``kind`` and ``metadata`` (ObjectMeta) added at
  the root, and every ``type: object`` without properties, additionalProperties or
  ``x-kubernetes-preserve-unknown-fields`` made an object with no fields — a structural
  schema keeps nothing it does not name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from apiserver.api.resources import ALL_VERBS, STATUS_VERBS, ResourceInfo, SubresourceInfo

GROUP = "apiextensions.k8s.io"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_OBJECT_META = "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
#: The column a CRD without ``additionalPrinterColumns`` prints (upstream's default).
_AGE_COLUMN = (("Age", "date", "", "CreationTimestamp is a timestamp representing the server "
                "time when this object was created. It is not guaranteed to be set in "
                "happens-before order across separate operations. Clients may not set this "
                "value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the "
                "system. Read-only. Null for lists. More info: https://git.k8s.io/community/"
                "contributors/devel/sig-architecture/api-conventions.md#metadata", 0,
                ".metadata.creationTimestamp"),)
_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")

Obj = dict[str, Any]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key of upstream's kube-aware version order: GA by number (highest first),
    then beta, then alpha, then anything else alphabetically."""
    match = _VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)
    major, level, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[level]
    return (rank, -int(major), -int(minor or 0), version)


def versions(crd: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The CRD's versions, in upstream's priority order."""
    found = [_m(v) for v in _m(crd.get("spec")).get("versions") or [] if isinstance(v, Mapping)]
    return sorted(found, key=lambda v: version_priority(str(v.get("name") or "")))


def storage_version(crd: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The version stored in etcd (``storage: true``), if exactly one says so."""
    stored = [v for v in versions(crd) if v.get("storage") is True]
    return stored[0] if len(stored) == 1 else None


def definition_name(group: str, version: str, kind: str) -> str:
    """Upstream's OpenAPI name of a custom kind: the group's labels reversed."""
    return ".".join([*reversed(group.split(".")), version, kind])


def resource_info(crd: Mapping[str, Any], version: Mapping[str, Any],
                  stored: Mapping[str, Any] | None = None) -> ResourceInfo:
    """The served row of ``version`` of ``crd`` (its accepted names are the spec's);
    ``stored``: the storage version, when it is another one."""
    spec = _m(crd.get("spec"))
    names = _m(spec.get("names"))
    group = str(spec.get("group") or "")
    name = str(version.get("name") or "")
    kind = str(names.get("kind") or "")
    subs = _m(version.get("subresources"))
    subresources: list[SubresourceInfo] = []
    if "status" in subs:
        subresources.append(SubresourceInfo("status", kind, STATUS_VERBS))
    scale_paths = None
    if "scale" in subs:
        subresources.append(SubresourceInfo("scale", "Scale", STATUS_VERBS, "autoscaling", "v1"))
        scale = _m(subs.get("scale"))
        scale_paths = (str(scale.get("specReplicasPath") or ""),
                       str(scale.get("statusReplicasPath") or ""),
                       str(scale.get("labelSelectorPath") or ""))
    selectable = tuple(str(_m(f).get("jsonPath") or "").lstrip(".")
                       for f in version.get("selectableFields") or [])
    columns = tuple(
        (str(c.get("name") or ""), str(c.get("type") or "string"), str(c.get("format") or ""),
         str(c.get("description") or ""), int(c.get("priority") or 0),
         str(c.get("jsonPath") or ""))
        for c in (_m(raw) for raw in version.get("additionalPrinterColumns") or [])
    ) or _AGE_COLUMN
    return ResourceInfo(
        group=group,
        version=name,
        kind=kind,
        plural=str(names.get("plural") or ""),
        singular=str(names.get("singular") or kind.lower()),
        namespaced=spec.get("scope") == "Namespaced",
        schema_ref=definition_name(group, name, kind),
        list_kind=str(names.get("listKind") or f"{kind}List"),
        short_names=tuple(str(s) for s in names.get("shortNames") or ()),
        categories=tuple(str(c) for c in names.get("categories") or ()),
        verbs=ALL_VERBS,
        subresources=tuple(subresources),
        field_labels=tuple(f for f in selectable if f),
        custom=True,
        printer_columns=columns,
        scale_paths=scale_paths,
        storage_api_version=(f"{group}/{stored.get('name')}"
                             if stored is not None and stored.get("name") != name else ""),
    )


def _structural(schema: Mapping[str, Any]) -> Obj:
    """A copy of ``schema`` where a bare ``type: object`` has no fields (see module)."""
    out: Obj = dict(schema)
    if "properties" in out:
        out["properties"] = {k: _structural(_m(v)) for k, v in _m(out["properties"]).items()}
    if isinstance(out.get("additionalProperties"), Mapping):
        out["additionalProperties"] = _structural(_m(out["additionalProperties"]))
    if isinstance(out.get("items"), Mapping):
        out["items"] = _structural(_m(out["items"]))
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(out.get(key), list):
            out[key] = [_structural(_m(s)) for s in out[key]]
    open_ended = (out.get("x-kubernetes-preserve-unknown-fields") is True
                  or out.get("x-kubernetes-int-or-string") is True
                  or "additionalProperties" in out or "properties" in out)
    if out.get("type") == "object" and not open_ended:
        out["properties"] = {}
    return out


def definition_schema(crd: Mapping[str, Any], version: Mapping[str, Any]) -> Obj:
    """The definition the schema layer navigates for objects of ``version``."""
    raw = _m(_m(version.get("schema")).get("openAPIV3Schema"))
    root = _structural(raw) if raw else {"type": "object",
                                         "x-kubernetes-preserve-unknown-fields": True}
    properties = dict(_m(root.get("properties")))
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    properties["metadata"] = {"$ref": _OBJECT_META}
    root["properties"] = properties
    root.setdefault("type", "object")
    spec = _m(crd.get("spec"))
    root["x-kubernetes-group-version-kind"] = [{
        "group": str(spec.get("group") or ""), "version": str(version.get("name") or ""),
        "kind": str(_m(spec.get("names")).get("kind") or "")}]
    return root


def list_definition_schema(crd: Mapping[str, Any], version: Mapping[str, Any]) -> Obj:
    """The definition of the version's list kind (``CronTabList``), as upstream publishes it."""
    spec = _m(crd.get("spec"))
    names = _m(spec.get("names"))
    group, name = str(spec.get("group") or ""), str(version.get("name") or "")
    kind = str(names.get("kind") or "")
    list_kind = str(names.get("listKind") or f"{kind}List")
    return {
        "description": f"{list_kind} is a list of {kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"},
            "items": {"type": "array", "description": f"List of {names.get('plural')}.",
                      "items": {"$ref": "#/$defs/" + definition_name(group, name, kind)}},
        },
        "x-kubernetes-group-version-kind": [{"group": group, "version": name,
                                             "kind": list_kind}],
    }
