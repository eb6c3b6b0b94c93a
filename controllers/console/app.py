"""``python -m controllers.console``: the live web console, on the shared agent runtime.

The process binds its HTTP address first (``--bind-address``/``--port``, loopback by
default; the console has no authentication of its own, so any other address is refused
unless ``--allow-unauthenticated-bind``), logs ``serving the console on http://HOST:PORT/``,
then runs as an agent (:mod:`controllers.runtime.agent`): informers on Namespaces,
Services, EndpointSlices, Pods and Nodes over HTTP with its own credentials
(``--kubeconfig``), a :class:`~.hub.Hub` rebuilding the snapshot on their events and on
changed connection counts (``--proxy-metrics-url``, repeatable, polled every
``--metrics-poll-interval``), and the page's server (:mod:`.server`) until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import socket
import sys
from collections.abc import Sequence

from apiserver.api.resources import ENDPOINTSLICES, NAMESPACES, NODES, PODS, SERVICES
from controllers.client.store import DeletedFinalStateUnknown, meta_namespace_key, split_key
from controllers.console.hub import Hub
from controllers.console.proxymetrics import MetricsPoller
from controllers.console.server import ConsoleServer
from controllers.console.snapshot import CacheView
from controllers.runtime.agent import AgentContext, Endpoint, run_agent, run_main
from controllers.runtime.flags import add_connection_flags, positive_duration

__all__ = ["DEFAULT_PORT", "ConsoleAgent", "build_parser", "main"]

log = logging.getLogger("controllers.console")

#: The console's port when ``--port`` is not given (the Kubernetes Dashboard's plain-HTTP one).
DEFAULT_PORT = 9090


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m controllers.console",
        description="live web console: every namespace's Services, their EndpointSlices, "
        "pods and nodes as a diagram, updated from watches.")
    add_connection_flags(parser)
    parser.add_argument("--bind-address", default="127.0.0.1",
                        help="address of the page (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port of the page; 0 picks a free one (default {DEFAULT_PORT})")
    parser.add_argument("--allow-unauthenticated-bind", action="store_true",
                        help="serve a non-loopback --bind-address although the console "
                        "asks nobody for credentials")
    parser.add_argument("--proxy-metrics-url", action="append", default=[], metavar="URL",
                        help="a userspace kube-proxy's /metrics to read connection counts "
                        "per endpoint from (repeatable; one per node)")
    parser.add_argument("--metrics-poll-interval", type=positive_duration, default=1.0,
                        metavar="DURATION", help="how often to read them (default 1s)")
    return parser


class ConsoleAgent:
    """Informers → hub → page; the metrics poller beside them. Each informer event marks
    the namespace it is about (a Namespace's own name) or, for Nodes, the nodes."""

    def __init__(self, ctx: AgentContext, sock: socket.socket) -> None:
        self.sock = sock
        self.informers = [ctx.informers.informer_for(r)
                          for r in (NAMESPACES, SERVICES, ENDPOINTSLICES, PODS, NODES)]
        self.poller = MetricsPoller(ctx.args.proxy_metrics_url, ctx.args.metrics_poll_interval,
                                    lambda namespaces: self.hub.mark(namespaces))
        ns, svc, slices, pods, nodes = (i.store for i in self.informers)
        self.hub = Hub(CacheView(ns, svc, slices, pods, nodes, lambda: self.poller.counts))
        for informer in self.informers[:4]:
            informer.add_event_handler(self._marked, lambda _old, new: self._marked(new),
                                       self._marked)
        self.informers[4].add_event_handler(self._nodes, lambda _old, _new: self._nodes(),
                                            self._nodes)
        self.server = ConsoleServer(self.hub, ctx.client,
                                    lambda: all(i.has_synced() for i in self.informers))

    def _marked(self, obj: dict[str, object] | DeletedFinalStateUnknown) -> None:
        namespace, name = split_key(meta_namespace_key(obj))
        self.hub.mark([namespace or name])

    def _nodes(self, *_: object) -> None:
        self.hub.mark(nodes=True)

    def http_servers(self) -> Sequence[Endpoint]:
        """None from the runtime: the page has its own server (event streams)."""
        return []

    async def run(self) -> None:
        """Serve the page, rebuild snapshots and poll the proxies until cancelled."""
        await self.server.start(self.sock)
        try:
            await asyncio.gather(self.hub.run(), self.poller.run())
        finally:
            await self.server.stop()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (OSError when it cannot be had)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def serve(args: argparse.Namespace) -> int:
    """Bind, then run the agent; 1 when the address cannot be bound."""
    try:
        sock = bind(args.bind_address, args.port)
    except OSError as exc:
        log.error("cannot serve the console on %s:%d: %s", args.bind_address, args.port, exc)
        return 1
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    log.info("serving the console on http://%s:%d/", shown, port)
    if not _loopback(host):
        log.warning("the console serves %s WITHOUT AUTHENTICATION: anyone who can reach "
                    "it reads the cluster with the console's identity", host)
    try:
        return await run_agent(args, lambda ctx: ConsoleAgent(ctx, sock))
    finally:
        sock.close()


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 2 for bad flags (an unauthenticated non-loopback address among
    them), 1 when the address cannot be bound."""
    args = build_parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        print("error: --port must be 0-65535", file=sys.stderr)
        return 2
    if not _loopback(args.bind_address) and not args.allow_unauthenticated_bind:
        print(f"error: refusing to serve the console on {args.bind_address} without "
              "authentication; pass --allow-unauthenticated-bind to do it anyway",
              file=sys.stderr)
        return 2
    return run_main(args, lambda: serve(args))
