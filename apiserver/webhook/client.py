"""One HTTPS POST of a JSON review to a webhook (upstream ``util/webhook`` client manager).

Contracts:

* :class:`ClientConfig` reads a ``clientConfig``: ``url``, or ``service`` (namespace, name,
  ``path``, ``port`` default 443) and ``caBundle`` (base64 PEM; without it the system
  roots verify). A service is reached at a ready endpoint address found by
  :func:`~apiserver.webhook.resolve.resolve_service`, with TLS verifying the server name
  ``<name>.<namespace>.svc`` (upstream's ``ServerName``).
* :meth:`WebhookClient.post` sends ``body`` with ``?timeout=<n>s`` appended (as client-go
  does), waits at most ``timeout`` seconds for the whole exchange, reads at most
  :data:`MAX_RESPONSE_BYTES` and returns the decoded JSON object. Every failure is a
  :class:`CallError` whose ``reason`` reads as upstream's
  (``failed to call webhook: Post "https://…?timeout=10s": context deadline exceeded``);
  ``str(error)`` is ``failed calling webhook "<name>": <reason>``.
* :func:`review_response` checks the envelope of a review's answer (kind, version, uid).
* Clients are pooled per CA bundle and closed by :meth:`WebhookClient.close`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from apiserver.webhook.resolve import ObjectLookup, SliceLookup, resolve_service

#: Largest webhook answer read (a bigger one is a call failure).
MAX_RESPONSE_BYTES = 10 * 1024 * 1024


def review_response(answer: Mapping[str, Any], api_version: str, kind: str, uid: str,
                    absent: str) -> Mapping[str, Any]:
    """The ``response`` of a review answer of ``api_version``/``kind`` for request ``uid``;
    ``ValueError`` worded as upstream when it is not one (``absent``: the text for no
    response)."""
    if answer.get("apiVersion") != api_version or answer.get("kind") != kind:
        group, _, version = str(answer.get("apiVersion") or "").rpartition("/")
        raise ValueError(f"expected webhook response of {api_version}, Kind={kind}, got "
                         f"{group}/{version}, Kind={answer.get('kind') or ''}")
    response = answer.get("response")
    if not isinstance(response, Mapping):
        raise ValueError(absent)
    if response.get("uid") != uid:
        raise ValueError(f'expected response.uid="{uid}", got "{response.get("uid") or ""}"')
    return response


class CallError(Exception):
    """A webhook could not be called or answered nonsense (upstream ``ErrCallingWebhook``)."""

    def __init__(self, webhook: str, reason: str) -> None:
        super().__init__(f'failed calling webhook "{webhook}": {reason}')
        self.webhook = webhook
        self.reason = reason


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """A parsed ``clientConfig``."""

    url: str = ""
    service_namespace: str = ""
    service_name: str = ""
    service_path: str = ""
    service_port: int = 443
    ca_bundle: bytes = b""

    @classmethod
    def parse(cls, config: Any) -> ClientConfig:
        cfg = _m(config)
        service = _m(cfg.get("service"))
        try:
            ca = base64.b64decode(str(cfg.get("caBundle") or ""), validate=True)
        except (binascii.Error, ValueError):
            ca = b""
        port = service.get("port")
        return cls(url=str(cfg.get("url") or ""),
                   service_namespace=str(service.get("namespace") or ""),
                   service_name=str(service.get("name") or ""),
                   service_path=str(service.get("path") or ""),
                   service_port=port if isinstance(port, int) else 443,
                   ca_bundle=ca)

    @property
    def server_name(self) -> str:
        """The TLS server name (and Host) of the webhook."""
        if self.url:
            return urlsplit(self.url).hostname or ""
        return f"{self.service_name}.{self.service_namespace}.svc"


def _causes(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(out) < 10:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def _go_error(exc: BaseException, host: str, server_name: str) -> str:
    """A transport error worded as Go's net/http words it."""
    text = " ".join(str(e) for e in _causes(exc))
    if any(isinstance(e, ConnectionRefusedError) for e in _causes(exc)):
        return f"dial tcp {host}: connect: connection refused"
    if isinstance(exc, httpx.ConnectError):
        if "CERTIFICATE_VERIFY_FAILED" in text:
            if "Hostname mismatch" in text or "IP address mismatch" in text:
                return ("tls: failed to verify certificate: x509: certificate is not valid "
                        f"for {server_name}")
            return ("tls: failed to verify certificate: x509: certificate signed by unknown "
                    "authority")
        if "refused" in text.lower():
            return f"dial tcp {host}: connect: connection refused"
        return f"dial tcp {host}: {exc}"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return "EOF"
    return str(exc) or type(exc).__name__


