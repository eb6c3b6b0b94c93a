"""The REST operations of the served resources, independent of OpenAPI version.

:func:`operations` derives, from the resource table, every operation
kube-apiserver publishes for those resources (CRUD, deletecollection, the
deprecated ``/watch/`` paths, subresources, discovery), named as upstream names
them (``listCoreV1NamespacedPod``, ``patchCoreV1NamespacedServiceStatus``,
``watchCoreV1PodListForAllNamespaces`` ...). The v2 and v3 builders render
them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from apiserver.api.builtin import schema_prefix
from apiserver.api.resources import RESOURCES, ResourceInfo, SubresourceInfo
from apiserver.openapi import params as p
from apiserver.openapi.connect import CONNECT_SUBRESOURCES, connect_operations
from apiserver.openapi.operation import JSON_TYPES, Operation
from apiserver.openapi.params import Param

__all__ = ["CONNECT_SUBRESOURCES", "JSON_TYPES", "Operation", "definition_name", "doc_key",
           "group_prefix", "group_tag", "operations", "resource_operations"]

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
STATUS = META + "Status"
DELETE_OPTIONS = META + "DeleteOptions"
WATCH_EVENT = META + "WatchEvent"
PATCH = META + "Patch"
API_VERSIONS = META + "APIVersions"
API_GROUP_LIST = META + "APIGroupList"
API_GROUP = META + "APIGroup"
API_RESOURCE_LIST = META + "APIResourceList"
VERSION_INFO = "io.k8s.apimachinery.pkg.version.Info"

#: Meta definitions always published, whether an operation references them or not.
META_DEFINITIONS: tuple[str, ...] = (
    STATUS, DELETE_OPTIONS, WATCH_EVENT, PATCH, META + "ListMeta", META + "ObjectMeta",
)

#: Content types accepted by PATCH, as upstream lists them.
PATCH_CONTENT_TYPES: tuple[str, ...] = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
#: Content types of request bodies other than patches.
BODY_CONTENT_TYPES: tuple[str, ...] = ("*/*",)
#: Content types of list responses (which may be watch streams when watch=true).
STREAM_TYPES: tuple[str, ...] = ("application/json", "application/json;stream=watch")

#: Kinds whose DELETE answers with the (possibly still terminating) object, not a Status.
RETURNS_DELETED_OBJECT: frozenset[str] = frozenset({"Pod", "Service"})


def group_prefix(group: str) -> str:
    """The operationId fragment of a group: ``""`` → ``Core``,
    ``rbac.authorization.k8s.io`` → ``RbacAuthorization``."""
    if not group:
        return "Core"
    name = group.removesuffix(".k8s.io")
    return "".join(_upper_first(part) for part in name.replace("-", ".").split("."))


def group_tag(group: str) -> str:
    """The tag fragment of a group: ``core``, ``discovery``, ``rbacAuthorization``."""
    prefix = group_prefix(group)
    return prefix[0].lower() + prefix[1:]


def doc_key(group: str, version: str) -> str:
    """The v3 document key of a group version: ``api/v1`` or ``apis/<g>/<v>``."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def definition_name(info: ResourceInfo, kind: str) -> str:
    """Upstream definition name of ``kind`` in the package of ``info``'s schema."""
    return info.schema_ref.rsplit(".", 1)[0] + "." + kind


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def operations() -> list[Operation]:
    """Every operation of every served resource, plus the discovery endpoints."""
    ops = list(_discovery_operations())
    for info in RESOURCES:
        ops.extend(_resource_operations(info))
    return ops


@dataclass(frozen=True)
class _Ctx:
    doc: str
    tag: str
    gvk: tuple[str, str, str]


def _kind_op(ctx: _Ctx, **fields: Any) -> Operation:
    return Operation(doc=ctx.doc, tag=ctx.tag, gvk=ctx.gvk, **fields)


