"""The gRPC health protocol (``grpc.health.v1.Health``): the built-in server and the prober.

*Server* — :func:`start_health_server` serves ``Check`` and ``Watch`` on one container
port over h2c (no TLS), as agnhost ``grpc-health-checking`` does. The services it knows
are ``""`` (the whole server) and those named by the container's grpc probes; each is
``SERVING`` while ``serving(service)`` is true and ``NOT_SERVING`` otherwise. ``Check`` of any other
service fails with ``NotFound: unknown service`` (grpc-go's health server); ``Watch``
streams ``SERVICE_UNKNOWN`` for it. ``Watch`` sends the current status, then one message
per change, announced by :meth:`HealthServer.changed`. The Python work of each call
(``Check``, each ``Watch`` message) is charged to the container's
:class:`~controllers.node.usage.InstanceUsage` (the gRPC core's threads are not).

*Prober* — :func:`probe` is the kubelet's grpc prober (``pkg/probe/grpc``): it connects to
``host:port`` within the timeout, calls ``Check`` with the probe's ``service`` inside the
same deadline, and succeeds only on ``SERVING``. Its failure messages are upstream's, with
Go's spelling of durations, status codes and enum names.

grpcio ships no type information; this module is the typed boundary around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from apiserver.api.gostrings import go_duration as go_duration_ns
from controllers.node.usage import InstanceUsage

__all__ = ["HealthServer", "go_duration", "probe", "start_health_server"]

_SERVICE = "grpc.health.v1.Health"
_SERVING: int = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING: int = health_pb2.HealthCheckResponse.NOT_SERVING
_SERVICE_UNKNOWN: int = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


def go_duration(seconds: float) -> str:
    """``seconds`` as Go's ``time.Duration`` prints it (``1s``, ``1.5s``, ``1m30s``,
    ``500ms``)."""
    return go_duration_ns(round(seconds * 1_000_000_000))


def _go_code(code: Any) -> str:
    """A gRPC status code as grpc-go names it (``NOT_FOUND`` -> ``NotFound``)."""
    name = str(getattr(code, "name", code))
    return "OK" if name == "OK" else "".join(w.capitalize() for w in name.split("_"))


def _status_name(status: int) -> str:
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(status))


class HealthServer:
    """One port's ``grpc.health.v1.Health`` server (see the module docstring)."""

    def __init__(self, serving: Callable[[str], bool], services: Iterable[str],
                 log: Callable[[str], None], usage: InstanceUsage | None = None) -> None:
        self._serving = serving
        self._usage = usage if usage is not None else InstanceUsage()
        self._services = frozenset(services) | {""}
        self._log = log
        self._changed = asyncio.Event()
        self._server: Any = None

    def status(self, service: str) -> int:
        """The serving status of ``service`` now."""
        if service not in self._services:
            return _SERVICE_UNKNOWN
        return _SERVING if self._serving(service) else _NOT_SERVING

    def changed(self) -> None:
        """``serving`` may answer differently now: wake the ``Watch`` streams."""
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def _check(self, request: Any, context: Any) -> Any:
        started = time.thread_time()
        service = str(request.service)
        peer = str(context.peer())
        if service not in self._services:
            self._log(f'{peer} "{_SERVICE}/Check {service!r}" NotFound')
            self._usage.charge(started)
            await context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        status = self.status(service)
        self._log(f'{peer} "{_SERVICE}/Check {service!r}" {_status_name(status)}')
        response = health_pb2.HealthCheckResponse(status=status)
        self._usage.charge(started)
        return response

    async def _watch(self, request: Any, _context: Any) -> AsyncIterator[Any]:
        service = str(request.service)
        last: int | None = None
        while True:
            started = time.thread_time()
            event = self._changed
            status = self.status(service)
            if status != last:
                last = status
                response = health_pb2.HealthCheckResponse(status=status)
                self._usage.charge(started)
                yield response
            else:
                self._usage.charge(started)
            await event.wait()

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (raises :class:`OSError` when the port cannot be bound)."""
        handler = grpc.method_handlers_generic_handler(_SERVICE, {
            "Check": grpc.unary_unary_rpc_method_handler(
                self._check, request_deserializer=health_pb2.HealthCheckRequest.FromString,
                response_serializer=health_pb2.HealthCheckResponse.SerializeToString),
            "Watch": grpc.unary_stream_rpc_method_handler(
                self._watch, request_deserializer=health_pb2.HealthCheckRequest.FromString,
                response_serializer=health_pb2.HealthCheckResponse.SerializeToString),
        })
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        server.add_generic_rpc_handlers((handler,))
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = server.add_insecure_port(address)
        except RuntimeError as exc:  # grpcio raises RuntimeError when binding fails
            raise OSError(f"listen tcp {address}: {exc}") from exc
        if bound != port:
            raise OSError(f"listen tcp {address}: address already in use")
        await server.start()
        self._server = server

    async def stop(self) -> None:
        """Stop listening and end the open calls."""
        server, self._server = self._server, None
        if server is not None:
            await server.stop(0)


async def start_health_server(host: str, port: int, serving: Callable[[str], bool],
                              services: Iterable[str], log: Callable[[str], None],
                              usage: InstanceUsage | None = None) -> HealthServer:
    """A started :class:`HealthServer` on ``host:port``, charging ``usage`` (None: a
    usage of its own, reported nowhere)."""
    server = HealthServer(serving, services, log, usage)
    await server.start(host, port)
    return server


async def probe(host: str, port: int, service: str, timeout: float,
                user_agent: str) -> tuple[bool, str]:
    """One grpc probe: (success, message) as the kubelet's grpc prober reports them."""
    addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    limit = go_duration(timeout)
    deadline = time.monotonic() + timeout
    channel = grpc.aio.insecure_channel(addr, options=[
        ("grpc.primary_user_agent", user_agent), ("grpc.enable_retries", 0)])
    try:
        try:
            await asyncio.wait_for(channel.channel_ready(), timeout)
        except TimeoutError:
            return False, (f'timeout: failed to connect service "{addr}" within {limit}: '
                           "context deadline exceeded")
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            resp = await stub.Check(health_pb2.HealthCheckRequest(service=service),
                                    timeout=max(deadline - time.monotonic(), 0.001))
        except grpc.aio.AioRpcError as err:
            code = err.code()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return False, ("error: this server does not implement the grpc health "
                               f"protocol (grpc.health.v1.Health): {err.details()}")
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return False, f"timeout: health rpc did not complete within {limit}"
            return False, (f"error: health rpc probe failed: rpc error: code = "
                           f"{_go_code(code)} desc = {err.details()}")
        status = int(resp.status)
        if status != _SERVING:
            return False, f'service unhealthy (responded with "{_status_name(status)}")'
        return True, "service healthy"
    finally:
        with contextlib.suppress(Exception):
            await channel.close()
