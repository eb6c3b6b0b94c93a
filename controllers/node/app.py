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

The kubelet API (container logs, exec, attach, port-forward; see
:mod:`controllers.node.kubelet.server`) listens on ``--address`` (the node IP by
default) and ``--port``; every container's output is kept under ``--root-dir`` (see
:mod:`controllers.node.podlogs`).

``--allow-host-commands`` is UNSAFE: it runs each container's ``command``, exec probes
and ``kubectl exec`` commands as processes on this host, with this agent's privileges —
whatever any pod author (or anyone allowed ``pods/exec``) wrote. Off by default; without
it commands are never executed: exec probes fail and exec answers with exit code 126,
both saying which flag enables them.
"""

from __future__ import annotations

import argparse
import atexit
import ipaddress
import logging
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from controllers.node.agent import NodeAgent, default_node_name
from controllers.node.kubelet.server import KubeletServing
from controllers.node.podlogs import DEFAULT_MAX_FILES, DEFAULT_MAX_SIZE, LogSettings
from controllers.node.resolvconf import ClusterDNS
from controllers.node.runtime import FINITE_CONTAINER_SECONDS
from controllers.node.volumemanager import DEFAULT_SYNC_FREQUENCY
from controllers.runtime.agent import AgentContext, run_agent_process
from controllers.runtime.flags import add_connection_flags, duration, positive_duration

__all__ = ["DEFAULT_NODE_IP", "DEFAULT_POD_CIDR", "build_parser", "main"]

log = logging.getLogger("controllers.node")

DEFAULT_POD_CIDR = "127.244.1.0/24"
DEFAULT_NODE_IP = "127.0.0.1"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface: the runtime's connection flags, then the kubelet's
    names (``--hostname-override``, ``--node-ip``, ``--pod-cidr``, ``--max-pods``,
    ``--address``, ``--port``, ``--tls-cert-file``, ``--tls-private-key-file``,
    ``--client-ca-file``, ``--root-dir``, ``--container-log-max-size``,
    ``--container-log-max-files``, ``--cluster-dns``, ``--cluster-domain``,
    ``--resolv-conf``, ``--healthz-bind-address``, ``--healthz-port``, ``--sync-frequency``,
    ``--node-status-report-frequency``)
    with kubemu's older spellings kept as aliases."""
    parser = argparse.ArgumentParser(
        prog="python -m controllers.node",
        description="kubemu node agent: register a Node, heartbeat its Lease and run the pods "
        "bound to it with real sockets (built-in HTTP/TCP/UDP servers on each pod IP).",
    )
    add_connection_flags(parser)
    parser.add_argument("--hostname-override", "--node-name", dest="node_name", default=None,
                        help="name of the Node (default: the host name)")
    parser.add_argument("--node-ip", default=DEFAULT_NODE_IP,
                        help=f"the Node's InternalIP and the pods' hostIP "
                        f"(default {DEFAULT_NODE_IP})")
    parser.add_argument("--pod-cidr", default=DEFAULT_POD_CIDR,
                        help=f"pod IPs are allocated from this CIDR (default {DEFAULT_POD_CIDR}; "
                        "use a distinct loopback range per node)")
    parser.add_argument("--allow-host-commands", action="store_true",
                        help="UNSAFE: run containers' commands, exec probes and kubectl exec "
                        "as host processes with this agent's privileges (default: never; exec "
                        "probes then fail and exec answers with exit code 126)")
    parser.add_argument("--finite-container-seconds", type=float,
                        default=FINITE_CONTAINER_SECONDS,
                        help="a container with a command/args and no ports (which the "
                        "built-in runtime cannot run) exits 0 after this many seconds, "
                        "unless --allow-host-commands runs the real command (default 2)")
    parser.add_argument("--lease-interval", type=duration, default=10.0,
                        help="time between Lease renewals (default 10s: the kubelet's 25%% "
                        "of its 40 s lease)")
    parser.add_argument("--node-status-report-frequency", "--node-status-interval",
                        dest="node_status_interval", type=duration, default=60.0,
                        help="time between Node status reports (default 60s)")
    parser.add_argument("--sync-frequency", type=positive_duration,
                        default=DEFAULT_SYNC_FREQUENCY,
                        help="time between refreshes of the configMap, secret, downwardAPI "
                        "and projected volumes of running pods (default 1m, the kubelet's)")
    parser.add_argument("--max-pods", type=int, default=110,
                        help="the Node's pod capacity (default 110)")
    parser.add_argument("--healthz-bind-address", default="127.0.0.1",
                        help="address of the /healthz, /readyz and /metrics server "
                        "(default 127.0.0.1)")
    parser.add_argument("--address", default=None,
                        help="address of the kubelet API (logs, exec, attach, port-forward; "
                        "default: --node-ip)")
    parser.add_argument("--port", type=int, default=0,
                        help="port of the kubelet API, advertised in the Node's "
                        "status.daemonEndpoints (default 0: a free port; the kubelet's is 10250)")
    parser.add_argument("--tls-cert-file", type=Path, default=None,
                        help="serve the kubelet API over HTTPS with this certificate")
    parser.add_argument("--tls-private-key-file", type=Path, default=None,
                        help="PEM private key of --tls-cert-file")
    parser.add_argument("--client-ca-file", type=Path, default=None,
                        help="require client certificates signed by this CA on the kubelet "
                        "API; only the apiserver's kube-apiserver-kubelet-client identity and "
                        "system:masters are admitted (without it the API must listen on "
                        "loopback)")
    parser.add_argument("--root-dir", type=Path, default=None,
                        help="directory for the node's files; container logs go to "
                        "<root-dir>/logs/pods, the volumes of pods run as host processes to "
                        "<root-dir>/pods (default: a temporary directory removed at exit)")
    parser.add_argument("--container-log-max-size", type=quantity, default=DEFAULT_MAX_SIZE,
                        help="rotate a container's log file at this size (default 10Mi)")
    parser.add_argument("--container-log-max-files", type=int, default=DEFAULT_MAX_FILES,
                        help="log files kept per container instance (default 5)")
    parser.add_argument("--cluster-dns", action="append", default=[], metavar="IP",
                        help="the cluster DNS address written as nameserver into the "
                        "resolv.conf of pods with dnsPolicy ClusterFirst (repeatable, or "
                        "comma-separated; default: none, such pods get the host's)")
    parser.add_argument("--cluster-domain", default="cluster.local",
                        help="the cluster's DNS domain, for the pods' search list "
                        "(default cluster.local)")
    parser.add_argument("--resolv-conf", default="/etc/resolv.conf",
                        help="the host resolver configuration the pods' resolv.conf starts "
                        "from (default /etc/resolv.conf; empty: none)")
    parser.add_argument("--healthz-port", type=int, default=0,
                        help="port of the /healthz, /readyz and /metrics server (default 0: "
                        "off, as several agents share one machine; the kubelet's is 10248)")
    return parser


