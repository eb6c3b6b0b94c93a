"""Run a set of controllers as kube-controller-manager runs its controllers.

A controller process describes its controllers as :class:`ControllerSpec` rows (name, on by
default or not, a builder) and calls :func:`run_controllers` with its parsed flags (see
:mod:`controllers.runtime.flags`). The runner owns everything else, the same for every
process:

1. the REST client from ``--kubeconfig``/``--master``/``--token``;
2. leader election on ``--leader-elect-resource-namespace``/``-name`` (when
   ``--leader-elect``): controllers write through a guard that refuses writes once the lease
   is not surely held, a lost lease ends the process with status 1 ("leaderelection lost"),
   SIGTERM releases the lease;
3. one :class:`~controllers.client.informer.SharedInformerFactory`: every builder asks it for
   the informers it needs, so each resource is listed and watched once per process;
4. ``/healthz``, ``/readyz`` (ready once the caches synced) and ``/metrics`` on
   ``--bind-address``/``--port``;
5. the cache-sync wait, then each controller's workers until cancelled.

:func:`run_process` is a process's whole ``main`` after parsing: logging, the
connection-flag check, then :func:`run_controllers` until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from controllers.client.config import config_from_flags
from controllers.client.informer import SharedInformerFactory
from controllers.client.leaderelection import (
    LeaderElectionConfig,
    LeaderElector,
    LeaderGuardedWriter,
    LeaseLock,
    default_identity,
)
from controllers.client.rest import RestClient
from controllers.runtime.agent import run_main
from controllers.runtime.controller import KeyedController
from controllers.runtime.flags import UnknownControllers, enabled_controllers
from controllers.runtime.health import HealthServer
from controllers.runtime.metrics import metrics_text

__all__ = ["ControllerContext", "ControllerSpec", "run_controllers", "run_process"]

log = logging.getLogger("controllers.runtime")


@dataclass
class ControllerContext:
    """What a controller builder gets: flags, the shared informers, a reader and a writer.

    ``client`` reads (GET/LIST) and is never guarded; ``writer`` is the leader-guarded
    writer (or the client itself without leader election). ``enabled`` lists every
    controller this process runs, for builders that cooperate.
    """

    args: argparse.Namespace
    client: RestClient
    writer: Any
    informers: SharedInformerFactory
    enabled: Sequence[str]


def _no_flags(_parser: argparse.ArgumentParser) -> None:
    return None


@dataclass(frozen=True)
class ControllerSpec:
    """One controller of a process: its ``--controllers`` name, whether ``*`` turns it on,
    how many workers it runs (from the flags), how to build it, and the flags of its own
    it adds to the process's parser (upstream names, e.g. ``--concurrent-job-syncs``)."""

    name: str
    build: Callable[[ControllerContext], KeyedController]
    workers: Callable[[argparse.Namespace], int] = lambda _args: 5
    on_by_default: bool = True
    add_flags: Callable[[argparse.ArgumentParser], None] = _no_flags


async def run_controllers(args: argparse.Namespace, specs: Sequence[ControllerSpec]) -> int:
    """Run the controllers ``args.controllers`` selects until cancelled; the exit code.

    2 for bad flags (unknown controllers, invalid leader election timing), 1 when the
    leader lease is lost, 0 on a clean stop.
    """
    try:
        chosen = enabled_controllers(
            args.controllers, [s.name for s in specs],
            [s.name for s in specs if not s.on_by_default],
        )
    except UnknownControllers as exc:
        log.error("unknown controllers: %s", exc)
        return 2
    config = config_from_flags(args.kubeconfig, args.server, token=args.token,
                               insecure_skip_tls_verify=args.insecure_skip_tls_verify)
    client = RestClient(config)
    try:
        elector = _elector(args, client)
    except ValueError as exc:
        log.error("invalid leader election configuration: %s", exc)
        await client.aclose()
        return 2
    writer: Any = client if elector is None else LeaderGuardedWriter(client, elector)
    lo, hi = args.watch_timeout
    factory = SharedInformerFactory(client, min_watch_timeout=lo, max_watch_timeout=hi)
    context = ControllerContext(args, client, writer, factory, chosen)
    by_name = {s.name: s for s in specs}
    controllers = {name: by_name[name].build(context) for name in chosen}
    state = {"synced": False, "leading": False}

    def metrics() -> str:
        leader = None
        if elector is not None:
            leader = (elector.config.name, state["leading"])
        return metrics_text(controllers, leader)

    health = HealthServer(lambda: state["synced"], metrics)
    if args.port:
        port = await health.start(args.bind_address, args.port)
        log.info("serving /healthz, /readyz and /metrics on %s:%d", args.bind_address, port)

    async def lead() -> None:
        state["leading"] = True
        try:
            log.info("starting controllers: %s", ", ".join(controllers) or "(none)")
            await asyncio.gather(*(
                c.run(by_name[name].workers(args)) for name, c in controllers.items()
            ))
        finally:
            state["leading"] = False

    factory.start()
    try:
        while not await factory.wait_for_cache_sync(timeout=10.0):
            log.info("waiting for informer caches to sync")
        state["synced"] = True
        log.info("caches synced")
        if elector is None:
            await lead()
        else:
            await elector.run(lead)
            log.error("leaderelection lost")
            return 1
    finally:
        await factory.stop()
        await health.stop()
        await client.aclose()
    return 0


def run_process(args: argparse.Namespace, specs: Sequence[ControllerSpec]) -> int:
    """Configure logging from ``-v``, check the connection flags (2 when they are bad),
    then :func:`run_controllers` until it returns or SIGTERM/SIGINT; the exit code."""
    return run_main(args, lambda: run_controllers(args, specs))


def _elector(args: argparse.Namespace, client: RestClient) -> LeaderElector | None:
    """The elector ``--leader-elect`` asks for (None without); ValueError on bad timing."""
    if not args.leader_elect:
        return None
    identity = default_identity()
    lock = LeaseLock(client, args.leader_elect_resource_namespace,
                     args.leader_elect_resource_name, identity)
    elector = LeaderElector(LeaderElectionConfig(
        lock, lease_duration=args.leader_elect_lease_duration,
        renew_deadline=args.leader_elect_renew_deadline,
        retry_period=args.leader_elect_retry_period,
        release_on_cancel=True, name=args.leader_elect_resource_name,
    ))
    log.info("leader election identity %s, lease %s", identity, lock.describe())
    return elector
