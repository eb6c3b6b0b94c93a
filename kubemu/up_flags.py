"""The ``kubemu up`` sub-command's flags.

:func:`add_command` registers ``up`` on the ``kubemu`` sub-command parser with
every flag, its help text and its per-flag parsing (:mod:`kubemu.preflight`'s
``port_number``/``node_count``/``positive_seconds``, the address and replica flags
of :mod:`kubemu.address_flags` and :mod:`kubemu.replica_flags`); running it is
:func:`kubemu.up.cmd_up`'s job, which also checks the flags that only make sense
together.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kubemu import address_flags, dns, replica_flags
from kubemu.components import component_names
from kubemu.preflight import DEFAULT_PORT, node_count, port_number, positive_seconds
from kubemu.up import cmd_up


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``up`` on the ``kubemu`` sub-command parser."""
    up = commands.add_parser(
        "up",
        help="run all kubemu processes and write a kubeconfig",
        description="Run the kubemu processes on embedded storage, write <data-dir>/kubeconfig "
        "and supervise them until interrupted.",
    )
    up.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        help="directory for storage and the kubeconfig (default: ./data)",
    )
    up.add_argument(
        "--bind-address",
        default="127.0.0.1",
        help="address the apiserver listens on (default: 127.0.0.1)",
    )
    up.add_argument(
        "--port",
        type=port_number,
        default=None,
        help=f"apiserver port; 0 picks a free port "
        f"(default: {DEFAULT_PORT} if free, else a free port)",
    )
    up.add_argument(
        "--storage",
        choices=("sqlite", "memory", "etcd"),
        default="sqlite",
        help="storage backend (default: sqlite); etcd runs one etcd member in the data "
        "directory unless --etcd-servers is given",
    )
    up.add_argument(
        "--etcd-servers",
        default="",
        metavar="URLS",
        help="comma-separated client URLs of an etcd to use with --storage etcd",
    )
    up.add_argument(
        "--watch-cache-size",
        type=int,
        default=None,
        help="events kept in the apiserver's watch cache history",
    )
    up.add_argument(
        "--allow-unauthenticated-bind",
        action="store_true",
        help="with --insecure: allow a non-loopback --bind-address without authentication",
    )
    up.add_argument(
        "--insecure",
        action="store_true",
        help="serve plain HTTP on loopback without authentication (no certificates: the "
        "kubeconfig needs none, curl works without them); default: HTTPS with a CA, a "
        "serving certificate and client certificates kept in <data-dir>/pki",
    )
    up.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="where to write the kubeconfig (default: <data-dir>/kubeconfig)",
    )
    up.add_argument(
        "--encryption-provider-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="EncryptionConfiguration (apiserver.config.k8s.io/v1) for the apiserver: the "
        "resources it names (e.g. secrets) are stored encrypted (aescbc, aesgcm, secretbox; "
        "the first provider writes, every one reads)",
    )
    up.add_argument(
        "--disable",
        action="append",
        default=[],
        choices=component_names(),
        metavar="NAME",
        help="do not run this component (repeatable; one of: " + ", ".join(component_names()) + ")",
    )
    up.add_argument(
        "--nodes",
        type=node_count,
        default=1,
        help="node agents to run, each with its own loopback node IP (127.B.0.N), pod "
        "CIDR (127.B.(127+N).0/24) and userspace kube-proxy serving NodePorts on the node IP; "
        "node 1's kube-proxy also serves the ClusterIPs; 0 runs no node agents (default: 1)",
    )
    up.add_argument(
        "--allow-host-commands",
        action="store_true",
        help="UNSAFE: the node agents run containers' commands, exec probes and kubectl "
        "exec as processes on this host with kubemu's privileges (default: never; exec "
        "then answers with exit code 126 and says so)",
    )
    up.add_argument(
        "--ready-timeout",
        type=positive_seconds,
        default=30.0,
        help="seconds to wait for each component to become ready (default: 30)",
    )
    up.add_argument(
        "--stop-timeout",
        type=positive_seconds,
        default=10.0,
        help="seconds between SIGTERM and SIGKILL when stopping (default: 10)",
    )
    up.add_argument(
        "--dns-port",
        type=port_number,
        default=None,
        help="port of the cluster DNS (the kube-dns Service and its server; default: 53 "
        f"when kubemu may bind it, else {dns.UNPRIVILEGED_PORT}); pods get the cluster DNS "
        "in their resolv.conf only on port 53",
    )
    address_flags.add_address_flags(up)
    replica_flags.add_replica_flags(up)
    up.set_defaults(handler=cmd_up, parser=up)
