"""kube-proxy's health servers (``pkg/proxy/healthcheck``).

* :func:`proxier_routes`: the ``--healthz-bind-address`` server's ``/healthz`` and
  ``/livez`` with upstream's JSON bodies (``lastUpdated``, ``currentTime``, and
  ``nodeEligible`` on ``/healthz``), 200 while syncs keep up, else 503.
* :class:`ServiceHealthServer`: one HTTP server per ``spec.healthCheckNodePort`` of an
  ``externalTrafficPolicy: Local`` Service, on the node's NodePort addresses, answering
  as upstream's ``hcHandler``: ``{"service": {...}, "localEndpoints": N,
  "serviceProxyHealthy": B}`` with 200 when N > 0 and the proxy is healthy, else 503, and
  the ``X-Load-Balancing-Endpoint-Weight`` header — what cloud load balancers probe to
  send traffic only to nodes with local endpoints.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from controllers.proxy.metrics import ProxyMetrics
from controllers.proxy.types import Endpoint, ServicePort, ServicePortName
from controllers.runtime.health import HttpServer, Response

__all__ = ["ServiceHealthServer", "go_time", "local_ready_endpoints", "proxier_routes"]

log = logging.getLogger("controllers.proxy")

_JSON = "application/json"
_NOSNIFF = ("X-Content-Type-Options", "nosniff")
_START = time.monotonic()


def go_time(ts: float, monotonic: float | None = None) -> str:
    """``ts`` as Go's ``time.Time.String()`` prints a UTC time, with the monotonic clock
    reading (``m=+S``) that upstream's ``%q`` of ``time.Now()`` shows."""
    stamp = datetime.fromtimestamp(ts, UTC)
    frac = f"{stamp.microsecond:06d}".rstrip("0")
    text = stamp.strftime("%Y-%m-%d %H:%M:%S") + (f".{frac}" if frac else "") + " +0000 UTC"
    if monotonic is not None:
        text += f" m=+{monotonic - _START:.9f}"
    return text


def proxier_routes(metrics: ProxyMetrics, health_timeout: float,
                   node_eligible: Callable[[], bool]) -> dict[str, Callable[[], Response]]:
    """``/healthz`` and ``/livez`` of kube-proxy's healthz server (upstream's bodies: a
    healthy server reports ``lastUpdated`` as the current time)."""

    def answer(with_eligible: bool) -> Response:
        healthy = metrics.healthy(health_timeout)
        eligible = node_eligible()
        if with_eligible:
            healthy = healthy and eligible
        current = go_time(time.time(), time.monotonic())
        last = metrics.last_sync_wall
        updated = current if healthy else (go_time(last) if last else "0001-01-01 00:00:00 "
                                           "+0000 UTC")
        body = f'{{"lastUpdated": {json.dumps(updated)},"currentTime": {json.dumps(current)}'
        body += f', "nodeEligible": {str(eligible).lower()}}}' if with_eligible else "}"
        return Response(200 if healthy else 503, body, _JSON, (_NOSNIFF,))

    return {"/healthz": lambda: answer(True), "/livez": lambda: answer(False)}


def local_ready_endpoints(
    endpoints: Mapping[ServicePortName, tuple[Endpoint, ...]],
) -> dict[tuple[str, str], int]:
    """Ready local endpoints per Service, counted by IP (a pod serving two ports of one
    Service counts once), as upstream's ``LocalReadyEndpoints``."""
    ips: dict[tuple[str, str], set[str]] = {}
    for spn, eps in endpoints.items():
        for ep in eps:
            if ep.is_local and ep.ready:
                ips.setdefault((spn.namespace, spn.name), set()).add(ep.ip)
    return {nsn: len(found) for nsn, found in ips.items()}


