"""The volume controllers of the controller manager: ``persistentvolume-binder``,
``pvc-protection``, ``pv-protection``, and kubemu's ``hostpath-provisioner`` (the external
provisioner of its default StorageClass)."""

from __future__ import annotations

from typing import Any

from apiserver.api.resources import PODS
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.volume.binder import (
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    STORAGECLASSES,
    PersistentVolumeBinder,
)
from controllers.volume.protection import PVCProtectionController, PVProtectionController
from controllers.volume.provisioner import HostPathProvisioner, add_flags

__all__ = ["HOSTPATH_PROVISIONER", "PERSISTENTVOLUME_BINDER", "PVC_PROTECTION",
           "PV_PROTECTION"]


def _stores(ctx: ControllerContext) -> tuple[Any, Any, Any]:
    return (ctx.informers.informer_for(PERSISTENTVOLUMES),
            ctx.informers.informer_for(PERSISTENTVOLUMECLAIMS),
            ctx.informers.informer_for(STORAGECLASSES))


def _binder(ctx: ControllerContext) -> KeyedController:
    volumes, claims, classes = _stores(ctx)
    binder = PersistentVolumeBinder(volumes.store, claims.store, classes.store, ctx.writer)
    volumes.add_event_handler(binder.on_volume, binder.on_volume, binder.on_volume)
    claims.add_event_handler(binder.on_claim, binder.on_claim, binder.on_claim)
    return binder


def _pvc_protection(ctx: ControllerContext) -> KeyedController:
    _volumes, claims, _classes = _stores(ctx)
    pods = ctx.informers.informer_for(PODS)
    controller = PVCProtectionController(claims.store, pods.store, ctx.writer)
    claims.add_event_handler(controller.on_claim, controller.on_claim)
    pods.add_event_handler(controller.on_pod, controller.on_pod, controller.on_pod)
    return controller


def _pv_protection(ctx: ControllerContext) -> KeyedController:
    volumes, _claims, _classes = _stores(ctx)
    controller = PVProtectionController(volumes.store, ctx.writer)
    volumes.add_event_handler(controller.on_volume, controller.on_volume)
    return controller


def _provisioner(ctx: ControllerContext) -> KeyedController:
    volumes, claims, classes = _stores(ctx)
    controller = HostPathProvisioner(claims.store, volumes.store, classes.store, ctx.writer,
                                     ctx.args.hostpath_provisioner_root)
    claims.add_event_handler(controller.on_claim, controller.on_claim)
    volumes.add_event_handler(controller.on_volume, controller.on_volume)
    return controller


PERSISTENTVOLUME_BINDER = ControllerSpec("persistentvolume-binder", _binder, lambda _a: 1)
PVC_PROTECTION = ControllerSpec("pvc-protection", _pvc_protection, lambda _a: 1)
PV_PROTECTION = ControllerSpec("pv-protection", _pv_protection, lambda _a: 1)
HOSTPATH_PROVISIONER = ControllerSpec("hostpath-provisioner", _provisioner, lambda _a: 1,
                                      add_flags=add_flags)
