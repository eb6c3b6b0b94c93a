"""The aggregator of one apiserver: routing, proxying, discovery and availability.

Contract: :class:`Aggregator` is built from the registry and :class:`AggregatorOptions`.

* :meth:`Aggregator.route` — the service-backed APIService a request path goes to
  (``/apis/<group>/<version>`` and below; None: served locally);
  :meth:`Aggregator.serve` proxies it (:mod:`.proxy`);
* :meth:`Aggregator.group` — the ``APIGroup`` of ``/apis/<group>`` for a group only
  APIServices serve; :meth:`Aggregator.legacy_groups` / :meth:`Aggregator.discovery_items`
  — what ``/apis`` adds (legacy and aggregated; the latter fetches a never-fetched
  available group version first, within :data:`~.availability.CHECK_TIMEOUT`);
* :meth:`Aggregator.start` / :meth:`Aggregator.stop` — publish the
  ``extension-apiserver-authentication`` ConfigMap, run the availability controller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from apiserver.aggregator import discovery, trust
from apiserver.aggregator.autoregister import AutoRegistration
from apiserver.aggregator.availability import (
    CHECK_TIMEOUT,
    CHECK_USER,
    DISCOVERY_TTL,
    RESYNC_SECONDS,
    AvailabilityController,
)
from apiserver.aggregator.index import APIServiceIndex, Entry
from apiserver.aggregator.proxy import AggregatorProxy
from apiserver.aggregator.resolve import Resolver
from apiserver.aggregator.transport import (
    TransportError,
    Transports,
    UserHeaders,
    go_error,
    user_headers,
    wire_headers,
)
from apiserver.auth.config import AuthenticationOptions
from apiserver.handlers.http import Receive, Scope, Send
from apiserver.registry.registry import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AggregatorOptions:
    """kube-apiserver's aggregator flags."""

    #: ``--enable-aggregator-routing``: route to endpoint addresses, not the ClusterIP.
    enable_aggregator_routing: bool = False
    #: ``--proxy-client-cert-file`` / ``--proxy-client-key-file``.
    proxy_client_cert_file: Path | None = None
    proxy_client_key_file: Path | None = None
    #: Seconds between availability syncs (upstream resyncs every 30 s, on changes too).
    resync_seconds: float = RESYNC_SECONDS


