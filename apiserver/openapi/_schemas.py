"""Private loader of the upstream schema definitions shipped by ``kubernetes-validate``.

The package ships the Kubernetes OpenAPI definitions converted to a JSON-schema
dialect (``$defs``, ``#/$defs/...`` refs, nullable type lists). This module
only reads that file; :mod:`apiserver.openapi.convert` turns it back into
OpenAPI. It is private to :mod:`apiserver.openapi` until the shared loader in
:mod:`apiserver.schema` exists.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import orjson

#: The Kubernetes release whose schemas are published (and reported by ``/version``).
KUBE_VERSION = "1.33.0"

#: Directory inside ``kubernetes_validate`` holding those schemas.
SCHEMA_DIR = f"v{KUBE_VERSION}-local"

#: Prefix of every reference in the JSON-schema dialect.
DEFS_REF_PREFIX = "#/$defs/"


@functools.cache
def definitions() -> dict[str, Any]:
    """All upstream definitions by name (``io.k8s.api.core.v1.Pod`` ...).

    Loaded once per process. The returned mapping is shared: callers must not
    mutate it (or anything inside it).
    """
    root = resources.files("kubernetes_validate") / "kubernetes-json-schema" / SCHEMA_DIR
    document = orjson.loads((root / "_definitions.json").read_bytes())
    defs: dict[str, Any] = document["$defs"]
    return defs


def ref_target(ref: str) -> str:
    """The definition name a ``#/$defs/<name>`` reference points to."""
    if not ref.startswith(DEFS_REF_PREFIX):
        raise ValueError(f"unexpected schema reference {ref!r}")
    return ref[len(DEFS_REF_PREFIX) :]
