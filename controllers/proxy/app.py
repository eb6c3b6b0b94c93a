"""``python -m controllers.proxy``: kube-proxy.

Informers (Services, and EndpointSlices — or Endpoints with
``--feature-gates EndpointSliceProxying=false``) feed the change trackers
through the config handlers below; a :class:`BoundedFrequencyRunner` calls
:meth:`ProxyServer.sync_proxy_rules`, which commits the pending changes to the
service-port and endpoints maps and hands them to the proxier of
``--proxy-mode``. Nothing is programmed before both informers have synced
(upstream's ``On*Synced`` gate).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from apiserver.api.resources import ENDPOINTS, ENDPOINTSLICES, EVENTS, SERVICES
from controllers.client.config import ConfigError, config_from_flags
from controllers.client.informer import SharedInformerFactory
from controllers.client.rest import RestClient
from controllers.client.store import DeletedFinalStateUnknown
from controllers.proxy.change_tracker import (
    EndpointsChangeTracker,
    EndpointsMap,
    ServiceChangeTracker,
    ServicePortMap,
)
from controllers.proxy.metrics import ProxyMetrics
from controllers.proxy.runner import BoundedFrequencyRunner
from controllers.proxy.types import Proxier, ServicePortName

__all__ = ["ProxyServer", "build_parser", "main"]

log = logging.getLogger("controllers.proxy")

MODES = ("userspace", "iptables", "nftables", "ipvs")
#: PR #129329: full resyncs at most hourly.
FULL_SYNC_PERIOD = 3600.0


def duration(text: str) -> float:
    """Seconds, or a Go-style duration (``500ms``, ``1s``, ``2m``, ``1h``)."""
    text = text.strip()
    total = 0.0
    num = ""
    i = 0
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    if not any(c.isalpha() for c in text):
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid duration {text!r}") from None
    while i < len(text):
        c = text[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else c
        if unit not in units or not num:
            raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
        total += float(num) * units[unit]
        num = ""
        i += len(unit)
    if num:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
    return total


def host_port(text: str) -> tuple[str, int] | None:
    """``host:port`` (empty: disabled)."""
    if not text:
        return None
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected host:port, got {text!r}")
    return host.strip("[]"), int(port)


def boolean(text: str) -> bool:
    """A Go-style boolean flag value (``true``/``false``, ``1``/``0``)."""
    value = text.strip().lower()
    if value in ("true", "t", "1", "yes"):
        return True
    if value in ("false", "f", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface (upstream flag names)."""
    p = argparse.ArgumentParser(
        prog="python -m controllers.proxy",
        description="kube-proxy: make Service ClusterIPs, NodePorts, external and "
        "load-balancer IPs reach ready endpoints.",
    )
    p.add_argument("--proxy-mode", choices=MODES, default="userspace",
                   help="which proxy mode to use (default userspace: needs no privileges "
                   "with loopback service and pod ranges)")
    p.add_argument("--kubeconfig", help="path to a kubeconfig file")
    p.add_argument("--master", help="apiserver URL (overrides the kubeconfig's server)")
    p.add_argument("--hostname-override",
                   help="the node name to use instead of the hostname (local endpoints)")
    p.add_argument("--bind-address", default="0.0.0.0",
                   help="the IP address the proxy serves on (userspace binds each service "
                   "address directly)")
    p.add_argument("--nodeport-addresses", default="",
                   help="comma-separated IPs or CIDRs NodePorts are served on (userspace "
                   "default 127.0.0.1; iptables default: every local address)")
    p.add_argument("--bind-cluster-ips", type=boolean, nargs="?", const=True, default=True,
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
                   help="host:port of /healthz (default 127.0.0.1:10256: loopback, unlike "
                   "upstream's 0.0.0.0, as nothing here is authenticated; empty disables)")
    p.add_argument("--metrics-bind-address", type=host_port,
                   default=host_port("127.0.0.1:10249"),
                   help="host:port of /metrics (default 127.0.0.1:10249; empty disables)")
    p.add_argument("--feature-gates", default="",
                   help="comma-separated key=bool; EndpointSliceProxying=false reads Endpoints")
    p.add_argument("--dry-run", action="store_true",
                   help="render the rules on stdout and apply nothing")
    p.add_argument("-v", "--v", dest="verbosity", type=int, default=0, help="log verbosity")
    return p


