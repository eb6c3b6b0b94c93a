"""The userspace proxier: real asyncio TCP and UDP proxying (``pkg/proxy/userspace``).

Upstream's userspace mode listened on a random node port per service port and
redirected the virtual IP there with iptables. Here every address of
127.0.0.0/8 is already local, so (with loopback service and pod ranges) the
proxy simply binds each ClusterIP:port, every external IP and load-balancer
ingress IP, and the NodePort on each ``--nodeport-addresses`` address — no
privileges and no rules needed.

ClusterIPs, external IPs and load-balancer IPs are shared addresses: on one
machine with several simulated nodes only one proxy may bind them, so the
others run with ``bind_service_ips=False`` and serve only their own node's
NodePorts. External traffic (NodePorts, external IPs, load-balancer IPs) of an
``externalTrafficPolicy: Local`` Service goes only to endpoints on this node
(``nodeName`` equal to ``--hostname-override``), through a second balancer;
with none the connection is refused, as upstream drops it.

For a new connection it asks :class:`LoadBalancerRR` for an endpoint and dials
it with upstream's timeouts (250 ms, 500 ms, 1 s, 2 s), moving to the next
endpoint (affinity reset) on each failure, then copies bytes both ways. With
no endpoint at all the connection is refused (reset at once). UDP keeps one
connected socket per client address, closed after ``udp_timeout`` idle.
:attr:`UserspaceProxier.connections` counts, per endpoint of each balanced port, the
connections (UDP sessions) open now and opened in all (kube-proxy's ``/metrics``).

Binding can fail (a port below ``net.ipv4.ip_unprivileged_port_start`` without
privileges, an address that is not local, a port in use): that is reported
through ``on_bind_error`` (a log line and an Event on the Service) once per
address and retried on every sync — never silently ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from controllers.proxy.change_tracker import categorize_endpoints
from controllers.proxy.metrics import ConnectionCounts, EndpointConnections
from controllers.proxy.roundrobin import LoadBalancerRR, NoEndpoints
from controllers.proxy.types import Endpoint, ServicePort, ServicePortName

__all__ = ["DIAL_TIMEOUTS", "UserspaceProxier"]

log = logging.getLogger(__name__)

#: ``proxysocket.go`` ``EndpointDialTimeouts``.
DIAL_TIMEOUTS = (0.25, 0.5, 1.0, 2.0)

Address = tuple[str, int, str]  # ip, port, protocol
BindErrorHandler = Callable[[ServicePortName, str, str], None]


def _split(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host, int(port)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0): the client sees the connection refused/reset."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


@dataclass
class _TCPListener:
    spn: ServicePortName
    server: asyncio.Server
    local: bool = False

    def close(self) -> None:
        self.server.close()


class _UDPBackend(asyncio.DatagramProtocol):
    def __init__(self, front: _UDPListener, client: tuple[str, int]) -> None:
        self.front = front
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.counts: ConnectionCounts | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.touch()

    def touch(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.front.timeout, self.expire)

    def expire(self) -> None:
        self.front.sessions.pop(self.client, None)
        if self.counts is not None:
            self.counts.closed()
            self.counts = None
        if self.transport is not None:
            self.transport.close()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.touch()
        if self.front.transport is not None:
            self.front.transport.sendto(data, self.client)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp backend for %s: %s", self.client, exc)


class _UDPListener(asyncio.DatagramProtocol):
    def __init__(self, spn: ServicePortName, lb: LoadBalancerRR, timeout: float,
                 connections: EndpointConnections, local: bool = False) -> None:
        self.spn = spn
        self.lb = lb
        self.connections = connections
        self.local = local
        self.timeout = timeout
        self.transport: asyncio.DatagramTransport | None = None
        self.sessions: dict[tuple[str, int], asyncio.Future[_UDPBackend]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        client = (str(addr[0]), int(addr[1]))
        session = self.sessions.get(client)
        if session is None:
            try:
                endpoint = self.lb.next_endpoint(self.spn, client[0])
            except NoEndpoints:
                return
            session = asyncio.ensure_future(self._connect(client, endpoint))
            self.sessions[client] = session
        session.add_done_callback(lambda fut: self._send(fut, data))

    @staticmethod
    def _send(fut: asyncio.Future[_UDPBackend], data: bytes) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return
        backend = fut.result()
        if backend.transport is not None and not backend.transport.is_closing():
            backend.touch()
            backend.transport.sendto(data)

    async def _connect(self, client: tuple[str, int], endpoint: str) -> _UDPBackend:
        loop = asyncio.get_running_loop()
        try:
            _, proto = await loop.create_datagram_endpoint(
                lambda: _UDPBackend(self, client), remote_addr=_split(endpoint)
            )
        except OSError:
            self.sessions.pop(client, None)
            raise
        proto.counts = self.connections.counts(self.spn, endpoint)
        proto.counts.opened()
        return proto

    def close(self) -> None:
        for fut in self.sessions.values():
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                fut.result().expire()
        self.sessions.clear()
        if self.transport is not None:
            self.transport.close()


def bind_error_message(addr: Address, spn: ServicePortName, exc: OSError) -> str:
    """What failed and why, telling a privileged port (EACCES) from a taken one."""
    ip, port, proto = addr
    message = f"cannot listen on {ip}:{port}/{proto} for {spn}: {exc.strerror or exc}"
    if isinstance(exc, PermissionError):
        message += (" (ports below net.ipv4.ip_unprivileged_port_start need "
                    "CAP_NET_BIND_SERVICE)")
    elif exc.errno == errno.EADDRINUSE:
        message += " (another process listens there)"
    return message


class UserspaceProxier:
    """Listens on every service address and forwards to endpoints."""

    def __init__(
        self,
        *,
        nodeport_addresses: list[str],
        lb: LoadBalancerRR | None = None,
        on_bind_error: BindErrorHandler | None = None,
        udp_timeout: float = 0.25,
        bind_service_ips: bool = True,
    ) -> None:
        self.nodeport_addresses = nodeport_addresses
        self.bind_service_ips = bind_service_ips
        self.lb = lb or LoadBalancerRR()
        #: Node-local endpoints for external traffic of externalTrafficPolicy: Local.
        self.local_lb = LoadBalancerRR(rng=self.lb.rng, clock=self.lb.clock)
        self.on_bind_error = on_bind_error
        self.udp_timeout = udp_timeout
        self.connections = EndpointConnections()
        self._listeners: dict[Address, _TCPListener | _UDPListener] = {}
        self._failed: dict[Address, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- desired state -------------------------------------------------------------

    def _addresses(self, sp: ServicePort) -> list[tuple[Address, bool]]:
        """``(address, external)`` pairs this proxy binds for ``sp``."""
        proto = sp.protocol
        out: list[tuple[Address, bool]] = []
        if self.bind_service_ips:
            if sp.cluster_ip and sp.cluster_ip != "None":
                out.append(((sp.cluster_ip, sp.port, proto), False))
            out += [((ip, sp.port, proto), True) for ip in sp.external_ips]
            out += [((ip, sp.port, proto), True) for ip in sp.load_balancer_ips]
        if sp.node_port:
            out += [((ip, sp.node_port, proto), True) for ip in self.nodeport_addresses]
        return out

    async def sync(
        self,
        services: dict[ServicePortName, ServicePort],
        endpoints: dict[ServicePortName, tuple[Endpoint, ...]],
        changed: set[str],
        full: bool,
    ) -> None:
        """Open/close listeners and refresh the balancers."""
        desired: dict[Address, tuple[ServicePortName, bool]] = {}
        balanced: set[tuple[ServicePortName, str]] = set()
        for spn, sp in services.items():
            if sp.protocol not in ("TCP", "UDP"):
                continue
            cluster, node_local = categorize_endpoints(sp, endpoints.get(spn, ()))
            balanced.update((spn, str(e)) for e in cluster)
            if sp.external_policy_local:
                balanced.update((spn, str(e)) for e in node_local)
            if self.lb.update(spn, [str(e) for e in cluster], sp.affinity_seconds):
                log.info("endpoints of %s: %s", spn, ", ".join(str(e) for e in cluster) or
                         "none")
            if sp.external_policy_local:
                if self.local_lb.update(spn, [str(e) for e in node_local],
                                        sp.affinity_seconds):
                    log.info("local endpoints of %s: %s", spn,
                             ", ".join(str(e) for e in node_local) or "none")
            else:
                self.local_lb.delete(spn)
            for addr, external in self._addresses(sp):
                desired.setdefault(addr, (spn, external and sp.external_policy_local))
        for addr, listener in list(self._listeners.items()):
            if desired.get(addr) != (listener.spn, listener.local):
                listener.close()
                del self._listeners[addr]
                log.info("closed %s:%d/%s (%s)", *addr, listener.spn)
        for addr, (spn, local) in desired.items():
            if addr not in self._listeners:
                await self._open(addr, spn, local)
        for addr in [a for a in self._failed if a not in desired]:
            del self._failed[addr]
        for balancer in (self.lb, self.local_lb):
            for spn in [s for s in balancer.service_ports() if s not in services]:
                balancer.delete(spn)
        self.connections.keep(balanced)

    async def _open(self, addr: Address, spn: ServicePortName, local: bool = False) -> None:
        ip, port, proto = addr
        lb = self.local_lb if local else self.lb
        try:
            if proto == "TCP":
                server = await asyncio.start_server(
                    lambda r, w: self._spawn(self._handle_tcp(spn, r, w, lb)),
                    host=ip, port=port, reuse_address=True,
                )
                self._listeners[addr] = _TCPListener(spn, server, local)
            else:
                loop = asyncio.get_running_loop()
                _, proto_obj = await loop.create_datagram_endpoint(
                    lambda: _UDPListener(spn, lb, self.udp_timeout, self.connections, local),
                    local_addr=(ip, port),
                )
                self._listeners[addr] = proto_obj
        except OSError as exc:
            message = bind_error_message(addr, spn, exc)
            if self._failed.get(addr) != message:
                log.error("%s", message)
                if self.on_bind_error is not None:
                    self.on_bind_error(spn, f"{ip}:{port}/{proto}", message)
            self._failed[addr] = message
            return
        self._failed.pop(addr, None)
        log.info("listening on %s:%d/%s for %s", ip, port, proto, spn)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- traffic -------------------------------------------------------------------

    async def _handle_tcp(self, spn: ServicePortName, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter, lb: LoadBalancerRR | None = None) -> None:
        peer = writer.get_extra_info("peername")
        client_ip = str(peer[0]) if peer else ""
        balancer = lb or self.lb
        for attempt, timeout in enumerate(DIAL_TIMEOUTS):
            try:
                endpoint = balancer.next_endpoint(spn, client_ip, attempt != 0)
            except NoEndpoints:
                break
            try:
                up_r, up_w = await asyncio.wait_for(
                    asyncio.open_connection(*_split(endpoint)), timeout
                )
            except (OSError, TimeoutError) as exc:
                log.warning("%s: dial %s failed: %s", spn, endpoint, exc)
                continue
            counts = self.connections.counts(spn, endpoint)
            counts.opened()
            try:
                await asyncio.gather(_pump(reader, up_w), _pump(up_r, writer))
            finally:
                counts.closed()
                for w in (up_w, writer):
                    w.close()
            return
        _reset(writer)

    async def cleanup(self) -> None:
        """Close every listener and open connection."""
        for listener in self._listeners.values():
            listener.close()
        self._listeners.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    @property
    def listening(self) -> list[Address]:
        """Addresses currently bound."""
        return sorted(self._listeners)