class WebhookClient:
    """Posts reviews to webhooks; see the module docstring."""

    def __init__(self, lookup: ObjectLookup, lookup_slices: SliceLookup) -> None:
        self._lookup = lookup
        self._lookup_slices = lookup_slices
        self._clients: dict[bytes, httpx.AsyncClient] = {}

    def _client(self, ca_bundle: bytes) -> httpx.AsyncClient:
        client = self._clients.get(ca_bundle)
        if client is None:
            context = ssl.create_default_context()
            if ca_bundle:
                context = ssl.create_default_context(cadata=ca_bundle.decode("ascii", "replace"))
            client = httpx.AsyncClient(verify=context, trust_env=False,
                                       limits=httpx.Limits(max_keepalive_connections=32))
            self._clients[ca_bundle] = client
        return client

    def target(self, config: ClientConfig, timeout: float) -> str:
        """The URL posted to (service resolved to an endpoint), with ``timeout``."""
        if config.url:
            parts = urlsplit(config.url)
        else:
            host, port = resolve_service(self._lookup, self._lookup_slices,
                                         config.service_namespace, config.service_name,
                                         config.service_port)
            parts = urlsplit(f"https://{host}:{port}{config.service_path or '/'}")
        query = f"timeout={round(timeout)}s"
        return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query
                                         else query))

    async def post(self, webhook: str, config: ClientConfig, body: bytes,
                   timeout: float) -> dict[str, Any]:
        """POST ``body``; the decoded JSON answer, or :class:`CallError`."""
        try:
            url = self.target(config, timeout)
        except (LookupError, ValueError) as exc:
            raise CallError(webhook, f"failed to call webhook: {exc.args[0]}") from None
        host = urlsplit(url).netloc
        prefix = f'failed to call webhook: Post "{url}"'
        if not config.url:
            prefix = (f'failed to call webhook: Post "https://{config.server_name}:'
                      f'{config.service_port}{config.service_path or "/"}?timeout='
                      f'{round(timeout)}s"')
        client = self._client(config.ca_bundle)
        try:
            async with asyncio.timeout(timeout):
                data = await self._exchange(client, url, config, body)
        except TimeoutError:
            raise CallError(webhook, f"{prefix}: context deadline exceeded") from None
        except httpx.HTTPError as exc:
            raise CallError(webhook, f"{prefix}: {_go_error(exc, host, config.server_name)}") \
                from None
        except _BadAnswer as exc:
            raise CallError(webhook, str(exc)) from None
        return data

    async def _exchange(self, client: httpx.AsyncClient, url: str, config: ClientConfig,
                        body: bytes) -> dict[str, Any]:
        headers = {"content-type": "application/json", "accept": "application/json"}
        extensions = {} if config.url else {"sni_hostname": config.server_name}
        request = client.build_request("POST", url, content=body, headers=headers,
                                       extensions=extensions)
        response = await client.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise _BadAnswer(f"failed to call webhook: response body larger than "
                                     f"{MAX_RESPONSE_BYTES} bytes")
                chunks.append(chunk)
        finally:
            await response.aclose()
        raw = b"".join(chunks)
        if not 200 <= response.status_code < 300:
            message = _m(_loads(raw)).get("message") if raw else None
            raise _BadAnswer(
                f"failed to call webhook: {message}" if message else
                f"failed to call webhook: the server responded with the status code "
                f"{response.status_code} but did not return more information")
        decoded = _loads(raw)
        if not isinstance(decoded, dict):
            raise _BadAnswer("received invalid webhook response: the response is not a "
                             "JSON object")
        return decoded

    async def close(self) -> None:
        """Close every pooled connection."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


class _BadAnswer(Exception):
    """The webhook answered, but not usably."""


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
