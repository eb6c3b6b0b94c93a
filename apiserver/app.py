"""The apiserver application: storage → watch cache → registry → HTTP.

The outer ASGI callable is :class:`~apiserver.handlers.resources.ResourceAPI`
(the hot paths, no per-request dependency injection); everything that is not a
resource request falls through to a FastAPI app serving discovery, OpenAPI,
``/version``, health checks and ``/metrics`` (:mod:`apiserver.handlers.metrics`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from apiserver import health
from apiserver.aggregator.server import Aggregator, AggregatorOptions
from apiserver.api import errors
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
from apiserver.handlers import discovery
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
from apiserver.openapi import (
    PROTOBUF_MEDIA_TYPE,
    PROTOBUF_MEDIA_TYPE_V2,
    openapi_v2_encoded,
    openapi_v2_protobuf_encoded,
    openapi_v3_encoded,
    openapi_v3_root_encoded,
)
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


def _json(body: dict[str, Any] | None, status: int = 200, media: str = "application/json") \
        -> Response:
    """``body`` as JSON ending with ``\\n`` (upstream's encoder); a 404 Status when None."""
    if body is None:
        return _status(errors.path_not_found())
    return Response(orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE), status_code=status,
                    media_type=media)


def _status(error: errors.ApiError) -> Response:
    """The error's ``Status`` as JSON ending with ``\\n``."""
    return Response(orjson.dumps(error.status, option=orjson.OPT_APPEND_NEWLINE),
                    status_code=error.code, media_type="application/json")


async def _discovery(request: Request, core: bool, legacy: Callable[[], dict[str, Any]],
                     aggregator: Aggregator | None = None) -> Response:
    media = discovery.negotiate_discovery(request.headers.get("accept", ""))
    if media is None:
        return _json(legacy())
    version = "v2" if media == discovery.AGGREGATED_CONTENT_TYPES["v2"] else "v2beta1"
    extra = await aggregator.discovery_items() if aggregator is not None and not core else []
    body = orjson.dumps(discovery.aggregated_discovery(core, version, extra),
                        option=orjson.OPT_APPEND_NEWLINE)
    return Response(body, media_type=media, headers={"vary": "Accept"})


_OPENAPI_V2_PROTOBUF = (PROTOBUF_MEDIA_TYPE, PROTOBUF_MEDIA_TYPE_V2)


def _openapi_v2_media_type(accept: str) -> str | None:
    """The media type ``/openapi/v2`` answers ``accept`` with (None: nothing acceptable).

    Ranges are tried by descending ``q`` (then in order); JSON is the default.
    """
    if not accept.strip():
        return "application/json"
    ranges: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept.split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and media:
            ranges.append((-quality, index, media.lower()))
    for _, _, media in sorted(ranges):
        if media in _OPENAPI_V2_PROTOBUF:
            # Upstream answers both spellings with the one Go's mime parser accepts.
            return PROTOBUF_MEDIA_TYPE_V2
        if media in ("application/json", "application/*", "*/*"):
            return "application/json"
    return None


def build_meta_app(config: ServerConfig, checks: Mapping[str, list[health.Check]],
                   aggregator: Aggregator | None = None) -> FastAPI:
    """FastAPI app for discovery, OpenAPI, version and health endpoints (``checks``: those
    of ``healthz``, ``livez`` and ``readyz``, see :mod:`apiserver.health`); ``aggregator``
    adds the groups of service-backed APIServices to ``/apis`` and answers their
    ``/apis/<group>``."""
    app = FastAPI(title="kubemu apiserver", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/version")
    async def version() -> Response:
        # Upstream writes /version raw (json.Marshal), without the encoder's newline.
        return Response(orjson.dumps(discovery.version_info()), media_type="application/json")

    @app.get("/api")
    async def api(request: Request) -> Response:
        return await _discovery(request, True,
                                lambda: discovery.api_versions(config.server_address))

    @app.get("/apis")
    async def apis(request: Request) -> Response:
        return await _discovery(request, False, lambda: discovery.api_group_list(
            aggregator.legacy_groups() if aggregator is not None else ()), aggregator)

    @app.get("/api/{version}")
    async def core_resources(version: str) -> Response:
        return _json(discovery.api_resource_list(version))

    @app.get("/apis/{group}")
    async def group(group: str) -> Response:
        local = discovery.api_group(group)
        if local is None and aggregator is not None:
            return _json(aggregator.group(group))
        return _json(local)

    @app.get("/apis/{group}/{version}")
    async def group_resources(group: str, version: str) -> Response:
        return _json(discovery.api_resource_list(f"{group}/{version}"))

    @app.get("/openapi/v2")
    async def openapi_v2(request: Request) -> Response:
        media_type = _openapi_v2_media_type(request.headers.get("accept", ""))
        if media_type is None:
            return _status(errors.not_acceptable(
                "only the following media types are accepted: application/json, "
                + ", ".join(_OPENAPI_V2_PROTOBUF)))
        # Like upstream, the protobuf form carries the ETag of the JSON form (Vary: Accept).
        etag = openapi_v2_encoded().etag
        headers = {"etag": etag, "vary": "Accept", "content-type": media_type}
        inm = request.headers.get("if-none-match", "")
        if etag in (tag.strip() for tag in inm.split(",")):
            return Response(status_code=304, headers=headers)
        doc = (openapi_v2_encoded() if media_type == "application/json"
               else openapi_v2_protobuf_encoded())
        return Response(doc.data, headers=headers)

    @app.get("/swagger-2.0.0.pb-v1")
    async def swagger_protobuf() -> Response:
        doc = openapi_v2_protobuf_encoded()
        return Response(doc.data, media_type=PROTOBUF_MEDIA_TYPE_V2,
                        headers={"etag": openapi_v2_encoded().etag})

    @app.get("/openapi/v3")
    async def openapi_v3_root() -> Response:
        doc = openapi_v3_root_encoded()
        return Response(doc.data, media_type="application/json", headers={"etag": doc.etag})

    @app.get("/openapi/v3/{gv:path}")
    async def openapi_v3(gv: str, request: Request) -> Response:
        doc = openapi_v3_encoded(gv)
        if doc is None:
            return _status(errors.path_not_found())
        headers = {"etag": doc.etag}
        if request.query_params.get("hash"):
            headers["cache-control"] = "public, immutable"
        if request.headers.get("if-none-match") == doc.etag:
            return Response(status_code=304, headers=headers)
        return Response(doc.data, media_type="application/json", headers=headers)

    health.install_routes(app, checks, lambda: _status(errors.path_not_found()))

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Response:
        return _status(errors.path_not_found())

    @app.exception_handler(405)
    async def not_allowed(request: Request, exc: Exception) -> Response:
        return _status(errors.method_not_allowed(
            "the server does not allow this method on the requested resource"))

    return app


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
        self.meta = build_meta_app(config, health.apiserver_checks(
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
