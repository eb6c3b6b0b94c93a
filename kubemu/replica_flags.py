"""The replica flags of ``kubemu up``: ``--etcd-members`` and ``--apiservers``.

``--etcd-members N`` runs an N-member etcd cluster (with ``--storage etcd`` and no
``--etcd-servers``); ``--apiservers N`` runs N apiservers on that storage behind haproxy
(see :mod:`kubemu.components` and :mod:`kubemu.haproxy`). Both are 1 to
:data:`~kubemu.addresses.MAX_REPLICAS` (each replica has its own address in the
instance's block); combinations that cannot work are usage errors (exit 2), found by
:func:`check` before anything is locked or written.
"""

from __future__ import annotations

import argparse

from kubemu.addresses import MAX_REPLICAS


def replica_count(text: str) -> int:
    """argparse type of ``--etcd-members`` and ``--apiservers``: 1 to
    :data:`~kubemu.addresses.MAX_REPLICAS`."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_REPLICAS:
        raise argparse.ArgumentTypeError(
            f"invalid replica count {text!r}: must be 1-{MAX_REPLICAS}")
    return value


def add_replica_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--etcd-members`` and ``--apiservers`` to ``kubemu up``'s parser."""
    parser.add_argument(
        "--etcd-members",
        type=replica_count,
        default=1,
        help="with --storage etcd and no --etcd-servers: members of the etcd cluster to run "
        "(each on its own address of the instance's block; default: 1)",
    )
    parser.add_argument(
        "--apiservers",
        type=replica_count,
        default=1,
        help="apiserver replicas to run; more than one run behind haproxy (health checks on "
        "/readyz) on the instance's balancer address, which the kubeconfig names "
        "(needs --storage etcd; default: 1)",
    )


def check(args: argparse.Namespace) -> str | None:
    """What is wrong with ``--etcd-members``/``--apiservers`` next to the other flags."""
    if args.etcd_members > 1 and (args.storage != "etcd" or args.etcd_servers):
        return "--etcd-members needs --storage etcd without --etcd-servers"
    if args.apiservers > 1 and args.storage != "etcd":
        return "--apiservers needs --storage etcd (the replicas share one store)"
    if args.apiservers > 1 and args.bind_address != "127.0.0.1":
        return ("--apiservers N > 1 listens on the instance's balancer address; "
                "--bind-address applies to a single apiserver")
    return None
