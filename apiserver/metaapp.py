"""The apiserver's non-resource endpoints: discovery (legacy and aggregated, with the
aggregator's groups), OpenAPI v2/v3 (JSON and protobuf, ETags), ``/version`` and the health
checks — a FastAPI app the resource handlers fall through to (:mod:`apiserver.app`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from apiserver import health
from apiserver.aggregator.server import Aggregator
from apiserver.api import errors
from apiserver.handlers import discovery
from apiserver.openapi import (
    PROTOBUF_MEDIA_TYPE,
    PROTOBUF_MEDIA_TYPE_V2,
    openapi_v2_encoded,
    openapi_v2_protobuf_encoded,
    openapi_v3_encoded,
    openapi_v3_root_encoded,
)

__all__ = ["build_meta_app"]


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


def build_meta_app(server_address: str, checks: Mapping[str, list[health.Check]],
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
                                lambda: discovery.api_versions(server_address))

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
