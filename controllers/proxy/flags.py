"""kube-proxy's command line: the runtime's connection flags, then upstream's names.

``--kubeconfig``, ``--master`` (alias ``--server``), ``--token`` and ``-v`` come from
:func:`controllers.runtime.flags.add_connection_flags`; the rest keep kube-proxy's names
and meanings, with two kubemu differences said in their help: ``--healthz-bind-address``
and ``--metrics-bind-address`` default to loopback (nothing here is authenticated), and
``--proxy-mode`` defaults to ``userspace`` (no privileges needed on loopback ranges).
"""

from __future__ import annotations

import argparse

from controllers.runtime.flags import add_connection_flags, bool_flag, duration, host_port

__all__ = ["MODES", "build_parser"]

MODES = ("userspace", "iptables", "nftables", "ipvs")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface (upstream flag names)."""
    p = argparse.ArgumentParser(
        prog="python -m controllers.proxy",
        description="kube-proxy: make Service ClusterIPs, NodePorts, external and "
        "load-balancer IPs reach ready endpoints.",
    )
    add_connection_flags(p)
    p.add_argument("--proxy-mode", choices=MODES, default="userspace",
                   help="which proxy mode to use (default userspace: needs no privileges "
                   "with loopback service and pod ranges)")
    p.add_argument("--hostname-override",
                   help="the node name to use instead of the hostname (local endpoints)")
    p.add_argument("--bind-address", default="0.0.0.0",
                   help="the IP address the proxy serves on (userspace binds each service "
                   "address directly)")
    p.add_argument("--nodeport-addresses", default="",
                   help="comma-separated IPs or CIDRs NodePorts and health-check node ports "
                   "are served on, and the only non-loopback external/load-balancer IPs "
                   "proxied (userspace default 127.0.0.1; rule modes default: every local "
                   "address)")
    p.add_argument("--bind-cluster-ips", type=bool_flag, nargs="?", const=True, default=True,
                   metavar="BOOL",
                   help="userspace (kubemu-specific): bind ClusterIPs, external IPs and "
                   "load-balancer IPs (default true). These addresses are shared by every "
                   "node, so when several userspace proxies simulate several nodes on one "
                   "machine exactly one binds them and the others run with "
                   "--bind-cluster-ips=false, serving only their node's NodePorts on "
                   "--nodeport-addresses (externalTrafficPolicy: Local NodePorts then reach "
                   "only endpoints whose nodeName is --hostname-override)")
    p.add_argument("--cluster-cidr", default="",
                   help="the pod CIDR; traffic to services from outside it is masqueraded")
    p.add_argument("--masquerade-all", action="store_true",
                   help="SNAT all traffic sent via service cluster IPs")
    p.add_argument("--masquerade-bit", type=int, default=14,
                   help="the fwmark bit marking packets to SNAT (default 14: 0x4000)")
    p.add_argument("--min-sync-period", type=duration, default=1.0,
                   help="minimum interval between rule syncs, e.g. 1s, 0 (default 1s)")
    p.add_argument("--sync-period", type=duration, default=30.0,
                   help="maximum interval between syncs (default 30s)")
    p.add_argument("--udp-timeout", type=duration, default=0.25,
                   help="userspace: idle time after which a UDP session is dropped "
                   "(default 250ms)")
    p.add_argument("--healthz-bind-address", type=host_port,
                   default=host_port("127.0.0.1:10256"),
                   help="host:port of /healthz and /livez (default 127.0.0.1:10256: "
                   "loopback, unlike upstream's 0.0.0.0, as nothing here is authenticated; "
                   "empty disables)")
    p.add_argument("--metrics-bind-address", type=host_port,
                   default=host_port("127.0.0.1:10249"),
                   help="host:port of /metrics (default 127.0.0.1:10249; empty disables)")
    p.add_argument("--feature-gates", default="",
                   help="comma-separated key=bool; EndpointSliceProxying=false reads Endpoints")
    p.add_argument("--dry-run", action="store_true",
                   help="render the rules on stdout and apply nothing")
    return p
