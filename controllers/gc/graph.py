"""The garbage collector's dependency graph: objects by uid, their owners and dependents.

Built from informer events only (:meth:`Graph.observe` for adds and updates,
:meth:`Graph.forget` for deletes and for objects a live lookup found gone). A node is
*virtual* while it is known only from some dependent's ``ownerReference``; the
collector checks virtual nodes against the apiserver.

Every method returns the work items its change calls for, as queue keys:
``delete/<uid>`` (decide whether the object must go, or, for an owner in foreground
deletion, whether its ``foregroundDeletion`` finalizer may go) and ``orphan/<uid>``
(take the owner's references out of its dependents, then drop ``orphan``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apiserver.api.resources import RESOURCES, ResourceInfo, by_kind

__all__ = [
    "FOREGROUND",
    "ORPHAN",
    "Graph",
    "Node",
    "delete_key",
    "orphan_key",
    "resource_for",
]

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"


def delete_key(uid: str) -> str:
    """The queue key asking whether ``uid`` must be deleted (or may finish deleting)."""
    return f"delete/{uid}"


def orphan_key(uid: str) -> str:
    """The queue key asking to orphan ``uid``'s dependents."""
    return f"orphan/{uid}"


def resource_for(api_version: str, kind: str) -> ResourceInfo | None:
    """The served resource of ``kind`` in ``api_version``'s group (any served version)."""
    info = by_kind(api_version, kind)
    if info is not None:
        return info
    group = api_version.rpartition("/")[0]
    return next((r for r in RESOURCES if r.group == group and r.kind == kind), None)


@dataclass(eq=False)
class Node:
    """One object (or, while ``virtual``, one object some dependent names as owner)."""

    uid: str
    api_version: str
    kind: str
    namespace: str | None
    name: str
    info: ResourceInfo | None
    virtual: bool = False
    owners: list[dict[str, Any]] = field(default_factory=list)
    finalizers: tuple[str, ...] = ()
    being_deleted: bool = False
    dependents: set[str] = field(default_factory=set)

    @property
    def deleting_dependents(self) -> bool:
        """Being deleted in the foreground: waits for its blocking dependents."""
        return self.being_deleted and FOREGROUND in self.finalizers

    @property
    def orphaning(self) -> bool:
        """Being deleted with the ``orphan`` finalizer."""
        return self.being_deleted and ORPHAN in self.finalizers

    def owner_ref(self, owner_uid: str) -> dict[str, Any] | None:
        """This node's reference to ``owner_uid``, if any."""
        return next((r for r in self.owners if r.get("uid") == owner_uid), None)


def _blocks(ref: Mapping[str, Any] | None) -> bool:
    return bool(ref and ref.get("blockOwnerDeletion"))


class Graph:
    """Nodes by uid; dependents are linked from their owners by uid."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        #: Resources found at run time (custom resources), by ``(group, kind)``.
        self.discovered: dict[tuple[str, str], ResourceInfo] = {}

    def resolve(self, api_version: str, kind: str) -> ResourceInfo | None:
        """The served resource of ``kind`` in ``api_version``'s group: built-in or discovered."""
        info = resource_for(api_version, kind)
        if info is None:
            info = self.discovered.get((api_version.rpartition("/")[0], kind))
        return info

    def set_discovered(self, infos: Iterable[ResourceInfo]) -> list[str]:
        """Replace the run-time resources; the keys of owners known only by reference
        whose kind now resolves (to be checked against the apiserver) and their dependents."""
        self.discovered = {(i.group, i.kind): i for i in infos}
        keys: list[str] = []
        for node in list(self.nodes.values()):
            if not node.virtual or node.info is not None:
                continue
            info = self.resolve(node.api_version, node.kind)
            if info is None:
                continue
            dependents = self.dependents(node)
            node.info = info
            node.namespace = dependents[0].namespace if info.namespaced and dependents else None
            keys.append(delete_key(node.uid))
            keys.extend(delete_key(d.uid) for d in dependents)
        return keys

    def dependents(self, node: Node) -> list[Node]:
        """``node``'s dependents that are in the graph."""
        return [d for uid in node.dependents if (d := self.nodes.get(uid)) is not None]

    def blocking_dependents(self, node: Node) -> list[Node]:
        """Dependents whose reference to ``node`` has ``blockOwnerDeletion: true``."""
        return [d for d in self.dependents(node) if _blocks(d.owner_ref(node.uid))]

    def observe(self, info: ResourceInfo, obj: Mapping[str, Any]) -> list[str]:
        """Record an added or updated object; the keys its change enqueues."""
        md = obj.get("metadata") or {}
        uid = str(md.get("uid") or "")
        if not uid:
            return []
        keys: list[str] = []
        node = self.nodes.get(uid)
        fresh = node is None or node.virtual
        if node is None:
            node = Node(uid, info.api_version, info.kind, None, "", info)
            self.nodes[uid] = node
        was_orphaning = not fresh and node.orphaning
        was_deleting_dependents = not fresh and node.deleting_dependents
        node.virtual = False
        node.api_version, node.kind, node.info = info.api_version, info.kind, info
        node.namespace = md.get("namespace") or None
        node.name = str(md.get("name") or "")
        old_refs = {str(r.get("uid")): r for r in node.owners}
        node.owners = [dict(r) for r in md.get("ownerReferences") or [] if r.get("uid")]
        node.finalizers = tuple(md.get("finalizers") or ())
        node.being_deleted = bool(md.get("deletionTimestamp"))
        new_refs = {str(r["uid"]): r for r in node.owners}
        for owner_uid, ref in old_refs.items():
            owner = self.nodes.get(owner_uid)
            if owner is None:
                continue
            if owner_uid not in new_refs:
                owner.dependents.discard(uid)
            if _blocks(ref) and not _blocks(new_refs.get(owner_uid)) and owner.deleting_dependents:
                keys.append(delete_key(owner_uid))
        for owner_uid, ref in new_refs.items():
            owner = self.nodes.get(owner_uid)
            if owner is None:
                owner = self._virtual(ref, node)
                keys.append(delete_key(owner_uid))
            owner.dependents.add(uid)
        if node.orphaning and not was_orphaning:
            keys.append(orphan_key(uid))
        if node.deleting_dependents and not was_deleting_dependents:
            keys.extend(delete_key(d) for d in node.dependents)
            keys.append(delete_key(uid))
        return keys

    def _virtual(self, ref: Mapping[str, Any], dependent: Node) -> Node:
        api_version, kind = str(ref.get("apiVersion") or ""), str(ref.get("kind") or "")
        info = self.resolve(api_version, kind)
        namespace = dependent.namespace if info is not None and info.namespaced else None
        node = Node(str(ref["uid"]), api_version, kind, namespace, str(ref.get("name") or ""),
                    info, virtual=True)
        self.nodes[node.uid] = node
        return node

    def forget(self, uid: str) -> list[str]:
        """Drop ``uid`` (deleted, or found gone); its dependents and waiting owners are enqueued."""
        node = self.nodes.pop(uid, None)
        if node is None:
            return []
        keys = [delete_key(d) for d in node.dependents if d in self.nodes]
        for ref in node.owners:
            owner = self.nodes.get(str(ref.get("uid")))
            if owner is None:
                continue
            owner.dependents.discard(uid)
            if owner.deleting_dependents:
                keys.append(delete_key(owner.uid))
            elif owner.virtual and not owner.dependents:
                # Nobody names it any more: nothing left to check it for.
                del self.nodes[owner.uid]
        return keys
