"""The ``disruption`` ControllerSpec (one worker: upstream has no concurrency flag)."""

from __future__ import annotations

from apiserver.api.resources import PODS
from controllers.disruption.controller import (
    PODDISRUPTIONBUDGETS,
    SCALED,
    DisruptionController,
)
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController

__all__ = ["DISRUPTION"]


def _build(ctx: ControllerContext) -> KeyedController:
    pdbs = ctx.informers.informer_for(PODDISRUPTIONBUDGETS)
    pods = ctx.informers.informer_for(PODS)
    scaled = {kind: ctx.informers.informer_for(info) for kind, info in SCALED.items()}
    controller = DisruptionController(
        pdbs.store, pods.store, {kind: inf.store for kind, inf in scaled.items()}, ctx.writer)
    pdbs.add_event_handler(controller.on_pdb, controller.on_pdb, controller.on_pdb)
    pods.add_event_handler(controller.on_pod, controller.on_pod, controller.on_pod)
    for informer in scaled.values():
        informer.add_event_handler(controller.on_scaled, controller.on_scaled,
                                   controller.on_scaled)
    return controller


DISRUPTION = ControllerSpec("disruption", _build, lambda _args: 1)