def nodeport_ips(spec: str) -> list[str]:
    """Addresses to bind NodePorts on in userspace mode."""
    out: list[str] = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        net = ipaddress.ip_network(item, strict=False)
        if net.prefixlen == 0:
            out.append("0.0.0.0" if net.version == 4 else "::")
        else:
            out.append(str(net.network_address if net.num_addresses == 1 else
                           ipaddress.ip_interface(item).ip))
    return out or ["127.0.0.1"]


def _unwrap(obj: Any) -> dict[str, Any]:
    if isinstance(obj, DeletedFinalStateUnknown):
        return dict(obj.obj)
    return dict(obj)


class ProxyServer:
    """Wires informers → trackers → runner → proxier; owns metrics and health."""

    def __init__(self, args: argparse.Namespace, client: RestClient | None,
                 make_proxier: Callable[[ProxyServer], Proxier]) -> None:
        self.args = args
        self.client = client
        self.hostname = args.hostname_override or socket.gethostname()
        gates = dict(kv.split("=", 1) for kv in args.feature_gates.split(",") if "=" in kv)
        self.use_slices = gates.get("EndpointSliceProxying", "true").lower() != "false"
        self.service_changes = ServiceChangeTracker()
        self.endpoints_changes = EndpointsChangeTracker(self.hostname)
        self.service_map = ServicePortMap()
        self.endpoints_map = EndpointsMap()
        self.metrics = ProxyMetrics()
        self.runner = BoundedFrequencyRunner(
            "sync-runner", self.sync_proxy_rules, min_interval=args.min_sync_period,
            max_interval=max(args.sync_period, args.min_sync_period, 0.001),
            retry_interval=max(min(args.sync_period, 1.0), args.min_sync_period),
        )
        self.initialized = False
        self.need_full_sync = True
        self._last_full = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.proxier = make_proxier(self)

    # -- config handlers (pkg/proxy/config) -----------------------------------------

    def _changed(self, needed: bool) -> None:
        if needed and self.initialized:
            if self.metrics.pending_since is None:
                self.metrics.pending_since = time.time()
            self.runner.run()

    def on_service_add(self, obj: dict[str, Any]) -> None:
        self._changed(self.service_changes.update(None, obj))

    def on_service_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._changed(self.service_changes.update(old, new))

    def on_service_delete(self, obj: Any) -> None:
        self._changed(self.service_changes.update(_unwrap(obj), None))

    def on_slice_add(self, obj: dict[str, Any]) -> None:
        self._changed(self.endpoints_changes.endpoint_slice_update(obj, False))

    def on_slice_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._changed(self.endpoints_changes.endpoint_slice_update(new, False))

    def on_slice_delete(self, obj: Any) -> None:
        self._changed(self.endpoints_changes.endpoint_slice_update(_unwrap(obj), True))

    def on_endpoints_add(self, obj: dict[str, Any]) -> None:
        self._changed(self.endpoints_changes.endpoints_update(None, obj))

    def on_endpoints_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._changed(self.endpoints_changes.endpoints_update(old, new))

    def on_endpoints_delete(self, obj: Any) -> None:
        self._changed(self.endpoints_changes.endpoints_update(_unwrap(obj), None))

    # -- sync --------------------------------------------------------------------------

    async def sync_proxy_rules(self) -> None:
        """Commit pending changes and program the dataplane (``syncProxyRules``)."""
        if not self.initialized:
            return
        start = time.monotonic()
        full = self.need_full_sync or start - self._last_full >= FULL_SYNC_PERIOD
        changed = self.service_map.update(self.service_changes)
        update = self.endpoints_map.update(self.endpoints_changes)
        changed |= update.services
        try:
            await self.proxier.sync(dict(self.service_map), dict(self.endpoints_map),
                                    changed, full)
        except Exception:
            self.need_full_sync = True
            self.metrics.sync_failures += 1
            raise
        if full:
            self._last_full = start
        self.need_full_sync = False
        elapsed = time.monotonic() - start
        self.metrics.record_sync(elapsed)
        self.metrics.services = len(self.service_map)
        self.metrics.endpoints = sum(len(e) for e in self.endpoints_map.values())
        now = datetime.now(UTC)
        for ts in update.trigger_times.values():
            self.metrics.programming_duration.observe(max(0.0, (now - ts).total_seconds()))
        log.debug("synced %d service ports (%d changed, full=%s) in %.3fs",
                  len(self.service_map), len(changed), full, elapsed)

    # -- events --------------------------------------------------------------------------

    def record_event(self, spn: ServicePortName, reason: str, message: str) -> None:
        """Post a Warning Event on the Service (fire and forget)."""
        if self.client is None:
            return
        task = asyncio.ensure_future(self._post_event(spn, reason, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post_event(self, spn: ServicePortName, reason: str, message: str) -> None:
        assert self.client is not None
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{spn.name}.{uuid.uuid4().hex[:16]}",
                         "namespace": spn.namespace},
            "involvedObject": {"kind": "Service", "apiVersion": "v1",
                               "namespace": spn.namespace, "name": spn.name},
            "reason": reason, "message": message, "type": "Warning",
            "source": {"component": "kube-proxy", "host": self.hostname},
            "reportingComponent": "kube-proxy", "reportingInstance": self.hostname,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        }
        try:
            await self.client.create(EVENTS, spn.namespace, event)
        except Exception as exc:  # an Event is best effort
            log.warning("could not record event %s on %s: %s", reason, spn, exc)

    # -- health / metrics server ---------------------------------------------------------

    async def _serve_http(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5.0)
            while (await asyncio.wait_for(reader.readline(), 5.0)) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) > 1 else "/"
            if path in ("/healthz", "/livez"):
                ok, body = self.metrics.healthz(2 * self.args.sync_period)
                code, text, ctype = (200 if ok else 503), json.dumps(body), "application/json"
            elif path == "/metrics":
                code, text, ctype = 200, self.metrics.render(), "text/plain; version=0.0.4"
            else:
                code, text, ctype = 404, "404 page not found", "text/plain"
            data = text.encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
            writer.write(f"HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\n"
                         f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                         + data)
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    # -- run -------------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until cancelled."""
        servers: list[asyncio.Server] = []
        for addr in {self.args.healthz_bind_address, self.args.metrics_bind_address}:
            if addr is None:
                continue
            try:
                servers.append(await asyncio.start_server(self._serve_http, addr[0], addr[1],
                                                          reuse_address=True))
            except OSError as exc:  # upstream logs and keeps proxying
                log.error("cannot serve /healthz and /metrics on %s:%d: %s", *addr, exc)
                continue
            log.info("serving /healthz and /metrics on %s:%d", *addr)
        assert self.client is not None
        factory = SharedInformerFactory(self.client)
        services = factory.informer_for(SERVICES)
        services.add_event_handler(self.on_service_add, self.on_service_update,
                                   self.on_service_delete)
        if self.use_slices:
            slices = factory.informer_for(ENDPOINTSLICES)
            slices.add_event_handler(self.on_slice_add, self.on_slice_update,
                                     self.on_slice_delete)
        else:
            eps = factory.informer_for(ENDPOINTS)
            eps.add_event_handler(self.on_endpoints_add, self.on_endpoints_update,
                                  self.on_endpoints_delete)
        factory.start()
        try:
            while not await factory.wait_for_cache_sync(timeout=10.0):
                log.info("waiting for the services and endpoints caches to sync")
            self.initialized = True
            log.info("caches synced; proxy mode %s", self.args.proxy_mode)
            await self.runner.loop()
        finally:
            await factory.stop()
            for server in servers:
                server.close()
            await self.proxier.cleanup()
            await self.client.aclose()
        return 0


def make_proxier(server: ProxyServer) -> Proxier:
    """The dataplane of ``--proxy-mode``."""
    args = server.args
    mode = args.proxy_mode
    if mode == "userspace":
        from controllers.proxy.userspace import UserspaceProxier

        return UserspaceProxier(
            nodeport_addresses=nodeport_ips(args.nodeport_addresses),
            on_bind_error=lambda spn, addr, msg: server.record_event(spn, "FailedToBindPort",
                                                                     msg),
            udp_timeout=args.udp_timeout,
            bind_service_ips=args.bind_cluster_ips,
        )
    from controllers.proxy.rules import make_rule_proxier

    return make_rule_proxier(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbosity >= 4 else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.verbosity < 4:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        config = config_from_flags(args.kubeconfig, args.master)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def _main() -> int:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            if task is not None:
                loop.add_signal_handler(sig, task.cancel)
        server = ProxyServer(args, RestClient(config), make_proxier)
        try:
            return await server.run()
        except asyncio.CancelledError:
            log.info("shutting down")
            return 0

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_main())
    return 0
