"""``python -m controllers.dns``: cluster DNS on the shared agent runtime.

The process binds its DNS address first (UDP and TCP; a privileged port it may not bind
ends it with status 1 and a message naming ``--dns-port``), then runs as an agent
(:mod:`controllers.runtime.agent`): informers on Namespaces, Services and EndpointSlices
over HTTP, ``/healthz``, ``/readyz`` and ``/metrics`` on ``--metrics-bind-address``, and
answers from the caches once they synced (SERVFAIL for the zone before, as CoreDNS).
Names outside ``--cluster-domain`` go to ``--upstream`` (default: the nameservers of
``--resolv-conf``), or are REFUSED with ``--forward=false``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from apiserver.api.resources import ENDPOINTSLICES, NAMESPACES, SERVICES
from controllers.dns.backend import Backend
from controllers.dns.server import DnsServer
from controllers.runtime.agent import AgentContext, Endpoint, run_agent, run_main
from controllers.runtime.flags import add_connection_flags, bool_flag, host_port
from controllers.runtime.health import Response, health_routes, routes

__all__ = ["build_parser", "main", "resolv_conf_nameservers"]

log = logging.getLogger("controllers.dns")


def resolv_conf_nameservers(path: Path) -> list[tuple[str, int]]:
    """The ``nameserver`` lines of a resolv.conf as (address, 53); [] when unreadable."""
    try:
        text = path.read_text()
    except OSError:
        return []
    return [(parts[1], 53) for line in text.splitlines()
            if len(parts := line.split()) >= 2 and parts[0] == "nameserver"]


def _upstream(text: str) -> tuple[str, int]:
    if text.count(":") == 1 or text.startswith("["):
        parsed = host_port(text)
        if parsed is None:
            raise argparse.ArgumentTypeError("empty upstream")
        return parsed
    return text, 53


def _ttl(text: str) -> int:
    if not text.isdigit() or int(text) > 3600:
        raise argparse.ArgumentTypeError(f"ttl must be 0-3600 seconds, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m controllers.dns",
        description="cluster DNS: answer for Services and Pods of --cluster-domain as "
        "CoreDNS's kubernetes plugin does, forward other names upstream.")
    add_connection_flags(parser)
    parser.add_argument("--cluster-domain", default="cluster.local",
                        help="the zone answered from the API (default cluster.local)")
    parser.add_argument("--dns-address", default="127.0.0.1",
                        help="address of the UDP and TCP listeners (default 127.0.0.1)")
    parser.add_argument("--dns-port", type=int, default=53,
                        help="port of the UDP and TCP listeners; 0 picks a free one "
                        "(default 53, which needs root or CAP_NET_BIND_SERVICE)")
    parser.add_argument("--ttl", type=_ttl, default=5, help="record TTL, 0-3600 (default 5)")
    parser.add_argument("--pods", choices=["insecure", "disabled"], default="insecure",
                        help="pod records <a-b-c-d>.<ns>.pod.<zone>: answered from the name "
                        "(insecure, the default) or NXDOMAIN (disabled)")
    parser.add_argument("--upstream", action="append", type=_upstream, metavar="ADDR[:PORT]",
                        help="resolver for names outside the zone; repeatable (default: "
                        "the nameservers of --resolv-conf)")
    parser.add_argument("--resolv-conf", type=Path, default=Path("/etc/resolv.conf"),
                        help="where the default upstreams come from (default /etc/resolv.conf)")
    parser.add_argument("--forward", type=bool_flag, nargs="?", const=True, default=True,
                        metavar="BOOL", help="forward names outside the zone (default true); "
                        "false answers them REFUSED")
    parser.add_argument("--metrics-bind-address", type=host_port, default="",
                        metavar="HOST:PORT", help="serve /healthz, /readyz and /metrics "
                        "here (default: off)")
    return parser


class DnsAgent:
    """The agent: builds the backend on the informers and serves until cancelled."""

    def __init__(self, ctx: AgentContext, server: DnsServer) -> None:
        args = ctx.args
        self.args = args
        self.server = server
        informers = [ctx.informers.informer_for(r)
                     for r in (NAMESPACES, SERVICES, ENDPOINTSLICES)]
        self.backend = Backend(args.cluster_domain, *(i.store for i in informers),
                               pods=args.pods == "insecure")
        for informer in informers:
            informer.add_event_handler(self.backend.changed, self.backend.changed,
                                       self.backend.changed)

    def http_servers(self) -> Sequence[Endpoint]:
        """``/healthz``, ``/readyz`` and ``/metrics`` when ``--metrics-bind-address``."""
        if self.args.metrics_bind_address is None:
            return []
        table = health_routes(lambda: self.server.backend is not None, self.metrics)
        table["/health"] = lambda: Response(200, "OK")
        return [(self.args.metrics_bind_address, routes(table))]

    def metrics(self) -> str:
        """Request and response counters with CoreDNS's names and labels."""
        zone = self.backend.zone + "."
        server = f"dns://{self.args.dns_address}:{self.args.dns_port}"
        lines = ["# HELP coredns_dns_requests_total Counter of DNS requests made per zone, "
                 "protocol and family.", "# TYPE coredns_dns_requests_total counter"]
        for (proto, family, qtype), n in sorted(self.server.requests.items()):
            lines.append(f'coredns_dns_requests_total{{server="{server}",zone="{zone}",'
                         f'view="",proto="{proto}",family="{family}",type="{qtype}"}} {n}')
        lines += ["# HELP coredns_dns_responses_total Counter of response status codes.",
                  "# TYPE coredns_dns_responses_total counter"]
        for rcode, n in sorted(self.server.responses.items()):
            lines.append(f'coredns_dns_responses_total{{server="{server}",zone="{zone}",'
                         f'view="",rcode="{rcode}",plugin=""}} {n}')
        return "\n".join(lines) + "\n"

    async def run(self) -> None:
        """Answer from the synced caches until cancelled."""
        self.server.backend = self.backend
        log.info("answering for %s", self.backend.zone)
        await asyncio.Event().wait()


async def serve(args: argparse.Namespace) -> int:
    """Bind, then run the agent; 1 when the DNS address cannot be bound."""
    upstreams = args.upstream or resolv_conf_nameservers(args.resolv_conf)
    server = DnsServer(args.ttl, upstreams, forward=args.forward)
    try:
        port = await server.bind(args.dns_address, args.dns_port)
    except PermissionError as exc:
        log.error("cannot bind %s:%d (%s): port %d needs root or CAP_NET_BIND_SERVICE; "
                  "pass --dns-port with a port above 1023", args.dns_address,
                  args.dns_port, exc, args.dns_port)
        return 1
    except OSError as exc:
        log.error("cannot bind %s:%d: %s", args.dns_address, args.dns_port, exc)
        return 1
    args.dns_port = port
    log.info("serving DNS on %s:%d (udp, tcp); upstreams %s", args.dns_address, port,
             ", ".join(f"{h}:{p}" for h, p in upstreams) if args.forward and upstreams
             else "none (other names REFUSED)")
    try:
        return await run_agent(args, lambda ctx: DnsAgent(ctx, server))
    finally:
        await server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 2 for bad flags, 1 when the DNS address cannot be bound."""
    args = build_parser().parse_args(argv)
    if not 0 <= args.dns_port <= 65535:
        print("error: --dns-port must be 0-65535", file=sys.stderr)
        return 2
    return run_main(args, lambda: serve(args))
