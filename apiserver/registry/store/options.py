"""Options, results and small helpers of the generic store (no storage access here).

Everything a caller passes to or gets back from :class:`~apiserver.registry.store.Store`
is defined here: list/delete options as parsed from a request, a list page, a delete's
result, the options admission sees, continue tokens, and upstream's field order.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from apiserver.api import errors
from apiserver.api.fields import FieldSelector
from apiserver.api.labels import LabelSelector
from apiserver.storage.cache import CachedObject

Clock = Callable[[], datetime]


class Finisher(Protocol):
    """What a ``begin_create``/``begin_update`` hook returns (upstream ``FinishFunc``)."""

    async def commit(self) -> None: ...

    async def revert(self) -> None: ...


#: Top-level and metadata field order of upstream's Go structs, so objects
#: read like kube-apiserver's.
_TOP_ORDER = ("kind", "apiVersion", "metadata", "spec", "status")
_META_ORDER = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


@dataclass(frozen=True, slots=True)
class ListOptions:
    """Query options of a list (already parsed and validated)."""

    namespace: str | None = None
    label_selector: LabelSelector | None = None
    field_selector: FieldSelector | None = None
    limit: int = 0
    continue_token: str | None = None
    resource_version: str | None = None
    resource_version_match: str | None = None


def write_options(kind: str, dry_run: bool, manager: str | None) -> dict[str, Any]:
    """The ``CreateOptions``/``UpdateOptions`` of a write, as admission sees them."""
    out: dict[str, Any] = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
    if dry_run:
        out["dryRun"] = ["All"]
    if manager:
        out["fieldManager"] = manager
    return out


@dataclass(frozen=True, slots=True)
class ListResult:
    """One page of a list."""

    items: list[CachedObject]
    resource_version: int
    continue_token: str | None
    remaining: int | None


@dataclass(frozen=True, slots=True)
class DeleteOptions:
    """The parts of ``DeleteOptions`` the store acts on."""

    grace_period_seconds: int | None = None
    precondition_uid: str | None = None
    precondition_resource_version: str | None = None
    propagation_policy: str | None = None
    orphan_dependents: bool | None = None
    dry_run: bool = False


def delete_options(opts: DeleteOptions) -> dict[str, Any]:
    """The ``DeleteOptions`` of a delete, as admission sees them."""
    out: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"}
    if opts.grace_period_seconds is not None:
        out["gracePeriodSeconds"] = opts.grace_period_seconds
    preconditions = {k: v for k, v in (("uid", opts.precondition_uid),
                                       ("resourceVersion", opts.precondition_resource_version))
                     if v is not None}
    if preconditions:
        out["preconditions"] = preconditions
    if opts.orphan_dependents is not None:
        out["orphanDependents"] = opts.orphan_dependents
    if opts.propagation_policy is not None:
        out["propagationPolicy"] = opts.propagation_policy
    if opts.dry_run:
        out["dryRun"] = ["All"]
    return out


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """``obj`` is the final (or marked) object; ``deleted`` whether it is gone."""

    obj: CachedObject
    deleted: bool




def order_object(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with top-level and metadata keys in upstream's order."""
    out: dict[str, Any] = {k: obj[k] for k in _TOP_ORDER if k in obj}
    for k, v in obj.items():
        if k not in out:
            out[k] = v
    md = out.get("metadata")
    if isinstance(md, dict):
        ordered = {k: md[k] for k in _META_ORDER if k in md}
        for k, v in md.items():
            if k not in ordered:
                ordered[k] = v
        out["metadata"] = ordered
    return out


def encode_continue(revision: int, last_key: str) -> str:
    """Upstream's continue token: base64url JSON of {v, rv, start}."""
    body = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": last_key + "\x00"})
    return base64.urlsafe_b64encode(body).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """(revision, start key) of a continue token; raises 400 when malformed."""
    try:
        padded = token + "=" * (-len(token) % 4)
        body = orjson.loads(base64.urlsafe_b64decode(padded))
        if body.get("v") != "meta.k8s.io/v1":
            raise ValueError("version")
        return int(body["rv"]), str(body["start"])
    except (ValueError, KeyError, TypeError, AttributeError, orjson.JSONDecodeError) as exc:
        raise errors.bad_request(f"continue key is not valid: {exc}") from exc

def now_utc() -> datetime:
    """The default clock."""
    return datetime.now(UTC)

