"""``metadata.managedFields``: who owns which fields, kept on every write.

* :func:`record_update` — a create, update or non-apply patch by ``manager``: it takes
  ownership of every field it added or changed (taking it from other managers) and
  fields it removed leave every manager's set; recorded as an ``Update`` entry.
* :func:`apply` — server-side apply by ``manager``: the applied configuration is merged
  into the live object, fields another manager owns and the apply changes are conflicts
  (409 ``FieldManagerConflict`` unless ``force``), the manager's ``Apply`` entry becomes
  exactly the applied configuration's fields, and fields it stopped applying that
  nobody else owns are removed from the object. Applies by ``kubectl`` also get
  upstream's client-side-apply upgrade (:mod:`.lastapplied`).

Entries with the same manager, operation, (for updates) apiVersion and subresource are
one entry; empty entries disappear; the list is ordered as upstream orders it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apiserver.api import errors, meta
from apiserver.registry.managedfields import lastapplied
from apiserver.registry.managedfields.createwalk import DuplicateItem, Strip, create_fields_v1
from apiserver.registry.managedfields.fieldpath import (
    FieldSet,
    FieldTrie,
    Path,
    emit_fields_v1,
    from_fields_v1,
    path_sort_key,
    path_string,
    to_fields_v1,
)
from apiserver.registry.managedfields.typed import (
    compare,
    field_trie,
    field_values,
    merge,
    prune_trie,
    remove_path,
)
from apiserver.schema import SchemaNode, root_node

APPLY = "Apply"
UPDATE = "Update"

#: Paths never owned by anyone (upstream's stripped metadata).
_STRIPPED: frozenset[Path] = frozenset({
    ("f:apiVersion",),
    ("f:kind",),
    ("f:metadata",),
    *(("f:metadata", "f:" + name) for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
        "generation", "managedFields", "resourceVersion",
    )),
})
#: :data:`_STRIPPED` as the create walk's strip: top-level names that are not members,
#: and below ``metadata`` the same plus ``managedFields``, dropped whole.
_ROOT_UNOWNED = frozenset(p[0][2:] for p in _STRIPPED if len(p) == 1)
_ROOT_NESTED: dict[str, Strip] = {"metadata": (
    frozenset({"managedFields"}),
    frozenset(p[1][2:] for p in _STRIPPED if len(p) == 2 and p[0] == "f:metadata"),
    {},
)}


@dataclass
class Entry:
    """One ``managedFields`` entry, with its fields decoded."""

    manager: str
    operation: str
    api_version: str
    time: str | None
    fields: FieldSet = field(default_factory=set)
    subresource: str = ""
    #: The FieldsV1 this entry was decoded from and the field set it describes:
    #: an entry whose fields did not change is written back without re-encoding.
    decoded_from: tuple[Any, frozenset[Path]] | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Upstream's manager identifier (appliers are one manager across versions)."""
        version = "" if self.operation == APPLY else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def describe(self) -> str:
        """The manager as upstream names it in conflict messages."""
        text = f'"{self.manager}"'
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if self.time is not None:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        if self.decoded_from is not None and self.fields == self.decoded_from[1]:
            out["fieldsV1"] = self.decoded_from[0]
        else:
            out["fieldsV1"] = to_fields_v1(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def decode_entries(raw: Any) -> list[Entry]:
    """Entries of a ``managedFields`` list (malformed entries are dropped)."""
    out: list[Entry] = []
    if not isinstance(raw, list):
        return out
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("manager", ""), str):
            continue
        operation = item.get("operation")
        if operation not in (APPLY, UPDATE):
            continue
        time = item.get("time")
        fields = from_fields_v1(item.get("fieldsV1"))
        out.append(Entry(
            manager=item.get("manager") or "",
            operation=operation,
            api_version=str(item.get("apiVersion") or ""),
            time=time if isinstance(time, str) else None,
            fields=fields,
            subresource=str(item.get("subresource") or ""),
            decoded_from=(item.get("fieldsV1"), frozenset(fields)),
        ))
    return out


def _entry_order(entry: Entry) -> tuple[Any, ...]:
    moment = meta.parse_rfc3339(entry.time) if entry.time else None
    seconds = int(moment.timestamp()) if moment is not None else 0
    return (entry.operation, seconds, entry.manager, entry.api_version, entry.subresource)


