"""Helpers shared by the v2 and v3 renderers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from apiserver.api.resources import RESOURCES
from apiserver.openapi import convert
from apiserver.openapi.operations import Operation
from apiserver.openapi.params import Param

#: Description of each HTTP status code an operation may answer with.
STATUS_TEXT: dict[str, str] = {
    "200": "OK",
    "201": "Created",
    "202": "Accepted",
    "401": "Unauthorized",
}


def served_group_versions() -> frozenset[tuple[str, str]]:
    """``(group, version)`` of every served resource."""
    return frozenset((info.group, info.version) for info in RESOURCES)


def gvk_extension(gvk: tuple[str, str, str]) -> dict[str, str]:
    """The ``x-kubernetes-group-version-kind`` object of an operation."""
    group, version, kind = gvk
    return {"group": group, "kind": kind, "version": version}


def referenced(ops: Iterable[Operation]) -> set[str]:
    """Definition names the request and response bodies of ``ops`` use."""
    names: set[str] = set()
    for op in ops:
        names.update(name for name in (op.request, op.response) if name)
    return names


def schemas(roots: Iterable[str], *, v3: bool,
            served: frozenset[tuple[str, str]] | None = None) -> dict[str, object]:
    """Converted definitions of ``roots`` and everything they reference, by name;
    ``served``: the group versions GVK extensions may name (the built-in ones)."""
    served = served if served is not None else served_group_versions()
    return {
        name: convert.convert_definition(name, v3=v3, served_group_versions=served)
        for name in convert.reachable(roots)
    }


def render_paths(ops: Iterable[Operation], param: Callable[[Param], dict[str, Any]],
                 operation: Callable[[Operation], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The ``paths`` object of ``ops``: each path's shared path parameters (rendered with
    ``param``) and its operations by method (rendered with ``operation``)."""
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        item = paths.setdefault(op.path, {})
        if op.path_params:
            item["parameters"] = [param(p) for p in op.path_params]
        item[op.method] = operation(op)
    return paths
