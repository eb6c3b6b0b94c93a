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
import logging
from collections.abc import Sequence

from apiserver.api.resources import ENDPOINTS, ENDPOINTSLICES, PODS, SERVICES
from controllers.endpoints.endpoints import EndpointsController
from controllers.endpoints.mirroring import EndpointSliceMirroringController
from controllers.endpoints.slices import EndpointSliceController
from controllers.runtime.app import ControllerContext, ControllerSpec, run_process
from controllers.runtime.controller import KeyedController
from controllers.runtime.flags import add_common_flags, duration

__all__ = ["CONTROLLERS", "build_parser", "main"]

log = logging.getLogger("controllers.endpoints")


def _endpoint(ctx: ControllerContext) -> KeyedController:
    f = ctx.informers
    services, pods, endpoints = (f.informer_for(SERVICES), f.informer_for(PODS),
                                 f.informer_for(ENDPOINTS))
    ep = EndpointsController(services.store, pods.store, endpoints.store, ctx.writer,
                             batch_period=ctx.args.batch_period)
    services.add_event_handler(ep.on_service, ep.on_service_update, ep.on_service)
    pods.add_event_handler(ep.on_pod_add, ep.on_pod_update, ep.on_pod_delete)
    endpoints.add_event_handler(on_delete=ep.on_endpoints_delete)
    return ep


def _endpointslice(ctx: ControllerContext) -> KeyedController:
    f = ctx.informers
    services, pods, slices = (f.informer_for(SERVICES), f.informer_for(PODS),
                              f.informer_for(ENDPOINTSLICES))
    sc = EndpointSliceController(services.store, pods.store, slices.store, ctx.writer,
                                 batch_period=ctx.args.batch_period,
                                 max_per_slice=ctx.args.max_endpoints_per_slice)
    services.add_event_handler(sc.on_service, sc.on_service_update, sc.on_service)
    pods.add_event_handler(sc.on_pod_add, sc.on_pod_update, sc.on_pod_delete)
    slices.add_event_handler(sc.on_slice, sc.on_slice_update, sc.on_slice)
    return sc


def _mirroring(ctx: ControllerContext) -> KeyedController:
    f = ctx.informers
    services, endpoints, slices = (f.informer_for(SERVICES), f.informer_for(ENDPOINTS),
                                   f.informer_for(ENDPOINTSLICES))
    mc = EndpointSliceMirroringController(services.store, endpoints.store, slices.store,
                                          ctx.writer)
    services.add_event_handler(mc.on_object, mc.on_object_update, mc.on_object)
    endpoints.add_event_handler(mc.on_object, mc.on_object_update, mc.on_object)
    slices.add_event_handler(mc.on_slice, mc.on_slice_update, mc.on_slice)
    return mc


def _workers(args: argparse.Namespace) -> int:
    return int(args.workers)


#: The controllers of this process, in kube-controller-manager's names.
CONTROLLERS = (
    ControllerSpec("endpoint", _endpoint, _workers),
    ControllerSpec("endpointslice", _endpointslice, _workers),
    ControllerSpec("endpointslicemirroring", _mirroring, _workers),
)
ALL_CONTROLLERS = tuple(spec.name for spec in CONTROLLERS)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m controllers.endpoints",
        description="Maintain Endpoints and EndpointSlices of Services from their pods, "
        "as kube-controller-manager's endpoint, endpointslice and endpointslicemirroring "
        "controllers do.",
    )
    add_common_flags(parser, lease_name="kube-controller-manager", controllers=ALL_CONTROLLERS)
    parser.add_argument("--workers", "--concurrent-endpoint-syncs", type=int, default=5,
                        help="concurrent syncs per controller (default 5)")
    parser.add_argument("--batch-period", "--endpoint-updates-batch-period", type=duration,
                        default=0.0,
                        help="delay before syncing a Service after a pod change, e.g. 500ms "
                        "(default 0)")
    parser.add_argument("--max-endpoints-per-slice", type=int, default=100,
                        help="maximum endpoints per EndpointSlice (1-1000, default 100)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the exit code (see :func:`~controllers.runtime.app.run_process`)."""
    return run_process(build_parser().parse_args(argv), CONTROLLERS)