def encode_entries(entries: list[Entry]) -> list[dict[str, Any]]:
    """The ``managedFields`` list: non-empty entries in upstream's order."""
    merged: dict[tuple[str, str, str, str], Entry] = {}
    for entry in entries:
        if not entry.fields:
            continue
        previous = merged.get(entry.key)
        if previous is None:
            merged[entry.key] = entry
        else:
            previous.fields |= entry.fields
            previous.time = max(previous.time or "", entry.time or "") or None
    return [e.encode() for e in sorted(merged.values(), key=_entry_order)]


def _owned_values(obj: dict[str, Any], root: SchemaNode, reset: Path,
                  containers: bool) -> dict[Path, Any]:
    values = field_values(obj, root, containers=containers)
    out: dict[Path, Any] = {}
    for path, value in values.items():
        if path in _STRIPPED or path[:2] == ("f:metadata", "f:managedFields"):
            continue
        if reset and path[: len(reset)] == reset:
            continue
        out[path] = value
    return out


@dataclass(frozen=True)
class Scope:
    """What a write is: the kind's schema, its apiVersion and the subresource."""

    schema_ref: str
    api_version: str
    subresource: str = ""
    #: The part of the object the main resource does not write (``("f:status",)``).
    status_path: Path | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def reset_path(self) -> Path:
        """The part of the object this write does not own: ``spec`` for ``/status``,
        else :attr:`status_path` (``()`` when none)."""
        reset = ("f:spec",) if self.subresource == "status" else self.status_path
        return reset or ()

    def values(self, obj: dict[str, Any], containers: bool = True) -> dict[Path, Any]:
        """Owned paths of ``obj`` as this write sees them (``containers``: see
        :func:`~apiserver.registry.managedfields.typed.field_values`)."""
        return _owned_values(obj, self.root() or _ANY_ROOT, self.reset_path, containers)

    def root(self) -> SchemaNode | None:
        try:
            return root_node(self.schema_ref)
        except KeyError:
            return None

    def timestamp(self) -> str:
        return meta.rfc3339(self.now())


_ANY_ROOT = SchemaNode(schema={"x-kubernetes-preserve-unknown-fields": True})


def record_update(
    old: dict[str, Any] | None, new: dict[str, Any], manager: str, scope: Scope
) -> None:
    """Record a non-apply write of ``new`` (over ``old``) by ``manager`` in ``new``."""
    new_md = new.setdefault("metadata", {})
    incoming = new_md.get("managedFields")
    if old is None and not incoming:
        _record_create(new, new_md, manager, scope)
        return
    if old is not None and (scope.subresource or not incoming):
        entries = decode_entries((old.get("metadata") or {}).get("managedFields"))
    else:
        entries = decode_entries(incoming)
    before = scope.values(old) if old is not None else {}
    after = scope.values(new)
    added, modified, removed = compare(before, after)
    changed = added | modified
    own_key = (manager, UPDATE, scope.api_version, scope.subresource)
    own: Entry | None = None
    for entry in entries:
        if entry.key == own_key and own is None:
            own = entry
            continue
        entry.fields -= changed
        entry.fields -= removed
    if changed:
        if own is None:
            own = Entry(manager, UPDATE, scope.api_version, None, set(), scope.subresource)
            entries.append(own)
        own.fields = (own.fields | changed) - removed
        own.time = scope.timestamp()
    elif own is not None:
        own.fields -= removed
    encoded = encode_entries(entries)
    if encoded:
        new_md["managedFields"] = encoded
    else:
        new_md.pop("managedFields", None)


def _record_create(
    new: dict[str, Any], new_md: dict[str, Any], manager: str, scope: Scope
) -> None:
    """A create with no managedFields of its own: ``manager`` owns every field.

    The same result as the general path (one Update entry holding all owned paths),
    computed in one walk: creates are the hottest write.
    """
    fields = _create_fields(new, scope.root() or _ANY_ROOT, scope.reset_path)
    if fields is None:
        new_md.pop("managedFields", None)
        return
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": UPDATE,
        "apiVersion": scope.api_version,
        "time": scope.timestamp(),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if scope.subresource:
        entry["subresource"] = scope.subresource
    new_md["managedFields"] = [entry]


