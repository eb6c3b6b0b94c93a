"""``python -m controllers.scheduler``: a kube-scheduler for kubemu.

One :class:`~controllers.scheduler.controller.Scheduler` with one worker on the shared
controller runtime (:mod:`controllers.runtime`): the shared connection, leader election,
``/healthz``, ``/readyz`` and ``/metrics`` flags (upstream names: ``--master``,
``--leader-elect``, ``--secure-port``), plus ``--scheduler-name`` and ``--retry-interval``.

Leader election is off by default (upstream kube-scheduler's is on, Lease
``kube-scheduler``): several schedulers with different ``--scheduler-name`` would share
that one Lease and all but one would never schedule; ``--leader-elect`` turns it on for
replicas of one scheduler.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from controllers.runtime.app import ControllerContext, ControllerSpec, run_process
from controllers.runtime.controller import KeyedController
from controllers.runtime.flags import controller_parser, duration
from controllers.scheduler.controller import Scheduler
from controllers.scheduler.core import DEFAULT_SCHEDULER

__all__ = ["LEASE_NAME", "SPEC", "build_parser", "main"]

log = logging.getLogger("controllers.scheduler")

#: Upstream kube-scheduler's leader-election Lease.
LEASE_NAME = "kube-scheduler"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = controller_parser(
        "python -m controllers.scheduler",
        "kubemu scheduler: bind pods without spec.nodeName to a Ready, schedulable "
        "node that tolerates none of their taints, matches their nodeSelector and node "
        "affinity and has their host ports and resource requests free; prefer preferred "
        "node affinity, then the node with the fewest pods; when none fits, preempt "
        "lower-priority pods.",
        lease_name=LEASE_NAME, controllers=[Scheduler.name], leader_elect=False,
    )
    parser.add_argument("--scheduler-name", default=DEFAULT_SCHEDULER,
                        help=f"schedule pods whose spec.schedulerName is this "
                        f"(default {DEFAULT_SCHEDULER})")
    parser.add_argument("--retry-interval", type=duration, default=30.0,
                        help="seconds (or a duration, e.g. 500ms) between retries of "
                        "unschedulable pods when nothing changes (default 30)")
    return parser


def _build(ctx: ControllerContext) -> KeyedController:
    log.info("scheduling pods of %s", ctx.args.scheduler_name)
    return Scheduler(ctx.writer, ctx.informers, ctx.args.scheduler_name,
                     ctx.args.retry_interval)


#: The process's one controller: one worker, so that bindings are counted exactly.
SPEC = ControllerSpec(Scheduler.name, _build, lambda _args: 1)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the exit code (see :func:`~controllers.runtime.app.run_process`)."""
    return run_process(build_parser().parse_args(argv), [SPEC])
