"""``GET pods/{name}/log``: a container's log, streamed from its node's kubelet.

As kube-apiserver (``pkg/registry/core/pod/rest/log.go`` and ``LogLocation``):

* ``PodLogOptions`` from the query: ``container``, ``follow``, ``previous``,
  ``timestamps``, ``sinceSeconds``, ``sinceTime`` (RFC3339), ``tailLines``,
  ``limitBytes``, ``insecureSkipTLSVerifyBackend``; invalid values are a 422 ``Invalid``
  of kind ``PodLogOptions`` (or a 400 for what does not parse);
* the container: the only one, else 400 ``a container name must be specified for pod
  <pod>, choose one of: [a b]``; an unknown one is 400 ``container <c> is not valid for
  pod <pod>``;
* a pod not bound to a node yet answers 200 with an empty body;
* the kubelet's answer is relayed as ``text/plain`` as it arrives; its 400 becomes a
  BadRequest Status with its text, 404 NotFound, anything else an InternalError.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from apiserver.api import errors
from apiserver.handlers.connect.kubelet import (
    KubeletClientConfig,
    get_pod,
    kubelet_path,
    pod_location,
)
from apiserver.handlers.connect.relay import send_body
from apiserver.handlers.http import Request, respond_error
from apiserver.registry.registry import Registry

__all__ = ["choose_container", "container_names", "serve_log"]

log = logging.getLogger(__name__)

#: Upstream reads at most this much of a kubelet's error body.
_MAX_ERROR_BODY = 50_000
_FALSE = frozenset({"0", "false"})


def _bool(query: Mapping[str, list[str]], name: str) -> bool:
    """Upstream's query conversion: the first value; ``0``/``false`` (any case) are false,
    any other value true."""
    values = query.get(name) or []
    return bool(values) and values[0].lower() not in _FALSE


def _int(query: Mapping[str, list[str]], name: str) -> int | None:
    values = query.get(name)
    if not values or values[0] == "":
        return None
    try:
        return int(values[0])
    except ValueError:
        raise errors.bad_request(
            f'strconv.ParseInt: parsing "{values[0]}": invalid syntax') from None


def _invalid(pod: str, causes: list[tuple[str, str, str]]) -> errors.ApiError:
    """422 ``PodLogOptions "<pod>" is invalid: …`` (causes: reason, field, detail)."""
    parts = [f"{field}: {detail}" if field else detail for _, field, detail in causes]
    message = f'PodLogOptions "{pod}" is invalid: ' + (
        parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]")
    return errors.ApiError(422, "Invalid", message, {
        "name": pod, "kind": "PodLogOptions",
        "causes": [{"reason": r, "message": d, "field": f} for r, f, d in causes]})


def log_params(pod: str, query: Mapping[str, list[str]]) -> dict[str, str]:
    """The kubelet's parameters for ``query`` (422/400 on invalid options)."""
    tail = _int(query, "tailLines")
    limit = _int(query, "limitBytes")
    since_seconds = _int(query, "sinceSeconds")
    since_time = (query.get("sinceTime") or [""])[0]
    parsed_time: datetime | None = None
    if since_time:
        try:
            parsed_time = datetime.fromisoformat(since_time.replace("Z", "+00:00"))
        except ValueError:
            raise errors.bad_request(
                f'parsing time "{since_time}" as "2006-01-02T15:04:05Z07:00": cannot parse '
                f'"{since_time}" as "2006"') from None
    causes: list[tuple[str, str, str]] = []
    if tail is not None and tail < 0:
        causes.append(("FieldValueInvalid", "tailLines",
                       f"Invalid value: {tail}: must be greater than or equal to 0"))
    if limit is not None and limit < 1:
        causes.append(("FieldValueInvalid", "limitBytes",
                       f"Invalid value: {limit}: must be greater than 0"))
    if since_seconds is not None and parsed_time is not None:
        causes.append(("FieldValueForbidden", "",
                       "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be "
                       "specified"))
    if since_seconds is not None and since_seconds < 1:
        causes.append(("FieldValueInvalid", "sinceSeconds",
                       f"Invalid value: {since_seconds}: must be greater than 0"))
    if causes:
        raise _invalid(pod, causes)
    params: dict[str, str] = {}
    for flag in ("follow", "previous", "timestamps"):
        if _bool(query, flag):
            params[flag] = "true"
    if since_seconds is not None:
        params["sinceSeconds"] = str(since_seconds)
    if parsed_time is not None:
        if parsed_time.tzinfo is None:
            parsed_time = parsed_time.replace(tzinfo=UTC)
        params["sinceTime"] = parsed_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if tail is not None:
        params["tailLines"] = str(tail)
    if limit is not None:
        params["limitBytes"] = str(limit)
    return params


