"""The ``daemonset`` ControllerSpec: informers, handlers and ``--concurrent-daemonset-syncs``."""

from __future__ import annotations

import argparse

from apiserver.api.resources import NODES, PODS
from controllers.daemonset.controller import (
    CONTROLLERREVISIONS,
    DAEMONSETS,
    DaemonSetsController,
)
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController

__all__ = ["DAEMONSET"]


def _build(ctx: ControllerContext) -> KeyedController:
    daemonsets = ctx.informers.informer_for(DAEMONSETS)
    pods = ctx.informers.informer_for(PODS)
    nodes = ctx.informers.informer_for(NODES)
    revisions = ctx.informers.informer_for(CONTROLLERREVISIONS)
    controller = DaemonSetsController(daemonsets.store, pods.store, nodes.store,
                                      revisions.store, ctx.writer)
    daemonsets.add_event_handler(controller.on_daemonset, controller.on_daemonset,
                                 controller.on_daemonset)
    pods.add_event_handler(controller.on_pod, controller.on_pod, controller.on_pod)
    nodes.add_event_handler(controller.on_node, controller.on_node, controller.on_node)
    return controller


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrent-daemonset-syncs", type=int, default=2,
                        help="daemonset workers (default 2)")


DAEMONSET = ControllerSpec(
    "daemonset", _build, lambda args: int(args.concurrent_daemonset_syncs), add_flags=_flags,
)
