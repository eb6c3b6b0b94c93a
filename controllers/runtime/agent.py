"""Run a node-level agent (kube-proxy, the node agent) on the shared runtime.

Agents elect no leader and run no keyed controllers, but get the rest of the runtime the
same way the controller processes do: the REST client from the connection flags, one
:class:`~controllers.client.informer.SharedInformerFactory` (an agent asks it for its
informers while it is built), its HTTP servers (health, readiness, metrics — each agent
names its addresses and routes, as kube-proxy and the kubelet have their own), the
cache-sync wait, then :meth:`Agent.run` until SIGTERM/SIGINT, and a graceful shutdown
(informers stopped, servers closed, client closed).

:func:`run_main` is the part every process's ``main`` shares after parsing: logging from
``-v``, the connection-flag check (exit 2), then the coroutine until a signal.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from controllers.client.config import ConfigError, config_from_flags
from controllers.client.informer import SharedInformerFactory
from controllers.client.process import configure_logging, run_until_signalled
from controllers.client.rest import RestClient
from controllers.runtime.health import Handler, HttpServer

__all__ = ["Agent", "AgentContext", "run_agent", "run_agent_process", "run_main"]

log = logging.getLogger("controllers.runtime")

#: An HTTP server an agent asks for: its (host, port) and its handler.
Endpoint = tuple[tuple[str, int], Handler]


@dataclass
class AgentContext:
    """What an agent builder gets: flags, the client and the shared informers."""

    args: argparse.Namespace
    client: RestClient
    informers: SharedInformerFactory


class Agent(Protocol):
    """A node-level agent."""

    def http_servers(self) -> Sequence[Endpoint]:
        """The HTTP servers to run while the agent runs (may be empty)."""

    async def run(self) -> None:
        """Work once the caches synced, until cancelled; release what it holds on exit."""


def run_main(args: argparse.Namespace,
             main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Configure logging from ``-v``, check the connection flags (2 when they are bad),
    then run ``main()`` until it returns or SIGTERM/SIGINT; the exit code."""
    configure_logging(args.verbosity)
    try:
        config_from_flags(args.kubeconfig, args.server)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run_until_signalled(main)


async def run_agent(args: argparse.Namespace, build: Callable[[AgentContext], Agent]) -> int:
    """Build the agent, serve its HTTP servers, sync its informers and run it until
    cancelled; 0 on a clean stop."""
    config = config_from_flags(args.kubeconfig, args.server, token=args.token,
                               insecure_skip_tls_verify=args.insecure_skip_tls_verify)
    client = RestClient(config)
    lo, hi = args.watch_timeout
    factory = SharedInformerFactory(client, min_watch_timeout=lo, max_watch_timeout=hi)
    servers: list[HttpServer] = []
    try:
        agent = build(AgentContext(args, client, factory))
        for (host, port), handler in agent.http_servers():
            server = HttpServer(handler)
            try:
                bound = await server.start(host, port)
            except OSError as exc:  # as upstream: log it and keep working
                log.error("cannot serve on %s:%d: %s", host, port, exc)
                continue
            servers.append(server)
            log.info("serving health and metrics on %s:%d", host, bound)
        factory.start()
        while not await factory.wait_for_cache_sync(timeout=10.0):
            log.info("waiting for informer caches to sync")
        log.info("caches synced")
        await agent.run()
    finally:
        await factory.stop()
        for server in servers:
            await server.stop()
        await client.aclose()
    return 0


def run_agent_process(args: argparse.Namespace, build: Callable[[AgentContext], Agent]) -> int:
    """A whole agent ``main`` after parsing: :func:`run_main` of :func:`run_agent`."""
    return run_main(args, lambda: run_agent(args, build))
