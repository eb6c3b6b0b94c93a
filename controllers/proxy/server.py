"""kube-proxy's core: informers → change trackers → runner → proxier (``pkg/proxy``).

Informers (Services, and EndpointSlices — or Endpoints with
``--feature-gates EndpointSliceProxying=false`` — and this node's Node) feed the change
trackers through the config handlers below; a :class:`BoundedFrequencyRunner` calls
:meth:`ProxyServer.sync_proxy_rules`, which commits the pending changes to the
service-port and endpoints maps, drops the external and load-balancer IPs that are not
this node's (:mod:`.addresses`), hands the maps to the proxier of ``--proxy-mode`` and
syncs the health-check node ports (:mod:`.health`). Nothing is programmed before the
informers have synced (upstream's ``On*Synced`` gate): the agent runtime
(:mod:`controllers.runtime.agent`) waits for them before :meth:`ProxyServer.run`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from apiserver.api.resources import ENDPOINTS, ENDPOINTSLICES, NODES, SERVICES
from controllers.client.informer import SharedInformerFactory
from controllers.client.rest import RestClient
from controllers.client.store import DeletedFinalStateUnknown
from controllers.proxy.addresses import REASON, NodeAddresses, nodeport_ips
from controllers.proxy.change_tracker import (
    EndpointsChangeTracker,
    EndpointsMap,
    ServiceChangeTracker,
    ServicePortMap,
)
from controllers.proxy.health import ServiceHealthServer, proxier_routes
from controllers.proxy.metrics import ProxyMetrics
from controllers.proxy.runner import BoundedFrequencyRunner
from controllers.proxy.types import Proxier, ServicePortName
from controllers.runtime.agent import Endpoint
from controllers.runtime.events import EventRecorder
from controllers.runtime.health import PROMETHEUS, Response, routes

__all__ = ["FULL_SYNC_PERIOD", "ProxyServer"]

log = logging.getLogger("controllers.proxy")

#: The cluster autoscaler's taint on a node it is about to delete.
TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"
#: PR #129329: full resyncs at most hourly.
FULL_SYNC_PERIOD = 3600.0


def _unwrap(obj: Any) -> dict[str, Any]:
    if isinstance(obj, DeletedFinalStateUnknown):
        return dict(obj.obj)
    return dict(obj)


class ProxyServer:
    """Wires informers → trackers → runner → proxier; owns metrics and health."""

    def __init__(self, args: argparse.Namespace, client: RestClient | None,
                 make_proxier: Callable[[ProxyServer], Proxier],
                 informers: SharedInformerFactory | None = None) -> None:
        self.args = args
        self.client = client
        self.hostname = args.hostname_override or socket.gethostname()
        #: Events about Services (upstream's kube-proxy reports as "kube-proxy").
        self.events = EventRecorder(client, "kube-proxy", host=self.hostname) \
            if client is not None else None
        self.node_addresses = NodeAddresses(
            args.nodeport_addresses, all_host_addresses=args.proxy_mode != "userspace")
        # Health-check ports listen where NodePorts do (upstream: every address when
        # --nodeport-addresses is empty); --dry-run applies nothing, so opens nothing.
        hc_addresses = ([] if args.dry_run else
                        nodeport_ips(args.nodeport_addresses)
                        if args.proxy_mode == "userspace" or args.nodeport_addresses
                        else ["0.0.0.0"])
        self.health_timeout = 2 * args.sync_period
        self.node_eligible = True
        gates = dict(kv.split("=", 1) for kv in args.feature_gates.split(",") if "=" in kv)
        self.use_slices = gates.get("EndpointSliceProxying", "true").lower() != "false"
        self.service_changes = ServiceChangeTracker()
        self.endpoints_changes = EndpointsChangeTracker(self.hostname)
        self.service_map = ServicePortMap()
        self.endpoints_map = EndpointsMap()
        self.metrics = ProxyMetrics()
        self.runner = BoundedFrequencyRunner(
            "sync-runner", self.sync_proxy_rules, min_interval=args.min_sync_period,
            max_interval=max(args.sync_period, args.min_sync_period, 0.001),
            retry_interval=max(min(args.sync_period, 1.0), args.min_sync_period),
        )
        self.initialized = False
        self.need_full_sync = True
        self._last_full = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.service_health = ServiceHealthServer(
            self.hostname, hc_addresses, lambda: self.metrics.healthy(self.health_timeout),
            lambda spn, msg: self.record_event(spn, "FailedToStartServiceHealthcheck", msg))
        self.proxier = make_proxier(self)
        if informers is not None:
            self._watch(informers)

    # -- config handlers (pkg/proxy/config) -----------------------------------------

    def _changed(self, needed: bool) -> None:
        if needed and self.initialized:
            if self.metrics.pending_since is None:
                self.metrics.pending_since = time.time()
            self.runner.run()

    def on_service_add(self, obj: dict[str, Any]) -> None:
        self._changed(self.service_changes.update(None, obj))

    def on_service_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._changed(self.service_changes.update(old, new))

    def on_service_delete(self, obj: Any) -> None:
        self._changed(self.service_changes.update(_unwrap(obj), None))

    def on_slice_add(self, obj: dict[str, Any]) -> None:
        self._changed(self.endpoints_changes.endpoint_slice_update(obj, False))

    def on_slice_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._changed(self.endpoints_changes.endpoint_slice_update(new, False))

    def on_slice_delete(self, obj: Any) -> None:
        self._changed(self.endpoints_changes.endpoint_slice_update(_unwrap(obj), True))

    def on_endpoints_add(self, obj: dict[str, Any]) -> None:
        self._changed(self.endpoints_changes.endpoints_update(None, obj))

    def on_endpoints_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._changed(self.endpoints_changes.endpoints_update(old, new))

    def on_endpoints_delete(self, obj: Any) -> None:
        self._changed(self.endpoints_changes.endpoints_update(_unwrap(obj), None))

    # -- sync --------------------------------------------------------------------------

    async def sync_proxy_rules(self) -> None:
        """Commit pending changes and program the dataplane (``syncProxyRules``)."""
        if not self.initialized:
            return
        start = time.monotonic()
        full = self.need_full_sync or start - self._last_full >= FULL_SYNC_PERIOD
        changed = self.service_map.update(self.service_changes)
        update = self.endpoints_map.update(self.endpoints_changes)
        changed |= update.services
        services = self.node_addresses.filter(
            self.service_map, lambda spn, msg: self.record_event(spn, REASON, msg))
        try:
            await self.proxier.sync(services, dict(self.endpoints_map), changed, full)
            await self.service_health.sync(services, self.endpoints_map)
        except Exception:
            self.need_full_sync = True
            self.metrics.sync_failures += 1
            raise
        if full:
            self._last_full = start
        self.need_full_sync = False
        elapsed = time.monotonic() - start
        self.metrics.record_sync(elapsed)
        self.metrics.services = len(self.service_map)
        self.metrics.endpoints = sum(len(e) for e in self.endpoints_map.values())
        now = datetime.now(UTC)
        for ts in update.trigger_times.values():
            self.metrics.programming_duration.observe(max(0.0, (now - ts).total_seconds()))
        log.debug("synced %d service ports (%d changed, full=%s) in %.3fs",
                  len(self.service_map), len(changed), full, elapsed)

    # -- events --------------------------------------------------------------------------

    def on_node(self, node: Any) -> None:
        """This node changed (or went away: its last state): as upstream's ``SyncNode``, it
        is not eligible for traffic once it is being deleted or the cluster autoscaler
        tainted it for deletion."""
        node = _unwrap(node)
        taints = (node.get("spec") or {}).get("taints") or []
        eligible = not (node.get("metadata") or {}).get("deletionTimestamp") and not any(
            isinstance(t, Mapping) and t.get("key") == TO_BE_DELETED_TAINT for t in taints)
        if eligible != self.node_eligible:
            log.info("node %s eligible for traffic: %s", self.hostname, eligible)
        self.node_eligible = eligible

    def record_event(self, spn: ServicePortName, reason: str, message: str) -> None:
        """Post a Warning Event on the Service (fire and forget)."""
        if self.client is None:
            return
        task = asyncio.ensure_future(self._post_event(spn, reason, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post_event(self, spn: ServicePortName, reason: str, message: str) -> None:
        assert self.events is not None
        service = {"kind": "Service", "apiVersion": "v1",
                   "metadata": {"namespace": spn.namespace, "name": spn.name}}
        await self.events.event(service, "Warning", reason, message)

    # -- informers, servers, run ---------------------------------------------------------

    def _watch(self, factory: SharedInformerFactory) -> None:
        services = factory.informer_for(SERVICES)
        services.add_event_handler(self.on_service_add, self.on_service_update,
                                   self.on_service_delete)
        if self.use_slices:
            slices = factory.informer_for(ENDPOINTSLICES)
            slices.add_event_handler(self.on_slice_add, self.on_slice_update,
                                     self.on_slice_delete)
        else:
            eps = factory.informer_for(ENDPOINTS)
            eps.add_event_handler(self.on_endpoints_add, self.on_endpoints_update,
                                  self.on_endpoints_delete)
        node = factory.informer_for(NODES, field_selector=f"metadata.name={self.hostname}")
        node.add_event_handler(self.on_node, lambda _old, new: self.on_node(new), self.on_node)

    def http_servers(self) -> Sequence[Endpoint]:
        """The healthz server (``/healthz``, ``/livez`` as upstream's, and ``/metrics``
        too: kubemu has always served it there, so a single-port setup with
        ``--metrics-bind-address ""`` still scrapes) and the metrics server (``/metrics``,
        ``/proxyMode`` and a plain ``/healthz``, as upstream's); one server when both
        flags name the same address."""
        render = self.metrics.render
        healthz: Mapping[str, Callable[[], Response]] = {
            **proxier_routes(self.metrics, self.health_timeout, lambda: self.node_eligible),
            "/metrics": lambda: Response(200, render(), PROMETHEUS),
        }
        metrics: Mapping[str, Callable[[], Response]] = {
            "/metrics": lambda: Response(200, render(), PROMETHEUS),
            "/healthz": lambda: Response(200, "ok"),
            "/proxyMode": lambda: Response(200, self.args.proxy_mode),
        }
        hz, mx = self.args.healthz_bind_address, self.args.metrics_bind_address
        if hz is not None and hz == mx:
            return [(hz, routes({**metrics, **healthz}))]
        out: list[Endpoint] = []
        if hz is not None:
            out.append((hz, routes(healthz)))
        if mx is not None:
            out.append((mx, routes(metrics)))
        return out

    async def run(self) -> None:
        """Sync until cancelled (the runtime has synced the informers); then release the
        proxier's sockets and the health-check servers."""
        self.initialized = True
        log.info("caches synced; proxy mode %s", self.args.proxy_mode)
        if self.events is not None and not self.args.dry_run:
            # What describe node lists for kube-proxy: ``Starting`` on its Node.
            await self.events.event(
                {"apiVersion": "v1", "kind": "Node",
                 "metadata": {"name": self.hostname, "uid": self.hostname}},
                "Normal", "Starting", "", action="StartKubeProxy")
        try:
            await self.runner.loop()
        finally:
            await self.service_health.close()
            await self.proxier.cleanup()
