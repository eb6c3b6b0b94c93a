"""``python -m controllers.servicelb``: the LoadBalancer address controller.

One Service informer, one work queue, ``--workers`` workers, on the shared controller
runtime (:mod:`controllers.runtime`): it waits for the cache to sync, rebuilds its
allocation map from the Services' status, then reconciles until SIGTERM/SIGINT. Leader
election is off by default (``--leader-elect`` turns it on).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from apiserver.api.resources import SERVICES
from controllers.runtime.app import ControllerContext, ControllerSpec, run_process
from controllers.runtime.controller import KeyedController
from controllers.runtime.flags import controller_parser
from controllers.servicelb.controller import COMPONENT, ServiceLBController
from controllers.servicelb.pool import AddressRange, Allocator, PoolError, parse_pool

__all__ = ["DEFAULT_POOL", "build_parser", "main"]

log = logging.getLogger("controllers.servicelb")

#: The loopback lab's pool: every 127.0.0.0/8 address is local on Linux.
DEFAULT_POOL = "127.240.0.0/24"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = controller_parser(
        "python -m controllers.servicelb",
        "service-lb: assign LoadBalancer Services an ingress IP from an address "
        "pool and release it when they go (like k3s's ServiceLB or MetalLB in layer-2 mode).",
        lease_name=COMPONENT, controllers=[COMPONENT], leader_elect=False,
    )
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
    return parser


def _spec(ranges: list[AddressRange]) -> ControllerSpec:
    def build(ctx: ControllerContext) -> KeyedController:
        services = ctx.informers.informer_for(SERVICES)
        allocator = Allocator(ranges, avoid_buggy_ips=ctx.args.avoid_buggy_ips)
        controller = ServiceLBController(services.store, ctx.writer, allocator,
                                         load_balancer_class=ctx.args.load_balancer_class)
        services.add_event_handler(controller.on_add, controller.on_update,
                                   controller.on_delete)
        log.info("pool %s, class %s", ",".join(str(r) for r in ranges),
                 ctx.args.load_balancer_class or "<none>")
        return controller

    return ControllerSpec(COMPONENT, build, lambda args: int(args.workers))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 2 for a bad pool or ``--workers``, else as
    :func:`~controllers.runtime.app.run_process`."""
    args = build_parser().parse_args(argv)
    try:
        ranges = parse_pool(args.address_pool or [DEFAULT_POOL])
    except PoolError as exc:
        print(f"error: --address-pool: {exc}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    return run_process(args, [_spec(ranges)])
