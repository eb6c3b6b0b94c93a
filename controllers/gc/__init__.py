"""kube-controller-manager's ``garbagecollector``: cascading deletion of owned objects.

:data:`GARBAGECOLLECTOR` is the manager's row: one shared informer per built-in resource
that can be listed, watched and deleted feeds the collector's graph, and
:class:`~controllers.gc.monitors.ResourceMonitors` adds one for each such resource the
server starts serving later (custom resources).
"""

from __future__ import annotations

import argparse

from apiserver.api.resources import CUSTOMRESOURCEDEFINITIONS, RESOURCES, ResourceInfo
from controllers.gc.collector import GarbageCollector
from controllers.gc.graph import Graph
from controllers.gc.monitors import ResourceMonitors
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.flags import positive_duration

__all__ = ["GARBAGECOLLECTOR", "IGNORED_RESOURCES", "GarbageCollector", "Graph",
           "deletable_resources"]


#: ``(group, plural)`` the collector never watches: upstream's default
#: ``GCIgnoredResources`` (Events own nothing and are written all the time).
IGNORED_RESOURCES = frozenset({("", "events"), ("events.k8s.io", "events")})


def deletable_resources() -> list[ResourceInfo]:
    """One served version of every resource with the list, watch and delete verbs, but
    :data:`IGNORED_RESOURCES`."""
    seen: set[tuple[str, str]] = set(IGNORED_RESOURCES)
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
    static = deletable_resources()
    for info in static:
        on_add, on_update, on_delete = collector.handlers(info)
        ctx.informers.informer_for(info).add_event_handler(on_add, on_update, on_delete)
    monitors = ResourceMonitors(
        ctx.client.request, ctx.informers, collector.handlers, collector.discovered,
        {(info.group, info.plural) for info in static} | IGNORED_RESOURCES,
        period=float(ctx.args.garbage_collector_discovery_period),
    )
    ctx.informers.informer_for(CUSTOMRESOURCEDEFINITIONS).add_event_handler(
        monitors.trigger, lambda _old, new: monitors.trigger(new), monitors.trigger,
    )
    collector.monitors = monitors
    return collector


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrent-gc-syncs", type=int, default=20,
                        help="garbage collector workers (default 20)")
    parser.add_argument("--garbage-collector-discovery-period", type=positive_duration,
                        default=30.0,
                        metavar="SECONDS",
                        help="how often the garbage collector reads discovery for kinds served "
                        "later, such as custom resources (default 30; a CustomResourceDefinition "
                        "change also triggers a pass)")


GARBAGECOLLECTOR = ControllerSpec(
    "garbagecollector", _build, lambda args: int(args.concurrent_gc_syncs), add_flags=_flags,
)
