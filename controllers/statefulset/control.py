"""One reconciliation of one StatefulSet (upstream ``stateful_set_control.go``).

:meth:`StatefulSetControl.sync` takes the set and the cached pods, revisions and claims,
and in one pass:

1. finds or records the update revision (the current template) and the current revision
   (``status.currentRevision``), bumping ``collisionCount`` on a name clash;
2. replaces failed pods and creates missing ones (claims first), in ordinal order;
   ``OrderedReady`` stops at the first pod it created or that is not Running and Ready
   (nor available, with ``minReadySeconds``), ``Parallel`` does them all;
3. deletes pods beyond ``replicas`` highest ordinal first, one at a time and only when
   every pod below is healthy under ``OrderedReady``, all at once under ``Parallel``;
4. under ``RollingUpdate`` deletes the highest out-of-date pod with index ≥ ``partition``,
   one at a time, each only after the pods above it are healthy again (the next pass
   recreates it from the update revision); ``OnDelete`` leaves that to the user;
5. writes ``/status`` when it changed and deletes revisions beyond
   ``revisionHistoryLimit`` that nothing uses.

It returns how long to wait before looking again (pods waiting out ``minReadySeconds``)
or None.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from apiserver.api.resources import served
from controllers.client.errors import is_already_exists, is_not_found
from controllers.client.store import Store
from controllers.runtime.events import EventRecorder
from controllers.runtime.writer import Writer
from controllers.statefulset.history import (
    equal_revisions,
    new_revision,
    next_revision_number,
    revisions_to_truncate,
)
from controllers.statefulset.pods import (
    Obj,
    controller_ref,
    is_created,
    is_failed,
    is_running_and_ready,
    is_terminating,
    meta,
    new_claims,
    new_pod,
    ordinal_of,
    pod_revision,
    seconds_until_available,
    spec,
    start_ordinal,
)

__all__ = ["CLAIMS", "PODS", "REVISIONS", "STATEFULSETS", "StatefulSetControl", "owned_by"]

STATEFULSETS = served("apps", "v1", "statefulsets")
REVISIONS = served("apps", "v1", "controllerrevisions")
PODS = served("", "v1", "pods")
CLAIMS = served("", "v1", "persistentvolumeclaims")

_STATUS_FIELDS = ("observedGeneration", "replicas", "readyReplicas", "currentReplicas",
                  "updatedReplicas", "availableReplicas", "currentRevision",
                  "updateRevision", "collisionCount")


def owned_by(obj: Obj, uid: str) -> bool:
    """Whether ``obj``'s controller ownerReference points at ``uid``."""
    return any(r.get("controller") and r.get("uid") == uid
               for r in meta(obj).get("ownerReferences") or [])


def _set_from_revision(sts: Obj, revision: Obj) -> Obj:
    """``sts`` with the template ``revision`` recorded (``ApplyRevision``)."""
    out = copy.deepcopy(sts)
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template")
                             or {})
    template.pop("$patch", None)
    out.setdefault("spec", {})["template"] = template
    return out


class _Pass:
    """The state of one sync: the pods by ordinal, changed in place as writes succeed."""

    def __init__(self, sts: Obj, pods: list[Obj]) -> None:
        sp = spec(sts)
        self.sts = sts
        self.name = str(meta(sts).get("name"))
        self.start = start_ordinal(sts)
        self.replicas = int(sp.get("replicas", 1) or 0)
        self.monotonic = sp.get("podManagementPolicy", "OrderedReady") != "Parallel"
        self.min_ready = int(sp.get("minReadySeconds") or 0)
        self.slots: dict[int, Obj] = {}
        self.condemned: list[tuple[int, Obj]] = []
        for pod in pods:
            ordinal = ordinal_of(self.name, pod)
            if ordinal is None:
                continue
            if self.start <= ordinal < self.start + self.replicas:
                self.slots[ordinal] = pod
            else:
                self.condemned.append((ordinal, pod))
        self.condemned.sort(key=lambda item: item[0], reverse=True)
        self.requeue: float | None = None

    def pods(self) -> list[Obj]:
        return [*self.slots.values(), *(p for _, p in self.condemned)]

    def wait_available(self, pod: Obj, now: datetime) -> bool:
        """True (and a requeue noted) while a ready pod waits out ``minReadySeconds``."""
        left = seconds_until_available(pod, self.min_ready, now)
        if left > 0:
            self.requeue = left if self.requeue is None else min(self.requeue, left)
            return True
        return False


