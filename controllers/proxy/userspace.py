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

A sync after a Service or EndpointSlice change touches only the changed service ports —
those whose ``ServicePort`` or endpoints tuple the change trackers replaced — and the
addresses they bind; the first sync, the one after a failure and the periodic full resync
(hourly, as upstream's) rebuild everything. Listeners and UDP sessions are in
:mod:`.userspace_sockets`.

Binding can fail (a port below ``net.ipv4.ip_unprivileged_port_start`` without
privileges, an address that is not local, a port in use): that is reported
through ``on_bind_error`` (a log line and an Event on the Service) once per
address and retried on every sync — never silently ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controllers.proxy.change_tracker import categorize_endpoints
from controllers.proxy.metrics import EndpointConnections
from controllers.proxy.roundrobin import LoadBalancerRR, NoEndpoints
from controllers.proxy.types import Endpoint, ServicePort, ServicePortName
from controllers.proxy.userspace_sockets import TCPListener, UDPListener, pump, reset, split

__all__ = ["DIAL_TIMEOUTS", "UserspaceProxier"]

log = logging.getLogger(__name__)

#: ``proxysocket.go`` ``EndpointDialTimeouts``.
DIAL_TIMEOUTS = (0.25, 0.5, 1.0, 2.0)

Address = tuple[str, int, str]  # ip, port, protocol
BindErrorHandler = Callable[[ServicePortName, str, str], None]


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


@dataclass(frozen=True)
class _PortState:
    """What a sync derived for one service port, and from which objects (compared by
    identity on the next sync)."""

    service: ServicePort
    endpoints: tuple[Endpoint, ...]
    #: ``(address, node-local endpoints only)`` the port is served on.
    addresses: list[tuple[Address, bool]]
    #: The ``(service port, endpoint)`` pairs its balancers use (connection series).
    balanced: frozenset[tuple[ServicePortName, str]]


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
        self._listeners: dict[Address, TCPListener | UDPListener] = {}
        self._failed: dict[Address, str] = {}
        #: What the last sync derived for each service port.
        self._ports: dict[ServicePortName, _PortState] = {}
        #: The service ports claiming each address, in claim order (the first is served:
        #: two Services sharing an external IP and port get one listener), with whether
        #: the listener serves only node-local endpoints.
        self._claims: dict[Address, dict[ServicePortName, bool]] = {}
        self._synced = False
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
        """Open/close listeners and refresh the balancers.

        A full sync (the first one, the one after a failed sync, and the periodic resync)
        derives every service port afresh and reconciles every listener. Any other sync
        touches only the service ports whose :class:`ServicePort` is not the object the
        last sync saw, or whose Service is in ``changed`` and whose endpoints tuple is not
        (the change trackers replace the objects of changed Services only, as the iptables
        renderer's fragment cache relies on), and the ports that are gone: their balancers,
        connection series and the listeners of their addresses; plus the addresses whose
        bind failed, retried on every sync.
        """
        full = full or not self._synced
        self._synced = False  # a sync that raises leaves the next one full
        paused = gc.isenabled()
        gc.disable()
        try:
            touched = self._update(services, endpoints, changed, full)
        finally:
            if paused:
                gc.enable()
        # Every close before any open, as a listener being closed may hold what another
        # one binds (a wildcard NodePort address).
        opening = [(addr, want) for addr in touched if (want := self._settle(addr))]
        for addr, (spn, local) in opening:
            await self._open(addr, spn, local)
        self._synced = True

    def _update(self, services: dict[ServicePortName, ServicePort],
                endpoints: dict[ServicePortName, tuple[Endpoint, ...]], changed: set[str],
                full: bool) -> set[Address]:
        """Derive the new or changed service ports (every one when ``full``) and forget
        those that are gone; the addresses whose listener may have to change.

        The cyclic garbage collector is paused meanwhile, as the iptables renderer pauses
        it: a full sync of 10,000 Services allocates a few hundred thousand acyclic
        objects, and the collections they trigger cost more than the sync itself."""
        previous = self._ports
        touched: set[Address] = set(self._failed)
        if full:
            self._ports, self._claims = {}, {}
            touched.update(self._listeners)
        # Names of the changed Services: a cheap first test that spares the endpoints
        # lookup (an equality test of two ServicePortNames) for every unchanged port.
        names = {key.partition("/")[2] for key in changed}
        seen = 0
        for spn, sp in services.items():
            old = previous.get(spn)
            if old is not None:
                seen += 1
                if not full and old.service is sp and (
                        spn.name not in names or spn.service_key not in changed):
                    continue
            eps = endpoints.get(spn, ())
            if not full and old is not None and old.service is sp and old.endpoints is eps:
                continue
            state = self._derive(spn, sp, eps)
            self._ports[spn] = state
            if full:
                self._claim(spn, state.addresses, touched)
                continue
            if old is None or old.addresses != state.addresses:
                self._release(spn, old.addresses if old else [], touched)
                self._claim(spn, state.addresses, touched)
            self.connections.replace(old.balanced if old else (), state.balanced)
        if full:
            for balancer in (self.lb, self.local_lb):
                for spn in [s for s in balancer.service_ports() if s not in services]:
                    balancer.delete(spn)
            self.connections.keep(key for state in self._ports.values()
                                  for key in state.balanced)
        elif seen < len(previous):
            for spn in [s for s in previous if s not in services]:
                old = previous.pop(spn)
                self._release(spn, old.addresses, touched)
                self.lb.delete(spn)
                self.local_lb.delete(spn)
                self.connections.replace(old.balanced, ())
        return touched

    def _derive(self, spn: ServicePortName, sp: ServicePort,
                eps: tuple[Endpoint, ...]) -> _PortState:
        """Update ``spn``'s balancers from ``eps``; what it balances and binds."""
        if sp.protocol not in ("TCP", "UDP"):
            return _PortState(sp, eps, [], frozenset())
        cluster, node_local = categorize_endpoints(sp, eps)
        balanced = {(spn, str(e)) for e in cluster}
        if sp.external_policy_local:
            balanced.update((spn, str(e)) for e in node_local)
        if self.lb.update(spn, [str(e) for e in cluster], sp.affinity_seconds):
            log.info("endpoints of %s: %s", spn, ", ".join(str(e) for e in cluster) or "none")
        if sp.external_policy_local:
            if self.local_lb.update(spn, [str(e) for e in node_local], sp.affinity_seconds):
                log.info("local endpoints of %s: %s", spn,
                         ", ".join(str(e) for e in node_local) or "none")
        else:
            self.local_lb.delete(spn)
        addresses = [(addr, external and sp.external_policy_local)
                     for addr, external in self._addresses(sp)]
        return _PortState(sp, eps, addresses, frozenset(balanced))

    def _claim(self, spn: ServicePortName, addresses: list[tuple[Address, bool]],
               touched: set[Address]) -> None:
        for addr, local in addresses:
            self._claims.setdefault(addr, {}).setdefault(spn, local)
            touched.add(addr)

    def _release(self, spn: ServicePortName, addresses: list[tuple[Address, bool]],
                 touched: set[Address]) -> None:
        for addr, _ in addresses:
            claims = self._claims.get(addr)
            if claims is not None:
                claims.pop(spn, None)
                if not claims:
                    del self._claims[addr]
            touched.add(addr)

    def _settle(self, addr: Address) -> tuple[ServicePortName, bool] | None:
        """Close ``addr``'s listener unless it serves the address's first claimant; what
        to open there (``None``: nothing, or its listener is right)."""
        claims = self._claims.get(addr)
        want = next(iter(claims.items())) if claims else None
        listener = self._listeners.get(addr)
        if listener is not None and (listener.spn, listener.local) != want:
            listener.close()
            del self._listeners[addr]
            log.info("closed %s:%d/%s (%s)", *addr, listener.spn)
            listener = None
        if want is None:
            self._failed.pop(addr, None)
        return want if listener is None else None

    async def _open(self, addr: Address, spn: ServicePortName, local: bool = False) -> None:
        ip, port, proto = addr
        lb = self.local_lb if local else self.lb
        try:
            if proto == "TCP":
                server = await asyncio.start_server(
                    lambda r, w: self._spawn(self._handle_tcp(spn, r, w, lb)),
                    host=ip, port=port, reuse_address=True,
                )
                self._listeners[addr] = TCPListener(spn, server, local)
            else:
                loop = asyncio.get_running_loop()
                _, proto_obj = await loop.create_datagram_endpoint(
                    lambda: UDPListener(spn, lb, self.udp_timeout, self.connections, local),
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
                    asyncio.open_connection(*split(endpoint)), timeout
                )
            except (OSError, TimeoutError) as exc:
                log.warning("%s: dial %s failed: %s", spn, endpoint, exc)
                continue
            counts = self.connections.counts(spn, endpoint)
            counts.opened()
            try:
                await asyncio.gather(pump(reader, up_w), pump(up_r, writer))
            finally:
                counts.closed()
                for w in (up_w, writer):
                    w.close()
            return
        reset(writer)

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
