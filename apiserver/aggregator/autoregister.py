"""Local APIServices for the group versions the apiserver serves itself (upstream's
``autoregister`` and ``crdregistration`` controllers).

Contract: :class:`AutoRegistration` runs in each apiserver. At start, and whenever the
served resources change (a CustomResourceDefinition established or removed, the resource
metrics API), it makes sure each served group version has its local APIService
``<version>.<group>`` (``v1.`` for the core group) with no ``spec.service``:

* a built-in group version with upstream's priorities (:data:`PRIORITIES`, kube-apiserver
  1.33's ``apiVersionPriorities``), labelled ``kube-aggregator.kubernetes.io/automanaged:
  onstart`` and, as upstream, written at start only (an edit made since stays); one
  upstream does not list gets none, as upstream skips it;
* a custom resource's group version with ``groupPriorityMinimum: 1000`` and
  ``versionPriority: 100`` (``crdregistration``), labelled ``automanaged: "true"``, and
  removed once no CRD serves it any more;
* ``metrics.k8s.io/v1beta1`` (kubemu serves it itself) with metrics-server's manifest
  priorities (100, 100).

An APIService someone else made for the same name (a service-backed one) is left alone:
it wins, as upstream's autoregister never overwrites an APIService it does not manage.
Writes tolerate another apiserver doing the same (409 on create, 404 on delete).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from apiserver.aggregator.index import GROUP
from apiserver.api import errors
from apiserver.api.resources import served, served_resources
from apiserver.registry.registry import Registry
from apiserver.registry.store.options import DeleteOptions

__all__ = ["AUTOMANAGED", "PRIORITIES", "AutoRegistration", "desired_apiservices"]

log = logging.getLogger(__name__)

AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"
#: (group, version) → (groupPriorityMinimum, versionPriority), as kube-apiserver 1.33.
PRIORITIES: Mapping[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    ("events.k8s.io", "v1"): (17750, 15),
    ("authentication.k8s.io", "v1"): (17700, 15),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
    ("apps", "v1"): (17800, 15),
    ("autoscaling", "v1"): (17500, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("batch", "v1"): (17400, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("policy", "v1"): (17100, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("node.k8s.io", "v1"): (16300, 15),
    ("resource.k8s.io", "v1beta2"): (16200, 15),
    ("resource.k8s.io", "v1beta1"): (16200, 9),
    ("metrics.k8s.io", "v1beta1"): (100, 100),
}
#: crdregistration's priorities: below every built-in group.
CRD_PRIORITY = (1000, 100)
_MANAGER = "kube-apiserver"
#: How often the served resources are compared with what was registered.
_POLL_SECONDS = 1.0
#: How often everything is checked again regardless.
_RESYNC = 30.0


def desired_apiservices() -> dict[str, dict[str, Any]]:
    """The local APIServices the served resources call for, by name."""
    out: dict[str, dict[str, Any]] = {}
    for info in served_resources():
        name = f"{info.version}.{info.group}"
        if name in out:
            continue
        if info.custom:
            priority, managed = CRD_PRIORITY, "true"
        elif (info.group, info.version) in PRIORITIES:
            priority, managed = PRIORITIES[(info.group, info.version)], "onstart"
        else:
            continue
        out[name] = {
            "apiVersion": f"{GROUP}/v1", "kind": "APIService",
            "metadata": {"name": name, "labels": {AUTOMANAGED: managed}},
            "spec": {"group": info.group, "version": info.version,
                     "groupPriorityMinimum": priority[0], "versionPriority": priority[1]}}
    return out


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class AutoRegistration:
    """Keeps the local APIServices of :func:`desired_apiservices` (see the module
    docstring)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._registered: frozenset[str] = frozenset()
        self._synced_once = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Register now and keep following the served resources."""
        self._task = asyncio.create_task(self._loop(), name="apiservice-autoregister")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        last_sync = 0.0
        while True:
            served_now = frozenset(f"{i.version}.{i.group}" for i in served_resources())
            # Also every resync period: another apiserver that had not yet established a
            # CRD may have removed its APIService meanwhile.
            if served_now != self._registered or time.monotonic() - last_sync > _RESYNC:
                last_sync = time.monotonic()
                try:
                    await self.sync()
                    self._registered = served_now
                except asyncio.CancelledError:
                    raise
                except Exception:  # tried again at the next poll
                    log.exception("registering the local APIServices failed")
            await asyncio.sleep(_POLL_SECONDS)

    async def sync(self) -> None:
        """Create or correct the wanted APIServices; delete managed ones not wanted."""
        store = self.registry.store(served(GROUP, "v1", "apiservices"))
        desired = desired_apiservices()
        if self._synced_once:
            # Upstream syncs the built-in ones once, at start: an edit made since stays.
            desired = {name: want for name, want in desired.items()
                       if want["metadata"]["labels"][AUTOMANAGED] != "onstart"}
        existing = {o.name: o.obj for o in store.cache.objects()}
        for name, wanted in desired.items():
            current = existing.get(name)
            if current is None:
                with contextlib.suppress(errors.ApiError):  # 409: another apiserver made it
                    await store.create(None, wanted, manager=_MANAGER)
                continue
            labels = _m(_m(current.get("metadata")).get("labels"))
            if AUTOMANAGED not in labels or _m(current.get("spec")).get("service"):
                continue  # not ours: a service-backed or hand-made APIService wins
            if _m(current.get("spec")) != wanted["spec"] or \
                    labels.get(AUTOMANAGED) != wanted["metadata"]["labels"][AUTOMANAGED]:
                update = {**current, "spec": wanted["spec"],
                          "metadata": {**_m(current.get("metadata")),
                                       "labels": {**labels, **wanted["metadata"]["labels"]}}}
                with contextlib.suppress(errors.ApiError):  # 409/404: raced, next poll
                    await store.update(None, name, update, manager=_MANAGER)
        for name, current in existing.items():
            labels = _m(_m(current.get("metadata")).get("labels"))
            if name not in desired and labels.get(AUTOMANAGED) == "true":
                with contextlib.suppress(errors.ApiError):
                    await store.delete(None, name, DeleteOptions())
        self._synced_once = True
