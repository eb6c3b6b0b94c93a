"""The garbage collector: deletes dependents whose owners are gone, orphans and foreground.

As kube-controller-manager's ``garbagecollector``. The :class:`~controllers.gc.graph.Graph`
is fed by one informer per deletable resource; workers then act on its keys:

* ``delete/<uid>`` — a virtual node is looked up live (gone: forgotten, its dependents
  enqueued); an owner in foreground deletion loses ``foregroundDeletion`` once no
  dependent blocks it, else its blocking dependents are enqueued; any other object is
  classified by its owners (*solid*: exists; *dangling*: 404 or another uid;
  *waiting*: exists in foreground deletion). With a solid owner the references to
  dangling and waiting owners are patched out; without one the object is deleted
  (``Foreground`` if an owner waits and the object has dependents itself, else by its
  own ``orphan`` / ``foregroundDeletion`` finalizer, else ``Background``), with a uid
  precondition.
* ``orphan/<uid>`` — the owner's reference is removed from every dependent, then the
  owner's ``orphan`` finalizer.

Owner references resolve in the dependent's namespace for namespaced owner kinds;
a cluster-scoped object naming a namespaced owner is left alone. Every patch is a
JSON merge patch carrying the ``resourceVersion`` just read, so a concurrent write
makes it fail (409) and the key is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from apiserver.api.resources import ResourceInfo
from controllers.client.errors import is_conflict, is_not_found
from controllers.client.store import DeletedFinalStateUnknown
from controllers.gc.graph import FOREGROUND, ORPHAN, Graph, Node, delete_key
from controllers.gc.monitors import ResourceMonitors
from controllers.runtime.controller import KeyedController
from controllers.runtime.writer import Writer

__all__ = ["GarbageCollector", "Reader"]

log = logging.getLogger(__name__)


class Reader(Protocol):
    """Live reads (the collector never trusts its caches for existence)."""

    async def get(self, info: ResourceInfo, namespace: str | None, name: str) -> dict[str, Any]:
        """GET one object; raises a 404 ApiError when absent."""
        ...


class GarbageCollector(KeyedController):
    """Workers over the graph's ``delete/`` and ``orphan/`` keys."""

    name = "garbagecollector"

    def __init__(self, reader: Reader, writer: Writer, graph: Graph | None = None) -> None:
        super().__init__()
        self.reader = reader
        self.writer = writer
        self.graph = graph or Graph()
        #: Started with the workers when set: informers for kinds found at run time.
        self.monitors: ResourceMonitors | None = None

    async def run(self, workers: int) -> None:
        """The workers (:meth:`KeyedController.run`) and the discovery monitors."""
        if self.monitors is not None:
            self.monitors.start()
        try:
            await super().run(workers)
        finally:
            if self.monitors is not None:
                await self.monitors.stop()

    def discovered(self, infos: list[ResourceInfo]) -> None:
        """Tell the graph the run-time resources; check what it newly resolves."""
        self._enqueue(self.graph.set_discovered(infos))

    # -- informer handlers ------------------------------------------------------

    def handlers(self, info: ResourceInfo) -> tuple[Any, Any, Any]:
        """``(on_add, on_update, on_delete)`` feeding ``info``'s events into the graph."""

        def on_add(obj: Any) -> None:
            if isinstance(obj, dict):
                self._enqueue(self.graph.observe(info, obj))

        def on_update(_old: Any, new: Any) -> None:
            on_add(new)

        def on_delete(obj: Any) -> None:
            if isinstance(obj, DeletedFinalStateUnknown):
                obj = obj.obj
            if isinstance(obj, dict):
                uid = str((obj.get("metadata") or {}).get("uid") or "")
                self._enqueue(self.graph.forget(uid))

        return on_add, on_update, on_delete

    def _enqueue(self, keys: list[str]) -> None:
        for key in keys:
            self.queue.add(key)

    # -- sync -------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        kind, _, uid = key.partition("/")
        node = self.graph.nodes.get(uid)
        if node is None or node.info is None:
            return
        if kind == "orphan":
            await self._orphan(node)
        else:
            await self._attempt_delete(node)

    async def _live(self, info: ResourceInfo, namespace: str | None, name: str,
                    uid: str) -> dict[str, Any] | None:
        """The object at these coordinates if it still has ``uid``; None when gone."""
        try:
            obj = await self.reader.get(info, namespace if info.namespaced else None, name)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
        return obj if (obj.get("metadata") or {}).get("uid") == uid else None

    def _gone(self, uid: str) -> None:
        self._enqueue(self.graph.forget(uid))

    async def _attempt_delete(self, node: Node) -> None:
        assert node.info is not None
        if node.being_deleted and not node.deleting_dependents:
            return
        latest = await self._live(node.info, node.namespace, node.name, node.uid)
        if latest is None:
            self._gone(node.uid)
            return
        if node.virtual:
            # It exists: its informer will observe it shortly.
            return
        if node.deleting_dependents:
            await self._finish_foreground(node)
            return
        md = latest.get("metadata") or {}
        refs = [r for r in md.get("ownerReferences") or [] if r.get("uid")]
        if not refs:
            return
        classes = await self._classify(node, refs)
        if classes is None:
            return
        solid, dangling, waiting = classes
        if solid:
            if dangling or waiting:
                drop = {str(r["uid"]) for r in dangling + waiting}
                await self._drop_owner_refs(node, drop)
            return
        if waiting and node.dependents:
            if any(d.deleting_dependents for d in self.graph.dependents(node)):
                # A dependent also waits in the foreground: stop blocking our owners so a
                # cycle of foreground deletions cannot wait on itself.
                await self._unblock_owner_refs(node)
            policy = "Foreground"
        elif ORPHAN in (md.get("finalizers") or ()):
            policy = "Orphan"
        elif FOREGROUND in (md.get("finalizers") or ()):
            policy = "Foreground"
        else:
            policy = "Background"
        await self._delete(node, policy)

    async def _classify(
        self, node: Node, refs: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]] | None:
        """``(solid, dangling, waiting)`` owner references; None for an invalid object."""
        solid: list[dict[str, Any]] = []
        dangling: list[dict[str, Any]] = []
        waiting: list[dict[str, Any]] = []
        for ref in refs:
            info = self.graph.resolve(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""))
            if info is None:
                # A kind this collector cannot look up is never taken for gone.
                solid.append(ref)
                continue
            if info.namespaced and node.namespace is None:
                log.info("%s %s names namespaced owner %s %s; ignored",
                         node.kind, node.name, ref.get("kind"), ref.get("name"))
                return None
            namespace = node.namespace if info.namespaced else None
            owner = await self._owner_state(info, namespace, ref)
            if owner is None:
                dangling.append(ref)
            elif owner:
                waiting.append(ref)
            else:
                solid.append(ref)
        return solid, dangling, waiting

    async def _owner_state(self, info: ResourceInfo, namespace: str | None,
                           ref: Mapping[str, Any]) -> bool | None:
        """None when the owner is gone, else whether it is deleting its dependents."""
        uid, name = str(ref["uid"]), str(ref.get("name") or "")
        cached = self.graph.nodes.get(uid)
        if (cached is not None and not cached.virtual and cached.name == name
                and cached.namespace == namespace and cached.kind == info.kind):
            return cached.deleting_dependents
        live = await self._live(info, namespace, name, uid)
        if live is None:
            return None
        md = live.get("metadata") or {}
        return bool(md.get("deletionTimestamp")) and FOREGROUND in (md.get("finalizers") or ())

    async def _finish_foreground(self, owner: Node) -> None:
        blocking = self.graph.blocking_dependents(owner)
        if not blocking:
            await self._remove_finalizer(owner, FOREGROUND)
            return
        for dependent in blocking:
            if not dependent.being_deleted:
                self.queue.add(delete_key(dependent.uid))

    async def _orphan(self, owner: Node) -> None:
        for dependent in self.graph.dependents(owner):
            await self._drop_owner_refs(dependent, {owner.uid})
        await self._remove_finalizer(owner, ORPHAN)

    # -- writes -------------------------------------------------------------------

    async def _delete(self, node: Node, policy: str) -> None:
        assert node.info is not None
        log.info("deleting %s %s/%s (%s)", node.kind, node.namespace or "", node.name, policy)
        try:
            await self.writer.delete(node.info, node.namespace, node.name,
                                     preconditions={"uid": node.uid},
                                     propagation_policy=policy)
            self.metrics.writes += 1
        except Exception as exc:
            if not (is_not_found(exc) or is_conflict(exc)):
                raise
            if await self._live(node.info, node.namespace, node.name, node.uid) is None:
                self._gone(node.uid)

    async def _patch_metadata(self, node: Node, field: str,
                              keep: Any) -> None:
        """Merge-patch ``metadata.<field>`` to what ``keep(current)`` returns, if it differs."""
        assert node.info is not None
        latest = await self._live(node.info, node.namespace, node.name, node.uid)
        if latest is None:
            return
        md = latest.get("metadata") or {}
        current = list(md.get(field) or [])
        wanted = keep(current)
        if wanted == current:
            return
        patch = {"metadata": {"resourceVersion": md.get("resourceVersion"),
                              field: wanted or None}}
        try:
            await self.writer.patch(node.info, node.namespace, node.name, patch)
            self.metrics.writes += 1
        except Exception as exc:
            if not is_not_found(exc):
                raise

    async def _drop_owner_refs(self, node: Node, owner_uids: set[str]) -> None:
        await self._patch_metadata(
            node, "ownerReferences",
            lambda refs: [r for r in refs if r.get("uid") not in owner_uids],
        )

    async def _unblock_owner_refs(self, node: Node) -> None:
        await self._patch_metadata(
            node, "ownerReferences",
            lambda refs: [{**r, "blockOwnerDeletion": False} if r.get("blockOwnerDeletion")
                          else r for r in refs],
        )

    async def _remove_finalizer(self, node: Node, finalizer: str) -> None:
        await self._patch_metadata(
            node, "finalizers", lambda fins: [f for f in fins if f != finalizer],
        )
