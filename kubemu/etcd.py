"""The etcd ``kubemu up --storage etcd`` runs itself: one member, or a cluster of several.

Without ``--etcd-servers``, ``kubemu up --storage etcd`` starts etcd (Debian's
``etcd-server`` package, or ``$KUBEMU_ETCD``) before the apiserver:

* one member (the default): data in ``<data-dir>/etcd``, client and peer URLs on the
  instance's control address (:attr:`kubemu.addresses.Addresses.etcd_client_url`);
* ``--etcd-members N`` (N > 1): members ``etcd-1`` … ``etcd-N``, member i named
  ``kubemu-i`` with its data in ``<data-dir>/etcd-i`` and its URLs on
  :meth:`~kubemu.addresses.Addresses.etcd_member_ip` ``(i)``, all started with the same
  ``--initial-cluster``. A member only answers ``/health`` once the cluster has a leader
  (a quorum), so only the last member started has a readiness URL.

The addresses come from the instance's block, so two instances never share an etcd;
a restart on the same data directory finds its data again (etcd ignores the
``--initial-cluster*`` flags once a member has data, so a member the supervisor
restarts after ``kill -9`` rejoins the cluster it was part of). Every member runs under
``SCHED_BATCH`` (:mod:`kubemu.batchsched`), since it shares the machine with the
apiservers. etcd is stopped last,
after the apiservers. With ``--etcd-servers`` the apiservers use those servers and no
etcd is started.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kubemu.batchsched import batch_argv
from kubemu.preflight import find_program

if TYPE_CHECKING:
    from kubemu.components import LaunchContext

#: Name of the single member (and of its one-member cluster).
MEMBER_NAME = "kubemu"

MISSING_MESSAGE = (
    "etcd not found: install Debian's etcd-server (apt-get install etcd-server), "
    "set KUBEMU_ETCD=/path/to/etcd, or pass --etcd-servers"
)


def find_etcd() -> str | None:
    """Path of the etcd binary: ``$KUBEMU_ETCD``, ``etcd`` on PATH, or ``/usr/bin/etcd``."""
    return find_program("KUBEMU_ETCD", "etcd", "/usr/bin/etcd")


def member_argv(binary: str, data_dir: Path, client_url: str, peer_url: str,
                name: str = MEMBER_NAME, initial_cluster: str = "") -> list[str]:
    """Command line of a new (or restarted) member; ``initial_cluster`` (``name=peer,…``)
    defaults to this member alone. The member runs batch-scheduled
    (:mod:`kubemu.batchsched` says why)."""
    return batch_argv([
        binary,
        "--name", name,
        "--data-dir", str(data_dir),
        "--listen-client-urls", client_url,
        "--advertise-client-urls", client_url,
        "--listen-peer-urls", peer_url,
        "--initial-advertise-peer-urls", peer_url,
        "--initial-cluster", initial_cluster or f"{name}={peer_url}",
        "--initial-cluster-state", "new",
        "--initial-cluster-token", "kubemu",
        "--logger", "zap", "--log-level", "warn",
    ])


def member_args(ctx: LaunchContext) -> list[str]:
    """The single ``etcd`` component's command line (see the module docstring)."""
    return member_argv(find_etcd() or "etcd", ctx.data_dir / "etcd",
                       ctx.addresses.etcd_client_url, ctx.addresses.etcd_peer_url)


def ready_url(ctx: LaunchContext) -> str:
    """etcd's ``/health``: 200 once the member serves requests."""
    return f"{ctx.addresses.etcd_client_url}/health"


def cluster_member_name(index: int) -> str:
    """etcd's ``--name`` of member ``index`` (1-based) of a multi-member cluster."""
    return f"{MEMBER_NAME}-{index}"


def initial_cluster(ctx: LaunchContext) -> str:
    """``--initial-cluster`` of the ``ctx.etcd_members`` members."""
    return ",".join(f"{cluster_member_name(i)}={ctx.addresses.etcd_member_peer_url(i)}"
                    for i in range(1, ctx.etcd_members + 1))


def cluster_member_args(index: int) -> Callable[[LaunchContext], list[str]]:
    """Return the ``args`` builder of member ``index`` of the multi-member cluster."""

    def build(ctx: LaunchContext) -> list[str]:
        return member_argv(find_etcd() or "etcd", ctx.data_dir / f"etcd-{index}",
                           ctx.addresses.etcd_member_client_url(index),
                           ctx.addresses.etcd_member_peer_url(index),
                           cluster_member_name(index), initial_cluster(ctx))

    return build


def cluster_member_ready_url(index: int) -> Callable[[LaunchContext], str]:
    """Return the readiness URL builder of member ``index``: its ``/health``, 200 once the
    cluster has a leader."""

    def build(ctx: LaunchContext) -> str:
        return f"{ctx.addresses.etcd_member_client_url(index)}/health"

    return build


def client_urls(ctx: LaunchContext) -> list[str]:
    """The client URLs the apiservers are given (``--etcd-servers``), in member order."""
    if ctx.etcd_servers:
        return [s.strip() for s in ctx.etcd_servers.split(",") if s.strip()]
    if ctx.etcd_members > 1:
        return [ctx.addresses.etcd_member_client_url(i) for i in range(1, ctx.etcd_members + 1)]
    return [ctx.addresses.etcd_client_url]
