"""One sync of one Deployment: find or create the new ReplicaSet, scale, write status.

A :class:`Rollout` is made per sync with a private copy of the Deployment; it writes
through the :class:`~controllers.runtime.writer.Writer` and keeps the objects the writes
return, so later steps of the same sync see them (the informer catches up later).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Sequence

from apiserver.api.resources import served
from controllers.client.errors import is_already_exists
from controllers.client.store import Store
from controllers.deployment.history import set_new_rs_annotations, set_replicas_annotations
from controllers.deployment.progress import (
    FAILED_RS_CREATE,
    FOUND_NEW_RS,
    NEW_RS_CREATED,
    PROGRESSING,
    calculate_status,
    requeue_after,
    rollout_status,
)
from controllers.deployment.util import (
    DESIRED_REPLICAS,
    HASH_LABEL,
    MAX_REPLICAS,
    REVISION,
    Obj,
    active,
    annotations_of,
    available,
    by_creation,
    compute_hash,
    equal_ignore_hash,
    get_condition,
    has_progress_deadline,
    int_annotation,
    is_rolling,
    max_surge,
    new_condition,
    revision,
    set_condition,
    spec_replicas,
    total_spec,
)
from controllers.runtime.events import EventRecorder
from controllers.runtime.writer import Writer

__all__ = ["DEPLOYMENTS", "REPLICASETS", "Rollout", "controller_ref"]

log = logging.getLogger(__name__)

DEPLOYMENTS = served("apps", "v1", "deployments")
REPLICASETS = served("apps", "v1", "replicasets")


def controller_ref(deployment: Obj) -> Obj:
    """The ownerReference a ReplicaSet of ``deployment`` carries."""
    md = deployment["metadata"]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": md["name"],
            "uid": md.get("uid", ""), "controller": True, "blockOwnerDeletion": True}


class Rollout:
    """The state and writes of one sync of ``deployment`` (a copy the sync may change).

    ``replicasets`` is the store of ReplicaSets (read on name collisions);
    ``requeue(after)`` schedules the Deployment again (progress-deadline checks).
    """

    def __init__(self, deployment: Obj, writer: Writer, replicasets: Store,
                 requeue: Callable[[float], None] = lambda _after: None,
                 events: EventRecorder | None = None) -> None:
        self.d = copy.deepcopy(deployment)
        self.writer = writer
        self.replicasets = replicasets
        self.requeue = requeue
        self.events = events or EventRecorder(writer, "deployment-controller")

    @property
    def namespace(self) -> str:
        """The Deployment's namespace."""
        return str(self.d["metadata"]["namespace"])

    @property
    def replicas(self) -> int:
        """``spec.replicas`` of the Deployment."""
        return spec_replicas(self.d)

    # ---- finding and creating the new ReplicaSet -------------------------------------

    def find_new(self, rses: Sequence[Obj]) -> Obj | None:
        """The oldest ReplicaSet whose template equals the Deployment's (but for the hash)."""
        for rs in sorted(rses, key=by_creation):
            if equal_ignore_hash(rs["spec"].get("template"), self.d["spec"].get("template")):
                return rs
        return None

    async def new_and_old(self, rses: Sequence[Obj], create: bool
                          ) -> tuple[Obj | None, list[Obj]]:
        """``(new, olds)``: the new ReplicaSet (created when ``create`` and missing, its
        revision annotations brought up to date) and every other ReplicaSet."""
        existing = self.find_new(rses)
        olds = [rs for rs in rses if existing is None
                or rs["metadata"].get("uid") != existing["metadata"].get("uid")]
        new_revision = str(max((revision(rs) for rs in olds), default=0) + 1)
        if existing is not None:
            return await self._sync_existing(existing, new_revision), olds
        if not create:
            return None, olds
        return await self._create_new(olds, new_revision), olds

    async def _sync_existing(self, rs: Obj, new_revision: str) -> Obj:
        rs = copy.deepcopy(rs)
        changed = set_new_rs_annotations(self.d, rs, new_revision, True)
        min_ready = self.d["spec"].get("minReadySeconds", 0)
        if changed or rs["spec"].get("minReadySeconds", 0) != min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
            return await self.writer.update(REPLICASETS, self.namespace, rs)
        needs_update = self._set_revision(annotations_of(rs).get(REVISION, ""))
        status = self.d.setdefault("status", {})
        if has_progress_deadline(self.d) and get_condition(status, PROGRESSING) is None:
            set_condition(status, new_condition(
                PROGRESSING, "True", FOUND_NEW_RS,
                f'Found new replica set "{rs["metadata"]["name"]}"'))
            needs_update = True
        if needs_update:
            await self.update_status()
        return rs

    def _set_revision(self, value: str) -> bool:
        notes = annotations_of(self.d)
        if notes.get(REVISION) == value:
            return False
        notes[REVISION] = value
        return True

    async def _create_new(self, olds: list[Obj], new_revision: str) -> Obj | None:
        template = copy.deepcopy(self.d["spec"]["template"])
        status = self.d.setdefault("status", {})
        pod_hash = compute_hash(template, status.get("collisionCount"))
        meta = template.setdefault("metadata", {})
        meta["labels"] = {**(meta.get("labels") or {}), HASH_LABEL: pod_hash}
        selector = copy.deepcopy(self.d["spec"].get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
        name = f"{self.d['metadata']['name']}-{pod_hash}"
        rs: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": self.namespace,
                         "labels": dict(meta["labels"]),
                         "ownerReferences": [controller_ref(self.d)]},
            "spec": {"replicas": 0, "minReadySeconds": self.d["spec"].get("minReadySeconds", 0),
                     "selector": selector, "template": template},
        }
        rs["spec"]["replicas"] = self.new_rs_replicas([*olds, rs], rs)
        set_new_rs_annotations(self.d, rs, new_revision, False)
        try:
            created = await self.writer.create(REPLICASETS, self.namespace, rs)
            already = False
        except Exception as exc:
            if is_already_exists(exc):
                found = self.replicasets.get(self.namespace, name)
                ref = next((r for r in (found or {}).get("metadata", {}).get(
                    "ownerReferences") or [] if r.get("controller")), None)
                if found is not None and ref is not None \
                        and ref.get("uid") == self.d["metadata"].get("uid") \
                        and equal_ignore_hash(found["spec"].get("template"),
                                              self.d["spec"].get("template")):
                    created, already = found, True
                else:
                    # A hash collision: the next sync hashes with a bigger collisionCount.
                    status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                    await self.update_status()
                    raise
            else:
                message = f'Failed to create new replica set "{name}": {exc}'
                await self.events.event(self.d, "Warning", FAILED_RS_CREATE, message)
                if has_progress_deadline(self.d):
                    set_condition(status, new_condition(
                        PROGRESSING, "False", FAILED_RS_CREATE, message))
                    await self.update_status()
                raise
        if not already and spec_replicas(created) > 0:
            log.info("Scaled up replica set %s from 0 to %d", name, spec_replicas(created))
            await self.events.event(self.d, "Normal", "ScalingReplicaSet",
                                    f"Scaled up replica set {name} from 0 to "
                                    f"{spec_replicas(created)}")
        needs_update = self._set_revision(new_revision)
        if not already and has_progress_deadline(self.d):
            set_condition(status, new_condition(
                PROGRESSING, "True", NEW_RS_CREATED, f'Created new replica set "{name}"'))
            needs_update = True
        if needs_update:
            await self.update_status()
        return created

    def new_rs_replicas(self, all_rses: Sequence[Obj | None], new_rs: Obj) -> int:
        """How big the new ReplicaSet may be now: Recreate takes all replicas at once,
        RollingUpdate grows it within ``replicas + maxSurge`` pods in all."""
        if not is_rolling(self.d):
            return self.replicas
        current = total_spec(all_rses)
        most = self.replicas + max_surge(self.d)
        have = spec_replicas(new_rs)
        if current >= most:
            return have
        return have + min(most - current, self.replicas - have)

    # ---- scaling ------------------------------------------------------------------

    async def scale_rs(self, rs: Obj, size: int) -> tuple[bool, Obj]:
        """Set ``rs`` to ``size`` replicas and its desired/max annotations to the
        Deployment's; ``(whether the size changed, the ReplicaSet now)``."""
        size_changed = spec_replicas(rs) != size
        new = copy.deepcopy(rs)
        new["spec"]["replicas"] = size
        notes_changed = set_replicas_annotations(new, self.replicas,
                                                 self.replicas + max_surge(self.d))
        if not (size_changed or notes_changed):
            return False, rs
        updated = await self.writer.update(REPLICASETS, self.namespace, new)
        if size_changed:
            direction = "up" if size > spec_replicas(rs) else "down"
            message = (f"Scaled {direction} replica set {rs['metadata']['name']} "
                       f"from {spec_replicas(rs)} to {size}")
            log.info("%s", message)
            await self.events.event(self.d, "Normal", "ScalingReplicaSet", message)
        return size_changed, updated

    def is_scaling_event(self, new_rs: Obj | None, olds: Sequence[Obj]) -> bool:
        """Whether ``spec.replicas`` differs from what an active ReplicaSet was made for."""
        for rs in active([*olds, new_rs]):
            desired = int_annotation(rs, DESIRED_REPLICAS)
            if desired is not None and desired != self.replicas:
                return True
        return False

    def saturated(self, rs: Obj | None) -> bool:
        """Whether ``rs`` holds all the replicas, all available."""
        return rs is not None and int_annotation(rs, DESIRED_REPLICAS) == self.replicas \
            and spec_replicas(rs) == self.replicas and available(rs) == self.replicas

    async def scale(self, new_rs: Obj | None, olds: list[Obj]
                    ) -> tuple[Obj | None, list[Obj]]:
        """Follow a change of ``spec.replicas``: one active ReplicaSet takes it all;
        otherwise, mid-rollout, spread it over the active ones by their share (upstream
        proportional scaling), the rounding leftover going to the first in line.
        Returns ``(new, olds)`` as they are after the writes."""
        done: dict[str, Obj] = {}

        def current() -> tuple[Obj | None, list[Obj]]:
            def pick(rs: Obj) -> Obj:
                return done.get(str(rs["metadata"]["name"]), rs)
            return (None if new_rs is None else pick(new_rs)), [pick(rs) for rs in olds]

        async def resize(rs: Obj, size: int) -> None:
            done[str(rs["metadata"]["name"])] = (await self.scale_rs(rs, size))[1]

        latest = _active_or_latest(new_rs, olds)
        if latest is not None:
            if spec_replicas(latest) != self.replicas:
                await resize(latest, self.replicas)
            return current()
        if self.saturated(new_rs):
            for rs in active(olds):
                await resize(rs, 0)
            return current()
        if not is_rolling(self.d):
            return current()
        live = active([*olds, new_rs])
        allowed = self.replicas + max_surge(self.d) if self.replicas > 0 else 0
        to_add = allowed - total_spec(live)
        if to_add > 0:
            live.sort(key=lambda rs: (-spec_replicas(rs), _newest_key(rs)))
        elif to_add < 0:
            live.sort(key=lambda rs: (-spec_replicas(rs), by_creation(rs)))
        added = 0
        sizes: dict[str, int] = {}
        for rs in live:
            share = self._proportion(rs, to_add, added) if to_add else 0
            sizes[rs["metadata"]["name"]] = spec_replicas(rs) + share
            added += share
        if live and added != to_add:
            first = live[0]["metadata"]["name"]
            sizes[first] = max(sizes[first] + to_add - added, 0)
        for rs in live:
            await resize(rs, sizes[rs["metadata"]["name"]])
        return current()

    def _proportion(self, rs: Obj, to_add: int, added: int) -> int:
        if spec_replicas(rs) == 0 or to_add == added:
            return 0
        if self.replicas == 0:
            fraction = -spec_replicas(rs)
        else:
            target = self.replicas + max_surge(self.d)
            made_for = int_annotation(rs, MAX_REPLICAS)
            if made_for is None:
                made_for = int((self.d.get("status") or {}).get("replicas") or 0)
            if made_for <= 0:
                return 0
            fraction = _round(spec_replicas(rs) * target / made_for) - spec_replicas(rs)
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    # ---- status ------------------------------------------------------------------

    async def update_status(self) -> None:
        """PUT the Deployment's status (and annotations) through ``/status``."""
        self.d = await self.writer.update(DEPLOYMENTS, self.namespace, self.d,
                                          subresource="status")

    async def sync_status(self, all_rses: Sequence[Obj | None], new_rs: Obj | None) -> None:
        """Write :func:`calculate_status` when it differs (scaling and paused syncs)."""
        status = calculate_status(all_rses, new_rs, self.d)
        if status != (self.d.get("status") or {}):
            self.d["status"] = status
            await self.update_status()

    async def sync_rollout_status(self, all_rses: Sequence[Obj | None],
                                  new_rs: Obj | None) -> None:
        """Write :func:`rollout_status` when it differs; otherwise requeue the Deployment
        for when its progress deadline passes."""
        status = rollout_status(all_rses, new_rs, self.d)
        if status == (self.d.get("status") or {}):
            after = requeue_after(self.d, status)
            if after is not None:
                self.requeue(after)
            return
        self.d["status"] = status
        await self.update_status()


def _round(value: float) -> int:
    """Round half away from zero (Go's ``math.Round``)."""
    return math.floor(value + 0.5) if value >= 0 else -math.floor(-value + 0.5)


def _newest_key(rs: Obj) -> tuple[float, str]:
    # Newer first: invert the creation timestamp's order via its sortable digits.
    stamp = str(rs["metadata"].get("creationTimestamp") or "")
    digits = "".join(ch for ch in stamp if ch.isdigit()) or "0"
    return (-float(digits), str(rs["metadata"].get("name", "")))


def _active_or_latest(new_rs: Obj | None, olds: Sequence[Obj]) -> Obj | None:
    """The only active ReplicaSet; with none active the new one or else the newest old;
    None while several are active."""
    if new_rs is None and not olds:
        return None
    newest_first = sorted(olds, key=by_creation, reverse=True)
    live = active([*newest_first, new_rs])
    if not live:
        return new_rs if new_rs is not None else newest_first[0]
    if len(live) == 1:
        return live[0]
    return None