def split_group_version(path: str) -> tuple[str, str] | None:
    """(group, version) of ``/apis/<group>/<version>[/…]``; None for another path."""
    if not path.startswith("/apis/"):
        return None
    parts = path[6:].split("/", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


class Aggregator:
    """See the module docstring."""

    def __init__(self, registry: Registry, options: AggregatorOptions,
                 authentication: AuthenticationOptions, clock: Callable[[], datetime]) -> None:
        self.registry = registry
        self.options = options
        self.authentication = authentication
        self.index = APIServiceIndex(registry)
        self.resolver = Resolver(registry, options.enable_aggregator_routing)
        self.transports = Transports(options.proxy_client_cert_file,
                                     options.proxy_client_key_file)
        self.names = UserHeaders.from_options(authentication.requestheader)
        self.proxy = AggregatorProxy(self.resolver, self.transports, self.names)
        self.remote = discovery.RemoteDiscovery()
        self.availability = AvailabilityController(registry, self.resolver, self.check,
                                                   clock, options.resync_seconds)
        self.autoregistration = AutoRegistration(registry)
        self._fetching: dict[str, asyncio.Task[None]] = {}

    # -- routing ---------------------------------------------------------------------

    def route(self, path: str) -> Entry | None:
        """The service-backed APIService ``path`` goes to, if any."""
        gv = split_group_version(path)
        return None if gv is None else self.index.remote(*gv)

    async def serve(self, scope: Scope, receive: Receive, send: Send, entry: Entry) -> None:
        """Proxy the request to ``entry``'s extension server."""
        await self.proxy(scope, receive, send, entry)

    # -- discovery -------------------------------------------------------------------

    def group(self, group: str) -> dict[str, Any] | None:
        """``/apis/<group>`` when only service-backed APIServices serve ``group``."""
        return discovery.api_group(self.index.remote_entries(), group)

    def legacy_groups(self) -> list[dict[str, Any]]:
        """The groups ``/apis`` (legacy) adds."""
        return discovery.legacy_groups(self.index.remote_entries())

    async def discovery_items(self) -> list[dict[str, Any]]:
        """The ``APIGroupDiscovery`` items ``/apis`` (aggregated) adds."""
        entries = self.index.remote_entries()
        missing = [e for e in entries if e.available and self.remote.age(e.name) is None]
        if missing:
            await asyncio.wait([self._fetch_task(e) for e in missing], timeout=CHECK_TIMEOUT)
        self.remote.forget(e.name for e in entries)
        return self.remote.items(entries)

    def _fetch_task(self, entry: Entry) -> asyncio.Task[None]:
        task = self._fetching.get(entry.name)
        if task is None or task.done():
            task = asyncio.create_task(self.fetch_discovery(entry))
            self._fetching[entry.name] = task
        return task

    async def fetch_discovery(self, entry: Entry) -> None:
        """Fetch ``entry``'s ``APIResourceList`` through the verifying transport into the
        discovery cache (a failure marks it Stale)."""
        body: Mapping[str, Any] | None = None
        try:
            host, port = self.resolver.resolve(str(entry.service_namespace),
                                               entry.service_name, entry.port)
            client = self.transports.client(entry.ca_bundle, entry.insecure,
                                            entry.server_name)
            async with asyncio.timeout(CHECK_TIMEOUT):  # the whole exchange, as Go's Client
                content = await _bounded_get(
                    client, _url(host, port, entry), wire_headers(user_headers(CHECK_USER,
                                                                               self.names)),
                    {"sni_hostname": entry.server_name, "timeout": _timeouts(CHECK_TIMEOUT)})
            if content is not None:
                parsed = orjson.loads(content)
                body = parsed if isinstance(parsed, dict) else None
        except (LookupError, TransportError, httpx.HTTPError, orjson.JSONDecodeError,
                TimeoutError) as exc:
            log.info("discovery of %s failed: %s", entry.name, exc)
        self.remote.record(entry.name, body)

    # -- availability ----------------------------------------------------------------

    async def check(self, entry: Entry, host: str, port: int) -> str | None:
        """Upstream's discovery check: None when ``GET /apis/<group>/<version>`` answers
        2xx within the timeout, else the error. A pass refreshes stale discovery."""
        url = _url(host, port, entry)
        client = self.transports.client(b"", True)
        try:
            # Only the status counts, within a total deadline; the body is not read.
            async with asyncio.timeout(CHECK_TIMEOUT), client.stream(
                    "GET", url, headers=wire_headers(user_headers(CHECK_USER, self.names)),
                    extensions={"timeout": _timeouts(CHECK_TIMEOUT)}) as response:
                pass
        except (httpx.TimeoutException, TimeoutError):
            error = (f'Get "{url}": context deadline exceeded (Client.Timeout exceeded '
                     "while awaiting headers)")
            self.remote.record(entry.name, None)
            return f"failing or missing response from {url}: {error}"
        except httpx.HTTPError as exc:
            self.remote.record(entry.name, None)
            return f'failing or missing response from {url}: Get "{url}": ' \
                   f"{go_error(exc, host, port)}"
        if not 200 <= response.status_code < 300:
            self.remote.record(entry.name, None)
            return (f"failing or missing response from {url}: bad status from {url}: "
                    f"{response.status_code}")
        age = self.remote.age(entry.name)
        current = entry.name in self.remote.fetched and self.remote.fetched[entry.name].current
        if age is None or age > DISCOVERY_TTL or not current:
            self._fetch_task(entry)
        return None

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Publish the trust ConfigMap and start the availability controller."""
        try:
            await trust.publish(self.registry, self.authentication)
        except Exception:
            log.exception("publishing %s/%s failed", trust.NAMESPACE, trust.NAME)
        self.availability.start()
        self.autoregistration.start()

    async def stop(self) -> None:
        """Stop the controllers and close the transports."""
        await self.autoregistration.stop()
        await self.availability.stop()
        for task in list(self._fetching.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.transports.close()


#: The largest discovery document read from an extension server.
_MAX_DISCOVERY = 4 << 20


async def _bounded_get(client: httpx.AsyncClient, url: str,
                       headers: list[tuple[bytes, bytes]],
                       extensions: dict[str, Any]) -> bytes | None:
    """A 200 answer's body (at most :data:`_MAX_DISCOVERY` bytes), else None."""
    async with client.stream("GET", url, headers=headers, extensions=extensions) as response:
        if response.status_code != 200:
            return None
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > _MAX_DISCOVERY:
                return None
    return bytes(body)


def _url(host: str, port: int, entry: Entry) -> str:
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"https://{netloc}/apis/{entry.group}/{entry.version}"


def _timeouts(seconds: float) -> dict[str, float]:
    return {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}
