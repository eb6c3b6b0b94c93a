"""ResourceQuota (``plugin/pkg/admission/resourcequota``), a validating plugin.

For a create (or an update that can change usage: Services, claims) in a namespace with
quotas, the object's usage (see :mod:`apiserver.api.quota`) is checked against each
matching quota's ``status.hard``/``status.used``, and the quotas' ``status.used`` are raised
by it before the object is stored — the same compare-and-swap upstream does, retried on
conflicts, serialized per namespace in this process. A dry run checks without charging.

Refusals, as upstream: ``exceeded quota: q, requested: …, used: …, limited: …``,
``failed quota: q: must specify …`` and ``status unknown for quota: q, resources: …`` (a
quota the controller has not counted yet). Quotas whose ``status.hard`` is not set yet
restrict nothing. The ``resourcequota`` controller recomputes ``status.used`` afterwards,
which also returns what deleted objects (or failed writes) held.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apiserver.admission.attributes import AdmissionAttributes, ObjectSource, Operation, forbidden
from apiserver.api import errors
from apiserver.api import quota as q
from apiserver.api.podresources import ResourceList, add, resource_list
from apiserver.api.resources import served

RESOURCEQUOTAS = served("", "v1", "resourcequotas")
_ATTEMPTS = 5


def _now() -> datetime:
    return datetime.now(UTC)


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


class ResourceQuotaAdmission:
    """Charges writes to the namespace's quotas, or refuses them."""

    name = "ResourceQuota"
    config_resources = (RESOURCEQUOTAS,)

    def __init__(self, source: ObjectSource, clock: Callable[[], datetime] = _now) -> None:
        self.source = source
        self.clock = clock
        self._locks: dict[str, asyncio.Lock] = {}

    def handles(self, operation: Operation) -> bool:
        return operation in (Operation.CREATE, Operation.UPDATE)

    async def validate(self, attrs: AdmissionAttributes) -> None:
        if attrs.subresource or attrs.object is None or not attrs.namespace:
            return
        if attrs.operation is Operation.UPDATE and not q.handles_update(attrs.group,
                                                                        attrs.resource):
            return
        cached = self.source.cached_list(RESOURCEQUOTAS, attrs.namespace)
        if not any(q.tracks(attrs.group, attrs.resource, n)
                   for quota in cached for n in (quota.get("status") or {}).get("hard") or {}):
            return
        lock = self._locks.setdefault(attrs.namespace, asyncio.Lock())
        async with lock:
            for attempt in range(_ATTEMPTS):
                try:
                    await self._charge(attrs, sorted(_name(quota) for quota in cached))
                    return
                except errors.ApiError as exc:
                    if exc.code != 409 or attempt + 1 == _ATTEMPTS:
                        raise

    def _delta(self, attrs: AdmissionAttributes) -> ResourceList:
        assert attrs.object is not None
        now = self.clock()
        delta = q.usage(attrs.group, attrs.resource, attrs.object, now)
        old = attrs.old_object
        if attrs.operation is Operation.UPDATE and old is not None \
                and (old.get("metadata") or {}).get("resourceVersion"):
            delta = q.subtract_nonnegative(delta, q.usage(attrs.group, attrs.resource, old, now))
        return {k: v for k, v in delta.items() if v.value != 0}

    async def _charge(self, attrs: AdmissionAttributes, names: list[str]) -> None:
        obj = attrs.object
        assert obj is not None
        pertinent: list[tuple[dict[str, Any], ResourceList, list[str]]] = []
        for name in names:
            quota = await self.source.live(RESOURCEQUOTAS, attrs.namespace, name)
            if quota is None:
                continue
            hard = resource_list((quota.get("status") or {}).get("hard"))
            restricted = sorted(n for n in hard if q.tracks(attrs.group, attrs.resource, n))
            if not restricted or not q.matches_scopes(quota, attrs.group, attrs.resource, obj):
                continue
            if attrs.is_core("pods"):
                problem = q.pod_constraint_error(restricted, obj)
                if problem:
                    raise forbidden(attrs, f"failed quota: {name}: {problem}")
            used_raw = (quota.get("status") or {}).get("used") or {}
            if any(n not in used_raw for n in restricted):
                raise forbidden(attrs, f"status unknown for quota: {name}, resources: "
                                       f"{','.join(restricted)}")
            pertinent.append((quota, hard, restricted))
        delta = self._delta(attrs)
        if not pertinent or not delta:
            return
        changed: list[dict[str, Any]] = []
        for quota, hard, _restricted in pertinent:
            used = resource_list(quota["status"].get("used"))
            requested = q.mask(delta, hard)
            if not requested:
                continue
            new_used = add(used, requested)
            over = q.exceeded(q.mask(new_used, requested), hard)
            if over:
                raise forbidden(
                    attrs,
                    f"exceeded quota: {_name(quota)}, requested: "
                    f"{q.pretty(q.mask(requested, over))}, used: "
                    f"{q.pretty(q.mask(used, over))}, limited: {q.pretty(q.mask(hard, over))}",
                )
            quota["status"]["used"] = {**quota["status"].get("used", {}), **q.to_api(new_used)}
            changed.append(quota)
        if attrs.dry_run:
            return
        for quota in changed:
            await self.source.update_status(RESOURCEQUOTAS, quota)
