"""``python -m controllers.proxy``: kube-proxy on the shared agent runtime.

The flags are :mod:`.flags`'s; :class:`~controllers.proxy.server.ProxyServer` is the
agent the runtime (:mod:`controllers.runtime.agent`) builds, serves and runs until
SIGTERM/SIGINT; :func:`make_proxier` picks the dataplane of ``--proxy-mode``.
"""

from __future__ import annotations

from collections.abc import Sequence

from controllers.proxy.addresses import nodeport_ips
from controllers.proxy.flags import build_parser
from controllers.proxy.server import ProxyServer
from controllers.proxy.types import Proxier
from controllers.runtime.agent import AgentContext, run_agent_process

__all__ = ["build_parser", "main", "make_proxier"]


def make_proxier(server: ProxyServer) -> Proxier:
    """The dataplane of ``--proxy-mode``."""
    args = server.args
    if args.proxy_mode == "userspace":
        from controllers.proxy.userspace import UserspaceProxier

        proxier = UserspaceProxier(
            nodeport_addresses=nodeport_ips(args.nodeport_addresses),
            on_bind_error=lambda spn, addr, msg: server.record_event(spn, "FailedToBindPort",
                                                                     msg),
            udp_timeout=args.udp_timeout,
            bind_service_ips=args.bind_cluster_ips,
        )
        server.metrics.registry.register(proxier.connections)
        return proxier
    from controllers.proxy.rules import make_rule_proxier

    return make_rule_proxier(args)


def _build(ctx: AgentContext) -> ProxyServer:
    return ProxyServer(ctx.args, ctx.client, make_proxier, ctx.informers)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 2 for bad flags, else the runtime's exit code."""
    return run_agent_process(build_parser().parse_args(argv), _build)
