"""The ``Available`` condition of every APIService (upstream's local and remote
``AvailableConditionController``).

Contract: :class:`AvailabilityController` runs in each apiserver. Every
:data:`RESYNC_SECONDS` — and soon after an APIService, Service, Endpoints or EndpointSlice
changes — it computes each APIService's condition and writes ``status`` through the
registry (the status subresource) only when type/status/reason/message changed;
``lastTransitionTime`` moves only when the status does. Several apiservers may do the same
(etcd HA): the write is a guaranteed update that re-reads on conflict and errors are
logged, never raised. Conditions and texts are upstream's:

* local (no ``spec.service``) → True ``Local`` "Local APIServices are always available";
* no Service → False ``ServiceNotFound``; a ClusterIP Service without the port →
  False ``ServicePortError``; no EndpointSlices (nor Endpoints) → False
  ``EndpointsNotFound``; none with a ready address and the port's name → False
  ``MissingEndpoints``;
* ``GET /apis/<group>/<version>`` at the resolved address (TLS not verified, as upstream's
  check; the proxy client certificate and ``system:kube-aggregator`` in
  ``system:masters``) not 2xx within :data:`CHECK_TIMEOUT` → False
  ``FailedDiscoveryCheck``;
* else True ``Passed`` "all checks passed".

A passing check also refreshes the aggregated discovery cache (:class:`~.discovery.
RemoteDiscovery`) through the verifying transport, at most every :data:`DISCOVERY_TTL`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from apiserver.aggregator.index import GROUP, Entry, entry_of
from apiserver.aggregator.resolve import Resolver
from apiserver.api import errors
from apiserver.api.resources import ENDPOINTS, ENDPOINTSLICES, SERVICES, served
from apiserver.api.user import UserInfo
from apiserver.registry.registry import Registry

log = logging.getLogger(__name__)

RESYNC_SECONDS = 5.0
CHECK_TIMEOUT = 5.0
DISCOVERY_TTL = 30.0
#: How often the caches are polled for changes between resyncs.
_POLL_SECONDS = 0.25
CHECK_USER = UserInfo("system:kube-aggregator", groups=("system:masters",))

Condition = dict[str, str]
#: (entry, host, port) → None when the check passed, else its error text.
Checker = Callable[[Entry, str, int], Awaitable[str | None]]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def condition(status: str, reason: str, message: str) -> Condition:
    """An ``Available`` condition (without its transition time)."""
    return {"type": "Available", "status": status, "reason": reason, "message": message}


LOCAL = condition("True", "Local", "Local APIServices are always available")
PASSED = condition("True", "Passed", "all checks passed")


def slices_from_endpoints(endpoints: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """An Endpoints object as EndpointSlice-shaped dicts (for selector-less Services whose
    Endpoints nobody mirrored into slices)."""
    out: list[dict[str, Any]] = []
    for subset in (endpoints or {}).get("subsets") or []:
        subset = _m(subset)
        ready = [{"addresses": [_m(a).get("ip")], "conditions": {"ready": True}}
                 for a in subset.get("addresses") or [] if _m(a).get("ip")]
        unready = [{"addresses": [_m(a).get("ip")], "conditions": {"ready": False}}
                   for a in subset.get("notReadyAddresses") or [] if _m(a).get("ip")]
        ports = [{"name": _m(p).get("name") or "", "port": _m(p).get("port")}
                 for p in subset.get("ports") or []]
        out.append({"endpoints": ready + unready, "ports": ports})
    return out


def has_available_endpoint(port_name: str, slices: Sequence[Mapping[str, Any]]) -> bool:
    """Upstream's ``hasAvailableEndpoint``: a slice with a ready endpoint and a port of
    that name with a number."""
    for eps in slices:
        ready = any(_m(_m(e).get("conditions")).get("ready") is not False
                    for e in eps.get("endpoints") or [])
        named = any((_m(p).get("name") or "") == port_name and _m(p).get("port") is not None
                    for p in eps.get("ports") or [])
        if ready and named:
            return True
    return False


def service_condition(entry: Entry, service: Mapping[str, Any] | None,
                      slices: Sequence[Mapping[str, Any]]) -> Condition | None:
    """The failed condition of the Service checks, or None when they pass."""
    name, namespace = entry.service_name, entry.service_namespace
    if service is None:
        return condition("False", "ServiceNotFound",
                         f'service/{name} in "{namespace}" is not present')
    spec = _m(service.get("spec"))
    if (spec.get("type") or "ClusterIP") != "ClusterIP":
        return None
    port = next((_m(p) for p in spec.get("ports") or [] if _m(p).get("port") == entry.port),
                None)
    if port is None:
        return condition("False", "ServicePortError",
                         f'service/{name} in "{namespace}" is not listening on port '
                         f"{entry.port}")
    if not slices:
        return condition("False", "EndpointsNotFound",
                         f'cannot find endpointslices for service/{name} in "{namespace}"')
    port_name = str(port.get("name") or "")
    if not has_available_endpoint(port_name, slices):
        return condition("False", "MissingEndpoints",
                         f'endpointslices for service/{name} in "{namespace}" have no '
                         f'addresses with port name "{port_name}"')
    return None


def with_condition(obj: dict[str, Any], wanted: Condition, now: str) -> dict[str, Any]:
    """``obj`` with its ``Available`` condition set to ``wanted``; the transition time
    moves only when the status changes (upstream's ``SetAPIServiceCondition``)."""
    status = obj.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    old = next((c for c in conditions if c.get("type") == "Available"), None)
    new = {**wanted, "lastTransitionTime": now}
    if old is not None and old.get("status") == wanted["status"] \
            and old.get("lastTransitionTime"):
        new["lastTransitionTime"] = old["lastTransitionTime"]
    status["conditions"] = [new if c is old else c for c in conditions] \
        if old is not None else [*conditions, new]
    return obj


def current_condition(obj: Mapping[str, Any]) -> Condition | None:
    """The stored ``Available`` condition without its time."""
    for c in _m(obj.get("status")).get("conditions") or []:
        if _m(c).get("type") == "Available":
            return {k: str(_m(c).get(k) or "") for k in ("type", "status", "reason", "message")}
    return None


class AvailabilityController:
    """See the module docstring."""

    def __init__(self, registry: Registry, resolver: Resolver, check: Checker,
                 clock: Callable[[], datetime], resync: float = RESYNC_SECONDS) -> None:
        self.registry = registry
        self.resolver = resolver
        self.check = check
        self.clock = clock
        self.resync = resync
        self.store = registry.store(served(GROUP, "v1", "apiservices"))
        self._caches = [registry.store(info).cache
                        for info in (self.store.info, SERVICES, ENDPOINTS, ENDPOINTSLICES)]
        self._task: asyncio.Task[None] | None = None

    def desired_sync(self, entry: Entry) -> Condition | tuple[str, int]:
        """The condition decided without the network, or the (host, port) to check."""
        if entry.local:
            return LOCAL
        namespace = str(entry.service_namespace)
        service = self.resolver.core("services", namespace, entry.service_name)
        slices = list(self.resolver.slices(namespace, entry.service_name)) or \
            slices_from_endpoints(self.resolver.core("endpoints", namespace,
                                                     entry.service_name))
        failed = service_condition(entry, service, slices)
        if failed is not None:
            return failed
        try:
            return self.resolver.resolve(namespace, entry.service_name, entry.port)
        except LookupError as exc:
            return condition("False", "FailedDiscoveryCheck", str(exc))

    async def desired(self, entry: Entry) -> Condition:
        """The ``Available`` condition ``entry`` should have."""
        decided = self.desired_sync(entry)
        if isinstance(decided, dict):
            return decided
        error = await self.check(entry, *decided)
        return PASSED if error is None else condition("False", "FailedDiscoveryCheck", error)

    async def sync(self, entry: Entry, obj: Mapping[str, Any]) -> None:
        """Write ``entry``'s condition if it changed (errors logged)."""
        wanted = await self.desired(entry)
        if current_condition(obj) == wanted:
            return
        now = self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            await self.store.guaranteed_update(
                None, entry.name, lambda o: with_condition(o, wanted, now), subresource="status")
        except errors.ApiError as exc:
            # Deleted meanwhile, or another apiserver keeps writing: the next sync decides.
            log.info("updating the status of APIService %s: %s", entry.name, exc)
            return
        log.info("APIService %s: Available=%s %s", entry.name, wanted["status"],
                 wanted["reason"])

    async def sync_all(self) -> None:
        """One pass over every APIService."""
        objects = [c.obj for c in self.store.cache.objects()]
        await asyncio.gather(*(self.sync(entry_of(o), o) for o in objects))

    def _generation(self) -> int:
        return sum(cache.generation for cache in self._caches)

    async def run(self) -> None:
        """Sync forever (see the module docstring)."""
        while True:
            seen = self._generation()
            try:
                await self.sync_all()
            except Exception:
                log.exception("APIService availability sync failed")
            waited = 0.0
            while waited < self.resync and self._generation() == seen:
                await asyncio.sleep(_POLL_SECONDS)
                waited += _POLL_SECONDS

    def start(self) -> None:
        """Run in the background."""
        self._task = asyncio.create_task(self.run(), name="apiservice-availability")

    async def stop(self) -> None:
        """Stop the background task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