def _discovery_operations() -> Iterator[Operation]:
    yield Operation(
        doc="api", path="/api/", method="get", operation_id="getCoreAPIVersions", tag="core",
        description="get available API versions", response=API_VERSIONS,
    )
    yield Operation(
        doc="apis", path="/apis/", method="get", operation_id="getAPIVersions", tag="apis",
        description="get available API versions", response=API_GROUP_LIST,
    )
    yield Operation(
        doc="version", path="/version/", method="get", operation_id="getCodeVersion",
        tag="version", description="get the version information for this server",
        response=VERSION_INFO,
    )
    seen_groups: set[str] = set()
    seen_gvs: set[tuple[str, str]] = set()
    for info in RESOURCES:
        group, version = info.group, info.version
        if group and group not in seen_groups:
            seen_groups.add(group)
            yield Operation(
                doc=f"apis/{group}", path=f"/apis/{group}/", method="get",
                operation_id=f"get{group_prefix(group)}APIGroup", tag=group_tag(group),
                description="get information of a group", response=API_GROUP,
            )
        if (group, version) not in seen_gvs:
            seen_gvs.add((group, version))
            yield Operation(
                doc=doc_key(group, version), path=f"/{doc_key(group, version)}/", method="get",
                operation_id=f"get{group_prefix(group)}{_upper_first(version)}APIResources",
                tag=f"{group_tag(group)}_{version}", description="get available resources",
                response=API_RESOURCE_LIST,
            )


def resource_operations(info: ResourceInfo) -> Iterator[Operation]:
    """The operations of one resource (and its subresources)."""
    return _resource_operations(info)


def _resource_operations(info: ResourceInfo) -> Iterator[Operation]:
    base = "/" + doc_key(info.group, info.version)
    gv = group_prefix(info.group) + _upper_first(info.version)
    scope = "Namespaced" if info.namespaced else ""
    ns_path = "/namespaces/{namespace}" if info.namespaced else ""
    collection = f"{base}{ns_path}/{info.plural}"
    item = collection + "/{name}"
    kind_def = info.schema_ref
    list_def = definition_name(info, info.list_kind)
    ctx = _Ctx(
        doc=doc_key(info.group, info.version),
        tag=f"{group_tag(info.group)}_{info.version}",
        gvk=(info.group, info.version, info.kind),
    )
    coll_params = (p.NAMESPACE, p.PRETTY) if info.namespaced else (p.PRETTY,)
    item_params = (p.NAME, *coll_params)
    kind = info.kind
    verbs = set(info.verbs)

    if "list" in verbs:
        yield _kind_op(
            ctx, path=collection, method="get", operation_id=f"list{gv}{scope}{kind}",
            description=f"list or watch objects of kind {kind}", action="list",
            params=p.LIST_PARAMS, path_params=coll_params, response=list_def,
            produces=STREAM_TYPES,
        )
    if "create" in verbs:
        yield _kind_op(
            ctx, path=collection, method="post", operation_id=f"create{gv}{scope}{kind}",
            description=f"create a {kind}", action="post", params=p.WRITE_PARAMS,
            path_params=coll_params, request=kind_def, request_types=BODY_CONTENT_TYPES,
            response=kind_def, codes=("200", "201", "202"),
        )
    if "deletecollection" in verbs:
        yield _kind_op(
            ctx, path=collection, method="delete",
            operation_id=f"delete{gv}Collection{scope}{kind}",
            description=f"delete collection of {kind}", action="deletecollection",
            params=p.DELETE_COLLECTION_PARAMS, path_params=coll_params, request=DELETE_OPTIONS,
            request_types=BODY_CONTENT_TYPES, response=STATUS,
        )
    if "get" in verbs:
        yield _kind_op(
            ctx, path=item, method="get", operation_id=f"read{gv}{scope}{kind}",
            description=f"read the specified {kind}", action="get", path_params=item_params,
            response=kind_def,
        )
    if "update" in verbs:
        yield _kind_op(
            ctx, path=item, method="put", operation_id=f"replace{gv}{scope}{kind}",
            description=f"replace the specified {kind}", action="put", params=p.WRITE_PARAMS,
            path_params=item_params, request=kind_def, request_types=BODY_CONTENT_TYPES,
            response=kind_def, codes=("200", "201"),
        )
    if "delete" in verbs:
        deleted = kind_def if kind in RETURNS_DELETED_OBJECT else STATUS
        yield _kind_op(
            ctx, path=item, method="delete", operation_id=f"delete{gv}{scope}{kind}",
            description=f"delete a {kind}", action="delete", params=p.DELETE_PARAMS,
            path_params=item_params, request=DELETE_OPTIONS, request_types=BODY_CONTENT_TYPES,
            response=deleted, codes=("200", "202"),
        )
    if "patch" in verbs:
        yield _kind_op(
            ctx, path=item, method="patch", operation_id=f"patch{gv}{scope}{kind}",
            description=f"partially update the specified {kind}", action="patch",
            params=p.PATCH_PARAMS, path_params=item_params, request=PATCH,
            request_types=PATCH_CONTENT_TYPES, response=kind_def, codes=("200", "201"),
        )
    if "watch" in verbs:
        watch_base = f"{base}/watch{ns_path}/{info.plural}"
        watch_common: dict[str, Any] = {
            "params": p.LIST_PARAMS, "response": WATCH_EVENT,
            "produces": STREAM_TYPES,
        }
        yield _kind_op(
            ctx, **watch_common, path=watch_base, method="get",
            operation_id=f"watch{gv}{scope}{kind}List", path_params=coll_params,
            description=f"watch individual changes to a list of {kind}. deprecated: use the "
            "'watch' parameter with a list operation instead.",
            action="watchlist",
        )
        yield _kind_op(
            ctx, **watch_common, path=watch_base + "/{name}", method="get",
            operation_id=f"watch{gv}{scope}{kind}", path_params=item_params,
            description=f"watch changes to an object of kind {kind}. deprecated: use the "
            "'watch' parameter with a list operation instead, filtered to a single item "
            "with the 'fieldSelector' parameter.",
            action="watch",
        )
    if info.namespaced:
        yield from _all_namespaces_operations(info, ctx, gv, base)
    for sub in info.subresources:
        if sub.name in CONNECT_SUBRESOURCES:
            yield from connect_operations(info, sub, doc=ctx.doc, tag=ctx.tag, gv=gv,
                                          scoped_kind=scope + info.kind, item=item,
                                          item_params=(p.NAME, p.NAMESPACE)
                                          if info.namespaced else (p.NAME,))
            continue
        yield from _subresource_operations(info, sub, ctx, gv + scope, item, item_params)


