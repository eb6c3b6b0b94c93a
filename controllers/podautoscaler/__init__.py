"""The ``horizontalpodautoscaling`` controller of the controller manager."""

from __future__ import annotations

import argparse

from controllers.podautoscaler.controller import HPAS, SYNC_PERIOD, HorizontalController
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.flags import positive_duration

__all__ = ["HORIZONTALPODAUTOSCALING"]


def _build(ctx: ControllerContext) -> KeyedController:
    hpas = ctx.informers.informer_for(HPAS)
    controller = HorizontalController(
        hpas.store, ctx.client, ctx.writer,
        period=ctx.args.horizontal_pod_autoscaler_sync_period)
    hpas.add_event_handler(controller.on_hpa, controller.on_hpa, lambda _o: None)
    return controller


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--horizontal-pod-autoscaler-sync-period", type=positive_duration,
                        default=SYNC_PERIOD,
                        help="period between two syncs of every HorizontalPodAutoscaler "
                        "(default 15s)")
    parser.add_argument("--concurrent-horizontal-pod-autoscaler-syncs", type=int, default=5,
                        help="HorizontalPodAutoscalers synced at once (default 5)")


HORIZONTALPODAUTOSCALING = ControllerSpec(
    "horizontalpodautoscaling", _build,
    lambda args: args.concurrent_horizontal_pod_autoscaler_syncs, add_flags=_flags)
