"""The apiserver application: storage → watch cache → registry → HTTP.

The outer ASGI callable is :class:`~apiserver.handlers.resources.ResourceAPI`
(the hot paths, no per-request dependency injection); everything that is not a
resource request falls through to a FastAPI app serving discovery, OpenAPI,
``/version`` and health checks (:mod:`apiserver.metaapp`), and ``/metrics``
(:mod:`apiserver.handlers.metrics`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fastapi.responses import Response

from apiserver import health
from apiserver.aggregator.server import Aggregator, AggregatorOptions
from apiserver.api.resources import register_dynamic, unregister_dynamic
from apiserver.auth.authorization import build_authorization
from apiserver.auth.bootstrap_reconcile import reconcile_policy
from apiserver.auth.config import Authentication, AuthenticationOptions
from apiserver.auth.oidc import install_discovery
from apiserver.chain import ChainStages, build_chain
from apiserver.filters.maxinflight import (
    DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
    DEFAULT_MAX_REQUESTS_INFLIGHT,
    MaxInFlight,
)
from apiserver.filters.timeout import DEFAULT_REQUEST_TIMEOUT, RequestTimeout
from apiserver.gctuning import GcFreezer
from apiserver.handlers.connect import routes as connect
from apiserver.handlers.connect.kubelet import KubeletClientConfig
from apiserver.handlers.http import Receive, Scope, Send
from apiserver.handlers.metrics import (
    CONTENT_TYPE as METRICS_CONTENT_TYPE,
)
from apiserver.handlers.metrics import (
    REQUEST_METRICS,
    ApiServerCollector,
    metrics_registry,
    metrics_text,
)
from apiserver.handlers.metricsapi.points import PointStore
from apiserver.handlers.metricsapi.rest import NODE_METRICS, POD_METRICS, MetricsREST
from apiserver.handlers.metricsapi.scraper import MetricsScraper
from apiserver.handlers.resources import ResourceAPI
from apiserver.handlers.subresources import SpecialHandlers
from apiserver.handlers.watch_websocket import serve_websocket
from apiserver.metaapp import build_meta_app
from apiserver.registry.registry import Registry
from apiserver.registry.reviews import Reviews
from apiserver.registry.service.rest import ServiceOptions
from apiserver.registry.store import now_utc
from apiserver.registry.tokenrequest import TokenRequestREST
from apiserver.storage.cache import DEFAULT_HISTORY, WatchCache
from apiserver.storage.compactor import DEFAULT_INTERVAL, Compactor
from apiserver.storage.encryption import load_encryption_config
from apiserver.storage.etcd import EtcdStorage
from apiserver.storage.interface import Storage
from apiserver.storage.memory import MemoryStorage
from apiserver.storage.sqlite import SQLiteStorage
from apiserver.storage.transformed import TransformedStorage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What the apiserver is started with (flags of ``python -m apiserver``)."""

    storage: str = "sqlite"
    data_dir: Path = Path("data")
    watch_cache_size: int = DEFAULT_HISTORY
    compaction_interval: float = DEFAULT_INTERVAL
    server_address: str = "127.0.0.1:8080"
    clock: Callable[[], datetime] = field(default=now_utc)
    #: Service ranges and the address of the ``kubernetes`` Service (defaults when None).
    services: ServiceOptions | None = None
    #: etcd client URLs (``--etcd-servers``) and key prefix, for ``storage="etcd"``.
    etcd_servers: tuple[str, ...] = ()
    etcd_prefix: str = "/registry"
    #: Authentication flags (anonymous only, and a generated token key, by default).
    authentication: AuthenticationOptions = field(default_factory=AuthenticationOptions)
    #: host:port clients reach the server at (the OIDC ``jwks_uri``); server_address if empty.
    external_address: str = ""
    #: Enabled admission plugins, in upstream order (None: upstream's default-on set).
    admission_plugins: tuple[str, ...] | None = None
    #: ``--authorization-mode`` (validated), in order.
    authorization_modes: tuple[str, ...] = ("AlwaysAllow",)
    #: ``--max-requests-inflight`` / ``--max-mutating-requests-inflight`` (0: unlimited).
    max_requests_inflight: int = DEFAULT_MAX_REQUESTS_INFLIGHT
    max_mutating_requests_inflight: int = DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT
    #: ``--request-timeout`` in seconds for requests that are not long-running (0: none).
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    #: ``--disabled-metrics``: metric names left out of ``/metrics``.
    disabled_metrics: frozenset[str] = frozenset()
    #: ``--encryption-provider-config``: an EncryptionConfiguration for values at rest.
    encryption_provider_config: Path | None = None
    #: ``--kubelet-client-certificate`` and friends: how to reach the kubelets.
    kubelet_client: KubeletClientConfig = field(default_factory=KubeletClientConfig)
    #: ``--metric-resolution``: seconds between scrapes of the resource metrics API
    #: (``metrics.k8s.io``); 0 does not serve it.
    metric_resolution: float = 0.0
    #: ``--enable-aggregator-routing``, ``--proxy-client-*``: APIServices backed by Services.
    aggregator: AggregatorOptions = field(default_factory=AggregatorOptions)


def make_storage(config: ServerConfig) -> Storage:
    """The storage backend named by ``config.storage``, encrypting at rest as configured."""
    backend = _backend(config)
    if config.encryption_provider_config is None:
        return backend
    return TransformedStorage(backend, load_encryption_config(config.encryption_provider_config))


