"""``python -m controllers.manager``: the workload and lifecycle controllers in one process.

As kube-controller-manager: every controller below runs on the shared runtime
(:mod:`controllers.runtime`) with one set of informers, under the
``kube-system/kube-controller-manager`` leader Lease, each selectable with
``--controllers`` (``*``, ``foo``, ``-foo``). The endpoints controllers keep their own
process (``python -m controllers.endpoints``), as kubemu's design separates them.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from controllers.batch.cronjob import CRONJOB
from controllers.batch.job import JOB
from controllers.batch.ttl import TTL_AFTER_FINISHED
from controllers.certificates.signing import CSRSIGNING
from controllers.daemonset.app import DAEMONSET
from controllers.deployment.controller import DEPLOYMENT
from controllers.disruption.app import DISRUPTION
from controllers.gc import GARBAGECOLLECTOR
from controllers.manager.clusterrole_aggregation import CLUSTERROLE_AGGREGATION
from controllers.manager.ephemeralvolume import EPHEMERAL_VOLUME
from controllers.manager.rootcacertpublisher import ROOT_CA_CERT_PUBLISHER, add_root_ca_flag
from controllers.manager.serviceaccount import SERVICEACCOUNT
from controllers.manager.serviceaccount_tokens import SERVICEACCOUNT_TOKEN
from controllers.namespace.controller import NAMESPACE
from controllers.nodelifecycle.lifecycle import NODELIFECYCLE
from controllers.nodelifecycle.podgc import PODGC
from controllers.nodelifecycle.tainteviction import TAINT_EVICTION
from controllers.podautoscaler import HORIZONTALPODAUTOSCALING
from controllers.resourcequota import RESOURCEQUOTA
from controllers.runtime.app import ControllerSpec, run_process
from controllers.runtime.flags import add_common_flags
from controllers.statefulset.controller import STATEFULSET
from controllers.volume import (
    HOSTPATH_PROVISIONER,
    PERSISTENTVOLUME_BINDER,
    PV_PROTECTION,
    PVC_PROTECTION,
)
from controllers.workloads.replicaset import REPLICASET, REPLICATIONCONTROLLER

__all__ = ["CONTROLLERS", "build_parser", "main"]

#: Every controller of the manager, in kube-controller-manager's names.
CONTROLLERS: tuple[ControllerSpec, ...] = (
    NAMESPACE,
    SERVICEACCOUNT,
    SERVICEACCOUNT_TOKEN,
    ROOT_CA_CERT_PUBLISHER,
    REPLICASET,
    REPLICATIONCONTROLLER,
    STATEFULSET,
    DAEMONSET,
    DISRUPTION,
    NODELIFECYCLE,
    TAINT_EVICTION,
    PODGC,
    DEPLOYMENT,
    GARBAGECOLLECTOR,
    JOB,
    CRONJOB,
    TTL_AFTER_FINISHED,
    HORIZONTALPODAUTOSCALING,
    EPHEMERAL_VOLUME,
    PERSISTENTVOLUME_BINDER,
    PVC_PROTECTION,
    PV_PROTECTION,
    HOSTPATH_PROVISIONER,
    RESOURCEQUOTA,
    CLUSTERROLE_AGGREGATION,
    CSRSIGNING,
)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface: the shared flags plus each controller's own."""
    parser = argparse.ArgumentParser(
        prog="python -m controllers.manager",
        description="Run kubemu's controller manager: the workload and lifecycle "
        "controllers of kube-controller-manager, over the apiserver's HTTP API.",
    )
    add_common_flags(parser, lease_name="kube-controller-manager",
                     controllers=[spec.name for spec in CONTROLLERS])
    add_root_ca_flag(parser)  # shared by two controllers: the manager's, not one's own
    for spec in CONTROLLERS:
        spec.add_flags(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the exit code (see :func:`~controllers.runtime.app.run_process`)."""
    return run_process(build_parser().parse_args(argv), CONTROLLERS)
