"""``python -m controllers.endpoints``: the endpoints, EndpointSlice and mirroring controllers.

One process, three controllers (as kube-controller-manager runs them), sharing
one set of informers (Services, Pods, Endpoints, EndpointSlices) over one HTTP
client. It waits for the caches to sync, then runs ``--workers`` workers per
controller until SIGTERM/SIGINT.

With ``--leader-elect`` (the default, as upstream) the workers run only while
this process holds the ``kube-system/kube-controller-manager`` Lease
(``--leader-elect-resource-namespace``/``-name``); standbys keep their informers
synced for a fast takeover. Every write goes through a guard that refuses it
once ``--leader-elect-renew-deadline`` has passed since the last successful
renewal was sent, and a leader whose renewal fails exits with status 1
("leaderelection lost"), as kube-controller-manager does. On SIGTERM/SIGINT the
leader releases the Lease so a successor takes over at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from apiserver.api.resources import ENDPOINTS, ENDPOINTSLICES, PODS, SERVICES
from controllers.client.config import ConfigError, config_from_flags
from controllers.client.informer import SharedInformerFactory
from controllers.client.leaderelection import (
    LeaderElectionConfig,
    LeaderElector,
    LeaderGuardedWriter,
    LeaseLock,
    default_identity,
)
from controllers.client.process import configure_logging, run_until_signalled
from controllers.client.rest import RestClient
from controllers.endpoints.base import KeyedController
from controllers.endpoints.endpoints import EndpointsController
from controllers.endpoints.health import HealthServer
from controllers.endpoints.mirroring import EndpointSliceMirroringController
from controllers.endpoints.slices import EndpointSliceController
from controllers.endpoints.writer import ObjectWriter

__all__ = ["build_parser", "main"]

log = logging.getLogger("controllers.endpoints")

ALL_CONTROLLERS = ("endpoint", "endpointslice", "endpointslicemirroring")


def _duration(text: str) -> float:
    """Seconds, or a Go-style duration (``500ms``, ``1s``, ``2m``)."""
    text = text.strip()
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * factor
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}") from None


def _bool(text: str) -> bool:
    """A Go-style boolean flag value."""
    value = text.strip().lower()
    if value in ("1", "t", "true", "y", "yes"):
        return True
    if value in ("0", "f", "false", "n", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m controllers.endpoints",
        description="Maintain Endpoints and EndpointSlices of Services from their pods, "
        "as kube-controller-manager's endpoint, endpointslice and endpointslicemirroring "
        "controllers do.",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG)")
    parser.add_argument("--server", help="apiserver URL; overrides the kubeconfig's server")
    parser.add_argument("--token", help="bearer token for the apiserver")
    parser.add_argument("--insecure-skip-tls-verify", action="store_true",
                        help="do not verify the apiserver's certificate")
    parser.add_argument("--workers", type=int, default=5,
                        help="concurrent syncs per controller (default 5)")
    parser.add_argument("--batch-period", type=_duration, default=0.0,
                        help="delay before syncing a Service after a pod change, e.g. 500ms "
                        "(default 0)")
    parser.add_argument("--controllers", default=",".join(ALL_CONTROLLERS),
                        help="comma-separated controllers to run (default: all of "
                        f"{','.join(ALL_CONTROLLERS)})")
    parser.add_argument("--max-endpoints-per-slice", type=int, default=100,
                        help="maximum endpoints per EndpointSlice (1-1000, default 100)")
    parser.add_argument("--leader-elect", type=_bool, nargs="?", const=True, default=True,
                        metavar="BOOL",
                        help="run the controllers only while holding a leader Lease, so that "
                        "several replicas can run (default true; --leader-elect=false to run "
                        "unconditionally)")
    parser.add_argument("--leader-elect-lease-duration", type=_duration, default=15.0,
                        help="how long standbys wait before taking over a lease that is not "
                        "renewed (default 15s)")
    parser.add_argument("--leader-elect-renew-deadline", type=_duration, default=10.0,
                        help="how long the leader retries renewing before it gives up "
                        "(default 10s)")
    parser.add_argument("--leader-elect-retry-period", type=_duration, default=2.0,
                        help="time between attempts to acquire or renew (default 2s)")
    parser.add_argument("--leader-elect-resource-lock", choices=["leases"], default="leases",
                        help="the lock object type (only leases)")
    parser.add_argument("--leader-elect-resource-namespace", default="kube-system",
                        help="namespace of the Lease (default kube-system)")
    parser.add_argument("--leader-elect-resource-name", default="kube-controller-manager",
                        help="name of the Lease (default kube-controller-manager)")
    parser.add_argument("--bind-address", default="127.0.0.1",
                        help="address of the /healthz and /metrics server")
    parser.add_argument("--port", type=int, default=0,
                        help="port of the /healthz and /metrics server (0: disabled)")
    parser.add_argument("--watch-timeout", type=float, nargs=2, metavar=("MIN", "MAX"),
                        default=(300.0, 600.0),
                        help="range of watch timeoutSeconds (default 300 600)")
    parser.add_argument("-v", "--v", dest="verbosity", type=int, default=0,
                        help="log verbosity (0-5)")
    return parser


def _metrics_text(controllers: dict[str, KeyedController]) -> str:
    lines = [
        "# HELP workqueue_depth Current depth of the work queue.",
        "# TYPE workqueue_depth gauge",
    ]
    for name, c in controllers.items():
        lines.append(f'workqueue_depth{{name="{name}"}} {len(c.queue)}')
    lines += ["# HELP workqueue_adds_total Total adds handled by the work queue.",
              "# TYPE workqueue_adds_total counter"]
    for name, c in controllers.items():
        lines.append(f'workqueue_adds_total{{name="{name}"}} {c.queue.adds}')
    lines += ["# HELP workqueue_retries_total Total rate-limited retries.",
              "# TYPE workqueue_retries_total counter"]
    for name, c in controllers.items():
        lines.append(f'workqueue_retries_total{{name="{name}"}} {c.queue.retries}')
    lines += ["# HELP controller_sync_duration_seconds Time spent syncing keys.",
              "# TYPE controller_sync_duration_seconds summary"]
    for name, c in controllers.items():
        lines.append(f'controller_sync_duration_seconds_sum{{name="{name}"}} {c.metrics.seconds}')
        lines.append(f'controller_sync_duration_seconds_count{{name="{name}"}} {c.metrics.syncs}')
    lines += ["# HELP controller_sync_errors_total Syncs that failed.",
              "# TYPE controller_sync_errors_total counter"]
    for name, c in controllers.items():
        lines.append(f'controller_sync_errors_total{{name="{name}"}} {c.metrics.errors}')
    lines += ["# HELP controller_writes_total Objects written.",
              "# TYPE controller_writes_total counter"]
    for name, c in controllers.items():
        lines.append(f'controller_writes_total{{name="{name}"}} {c.metrics.writes}')
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> int:
    """Run the controllers until cancelled."""
    config = config_from_flags(
        args.kubeconfig, args.server, token=args.token,
        insecure_skip_tls_verify=args.insecure_skip_tls_verify,
    )
    enabled = {c.strip() for c in str(args.controllers).split(",") if c.strip()}
    unknown = enabled - set(ALL_CONTROLLERS)
    if unknown:
        log.error("unknown controllers: %s", ", ".join(sorted(unknown)))
        return 2
    client = RestClient(config)
    elector: LeaderElector | None = None
    if args.leader_elect:
        identity = default_identity()
        lock = LeaseLock(client, args.leader_elect_resource_namespace,
                         args.leader_elect_resource_name, identity)
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
        log.info("leader election identity %s, lease %s", identity, lock.describe())
    # Controllers write only while this process surely holds the lease.
    writer: ObjectWriter = client if elector is None else LeaderGuardedWriter(client, elector)

    lo, hi = args.watch_timeout
    factory = SharedInformerFactory(client, min_watch_timeout=lo, max_watch_timeout=hi)
    services = factory.informer_for(SERVICES)
    pods = factory.informer_for(PODS)
    endpoints = factory.informer_for(ENDPOINTS)
    slices = factory.informer_for(ENDPOINTSLICES) if enabled - {"endpoint"} else None
    controllers: dict[str, KeyedController] = {}
    if "endpoint" in enabled:
        ep = EndpointsController(services.store, pods.store, endpoints.store, writer,
                                 batch_period=args.batch_period)
        services.add_event_handler(ep.on_service, ep.on_service_update, ep.on_service)
        pods.add_event_handler(ep.on_pod_add, ep.on_pod_update, ep.on_pod_delete)
        endpoints.add_event_handler(on_delete=ep.on_endpoints_delete)
        controllers["endpoint"] = ep
    if "endpointslice" in enabled and slices is not None:
        sc = EndpointSliceController(services.store, pods.store, slices.store, writer,
                                     batch_period=args.batch_period,
                                     max_per_slice=args.max_endpoints_per_slice)
        services.add_event_handler(sc.on_service, sc.on_service_update, sc.on_service)
        pods.add_event_handler(sc.on_pod_add, sc.on_pod_update, sc.on_pod_delete)
        slices.add_event_handler(sc.on_slice, sc.on_slice_update, sc.on_slice)
        controllers["endpointslice"] = sc
    if "endpointslicemirroring" in enabled and slices is not None:
        mc = EndpointSliceMirroringController(services.store, endpoints.store, slices.store,
                                              writer)
        services.add_event_handler(mc.on_object, mc.on_object_update, mc.on_object)
        endpoints.add_event_handler(mc.on_object, mc.on_object_update, mc.on_object)
        slices.add_event_handler(mc.on_slice, mc.on_slice_update, mc.on_slice)
        controllers["endpointslicemirroring"] = mc

    def metrics() -> str:
        text = _metrics_text(controllers)
        if elector is not None:
            text += (
                "# HELP leader_election_master_status Whether this process leads "
                "(1) or not (0).\n# TYPE leader_election_master_status gauge\n"
                f'leader_election_master_status{{name="{elector.config.name}"}} '
                f"{1 if leading else 0}\n"
            )
        return text

    synced = False
    leading = False
    health = HealthServer(lambda: synced, metrics)
    if args.port:
        port = await health.start(args.bind_address, args.port)
        log.info("serving /healthz and /metrics on %s:%d", args.bind_address, port)

    async def lead() -> None:
        nonlocal leading
        leading = True
        try:
            log.info("starting %s with %d workers each", ", ".join(controllers), args.workers)
            await asyncio.gather(*(c.run(args.workers) for c in controllers.values()))
        finally:
            leading = False

    factory.start()
    try:
        while not await factory.wait_for_cache_sync(timeout=10.0):
            log.info("waiting for informer caches to sync")
        synced = True
        log.info("caches synced")
        if elector is None:
            await lead()
        else:
            # Only the leader's workers run; they are cancelled the moment a renewal
            # fails, and the process exits (as kube-controller-manager does).
            await elector.run(lead)
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
        config_from_flags(args.kubeconfig, args.server)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    return run_until_signalled(lambda: run(args))