def container_names(pod: Mapping[str, Any]) -> list[str]:
    """Every container's name, in upstream's ``VisitContainers`` order (init, regular,
    ephemeral)."""
    spec = pod.get("spec") or {}
    return [str(c.get("name")) for kind in ("initContainers", "containers",
                                            "ephemeralContainers")
            for c in spec.get(kind) or [] if isinstance(c, Mapping)]


def choose_container(pod: Mapping[str, Any], requested: str) -> str:
    """The container a request means (upstream ``validateContainer``; 400 otherwise)."""
    name = str((pod.get("metadata") or {}).get("name") or "")
    if requested:
        if requested not in container_names(pod):
            raise errors.bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    regular = [c for c in (pod.get("spec") or {}).get("containers") or []
               if isinstance(c, Mapping)]
    if len(regular) == 1:
        return str(regular[0].get("name"))
    if not regular:
        raise errors.bad_request(f"a container name must be specified for pod {name}")
    raise errors.bad_request(f"a container name must be specified for pod {name}, choose "
                             f"one of: [{' '.join(container_names(pod))}]")


def kubelet_error(status: int, body: bytes, name: str) -> errors.ApiError:
    """A kubelet's error answer as upstream's ``GenericHttpResponseChecker`` maps it."""
    text = body[:_MAX_ERROR_BODY].decode("utf-8", "replace").rstrip("\n")
    if status == 400:
        return errors.bad_request(text)
    if status == 404:
        return errors.ApiError(404, "NotFound", text,
                               {"name": name, "kind": "pods"})
    return errors.internal(text)


async def serve_log(req: Request, registry: Registry, config: KubeletClientConfig,
                    namespace: str, name: str, query: Mapping[str, list[str]]) -> None:
    """Answer ``GET pods/{name}/log``."""
    try:
        params = log_params(name, query)
        pod = await get_pod(registry, namespace, name)
        container = choose_container(pod, (query.get("container") or [""])[0])
        location = await pod_location(registry, config, pod)
    except errors.ApiError as exc:
        await respond_error(req.send, exc)
        return
    headers = [(b"content-type", b"text/plain")]
    if location is None:
        await req.send({"type": "http.response.start", "status": 200, "headers": headers})
        await req.send({"type": "http.response.body", "body": b""})
        return
    url = location.url(kubelet_path("containerLogs", namespace, name, container))
    if params:
        url += "?" + urlencode(params)
    client = config.http_client(skip_verify=_bool(query, "insecureSkipTLSVerifyBackend"))
    started = False
    try:
        async with client, client.stream("GET", url) as resp:
            if resp.status_code != 200:
                body = b""
                async for chunk in resp.aiter_raw():
                    body += chunk
                    if len(body) >= _MAX_ERROR_BODY:
                        break
                await respond_error(req.send, kubelet_error(resp.status_code, body, name))
                return
            await req.send({"type": "http.response.start", "status": 200,
                            "headers": headers})
            started = True
            await send_body(req.receive, req.send, resp.aiter_raw())
    except httpx.TransportError as exc:
        log.info("kubelet log stream for %s/%s failed: %s", namespace, name, exc)
        if started:
            await req.send({"type": "http.response.body", "body": b""})
        else:
            await respond_error(req.send, errors.internal(f'Get "{url}": {exc}'))
