"""kube-controller-manager's ``garbagecollector``: cascading deletion of owned objects.

:data:`GARBAGECOLLECTOR` is the manager's row: one shared informer per resource that
can be listed, watched and deleted feeds the collector's graph.
"""

from __future__ import annotations

import argparse

from apiserver.api.resources import RESOURCES, ResourceInfo
from controllers.gc.collector import GarbageCollector
from controllers.gc.graph import Graph
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController

__all__ = ["GARBAGECOLLECTOR", "GarbageCollector", "Graph", "deletable_resources"]


def deletable_resources() -> list[ResourceInfo]:
    """One served version of every resource with the list, watch and delete verbs."""
    seen: set[tuple[str, str]] = set()
    out: list[ResourceInfo] = []
    for info in RESOURCES:
        if not {"list", "watch", "delete"} <= set(info.verbs):
            continue
        if (info.group, info.plural) in seen:
            continue
        seen.add((info.group, info.plural))
        out.append(info)
    return out


def _build(ctx: ControllerContext) -> KeyedController:
    collector = GarbageCollector(ctx.client, ctx.writer)
    for info in deletable_resources():
        on_add, on_update, on_delete = collector.handlers(info)
        ctx.informers.informer_for(info).add_event_handler(on_add, on_update, on_delete)
    return collector


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrent-gc-syncs", type=int, default=20,
                        help="garbage collector workers (default 20)")


GARBAGECOLLECTOR = ControllerSpec(
    "garbagecollector", _build, lambda args: int(args.concurrent_gc_syncs), add_flags=_flags,
)
