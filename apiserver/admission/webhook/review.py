"""AdmissionReview v1 (``admission.k8s.io/v1``): the request sent, the response read.

Contracts:

* :func:`request` — the ``AdmissionRequest`` upstream's ``CreateAdmissionObjects`` builds:
  ``uid``; ``kind``/``resource``/``subResource`` of the version the webhook is called with,
  ``requestKind``/``requestResource``/``requestSubResource`` of the request itself;
  ``name``, ``namespace`` (when set), ``operation``, ``userInfo``, ``object``,
  ``oldObject``, ``dryRun`` and ``options``.
* :func:`verify` — checks a response as upstream's ``VerifyAdmissionResponse`` (review
  kind and version, ``uid``, patches only from mutating webhooks and only ``JSONPatch``)
  and returns it; a bad one raises :class:`InvalidResponse` with upstream's text.
* :func:`denial` — upstream's ``ToStatusErr``: the webhook's Status, its code at least 400,
  the message ``admission webhook "x" denied the request: …`` (or ``… without
  explanation``).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from typing import Any

from apiserver.admission.attributes import AdmissionAttributes
from apiserver.api import errors
from apiserver.api.resources import ResourceInfo
from apiserver.webhook import review_response

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"


class InvalidResponse(Exception):
    """The webhook's answer is not a valid AdmissionReview response."""


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _gvk(info: ResourceInfo) -> dict[str, str]:
    return {"group": info.group, "version": info.version, "kind": info.kind}


def _gvr(info: ResourceInfo) -> dict[str, str]:
    return {"group": info.group, "version": info.version, "resource": info.plural}


def request(attrs: AdmissionAttributes, info: ResourceInfo,
            obj: dict[str, Any] | None, old: dict[str, Any] | None) -> dict[str, Any]:
    """The ``request`` of a review for a webhook called as ``info`` (``obj`` and ``old``:
    the request's objects in that version)."""
    out: dict[str, Any] = {
        "uid": str(uuid.uuid4()),
        "kind": _gvk(info),
        "resource": _gvr(info),
    }
    if attrs.subresource:
        out["subResource"] = attrs.subresource
    out["requestKind"] = _gvk(attrs.info)
    out["requestResource"] = _gvr(attrs.info)
    if attrs.subresource:
        out["requestSubResource"] = attrs.subresource
    name = attrs.name or str(_m(_m(attrs.object).get("metadata")).get("name") or "")
    if name:
        out["name"] = name
    if attrs.namespace:
        out["namespace"] = attrs.namespace
    out["operation"] = attrs.operation.value
    out["userInfo"] = attrs.user.to_api()
    out["object"] = obj
    out["oldObject"] = old
    out["dryRun"] = attrs.dry_run
    out["options"] = attrs.options
    return out


def review(req: Mapping[str, Any]) -> dict[str, Any]:
    """The whole AdmissionReview sent."""
    return {"kind": KIND, "apiVersion": API_VERSION, "request": req}


def verify(answer: Mapping[str, Any], uid: str, mutating: bool) -> Mapping[str, Any]:
    """The checked ``response`` of ``answer``; see the module docstring."""
    try:
        response = review_response(answer, API_VERSION, KIND, uid,
                                   "webhook response was absent")
    except ValueError as exc:
        raise InvalidResponse(str(exc)) from None
    patch = response.get("patch")
    patch_type = response.get("patchType")
    if patch or patch_type is not None:
        if not mutating:
            raise InvalidResponse("validating webhooks may not return patches")
        if patch and patch_type is None:
            raise InvalidResponse("webhook returned response.patch but not response.patchType")
        if patch_type != "JSONPatch":
            raise InvalidResponse(f'webhook returned invalid response.patchType of '
                                  f'"{patch_type}"')
    return response


def patch_of(response: Mapping[str, Any]) -> bytes:
    """The decoded JSON patch of a response (empty when none)."""
    patch = response.get("patch")
    if not patch:
        return b""
    try:
        return base64.b64decode(str(patch), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidResponse(f"illegal base64 data in response.patch: {exc}") from None


def denial(webhook: str, status: Any) -> errors.ApiError:
    """Upstream's ``ToStatusErr`` of a webhook's refusal."""
    result = _m(status)
    code = result.get("code")
    code = code if isinstance(code, int) and code >= 400 else 400
    denied = f'admission webhook "{webhook}" denied the request'
    if result.get("message"):
        message = f"{denied}: {result['message']}"
    elif result.get("reason"):
        message = f"{denied}: {result['reason']}"
    else:
        message = f"{denied} without explanation"
    details = result.get("details")
    return errors.ApiError(code, str(result.get("reason") or ""), message,
                           dict(details) if isinstance(details, Mapping) else None)
