"""What the ``workloads`` scenario watches: Deployments, Endpoints, EndpointSlices and pods
as last seen, and the moments conditions over them first hold."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


class Cluster:
    """The namespace's Deployments, Endpoints and EndpointSlices as last seen on watches.

    :meth:`until` registers a condition over that state; it resolves with the
    ``perf_counter`` time of the first watch event after which the condition holds.
    """

    def __init__(self) -> None:
        self.deployments: dict[str, dict[str, Any]] = {}
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.slices: dict[str, dict[str, Any]] = {}
        self.pods: dict[str, dict[str, Any]] = {}
        self._waiters: list[tuple[Callable[[Cluster], bool], asyncio.Future[float]]] = []

    def until(self, cond: Callable[[Cluster], bool]) -> asyncio.Future[float]:
        """A future resolved with the time ``cond`` first holds (now, if it already does)."""
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if cond(self):
            fut.set_result(time.perf_counter())
        else:
            self._waiters.append((cond, fut))
        return fut

    def apply(self, store: dict[str, dict[str, Any]], event: dict[str, Any], got: float) -> None:
        """Fold one watch event into ``store``, then resolve the conditions that now hold."""
        obj = event.get("object") or {}
        name = (obj.get("metadata") or {}).get("name")
        if event.get("type") in ("ADDED", "MODIFIED") and isinstance(name, str):
            store[name] = obj
        elif event.get("type") == "DELETED" and isinstance(name, str):
            store.pop(name, None)
        else:
            return
        pending = []
        for cond, fut in self._waiters:
            if fut.done():
                continue
            if cond(self):
                fut.set_result(got)
            else:
                pending.append((cond, fut))
        self._waiters = pending

    def ready_addresses(self, name: str) -> int:
        """Ready addresses of Endpoints ``name``."""
        ep = self.endpoints.get(name) or {}
        return sum(len(s.get("addresses") or []) for s in ep.get("subsets") or [])

    def slice_ready(self, name: str) -> int:
        """Ready endpoints over the EndpointSlices of Service ``name``."""
        total = 0
        for s in self.slices.values():
            labels = (s.get("metadata") or {}).get("labels") or {}
            if labels.get("kubernetes.io/service-name") != name:
                continue
            total += sum(1 for e in s.get("endpoints") or []
                         if (e.get("conditions") or {}).get("ready") is not False)
        return total

    def app_pods(self, name: str) -> int:
        """Pods labelled ``app=name``."""
        return sum(1 for p in self.pods.values()
                   if ((p.get("metadata") or {}).get("labels") or {}).get("app") == name)

    def ready_replicas(self, name: str) -> int:
        """``status.readyReplicas`` of Deployment ``name``."""
        return int(((self.deployments.get(name) or {}).get("status") or {})
                   .get("readyReplicas") or 0)

    def rolled_out(self, name: str) -> bool:
        """``kubectl rollout status``'s success criteria for Deployment ``name``."""
        d = self.deployments.get(name)
        if d is None:
            return False
        meta, spec, st = d.get("metadata") or {}, d.get("spec") or {}, d.get("status") or {}
        want = spec.get("replicas", 1)
        return bool(st.get("observedGeneration", 0) >= meta.get("generation", 0)
                    and st.get("updatedReplicas", 0) == want
                    and st.get("replicas", 0) == want
                    and st.get("availableReplicas", 0) == want)