def quantity(text: str) -> int:
    """A byte size such as ``10Mi``, ``500Ki`` or ``1048576``."""
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "K": 1000, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if text.endswith(suffix) and text[:-len(suffix)].isdigit():
            return int(text[:-len(suffix)]) * factor
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"invalid size {text!r}")


def _root_dir(ctx: AgentContext) -> Path:
    root: Path | None = ctx.args.root_dir
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="kubemu-node-"))
        atexit.register(shutil.rmtree, root, True)
    (root / "logs" / "pods").mkdir(parents=True, exist_ok=True)
    return root


def _build(ctx: AgentContext) -> NodeAgent:
    args = ctx.args
    if args.allow_host_commands:
        log.warning("--allow-host-commands: pod commands run as host processes (unsafe)")
    healthz = (args.healthz_bind_address, args.healthz_port) if args.healthz_port else None
    serving = KubeletServing(args.address or args.node_ip, args.port, args.tls_cert_file,
                             args.tls_private_key_file, args.client_ca_file)
    root = _root_dir(ctx)
    logs = LogSettings(root / "logs" / "pods", args.container_log_max_size,
                       args.container_log_max_files)
    return NodeAgent(ctx.client, ctx.informers, args.node_name or default_node_name(),
                     args.node_ip, args.pod_cidr, allow_host_commands=args.allow_host_commands,
                     lease_interval=args.lease_interval,
                     status_interval=args.node_status_interval, max_pods=args.max_pods,
                     finite_container_seconds=args.finite_container_seconds,
                     healthz=healthz, logs=logs, kubelet=serving,
                     pods_dir=str(root / "pods"), dns=cluster_dns(args),
                     sync_frequency=args.sync_frequency)


def cluster_dns(args: argparse.Namespace) -> ClusterDNS:
    """The pods' DNS settings from the flags."""
    servers = tuple(ip.strip() for value in args.cluster_dns for ip in value.split(",")
                    if ip.strip())
    return ClusterDNS(servers, args.cluster_domain.strip("."), args.resolv_conf)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 2 for bad flags, else the runtime's exit code."""
    args = build_parser().parse_args(argv)
    try:
        ipaddress.ip_network(args.pod_cidr, strict=False)
        ipaddress.ip_address(args.node_ip)
        for ip in cluster_dns(args).servers:
            ipaddress.ip_address(ip)
        KubeletServing(args.address or args.node_ip, args.port, args.tls_cert_file,
                       args.tls_private_key_file, args.client_ca_file).check()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run_agent_process(args, _build)