class ServiceHealthServer:
    """The health-check node ports of this node's ``externalTrafficPolicy: Local`` Services.

    :meth:`sync` opens a server per new (Service, port) on every address of
    ``addresses``, closes those of Services gone or moved, and records the local
    endpoint counts the handlers answer with. A port that cannot be opened is logged and
    reported through ``on_error`` (upstream's ``FailedToStartServiceHealthcheck``
    Event; again only when the failure changes), and retried on the next sync.
    """

    def __init__(self, hostname: str, addresses: list[str], proxy_healthy: Callable[[], bool],
                 on_error: Callable[[ServicePortName, str], None]) -> None:
        self.hostname = hostname
        self.addresses = addresses
        self.proxy_healthy = proxy_healthy
        self.on_error = on_error
        self.ports: dict[tuple[str, str], int] = {}
        self.servers: dict[tuple[str, str], list[HttpServer]] = {}
        self.endpoints: dict[tuple[str, str], int] = {}
        #: The last failure reported per Service (reported again only when it changes).
        self._failed: dict[tuple[str, str], str] = {}

    def answer(self, nsn: tuple[str, str]) -> Response:
        """The health check answer for Service ``nsn``."""
        count = self.endpoints.get(nsn, 0)
        healthy = self.proxy_healthy()
        body = (f'{{\n\t"service": {{\n\t\t"namespace": {json.dumps(nsn[0])},\n\t\t"name": '
                f'{json.dumps(nsn[1])}\n\t}},\n\t"localEndpoints": {count},\n\t'
                f'"serviceProxyHealthy": {str(healthy).lower()}\n}}')
        return Response(200 if count and healthy else 503, body, _JSON,
                        (_NOSNIFF, ("X-Load-Balancing-Endpoint-Weight", str(count))))

    async def sync(self, services: Mapping[ServicePortName, ServicePort],
                   endpoints: Mapping[ServicePortName, tuple[Endpoint, ...]]) -> None:
        """Open and close servers for ``services``; record the local endpoint counts.
        Nothing to do without addresses (``--dry-run``)."""
        if not self.addresses:
            return
        wanted: dict[tuple[str, str], tuple[int, ServicePortName]] = {}
        for spn, sp in services.items():
            if sp.external_policy_local and sp.health_check_node_port:
                wanted[(spn.namespace, spn.name)] = (sp.health_check_node_port, spn)
        for nsn in list(self.servers):
            if nsn not in wanted or wanted[nsn][0] != self.ports[nsn]:
                log.info("closing healthcheck of %s/%s on port %d", *nsn, self.ports[nsn])
                await self._close(nsn)
        for nsn in [k for k in self._failed if k not in wanted]:
            del self._failed[nsn]
        # Counting walks every endpoint: only when some Service has a health check.
        counts = local_ready_endpoints(endpoints) if wanted else {}
        self.endpoints = {nsn: counts.get(nsn, 0) for nsn in wanted}
        for nsn, (port, spn) in wanted.items():
            if nsn not in self.servers:
                await self._open(nsn, port, spn)

    async def _open(self, nsn: tuple[str, str], port: int, spn: ServicePortName) -> None:
        opened: list[HttpServer] = []

        def handle(_path: str) -> Response:  # every path answers, as upstream's handler
            return self.answer(nsn)

        try:
            for addr in self.addresses:
                server = HttpServer(handle)
                await server.start(addr, port)
                opened.append(server)
        except OSError as exc:
            for server in opened:
                await server.stop()
            msg = (f"node {self.hostname} failed to start healthcheck \"{nsn[0]}/{nsn[1]}\" "
                   f"on port {port}: {exc}")
            if self._failed.get(nsn) != msg:
                log.error("%s", msg)
                self.on_error(spn, msg)
            self._failed[nsn] = msg
            return
        self._failed.pop(nsn, None)
        log.info("opened healthcheck of %s/%s on port %d (%s)", *nsn, port,
                 ", ".join(self.addresses))
        self.servers[nsn] = opened
        self.ports[nsn] = port

    async def _close(self, nsn: tuple[str, str]) -> None:
        for server in self.servers.pop(nsn, []):
            await server.stop()
        self.ports.pop(nsn, None)

    async def close(self) -> None:
        """Close every server."""
        for nsn in list(self.servers):
            await self._close(nsn)