def _create_fields(new: dict[str, Any], root: SchemaNode,
                   reset: Path) -> dict[str, Any] | None:
    """The FieldsV1 a create owns (``None``: nothing): one walk, or the trie where the
    walk cannot (list items sharing a key, a reset path below the top level)."""
    if len(reset) <= 1:
        strip = (frozenset(e[2:] for e in reset), _ROOT_UNOWNED, _ROOT_NESTED)
        try:
            return create_fields_v1(new, root, strip)
        except DuplicateItem:
            pass
    return _create_fields_by_trie(new, root, reset)


def _create_fields_by_trie(new: dict[str, Any], root: SchemaNode,
                           reset: Path) -> dict[str, Any] | None:
    """:func:`_record_create`'s FieldsV1 through a trie, which merges list items that
    share a key."""
    trie = field_trie(new, root, containers=True)
    for path in _STRIPPED:
        node: FieldTrie | None = trie
        for element in path:
            node = node.children.get(element) if node is not None else None
        if node is not None:
            node.member = False
    for prefix in (("f:metadata", "f:managedFields"), reset):
        if not prefix:
            continue
        parent: FieldTrie | None = trie
        for element in prefix[:-1]:
            parent = parent.children.get(element) if parent is not None else None
        if parent is not None:
            parent.children.pop(prefix[-1], None)
    if prune_trie(trie):
        return None
    return emit_fields_v1(trie)


def _conflict_error(conflicts: list[tuple[Entry, Path]]) -> errors.ApiError:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {entry.describe()}",
            "field": path_string(path),
        }
        for entry, path in conflicts
    ]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {entry.describe()}: "
            f"{path_string(path)}"
        )
    else:
        lines: list[str] = []
        by_manager: dict[str, list[Path]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(entry.describe(), []).append(path)
        for name in sorted(by_manager):
            lines.append(f"conflicts with {name}:")
            lines.extend(f"- {path_string(p)}" for p in by_manager[name])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return errors.ApiError(409, "Conflict", message, {"causes": causes})


def apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str,
    scope: Scope,
    force: bool,
) -> dict[str, Any]:
    """The object after ``manager`` applies ``config`` to ``live`` (``None``: creating)."""
    root = scope.root()
    live_obj = copy.deepcopy(live) if live is not None else {}
    live_md = live_obj.setdefault("metadata", {})
    entries = decode_entries(live_md.pop("managedFields", None))
    config = copy.deepcopy(config)
    config_md = config.get("metadata")
    if isinstance(config_md, dict):
        config_md.pop("managedFields", None)
    merged: dict[str, Any] = merge(live_obj, config, root)
    config_set = set(scope.values(config, containers=False))
    apply_key = (manager, APPLY, "", scope.subresource)
    mine: Entry | None = next((e for e in entries if e.key == apply_key), None)
    last = set(mine.fields) if mine is not None else set()
    others = [e for e in entries if e is not mine]
    # Fields the manager stopped applying that nobody else owns leave the object.
    owned: FieldSet = set(config_set)
    for entry in others:
        owned |= entry.fields
    for path in sorted(last - owned, key=len):
        if any(o[: len(path)] == path for o in owned):
            continue
        remove_path(merged, path, root)
    before = scope.values(live_obj) if live is not None else {}
    after = scope.values(merged)
    added, modified, removed = compare(before, after)
    changed = added | modified
    conflicts: list[tuple[Entry, Path]] = []
    for entry in others:
        for path in sorted(entry.fields & changed, key=path_sort_key):
            conflicts.append((entry, path))
    if conflicts and not force and manager == lastapplied.KUBECTL:
        exempt = lastapplied.exempt_fields(live, scope)
        conflicts = [c for c in conflicts if c[1] not in exempt]
    if conflicts and not force:
        conflicts.sort(key=lambda c: (c[0].manager, path_sort_key(c[1])))
        raise _conflict_error(conflicts)
    for entry in others:
        entry.fields -= changed
        entry.fields -= removed
    object_changed = merged != live_obj or live is None
    if mine is None:
        mine = Entry(manager, APPLY, scope.api_version, None, set(), scope.subresource)
        entries.append(mine)
    if object_changed or mine.fields != config_set or mine.time is None:
        mine.time = scope.timestamp()
    mine.fields = config_set
    mine.api_version = scope.api_version
    encoded = encode_entries(entries)
    merged_md = merged.setdefault("metadata", {})
    if encoded:
        merged_md["managedFields"] = encoded
    else:
        merged_md.pop("managedFields", None)
    if manager == lastapplied.KUBECTL:
        lastapplied.refresh(merged, config)
    return merged
