"""The ``horizontalpodautoscaling`` controller of the controller manager."""

from __future__ import annotations

import argparse

from controllers.podautoscaler.behavior import DOWNSCALE_STABILIZATION
from controllers.podautoscaler.controller import HPAS, PODS, SYNC_PERIOD, HorizontalController
from controllers.podautoscaler.replicas import (
    CPU_INITIALIZATION_PERIOD,
    INITIAL_READINESS_DELAY,
    TOLERANCE,
)
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.flags import duration, positive_duration

__all__ = ["HORIZONTALPODAUTOSCALING"]


def _build(ctx: ControllerContext) -> KeyedController:
    hpas = ctx.informers.informer_for(HPAS)
    # The pod cache the replica calculator reads (upstream's pod lister); no handlers:
    # pod changes do not trigger a sync, the periodic one reads them.
    pods = ctx.informers.informer_for(PODS)
    args = ctx.args
    controller = HorizontalController(
        hpas.store, ctx.client, ctx.writer,
        period=args.horizontal_pod_autoscaler_sync_period, pods=pods.store,
        tolerance=args.horizontal_pod_autoscaler_tolerance,
        downscale_stabilization=args.horizontal_pod_autoscaler_downscale_stabilization,
        cpu_initialization_period=args.horizontal_pod_autoscaler_cpu_initialization_period,
        initial_readiness_delay=args.horizontal_pod_autoscaler_initial_readiness_delay)
    hpas.add_event_handler(controller.on_hpa, controller.on_hpa, controller.on_hpa_deleted)
    return controller


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--horizontal-pod-autoscaler-sync-period", type=positive_duration,
                        default=SYNC_PERIOD,
                        help="period between two syncs of every HorizontalPodAutoscaler "
                        "(default 15s)")
    parser.add_argument("--concurrent-horizontal-pod-autoscaler-syncs", type=int, default=5,
                        help="HorizontalPodAutoscalers synced at once (default 5)")
    parser.add_argument("--horizontal-pod-autoscaler-tolerance", type=float,
                        default=TOLERANCE,
                        help="minimum change (from 1.0) in the desired-to-actual metrics ratio "
                        "for the autoscaler to consider scaling (default 0.1)")
    parser.add_argument("--horizontal-pod-autoscaler-downscale-stabilization", type=duration,
                        default=DOWNSCALE_STABILIZATION,
                        help="period for which the autoscaler looks backwards and does not "
                        "scale down below any recommendation it made then (default 5m0s)")
    parser.add_argument("--horizontal-pod-autoscaler-cpu-initialization-period",
                        type=duration, default=CPU_INITIALIZATION_PERIOD,
                        help="period after pod start when CPU samples might be skipped "
                        "(default 5m0s)")
    parser.add_argument("--horizontal-pod-autoscaler-initial-readiness-delay", type=duration,
                        default=INITIAL_READINESS_DELAY,
                        help="period after pod start during which readiness changes are "
                        "treated as initial readiness (default 30s)")


HORIZONTALPODAUTOSCALING = ControllerSpec(
    "horizontalpodautoscaling", _build,
    lambda args: args.concurrent_horizontal_pod_autoscaler_syncs, add_flags=_flags)
