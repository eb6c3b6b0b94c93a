"""The OpenAPI v3 documents served under ``/openapi/v3``.

As upstream, there is one document per group version (``api/v1``,
``apis/<group>/<version>``) plus small ones for the discovery roots (``api``,
``apis``, ``apis/<group>``, ``version``), and a root index listing them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from apiserver.api.resources import ResourceInfo
from apiserver.openapi import convert
from apiserver.openapi._render import (
    STATUS_TEXT,
    gvk_extension,
    referenced,
    render_paths,
    schemas,
    served_group_versions,
)
from apiserver.openapi.operations import Operation, operations, resource_operations
from apiserver.openapi.params import Param


def document_keys() -> list[str]:
    """Keys of all v3 documents (``api/v1``, ``apis/discovery.k8s.io/v1``, ``version`` ...)."""
    return sorted({op.doc for op in operations()})


def openapi_v3_root(hash_by_gv: Mapping[str, str]) -> dict[str, Any]:
    """The ``/openapi/v3`` index.

    ``hash_by_gv`` maps each document key to the hash of its encoded bytes; the
    result maps each key to ``/openapi/v3/<key>?hash=<HASH>``, which clients
    (kubectl) fetch and may cache forever.
    """
    return {
        "paths": {
            key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
            for key, digest in sorted(hash_by_gv.items())
        }
    }


def custom_document(gv: str, infos: Sequence[ResourceInfo]) -> dict[str, Any]:
    """The document of a custom group version: the served custom resources ``infos``
    (their schemas are run-time definitions of the schema layer)."""
    ops = [op for info in infos for op in resource_operations(info)]
    served = served_group_versions() | {(i.group, i.version) for i in infos}
    return _document(ops, schemas(referenced(ops), v3=True, served=served))


def openapi_v3_group_version(gv: str) -> dict[str, Any] | None:
    """The OpenAPI 3.0 document with key ``gv`` (``api/v1``, ``apis/<g>/<v>`` ...).

    Holds the paths of that document (parameters, ``requestBody``,
    ``responses``, ``x-kubernetes-action`` and ``x-kubernetes-group-version-kind``
    on each operation; every ``patch`` takes ``fieldValidation``) and, under
    ``components.schemas``, the upstream schemas they reach, referenced as
    ``#/components/schemas/<name>``. ``None`` for an unknown key. A fresh
    object on every call.
    """
    ops = [op for op in operations() if op.doc == gv]
    if not ops:
        return None
    return _document(ops, schemas(referenced(ops), v3=True))


def _document(ops: Sequence[Operation], components: dict[str, object]) -> dict[str, Any]:
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": render_paths(ops, _param, _operation),
        "components": {"schemas": components},
    }


def _param(param: Param) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": param.name,
        "in": param.location,
        "description": param.description,
        "schema": {"type": param.type, "uniqueItems": True},
    }
    if param.required:
        out["required"] = True
    return out


def _content(types: tuple[str, ...], name: str) -> dict[str, Any]:
    return {ct: {"schema": {"$ref": convert.V3_REF_PREFIX + name}} for ct in types}


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tags": [op.tag],
        "description": op.description,
        "operationId": op.operation_id,
    }
    if op.params:
        out["parameters"] = [_param(param) for param in op.params]
    if op.request:
        body: dict[str, Any] = {"content": _content(op.request_types, op.request)}
        if op.method != "delete":
            body["required"] = True
        out["requestBody"] = body
    responses: dict[str, Any] = {}
    for code in op.codes:
        responses[code] = {"description": STATUS_TEXT[code]}
        if op.response_type:
            responses[code]["content"] = {ct: {"schema": {"type": op.response_type}}
                                          for ct in op.produces}
        elif op.response:
            responses[code]["content"] = _content(op.produces, op.response)
    responses["401"] = {"description": STATUS_TEXT["401"]}
    out["responses"] = responses
    if op.action:
        out["x-kubernetes-action"] = op.action
    if op.gvk:
        out["x-kubernetes-group-version-kind"] = gvk_extension(op.gvk)
    return out
