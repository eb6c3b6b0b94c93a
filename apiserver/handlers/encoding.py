"""Response encodings: objects, lists and Tables, assembled from cached bytes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson

from apiserver.api import errors
from apiserver.api.resources import ResourceInfo
from apiserver.printing import build_table, table_row
from apiserver.storage.cache import CachedObject

TABLE_MEDIA = "application/json;as=Table;v=v1;g=meta.k8s.io"
_TABLE_VERSIONS = ("v1", "v1beta1")


def wants_table(accept: str) -> bool:
    """Whether the Accept header asks for a meta.k8s.io Table (as kubectl get does)."""
    for clause in accept.split(","):
        params = {}
        for part in clause.split(";")[1:]:
            if "=" in part:
                k, v = part.split("=", 1)
                params[k.strip()] = v.strip()
        if (
            params.get("as") == "Table"
            and params.get("g", "meta.k8s.io") == "meta.k8s.io"
            and params.get("v", "v1") in _TABLE_VERSIONS
        ):
            return True
    return False


def check_acceptable(accept: str) -> None:
    """406 when the client accepts nothing we can produce (JSON is always offered)."""
    if not accept:
        return
    for clause in accept.split(","):
        media = clause.split(";", 1)[0].strip().lower()
        if media in ("*/*", "application/*", "application/json", "application/yaml",
                     "application/vnd.kubernetes.protobuf", "application/json-patch+json",
                     "application/merge-patch+json", "application/strategic-merge-patch+json",
                     "text/plain", "application/jwt", "application/apply-patch+yaml", ""):
            return
    raise errors.not_acceptable(
        "only the following media types are accepted: application/json, application/yaml, "
        "application/vnd.kubernetes.protobuf"
    )


#: Items per chunk of a list body sent in parts (about half a megabyte of pods).
LIST_CHUNK_ITEMS = 256


class ListBody:
    """A ``<Kind>List`` of cached items' bytes (no re-encoding), ending with ``\\n``:
    ``length`` bytes in all, produced by :meth:`chunks` a few hundred items at a time.

    Built while the previous chunk is sent, a big list never exists as one copy (one
    join of ~20 MB costs several times its parts' joins into memory that is reused)."""

    __slots__ = ("_raws", "length")

    def __init__(self, info: ResourceInfo, items: list[CachedObject], resource_version: int,
                 continue_token: str | None, remaining: int | None) -> None:
        md: dict[str, Any] = {"resourceVersion": str(resource_version)}
        if continue_token:
            md["continue"] = continue_token
        if remaining is not None:
            md["remainingItemCount"] = remaining
        head = orjson.dumps({"kind": info.list_kind, "apiVersion": info.api_version,
                             "metadata": md})
        prefix = head[:-1] + b',"items":['
        relabel = info.relabel if info.storage_api_version else None
        raws = [relabel(o.raw) for o in items] if relabel else [o.raw for o in items]
        if not raws:
            raws = [prefix + b"]}\n"]
        else:
            # prefix + b",".join(items) + suffix: the prefix and suffix ride on the first
            # and last item.
            raws[0] = prefix + raws[0]
            raws[-1] += b"]}\n"
        self._raws = raws
        self.length = sum(map(len, raws)) + len(raws) - 1

    def chunks(self) -> Iterator[bytes]:
        """The body in order, ``LIST_CHUNK_ITEMS`` items per chunk."""
        raws = self._raws
        for start in range(0, len(raws), LIST_CHUNK_ITEMS):
            part = raws[start:start + LIST_CHUNK_ITEMS]
            if start:
                part.insert(0, b"")  # the comma after the previous chunk's last item
            yield b",".join(part)

    def joined(self) -> bytes:
        """The whole body as one bytes object."""
        return b",".join(self._raws)


def encode_list(
    info: ResourceInfo,
    items: list[CachedObject],
    resource_version: int,
    continue_token: str | None,
    remaining: int | None,
) -> bytes:
    """A ``<Kind>List`` made of the items' cached bytes (no re-encoding), ending with ``\\n``."""
    return ListBody(info, items, resource_version, continue_token, remaining).joined()


def encode_table(
    info: ResourceInfo,
    items: list[CachedObject],
    resource_version: int,
    now: datetime,
    include_object: str,
    continue_token: str | None = None,
    remaining: int | None = None,
) -> bytes:
    """A server-side ``Table`` of ``items`` (JSON ending with ``\\n``)."""
    table = build_table(
        info,
        [o.obj for o in items],
        str(resource_version),
        now,
        include_object=include_object,
        continue_token=continue_token,
        remaining=remaining,
    )
    return orjson.dumps(table, option=orjson.OPT_APPEND_NEWLINE)


def include_object_param(value: str | None) -> str:
    """Validate ``includeObject`` (None, Object, Metadata; default Metadata)."""
    if value in (None, ""):
        return "Metadata"
    if value in ("None", "Object", "Metadata"):
        return value
    raise errors.bad_request(
        f'includeObject: Unsupported value: "{value}": supported values: "Metadata", '
        '"None", "Object"'
    )


class JsonFrames:
    """Watch frames in JSON: ``{"type":T,"object":<cached bytes>}\\n`` (relabelled for a
    custom resource version that is not the storage version)."""

    fmt = "json"

    def __init__(self, info: ResourceInfo | None = None) -> None:
        self.info = info if info is not None and info.storage_api_version else None
        if self.info is not None:
            self.fmt = f"json:{self.info.api_version}"

    def encode(self, event_type: str, obj: CachedObject) -> bytes:
        raw = self.info.relabel(obj.raw) if self.info is not None else obj.raw
        return b'{"type":"' + event_type.encode() + b'","object":' + raw + b"}\n"


class TableFrames:
    """Watch frames carrying a one-row Table (no column definitions)."""

    def __init__(self, info: ResourceInfo, include_object: str, clock: Any) -> None:
        self.info = info
        self.include_object = include_object
        self.clock = clock
        self.fmt = f"table:{include_object}"

    def table(self, obj: CachedObject, with_headers: bool) -> dict[str, Any]:
        """The one-row Table of ``obj``."""
        now = self.clock()
        decoded = obj.obj  # a settled cached object decodes on every access
        return build_table(
            self.info,
            [decoded],
            decoded["metadata"].get("resourceVersion", ""),
            now,
            include_object=self.include_object,
            with_headers=with_headers,
        )

    def encode(self, event_type: str, obj: CachedObject) -> bytes:
        body = orjson.dumps({"type": event_type, "object": self.table(obj, False)})
        return body + b"\n"

    def first(self, event_type: str, obj: CachedObject) -> bytes:
        """The first frame of a watch: the same Table with column definitions."""
        return orjson.dumps({"type": event_type, "object": self.table(obj, True)}) + b"\n"


__all__ = ["table_row"]