def _backend(config: ServerConfig) -> Storage:
    if config.storage == "memory":
        return MemoryStorage()
    if config.storage == "sqlite":
        return SQLiteStorage(config.data_dir / "kubemu.db")
    if config.storage == "etcd":
        if not config.etcd_servers:
            raise ValueError("--storage etcd needs --etcd-servers")
        return EtcdStorage(config.etcd_servers, config.etcd_prefix)
    raise ValueError(f"unknown storage backend {config.storage!r}")


class ApiServer:
    """The whole server as one ASGI app with a lifespan that owns storage."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.storage = make_storage(config)
        self.watch_cache = WatchCache(self.storage, config.watch_cache_size)
        self.registry = Registry(self.storage, self.watch_cache, config.clock,
                                 services=config.services,
                                 admission_plugins=config.admission_plugins)
        self.compactor = Compactor(self.storage, config.compaction_interval)
        self.gc_freezer = GcFreezer()
        self._ready = False
        self._stopping = False
        self.aggregator = Aggregator(self.registry, config.aggregator, config.authentication,
                                     config.clock)
        self.meta = build_meta_app(config.server_address, health.apiserver_checks(
            self.storage, "/registry/health", lambda: self._ready, lambda: self._stopping),
            self.aggregator)
        self.authentication = Authentication(config.authentication, self.registry,
                                             config.clock)
        install_discovery(self.meta, self.authentication.keys, self.authentication.issuers[0],
                          config.external_address or config.server_address,
                          config.authentication.service_account_jwks_uri)
        self.reviews = Reviews(tokens=self.authentication.tokens)
        tokens = TokenRequestREST(self.registry, self.authentication.keys,
                                  self.authentication.token_options, config.clock)
        self.metrics_points = (PointStore(config.metric_resolution)
                               if config.metric_resolution > 0 else None)
        self.metrics_scraper = (None if self.metrics_points is None else MetricsScraper(
            self.registry, config.kubelet_client, self.metrics_points))
        resource_metrics = (None if self.metrics_points is None else MetricsREST(
            self.registry, self.metrics_points, config.clock))
        self.resources = ResourceAPI(self.registry, self.meta, config.clock,
                                     SpecialHandlers(self.registry, config.clock, self.reviews,
                                                     tokens, resource_metrics))
        self.connect = connect.ConnectAPI(self.registry, config.kubelet_client)
        self.authorization = build_authorization(config.authorization_modes, self.registry)
        self.reviews.authorizer = self.authorization.authorizer
        self.max_in_flight = MaxInFlight(config.max_requests_inflight,
                                         config.max_mutating_requests_inflight)
        self.metrics = ApiServerCollector(self.watch_cache, self._inflight,
                                          config.disabled_metrics)
        self.metrics_registry = metrics_registry(self.metrics)
        self.meta.add_api_route("/metrics", self._serve_metrics, methods=["GET"])
        self.handler = build_chain(self._serve, self.chain_stages())

    def _inflight(self) -> tuple[int, int]:
        return self.max_in_flight.read_only.in_use, self.max_in_flight.mutating.in_use

    async def _serve_metrics(self) -> Response:
        """``GET /metrics`` (:mod:`apiserver.handlers.metrics`)."""
        self.metrics.size = await self.storage.size_bytes()
        return Response(metrics_text(self.metrics_registry),
                        headers={"content-type": METRICS_CONTENT_TYPE})

    def chain_stages(self) -> ChainStages:
        """The request chain's stages as configured (see :mod:`apiserver.chain`)."""
        # Impersonation looks the authorizer up per request: the access reviews and
        # impersonation ask the same one.
        return ChainStages(request_timeout=RequestTimeout(self.config.request_timeout),
                           authentication=self.authentication.request,
                           impersonation=lambda: self.reviews.authorizer,
                           max_in_flight=self.max_in_flight,
                           authorization=self.authorization.stage(),
                           request_metrics=not REQUEST_METRICS.issubset(
                               self.config.disabled_metrics))

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Start storage, cache and registry; stop them in reverse order."""
        await self.storage.start()
        await self.registry.start()
        await reconcile_policy(self.registry)
        await self.aggregator.start()
        self.compactor.start()
        self.gc_freezer.start()
        if self.metrics_scraper is not None:
            for info in (NODE_METRICS, POD_METRICS):
                register_dynamic(info)
            self.metrics_scraper.start()
        self._ready = True
        try:
            yield
        finally:
            self._ready = False
            self._stopping = True
            if self.metrics_scraper is not None:
                await self.metrics_scraper.stop()
                for info in (NODE_METRICS, POD_METRICS):
                    unregister_dynamic(info.group, info.version, info.plural)
            await self.gc_freezer.stop()
            await self.compactor.stop()
            await self.aggregator.stop()
            await self.registry.stop()
            await self.storage.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.handler(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Past the request chain: the connect subresources (logs, streams, proxies),
        APIServices backed by a Service (kube-aggregator's proxy), WebSocket watches,
        resources, then everything else."""
        path = scope.get("path", "")
        entry = self.aggregator.route(path)
        if entry is not None:
            await self.aggregator.serve(scope, receive, send, entry)
            return
        target = connect.match(path)
        if target is not None:
            await self.connect(scope, receive, send, target)
            return
        if scope["type"] == "websocket":
            await serve_websocket(scope, receive, send, self.resources)
            return
        await self.resources(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        manager = self.lifespan()
        try:
            await manager.__aenter__()
        except Exception as exc:
            log.exception("apiserver failed to start")
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        assert message["type"] == "lifespan.shutdown"
        await manager.__aexit__(None, None, None)
        await send({"type": "lifespan.shutdown.complete"})
