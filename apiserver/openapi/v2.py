"""The OpenAPI v2 (Swagger 2.0) document served at ``/openapi/v2``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apiserver.openapi import convert
from apiserver.openapi._render import (
    STATUS_TEXT,
    gvk_extension,
    referenced,
    render_paths,
    schemas,
)
from apiserver.openapi._schemas import KUBE_VERSION
from apiserver.openapi.operations import META_DEFINITIONS, Operation, operations
from apiserver.openapi.params import Param


def openapi_v2() -> dict[str, Any]:
    """The Swagger 2.0 document of every served resource.

    ``paths`` holds each operation of :func:`operations.operations` (with
    upstream operationIds, ``x-kubernetes-action`` and
    ``x-kubernetes-group-version-kind``); ``definitions`` holds the upstream
    schemas reachable from those operations plus the common meta types,
    referenced as ``#/definitions/<name>``. A fresh object on every call.
    """
    ops = operations()
    roots = referenced(ops) | set(META_DEFINITIONS)
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": f"v{KUBE_VERSION}"},
        "paths": _paths(ops),
        "definitions": schemas(roots, v3=False),
    }


def with_operations(document: dict[str, Any], ops: Sequence[Operation],
                    definitions: dict[str, object]) -> dict[str, Any]:
    """A copy of the v2 ``document`` with the paths of ``ops`` and ``definitions`` added
    (the custom resources'); ``document`` itself is not changed."""
    return {**document, "paths": {**document["paths"], **_paths(ops)},
            "definitions": {**document["definitions"], **definitions}}


def _paths(ops: Sequence[Operation]) -> dict[str, dict[str, Any]]:
    return render_paths(ops, _param, _operation)


def _param(param: Param) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": param.name,
        "in": param.location,
        "description": param.description,
        "type": param.type,
        "uniqueItems": True,
    }
    if param.required:
        out["required"] = True
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": convert.V2_REF_PREFIX + name}


def _operation(op: Operation) -> dict[str, Any]:
    parameters = [_param(param) for param in op.params]
    if op.request:
        body: dict[str, Any] = {"name": "body", "in": "body", "schema": _ref(op.request)}
        if op.method != "delete":
            body["required"] = True
        parameters.insert(0, body)
    responses: dict[str, Any] = {}
    for code in op.codes:
        responses[code] = {"description": STATUS_TEXT[code]}
        if op.response_type:
            responses[code]["schema"] = {"type": op.response_type}
        elif op.response:
            responses[code]["schema"] = _ref(op.response)
    responses["401"] = {"description": STATUS_TEXT["401"]}
    out: dict[str, Any] = {
        "description": op.description,
        "consumes": list(op.request_types) or ["*/*"],
        "produces": list(op.produces),
        "schemes": ["https"],
        "tags": [op.tag],
        "operationId": op.operation_id,
        "responses": responses,
    }
    if parameters:
        out["parameters"] = parameters
    if op.action:
        out["x-kubernetes-action"] = op.action
    if op.gvk:
        out["x-kubernetes-group-version-kind"] = gvk_extension(op.gvk)
    return out