class StatefulSetControl:
    """Reconciles StatefulSets from cached pods, revisions and claims through ``writer``."""

    def __init__(self, pods: Store, revisions: Store, claims: Store, writer: Writer) -> None:
        self.pods = pods
        self.revisions = revisions
        self.claims = claims
        self.writer = writer
        self.writes = 0
        self.events = EventRecorder(writer, "statefulset-controller")

    async def _pod_event(self, verb: str, sts: Obj, pod: Obj, err: Exception | None) -> None:
        """Upstream's ``recordPodEvent``: ``<verb> Pod p in StatefulSet s successful|failed``."""
        what = f"{verb} Pod {meta(pod).get('name')} in StatefulSet {meta(sts).get('name')}"
        title = verb.capitalize()
        if err is None:
            await self.events.event(sts, "Normal", f"Successful{title}", f"{what} successful")
        else:
            await self.events.event(sts, "Warning", f"Failed{title}",
                                    f"{what} failed error: {getattr(err, 'message', err)}")

    async def sync(self, sts: Obj, now: datetime | None = None) -> float | None:
        """Reconcile ``sts`` once; the delay before the next look, or None."""
        now = now or datetime.now(UTC)
        md = meta(sts)
        ns, uid = str(md.get("namespace")), str(md.get("uid"))
        pods = [p for p in self.pods.in_namespace(ns) if owned_by(p, uid)]
        revisions = sorted((r for r in self.revisions.in_namespace(ns) if owned_by(r, uid)),
                           key=lambda r: (int(r.get("revision") or 0), meta(r).get("name")))
        status = dict(sts.get("status") or {})
        collisions = int(status.get("collisionCount") or 0)
        update, collisions = await self._update_revision(sts, revisions, collisions)
        current = next((r for r in revisions
                        if meta(r).get("name") == status.get("currentRevision")), update)
        state = _Pass(sts, pods)
        await self._pods(sts, state, _set_from_revision(sts, current), current, update, now)
        settled = await self._status(sts, state, current, update, collisions, now)
        if all(r is not update for r in revisions):
            revisions = [r for r in revisions if meta(r).get("name") != meta(update).get("name")]
            revisions.append(update)
        await self._truncate(sts, revisions, state, {settled, str(meta(update).get("name"))})
        return state.requeue

    # -- revisions ----------------------------------------------------------------

    async def _update_revision(self, sts: Obj, revisions: list[Obj],
                               collisions: int) -> tuple[Obj, int]:
        ns = meta(sts).get("namespace")
        number = next_revision_number(revisions)
        candidate = new_revision(sts, number, collisions)
        equal = [r for r in revisions if equal_revisions(r, candidate)]
        if equal and equal[-1] is revisions[-1]:
            return equal[-1], collisions
        if equal:
            renumbered = copy.deepcopy(equal[-1])
            renumbered["revision"] = number
            self.writes += 1
            return await self.writer.update(REVISIONS, ns, renumbered), collisions
        while True:
            try:
                self.writes += 1
                return await self.writer.create(REVISIONS, ns, candidate), collisions
            except Exception as exc:
                if not is_already_exists(exc):
                    raise
            name = str(meta(candidate).get("name"))
            existing = self.revisions.get(str(ns), name)
            if existing is None:
                raise RuntimeError(f"revision {ns}/{name} exists but is not cached yet")
            if owned_by(existing, str(meta(sts).get("uid"))) and \
                    equal_revisions(existing, candidate):
                return existing, collisions
            collisions += 1
            candidate = new_revision(sts, number, collisions)

    async def _truncate(self, sts: Obj, revisions: list[Obj], state: _Pass,
                        live: set[str]) -> None:
        live.update(pod_revision(p) for p in state.pods())
        limit = int(spec(sts).get("revisionHistoryLimit", 10) or 0)
        for old in revisions_to_truncate(revisions, live, limit):
            try:
                self.writes += 1
                await self.writer.delete(REVISIONS, meta(old).get("namespace"),
                                         str(meta(old).get("name")))
            except Exception as exc:
                if not is_not_found(exc):
                    raise

    # -- pods ---------------------------------------------------------------------

    async def _pods(self, sts: Obj, state: _Pass, current_set: Obj, current: Obj,
                    update: Obj, now: datetime) -> None:
        sp = spec(sts)
        strategy = sp.get("updateStrategy") or {}
        rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        end = state.start + state.replicas
        for ordinal in range(state.start, end):
            pod = state.slots.get(ordinal)
            if pod is not None and is_failed(pod) and not is_terminating(pod):
                await self._delete_pod(state, pod)
                if state.monotonic:
                    return
                continue
            if pod is None:
                if rolling and ordinal - state.start < partition:
                    made = new_pod(sts, ordinal, str(meta(current).get("name")), current_set)
                else:
                    made = new_pod(sts, ordinal, str(meta(update).get("name")), sts)
                state.slots[ordinal] = await self._create_pod(sts, made)
                if state.monotonic:
                    return
                continue
            if state.monotonic and (is_terminating(pod) or not is_running_and_ready(pod)):
                return
            if state.monotonic and state.wait_available(pod, now):
                return
        for _ordinal, pod in list(state.condemned):
            if is_terminating(pod):
                if state.monotonic:
                    return
                continue
            if state.monotonic and not is_running_and_ready(pod) and \
                    _first_unhealthy(state) is not pod:
                return
            await self._delete_condemned(sts, state, pod)
            if state.monotonic:
                return
        if not rolling:
            return
        update_name = str(meta(update).get("name"))
        for ordinal in range(end - 1, state.start + partition - 1, -1):
            pod = state.slots.get(ordinal)
            if pod is None:
                continue
            if pod_revision(pod) != update_name and not is_terminating(pod):
                await self._delete_pod(state, pod)
                return
            if not is_running_and_ready(pod) or is_terminating(pod) or \
                    state.wait_available(pod, now):
                return

    async def _create_pod(self, sts: Obj, pod: Obj) -> Obj:
        ns = str(meta(sts).get("namespace"))
        pod_name = str(meta(pod).get("name"))
        for claim in new_claims(sts, pod_name):
            name = str(meta(claim).get("name"))
            cached = self.claims.get(ns, name)
            if cached is not None:
                if is_terminating(cached):
                    raise RuntimeError(f"pvc {ns}/{name} is being deleted; "
                                       f"pod {pod_name} waits for it to go")
                continue
            try:
                self.writes += 1
                await self.writer.create(CLAIMS, ns, claim)
            except Exception as exc:
                if not is_already_exists(exc):
                    await self.events.event(
                        sts, "Warning", "FailedCreate",
                        f"create Claim {name} for Pod {pod_name} in StatefulSet "
                        f"{meta(sts).get('name')} failed error: {getattr(exc, 'message', exc)}")
                    raise
            else:
                await self.events.event(
                    sts, "Normal", "SuccessfulCreate",
                    f"create Claim {name} Pod {pod_name} in StatefulSet "
                    f"{meta(sts).get('name')} success")
        self.writes += 1
        try:
            created = await self.writer.create(PODS, ns, pod)
        except Exception as exc:
            await self._pod_event("create", sts, pod, exc)
            raise
        await self._pod_event("create", sts, pod, None)
        return created

    async def _delete_pod(self, state: _Pass, pod: Obj) -> None:
        md = meta(pod)
        try:
            self.writes += 1
            await self.writer.delete(PODS, md.get("namespace"), str(md.get("name")),
                                     preconditions={"uid": str(md.get("uid"))})
        except Exception as exc:
            if not is_not_found(exc):
                await self._pod_event("delete", state.sts, pod, exc)
                raise
        else:
            await self._pod_event("delete", state.sts, pod, None)
        gone = copy.deepcopy(pod)
        gone["metadata"]["deletionTimestamp"] = "deleting"
        ordinal = ordinal_of(state.name, pod)
        if ordinal is not None and ordinal in state.slots:
            state.slots[ordinal] = gone
        else:
            state.condemned = [(o, gone if p is pod else p) for o, p in state.condemned]

    async def _delete_condemned(self, sts: Obj, state: _Pass, pod: Obj) -> None:
        """Delete a pod beyond ``replicas``; with ``whenScaled: Delete`` its claims are
        first given the pod as an owner, so the garbage collector removes them after it."""
        policy = spec(sts).get("persistentVolumeClaimRetentionPolicy") or {}
        if policy.get("whenScaled") == "Delete":
            await self._claims_owned_by_pod(sts, pod)
        await self._delete_pod(state, pod)

    async def _claims_owned_by_pod(self, sts: Obj, pod: Obj) -> None:
        ns = str(meta(sts).get("namespace"))
        ref = controller_ref(pod)
        ref.update(apiVersion="v1", kind="Pod", controller=False)
        for claim in new_claims(sts, str(meta(pod).get("name"))):
            cached = self.claims.get(ns, str(meta(claim).get("name")))
            if cached is None:
                continue
            refs = list(meta(cached).get("ownerReferences") or [])
            if any(r.get("uid") == ref["uid"] for r in refs):
                continue
            self.writes += 1
            await self.writer.patch(CLAIMS, ns, str(meta(cached).get("name")),
                                    {"metadata": {"ownerReferences": [*refs, ref]}})

    # -- status -------------------------------------------------------------------

    async def _status(self, sts: Obj, state: _Pass, current: Obj, update: Obj,
                      collisions: int, now: datetime) -> str:
        """Write the status the pods now show; the current revision name it holds."""
        current_name = str(meta(current).get("name"))
        update_name = str(meta(update).get("name"))
        status: dict[str, Any] = {
            "observedGeneration": meta(sts).get("generation"),
            "replicas": 0, "readyReplicas": 0, "currentReplicas": 0, "updatedReplicas": 0,
            "availableReplicas": 0, "currentRevision": current_name,
            "updateRevision": update_name, "collisionCount": collisions,
        }
        for pod in state.pods():
            if is_created(pod):
                status["replicas"] += 1
            if is_running_and_ready(pod):
                status["readyReplicas"] += 1
                if seconds_until_available(pod, state.min_ready, now) == 0:
                    status["availableReplicas"] += 1
            if is_created(pod) and not is_terminating(pod):
                if pod_revision(pod) == current_name:
                    status["currentReplicas"] += 1
                if pod_revision(pod) == update_name:
                    status["updatedReplicas"] += 1
        strategy = spec(sts).get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") == "RollingUpdate" and \
                status["updatedReplicas"] == status["replicas"] == status["readyReplicas"]:
            status["currentReplicas"] = status["updatedReplicas"]
            status["currentRevision"] = update_name
        old = sts.get("status") or {}
        if all(old.get(k, 0 if k != "currentRevision" and k != "updateRevision" else None)
               == status[k] for k in _STATUS_FIELDS):
            return str(status["currentRevision"])
        new_status = {**old, **status}
        self.writes += 1
        await self.writer.update(STATEFULSETS, meta(sts).get("namespace"),
                                 {**sts, "status": new_status}, subresource="status")
        return str(status["currentRevision"])


def _first_unhealthy(state: _Pass) -> Obj | None:
    """The lowest-ordinal pod (replicas, then condemned) that is not Running and Ready
    or is terminating."""
    ordered = [state.slots[o] for o in sorted(state.slots)]
    ordered += [p for _, p in sorted(state.condemned, key=lambda item: item[0])]
    for pod in ordered:
        if not is_running_and_ready(pod) or is_terminating(pod):
            return pod
    return None
