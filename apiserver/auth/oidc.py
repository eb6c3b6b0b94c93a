"""ServiceAccount issuer discovery: ``/.well-known/openid-configuration`` and
``/openid/v1/jwks`` (upstream ``pkg/serviceaccount/openidmetadata.go`` and
``routes/openidmetadata.go``).

Both are served as upstream: raw JSON (no trailing newline), ``Cache-Control: public,
max-age=3600``, the key set as ``application/jwk-set+json``. ``jwks_uri`` is
``--service-account-jwks-uri`` or ``https://<external address>/openid/v1/jwks``.
Upstream serves them only for an ``https`` issuer URL; so does kubemu. Who may read
them is the authorizer's business (the bootstrap policy grants them to
``system:serviceaccounts`` through ``system:service-account-issuer-discovery``).
"""

from __future__ import annotations

from urllib.parse import urlparse

import orjson
from fastapi import FastAPI
from fastapi.responses import Response

from apiserver.auth.serviceaccount_keys import ServiceAccountKeys

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"
_CACHE_CONTROL = "public, max-age=3600"


def install_discovery(app: FastAPI, keys: ServiceAccountKeys, issuer: str,
                      external_address: str, jwks_uri: str = "") -> bool:
    """Add the two routes to ``app``; False (nothing added) unless ``issuer`` is https."""
    parsed = urlparse(issuer)
    if parsed.scheme != "https" or not parsed.netloc:
        return False
    uri = jwks_uri or f"https://{external_address}{JWKS_PATH}"
    config = orjson.dumps(keys.openid_configuration(issuer, uri))
    jwks = orjson.dumps(keys.jwks())

    async def openid_configuration() -> Response:
        return Response(config, media_type="application/json",
                        headers={"cache-control": _CACHE_CONTROL})

    async def key_set() -> Response:
        return Response(jwks, media_type="application/jwk-set+json",
                        headers={"cache-control": _CACHE_CONTROL})

    app.add_api_route(DISCOVERY_PATH, openid_configuration, methods=["GET"])
    app.add_api_route(JWKS_PATH, key_set, methods=["GET"])
    return True
