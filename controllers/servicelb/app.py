"""``python -m controllers.servicelb``: the LoadBalancer address controller.

One Service informer, one work queue, ``--workers`` workers. It waits for the
cache to sync, rebuilds its allocation map from the Services' status, then
reconciles until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from apiserver.api.resources import SERVICES, ResourceInfo
from controllers.client.config import ConfigError, config_from_flags
from controllers.client.informer import SharedInformerFactory
from controllers.client.leaderelection import (
    LeaderElectionConfig,
    LeaderElector,
    LeaseLock,
    NotLeaderError,
    default_identity,
)
from controllers.client.process import configure_logging, run_until_signalled
from controllers.client.rest import RestClient
from controllers.runtime.health import HealthServer
from controllers.servicelb.controller import COMPONENT, ServiceLBController, StatusWriter
from controllers.servicelb.pool import AddressRange, Allocator, PoolError, parse_pool

__all__ = ["DEFAULT_POOL", "build_parser", "main"]

log = logging.getLogger("controllers.servicelb")

#: The loopback lab's pool: every 127.0.0.0/8 address is local on Linux.
DEFAULT_POOL = "127.240.0.0/24"


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "t", "true", "y", "yes"):
        return True
    if value in ("0", "f", "false", "n", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def _duration(text: str) -> float:
    """Seconds, or a Go-style duration (``500ms``, ``15s``, ``1m``)."""
    text = text.strip()
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        number = text[: -len(suffix)]
        if text.endswith(suffix) and number.replace(".", "", 1).isdigit():
            return float(number) * factor
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}") from None


class LeaderGuardedStatusWriter:
    """Writes ``/status``, Events and patches only while this process holds the lease."""

    def __init__(self, client: RestClient, elector: LeaderElector) -> None:
        self._client = client
        self._elector = elector

    def _check(self) -> None:
        if not self._elector.holds_lease():
            raise NotLeaderError(
                f"not writing: lease {self._elector.config.lock.describe()} is not held")

    async def update_status(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``PUT /status`` while leading."""
        self._check()
        return await self._client.update_status(info, namespace, obj)

    async def create(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``POST`` while leading."""
        self._check()
        return await self._client.create(info, namespace, obj)

    async def patch(
        self,
        info: ResourceInfo,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        content_type: str = "application/merge-patch+json",
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """``PATCH`` while leading."""
        self._check()
        return await self._client.patch(info, namespace, name, patch,
                                        content_type=content_type, subresource=subresource)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m controllers.servicelb",
        description="service-lb: assign LoadBalancer Services an ingress IP from an address "
        "pool and release it when they go (like k3s's ServiceLB or MetalLB in layer-2 mode).",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG)")
    parser.add_argument("--server", help="apiserver URL; overrides the kubeconfig's server")
    parser.add_argument("--token", help="bearer token for the apiserver")
    parser.add_argument("--insecure-skip-tls-verify", action="store_true",
                        help="do not verify the apiserver's certificate")
    parser.add_argument("--address-pool", action="append", metavar="POOL",
                        help="addresses to assign: comma-separated CIDRs (127.240.0.0/24), "
                        "ranges (10.0.0.10-10.0.0.20) or addresses; repeatable "
                        f"(default {DEFAULT_POOL})")
    parser.add_argument("--avoid-buggy-ips", action="store_true",
                        help="never assign IPv4 addresses ending in .0 or .255 unless a "
                        "Service requests one (MetalLB's avoidBuggyIPs)")
    parser.add_argument("--load-balancer-class", default=None, metavar="CLASS",
                        help="handle only Services whose spec.loadBalancerClass is CLASS "
                        "(default: only Services without a loadBalancerClass); Services of "
                        "any other class are left alone")
    parser.add_argument("--workers", type=int, default=2,
                        help="concurrent Service syncs (default 2)")
    parser.add_argument("--leader-elect", type=_bool, nargs="?", const=True, default=False,
                        metavar="BOOL",
                        help="reconcile only while holding a leader Lease, so that several "
                        "replicas can run (default false: run one replica)")
    parser.add_argument("--leader-elect-lease-duration", type=_duration, default=15.0,
                        help="lease duration (default 15s)")
    parser.add_argument("--leader-elect-renew-deadline", type=_duration, default=10.0,
                        help="how long the leader retries renewing (default 10s)")
    parser.add_argument("--leader-elect-retry-period", type=_duration, default=2.0,
                        help="wait between acquire/renew attempts (default 2s)")
    parser.add_argument("--leader-elect-resource-namespace", default="kube-system",
                        help="namespace of the leader Lease (default kube-system)")
    parser.add_argument("--leader-elect-resource-name", default=COMPONENT,
                        help=f"name of the leader Lease (default {COMPONENT})")
    parser.add_argument("--bind-address", default="127.0.0.1",
                        help="address of the /healthz and /metrics server")
    parser.add_argument("--port", type=int, default=0,
                        help="port of the /healthz, /readyz and /metrics server (0: disabled)")
    parser.add_argument("--watch-timeout", type=float, nargs=2, metavar=("MIN", "MAX"),
                        default=(300.0, 600.0),
                        help="range of watch timeoutSeconds (default 300 600)")
    parser.add_argument("-v", "--v", dest="verbosity", type=int, default=0,
                        help="log verbosity (0-5)")
    return parser


def _metrics_text(c: ServiceLBController) -> str:
    name = COMPONENT
    return "\n".join([
        "# HELP servicelb_addresses_total Addresses in the pool.",
        "# TYPE servicelb_addresses_total gauge",
        f"servicelb_addresses_total {c.allocator.size()}",
        "# HELP servicelb_addresses_in_use Addresses assigned to Services.",
        "# TYPE servicelb_addresses_in_use gauge",
        f"servicelb_addresses_in_use {len(c.allocator)}",
        "# HELP servicelb_pending_services Services of ours without an address.",
        "# TYPE servicelb_pending_services gauge",
        f"servicelb_pending_services {len(c.pending)}",
        "# HELP workqueue_depth Current depth of the work queue.",
        "# TYPE workqueue_depth gauge",
        f'workqueue_depth{{name="{name}"}} {len(c.queue)}',
        "# HELP workqueue_retries_total Total rate-limited retries.",
        "# TYPE workqueue_retries_total counter",
        f'workqueue_retries_total{{name="{name}"}} {c.queue.retries}',
        "# HELP controller_sync_errors_total Syncs that failed.",
        "# TYPE controller_sync_errors_total counter",
        f'controller_sync_errors_total{{name="{name}"}} {c.metrics.errors}',
        "# HELP controller_writes_total Objects written.",
        "# TYPE controller_writes_total counter",
        f'controller_writes_total{{name="{name}"}} {c.metrics.writes}',
    ]) + "\n"


async def run(args: argparse.Namespace, ranges: list[AddressRange]) -> int:
    """Run the controller until cancelled."""
    config = config_from_flags(
        args.kubeconfig, args.server, token=args.token,
        insecure_skip_tls_verify=args.insecure_skip_tls_verify,
    )
    client = RestClient(config)
    elector: LeaderElector | None = None
    writer: StatusWriter = client
    if args.leader_elect:
        lock = LeaseLock(client, args.leader_elect_resource_namespace,
                         args.leader_elect_resource_name, default_identity())
        try:
            elector = LeaderElector(LeaderElectionConfig(
                lock, lease_duration=args.leader_elect_lease_duration,
                renew_deadline=args.leader_elect_renew_deadline,
                retry_period=args.leader_elect_retry_period,
                release_on_cancel=True, name=args.leader_elect_resource_name,
            ))
        except ValueError as exc:
            log.error("invalid leader election configuration: %s", exc)
            await client.aclose()
            return 2
        writer = LeaderGuardedStatusWriter(client, elector)
        log.info("leader election identity %s, lease %s", lock.identity, lock.describe())
    lo, hi = args.watch_timeout
    factory = SharedInformerFactory(client, min_watch_timeout=lo, max_watch_timeout=hi)
    services = factory.informer_for(SERVICES)
    allocator = Allocator(ranges, avoid_buggy_ips=args.avoid_buggy_ips)
    controller = ServiceLBController(services.store, writer, allocator,
                                     load_balancer_class=args.load_balancer_class)
    services.add_event_handler(controller.on_add, controller.on_update, controller.on_delete)

    synced = False
    health = HealthServer(lambda: synced, lambda: _metrics_text(controller))
    if args.port:
        port = await health.start(args.bind_address, args.port)
        log.info("serving /healthz and /metrics on %s:%d", args.bind_address, port)
    factory.start()
    try:
        while not await factory.wait_for_cache_sync(timeout=10.0):
            log.info("waiting for the Service cache to sync")
        synced = True
        log.info("cache synced; pool %s, class %s, %d workers",
                 ",".join(str(r) for r in ranges), args.load_balancer_class or "<none>",
                 args.workers)
        if elector is None:
            await controller.run(args.workers)
        else:
            # The allocation map is rebuilt when leading starts (``startup``); the
            # process exits when the lease is lost, as kube-controller-manager does.
            await elector.run(lambda: controller.run(args.workers))
            log.error("leaderelection lost")
            return 1
    finally:
        await factory.stop()
        await health.stop()
        await client.aclose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbosity)
    try:
        ranges = parse_pool(args.address_pool or [DEFAULT_POOL])
    except PoolError as exc:
        print(f"error: --address-pool: {exc}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        config_from_flags(args.kubeconfig, args.server)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    return run_until_signalled(lambda: run(args, ranges))
