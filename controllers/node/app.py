"""``python -m controllers.node``: a node agent (kubemu's kubelet).

Registers a Node, heartbeats its Lease in ``kube-node-lease`` and runs the pods
bound to it: each pod gets an IP from ``--pod-cidr`` (a loopback range by
default, so nothing needs privileges) and every container port is served on
``podIP:containerPort`` by a built-in server (HTTP like agnhost netexec, or
TCP/UDP echo; see :mod:`controllers.node.servers`).

A container with a ``command`` (or ``args``) and no ``ports`` cannot be served
by a built-in server: without ``--allow-host-commands`` it "runs" for
``--finite-container-seconds`` (default 2) and exits 0 — status ``terminated``,
reason ``Completed`` — so the pods of Jobs finish (``Succeeded`` under
``restartPolicy`` Never/OnFailure; restarted under Always).

``--allow-host-commands`` is UNSAFE: it runs each container's ``command`` (and
exec probes) as a process on this host, with this agent's privileges — whatever
any pod author wrote. Off by default; without it commands are never executed.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from collections.abc import Sequence

from controllers.client.config import ConfigError, config_from_flags
from controllers.client.process import configure_logging, run_until_signalled
from controllers.client.rest import RestClient
from controllers.node.agent import NodeAgent, default_node_name
from controllers.node.runtime import FINITE_CONTAINER_SECONDS

__all__ = ["DEFAULT_NODE_IP", "DEFAULT_POD_CIDR", "build_parser", "main"]

log = logging.getLogger("controllers.node")

DEFAULT_POD_CIDR = "127.244.1.0/24"
DEFAULT_NODE_IP = "127.0.0.1"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m controllers.node",
        description="kubemu node agent: register a Node, heartbeat its Lease and run the pods "
        "bound to it with real sockets (built-in HTTP/TCP/UDP servers on each pod IP).",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG)")
    parser.add_argument("--server", help="apiserver URL; overrides the kubeconfig's server")
    parser.add_argument("--token", help="bearer token for the apiserver")
    parser.add_argument("--insecure-skip-tls-verify", action="store_true",
                        help="do not verify the apiserver's certificate")
    parser.add_argument("--node-name", default=None,
                        help="name of the Node (default: the host name)")
    parser.add_argument("--node-ip", default=DEFAULT_NODE_IP,
                        help=f"the Node's InternalIP and the pods' hostIP "
                        f"(default {DEFAULT_NODE_IP})")
    parser.add_argument("--pod-cidr", default=DEFAULT_POD_CIDR,
                        help=f"pod IPs are allocated from this CIDR (default {DEFAULT_POD_CIDR}; "
                        "use a distinct loopback range per node)")
    parser.add_argument("--allow-host-commands", action="store_true",
                        help="UNSAFE: run containers' commands and exec probes as host "
                        "processes with this agent's privileges (default: never)")
    parser.add_argument("--finite-container-seconds", type=float,
                        default=FINITE_CONTAINER_SECONDS,
                        help="a container with a command/args and no ports (which the "
                        "built-in runtime cannot run) exits 0 after this many seconds, "
                        "unless --allow-host-commands runs the real command (default 2)")
    parser.add_argument("--lease-interval", type=float, default=10.0,
                        help="seconds between Lease renewals (default 10)")
    parser.add_argument("--node-status-interval", type=float, default=60.0,
                        help="seconds between Node status heartbeats (default 60)")
    parser.add_argument("--max-pods", type=int, default=110,
                        help="the Node's pod capacity (default 110)")
    parser.add_argument("-v", "--v", dest="verbosity", type=int, default=0,
                        help="log verbosity (0-5)")
    return parser


async def run(args: argparse.Namespace) -> int:
    """Run until cancelled."""
    config = config_from_flags(args.kubeconfig, args.server, token=args.token,
                               insecure_skip_tls_verify=args.insecure_skip_tls_verify)
    client = RestClient(config)
    agent = NodeAgent(client, args.node_name or default_node_name(), args.node_ip,
                      args.pod_cidr, allow_host_commands=args.allow_host_commands,
                      lease_interval=args.lease_interval,
                      status_interval=args.node_status_interval, max_pods=args.max_pods,
                      finite_container_seconds=args.finite_container_seconds)
    if args.allow_host_commands:
        log.warning("--allow-host-commands: pod commands run as host processes (unsafe)")
    try:
        await agent.run()
    finally:
        await client.aclose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbosity)
    try:
        ipaddress.ip_network(args.pod_cidr, strict=False)
        ipaddress.ip_address(args.node_ip)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        config_from_flags(args.kubeconfig, args.server)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    return run_until_signalled(lambda: run(args))