def _all_namespaces_operations(
    info: ResourceInfo, ctx: _Ctx, gv: str, base: str
) -> Iterator[Operation]:
    list_def = definition_name(info, info.list_kind)
    if "list" in info.verbs:
        yield _kind_op(
            ctx,
            path=f"{base}/{info.plural}", method="get",
            operation_id=f"list{gv}{info.kind}ForAllNamespaces",
            description=f"list or watch objects of kind {info.kind}", action="list",
            params=p.LIST_PARAMS, path_params=(p.PRETTY,), response=list_def,
            produces=STREAM_TYPES,
        )
    if "watch" in info.verbs:
        yield _kind_op(
            ctx,
            path=f"{base}/watch/{info.plural}", method="get",
            operation_id=f"watch{gv}{info.kind}ListForAllNamespaces",
            description=f"watch individual changes to a list of {info.kind}. deprecated: use "
            "the 'watch' parameter with a list operation instead.",
            action="watchlist", params=p.LIST_PARAMS, path_params=(p.PRETTY,),
            response=WATCH_EVENT, produces=STREAM_TYPES,
        )


_SUB_VERBS: tuple[tuple[str, str, str, str], ...] = (
    # (verb, method, operationId prefix, x-kubernetes-action)
    ("get", "get", "read", "get"),
    ("create", "post", "create", "post"),
    ("update", "put", "replace", "put"),
    ("patch", "patch", "patch", "patch"),
)


def _subresource_operations(
    info: ResourceInfo,
    sub: SubresourceInfo,
    ctx: _Ctx,
    gv_scope: str,
    item: str,
    item_params: tuple[Param, ...],
) -> Iterator[Operation]:
    kind_def = (
        f"{schema_prefix(sub.group)}.{sub.version}.{sub.kind}" if sub.group
        else definition_name(info, sub.kind)
    )
    suffix = info.kind + _upper_first(sub.name)
    for verb, method, prefix, action in _SUB_VERBS:
        if verb not in sub.verbs:
            continue
        is_patch = verb == "patch"
        body_params = p.PATCH_PARAMS if is_patch else p.WRITE_PARAMS
        yield _kind_op(
            ctx,
            path=f"{item}/{sub.name}", method=method,
            operation_id=f"{prefix}{gv_scope}{suffix}",
            description=_sub_description(verb, info.kind, sub.name), action=action,
            params=() if verb == "get" else body_params, path_params=item_params,
            request=None if verb == "get" else (PATCH if is_patch else kind_def),
            request_types=(
                () if verb == "get" else PATCH_CONTENT_TYPES if is_patch else BODY_CONTENT_TYPES
            ),
            response=kind_def,
            codes=("200",) if verb == "get" else
            ("200", "201", "202") if verb == "create" else ("200", "201"),
        )


def _sub_description(verb: str, kind: str, sub: str) -> str:
    what = {"get": "read", "create": "create", "update": "replace",
            "patch": "partially update"}[verb]
    return f"{what} {sub} of the specified {kind}"
