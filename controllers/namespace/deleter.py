"""Emptying and finalizing a terminating namespace (upstream ``namespaced_resources_deleter.go``).

:meth:`NamespacedResourcesDeleter.delete` does one pass over a namespace marked for deletion:

1. a fresh GET (another controller may have changed it); gone or not deleting: done;
2. ``status.phase`` set to ``Terminating`` if it is not yet;
3. for every namespaced resource discovery finds with the ``delete`` verb:
   ``deletecollection`` (or, without that verb, list and delete each object) with background
   propagation, then a list of what is left. Objects still there are fine while pods may be
   in their grace period (an estimate from the pods' ``terminationGracePeriodSeconds`` since
   the namespace's deletion) or while they carry finalizers (15 s estimate); anything else
   left is an error;
4. the five ``NamespaceDeletion*``/``Namespace*Remaining`` conditions written to status;
5. errors raise (the controller retries rate-limited), content still there raises
   :class:`ResourcesRemaining` with the estimate (the controller looks again after half of
   it), and an empty namespace gets the ``kubernetes`` finalizer removed through
   ``PUT /finalize`` — the apiserver then removes the namespace once no finalizer is left.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controllers.client.discovery import APIResource
from controllers.client.errors import ApiError, is_conflict, is_not_found
from controllers.namespace.conditions import ConditionUpdater
from controllers.namespace.content import ContentAPI
from controllers.runtime.objects import parse_time

__all__ = [
    "FINALIZER",
    "FINALIZER_ESTIMATE_SECONDS",
    "ContentDeletionFailed",
    "NamespacedResourcesDeleter",
    "ResourcesRemaining",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

#: The finalizer the namespace controller owns (``spec.finalizers``).
FINALIZER = "kubernetes"
#: Upstream ``finalizerEstimateSeconds``: how long objects with finalizers are waited for.
FINALIZER_ESTIMATE_SECONDS = 15


class ResourcesRemaining(Exception):
    """Content is still going away; look again in about ``estimate`` seconds."""

    def __init__(self, estimate: int) -> None:
        self.estimate = estimate
        super().__init__(f"some content remains in the namespace, estimate {estimate} "
                         "seconds before it is removed")


class ContentDeletionFailed(Exception):
    """A pass could not discover or delete everything (``errors``: one message each)."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(", ".join(errors) if len(errors) == 1 else f"[{', '.join(errors)}]")


class NamespaceUIDChanged(Exception):
    """The namespace was deleted and made again while it was being updated."""


@dataclass
class _Remaining:
    estimate: int = 0
    count: int = 0
    finalizers: dict[str, int] = field(default_factory=dict)


def _md(obj: Obj) -> Obj:
    md = obj.get("metadata")
    return md if isinstance(md, dict) else {}


async def _unless_gone(call: Awaitable[Obj]) -> Obj | None:
    """The call's result; None when it answers 404 (the namespace is gone: done)."""
    try:
        return await call
    except ApiError as exc:
        if is_not_found(exc):
            return None
        raise


def _gvr(resource: APIResource) -> str:
    """A resource as Go prints a ``GroupVersionResource``."""
    return f"{resource.group}/{resource.version}, Resource={resource.name}"


def _not_supported(exc: BaseException) -> bool:
    # Upstream treats MethodNotSupported and NotFound alike: the verb is not served there.
    return isinstance(exc, ApiError) and (exc.code in (404, 405))


