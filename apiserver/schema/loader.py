"""Load the upstream Kubernetes JSON schema definitions shipped by ``kubernetes-validate``.

Contract: the definitions file is located through the installed package (never copied
into this repository), parsed with orjson on first use and cached for the life of the
process.  Callers must treat every returned dict as read-only: they are shared.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib import resources
from typing import Any

import orjson

KUBERNETES_SCHEMA_VERSION = "v1.33.0"
"""The upstream Kubernetes release whose schemas are used."""

_PACKAGE = "kubernetes_validate"
_SCHEMA_DIR = "kubernetes-json-schema"
_DEFINITIONS_FILE = "_definitions.json"
_REF_PREFIX = "#/$defs/"

JSONSchema = dict[str, Any]


@functools.cache
def definitions() -> dict[str, JSONSchema]:
    """Return every definition, keyed by its name (e.g. ``io.k8s.api.core.v1.Pod``).

    Loaded lazily once; the returned mapping is shared and must not be mutated.
    Raises ``FileNotFoundError`` if the package does not ship this schema version.
    """
    path = (
        resources.files(_PACKAGE)
        / _SCHEMA_DIR
        / f"{KUBERNETES_SCHEMA_VERSION}-local"
        / _DEFINITIONS_FILE
    )
    document = orjson.loads(path.read_bytes())
    defs: dict[str, JSONSchema] = document["$defs"]
    return defs


def ref_name(ref: str) -> str:
    """Turn a ``$ref`` (``#/$defs/io.k8s...``) or a bare definition name into the name."""
    return ref[len(_REF_PREFIX) :] if ref.startswith(_REF_PREFIX) else ref


#: Definitions added at run time (the schemas of custom resources), by name.
_RUNTIME: dict[str, JSONSchema] = {}
#: Called after a run-time definition changed (to drop caches built from it).
_ON_CHANGE: list[Callable[[], None]] = []


def register_definition(name: str, schema: JSONSchema) -> None:
    """Add (or replace) the run-time definition ``name``; caches built from definitions
    are dropped. ``ValueError`` when ``name`` is an upstream definition."""
    if name in definitions():
        raise ValueError(f"{name!r} is an upstream definition")
    _RUNTIME[name] = schema
    for hook in _ON_CHANGE:
        hook()


def unregister_definition(name: str) -> None:
    """Remove a run-time definition (no-op when absent)."""
    if _RUNTIME.pop(name, None) is not None:
        for hook in _ON_CHANGE:
            hook()


def on_definitions_change(hook: Callable[[], None]) -> None:
    """Call ``hook`` whenever a run-time definition is added, replaced or removed."""
    _ON_CHANGE.append(hook)


def definition(ref: str) -> JSONSchema:
    """Return the definition named by ``ref`` (a bare name or a ``#/$defs/...`` ref).

    Raises ``KeyError`` when no such definition exists.
    """
    name = ref_name(ref)
    try:
        return definitions()[name]
    except KeyError:
        found = _RUNTIME.get(name)
        if found is None:
            raise KeyError(f"no schema definition named {name!r}") from None
        return found


def has_definition(ref: str) -> bool:
    """Tell whether a definition named by ``ref`` exists."""
    name = ref_name(ref)
    return name in definitions() or name in _RUNTIME