class NamespacedResourcesDeleter:
    """One deletion pass per call of :meth:`delete` (see the module docstring)."""

    def __init__(self, api: ContentAPI, now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 finalizer: str = FINALIZER) -> None:
        self.api = api
        self.now = now
        self.finalizer = finalizer

    def _timestamp(self) -> str:
        return self.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    async def delete(self, name: str) -> None:
        """One pass over namespace ``name``; raises to be called again (see above)."""
        found = await _unless_gone(self.api.get_namespace(name))
        if found is None or not _md(found).get("deletionTimestamp"):
            return
        found = await _unless_gone(self._retry_on_conflict(found, self._mark_terminating))
        if found is None or not _md(found).get("deletionTimestamp"):
            return
        namespace = found
        if not (namespace.get("spec") or {}).get("finalizers"):
            return  # finalized already: the apiserver removes it
        estimate, namespace = await self.delete_all_content(namespace)
        if estimate > 0:
            raise ResourcesRemaining(estimate)
        # A 404: another controller sharing the finalizer finished meanwhile.
        await _unless_gone(self._retry_on_conflict(namespace, self._finalize))

    async def _retry_on_conflict(self, namespace: Obj,
                                 fn: Callable[[Obj], Awaitable[Obj]]) -> Obj:
        latest = namespace
        while True:
            try:
                return await fn(latest)
            except ApiError as exc:
                if not is_conflict(exc):
                    raise
            previous = latest
            latest = await self.api.get_namespace(str(_md(previous).get("name", "")))
            if _md(previous).get("uid") != _md(latest).get("uid"):
                raise NamespaceUIDChanged("namespace uid has changed across retries")

    async def _mark_terminating(self, namespace: Obj) -> Obj:
        status = namespace.get("status") or {}
        if not _md(namespace).get("deletionTimestamp") or status.get("phase") == "Terminating":
            return namespace
        updated = {**namespace, "status": {**status, "phase": "Terminating"}}
        return await self.api.update_status(updated)

    async def _finalize(self, namespace: Obj) -> Obj:
        spec = namespace.get("spec") or {}
        kept = sorted({f for f in spec.get("finalizers") or [] if f != self.finalizer})
        updated = {**namespace, "spec": {**spec, "finalizers": kept}}
        try:
            return await self.api.finalize(updated)
        except ApiError as exc:
            if is_not_found(exc):
                return updated
            raise

    async def delete_all_content(self, namespace: Obj) -> tuple[int, Obj]:
        """Delete everything in the namespace: the estimate of seconds until it is gone,
        and the namespace as last written (its conditions updated).

        Every resource is tried; then :class:`ContentDeletionFailed` lists every failure
        (discovery included), as upstream aggregates them.
        """
        name = str(_md(namespace).get("name", ""))
        deleted_at = parse_time(_md(namespace).get("deletionTimestamp")) or self.now()
        conditions = ConditionUpdater(self._timestamp)
        errors: list[str] = []
        try:
            resources, failed = await self.api.discover()
        except Exception as exc:  # nothing discovered: try again later
            resources, failed = [], None
            errors.append(str(exc))
            conditions.discovery_failed(str(exc))
        if failed is not None:
            errors.append(str(failed))
            conditions.discovery_failed(
                f"Discovery failed for some groups, {len(failed.groups)} failing: {failed}")
        estimate = 0
        by_resource: dict[str, int] = {}
        by_finalizer: dict[str, int] = {}
        for resource in resources:
            if "delete" not in resource.verbs:
                continue
            remaining = _Remaining()
            try:
                remaining = await self._delete_resource(resource, name, deleted_at)
            except _ContentError as exc:
                remaining = exc.remaining
                errors.append(str(exc))
                conditions.content_failed(str(exc))
            except Exception as exc:
                errors.append(str(exc))
                conditions.content_failed(str(exc))
            estimate = max(estimate, remaining.estimate)
            if remaining.count:
                by_resource[f"{resource.name}.{resource.group}"] = remaining.count
                for finalizer, count in remaining.finalizers.items():
                    by_finalizer[finalizer] = by_finalizer.get(finalizer, 0) + count
        conditions.content_totals(by_resource, by_finalizer)
        status = dict(namespace.get("status") or {})
        if conditions.apply(status):
            try:
                namespace = await self.api.update_status({**namespace, "status": status})
            except Exception as exc:  # the conditions are a report; deletion goes on
                log.warning("couldn't update status condition for namespace %q: %s", name, exc)
        if errors:
            raise ContentDeletionFailed(errors)
        return estimate, namespace

    async def _delete_resource(self, resource: APIResource, namespace: str,
                               deleted_at: datetime) -> _Remaining:
        estimate = 0
        if resource.group == "" and resource.name == "pods":
            estimate = await self._estimate_pods(resource, namespace, deleted_at)
        if not await self._delete_collection(resource, namespace):
            await self._delete_each(resource, namespace)
        if "list" not in resource.verbs:
            return _Remaining(estimate)
        try:
            items = await self.api.list(resource, namespace)
        except Exception as exc:
            if _not_supported(exc):
                return _Remaining(estimate)
            raise
        if not items:
            return _Remaining()
        finalizers: dict[str, int] = {}
        for item in items:
            for finalizer in _md(item).get("finalizers") or []:
                finalizers[str(finalizer)] = finalizers.get(str(finalizer), 0) + 1
        if estimate:
            return _Remaining(estimate, len(items), finalizers)
        if finalizers:
            return _Remaining(FINALIZER_ESTIMATE_SECONDS, len(items), finalizers)
        raise _ContentError(
            f"unexpected items still remain in namespace: {namespace} for gvr: {_gvr(resource)}",
            _Remaining(0, len(items)))

    async def _estimate_pods(self, resource: APIResource, namespace: str,
                             deleted_at: datetime) -> int:
        """The longest grace period of the namespace's running pods, unless it has passed."""
        estimate = 0
        for pod in await self.api.list(resource, namespace):
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
            if isinstance(grace, int) and grace > estimate:
                estimate = grace
        if (self.now() - deleted_at).total_seconds() >= estimate:
            return 0
        return estimate

    async def _delete_collection(self, resource: APIResource, namespace: str) -> bool:
        """``deletecollection``; False when the resource does not serve it."""
        if "deletecollection" not in resource.verbs:
            return False
        try:
            await self.api.delete_collection(resource, namespace)
        except Exception as exc:
            if _not_supported(exc):
                return False
            raise
        return True

    async def _delete_each(self, resource: APIResource, namespace: str) -> None:
        if "list" not in resource.verbs:
            return
        try:
            items = await self.api.list(resource, namespace)
        except Exception as exc:
            if _not_supported(exc):
                return
            raise
        for item in items:
            try:
                await self.api.delete(resource, namespace, str(_md(item).get("name", "")))
            except Exception as exc:
                if not _not_supported(exc):
                    raise


class _ContentError(Exception):
    """A resource's content could not be removed; ``remaining`` says what is left."""

    def __init__(self, message: str, remaining: _Remaining) -> None:
        super().__init__(message)
        self.remaining = remaining
