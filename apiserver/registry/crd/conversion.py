"""``conversion.strategy: Webhook``: custom objects converted by a ConversionReview v1 call
(apiextensions-apiserver's ``webhookConverter``).

Contract: :class:`WebhookConverter` ``convert(objects, desired)`` returns the objects in
API version ``desired``: those already in it are kept, the others go to the webhook in one
``apiextensions.k8s.io/v1`` ConversionReview (``uid``, ``desiredAPIVersion``, ``objects``).
The answer must be a v1 ConversionReview with the same ``uid``, ``result.status``
``Success`` and as many ``convertedObjects`` as sent, each of the desired ``apiVersion``
and the same ``kind``; of their metadata only labels and annotations are taken, the rest
stays the original's (upstream's ``restoreObjectMeta``). Any failure is a 500
``Internal error occurred: conversion webhook for <group/version, Kind=K> failed: …``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from apiserver.api import errors
from apiserver.webhook import CallError, ClientConfig, WebhookClient, review_response

API_VERSION = "apiextensions.k8s.io/v1"
KIND = "ConversionReview"
#: Upstream's webhook client timeout (the conversion webhook has no timeout of its own).
TIMEOUT = 30.0


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _gvk(obj: Mapping[str, Any]) -> str:
    group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
    return f"{group}/{version}, Kind={obj.get('kind') or ''}"


def webhook_spec(crd: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``spec.conversion.webhook`` when the strategy is ``Webhook``."""
    conversion = _m(_m(crd.get("spec")).get("conversion"))
    if conversion.get("strategy") != "Webhook":
        return None
    return _m(conversion.get("webhook"))


class WebhookConverter:
    """See the module docstring; ``name`` is the CRD's."""

    def __init__(self, name: str, webhook: Mapping[str, Any], client: WebhookClient) -> None:
        self.name = name
        self.config = ClientConfig.parse(webhook.get("clientConfig"))
        self.review_versions = tuple(str(v) for v in webhook.get("conversionReviewVersions")
                                     or ())
        self.client = client
        #: What the converter was built from (a changed CRD makes a new one).
        self.spec = dict(webhook)

    async def convert(self, objects: Sequence[dict[str, Any]], desired: str) \
            -> list[dict[str, Any]]:
        """``objects`` in ``desired``; see the module docstring."""
        pending = [i for i, o in enumerate(objects) if o.get("apiVersion") != desired]
        if not pending:
            return list(objects)
        sent = [objects[i] for i in pending]
        what = _gvk(sent[0])
        converted = await self._call(sent, desired, what)
        out = list(objects)
        for index, (original, new) in zip(pending, zip(sent, converted, strict=True),
                                          strict=True):
            out[index] = _restore_meta(original, new)
        return out

    async def _call(self, sent: list[dict[str, Any]], desired: str, what: str) \
            -> list[dict[str, Any]]:
        def failed(reason: str) -> errors.ApiError:
            return errors.internal(f"conversion webhook for {what} failed: {reason}")

        if "v1" not in self.review_versions:
            raise failed("no supported conversion review versions")
        uid = str(uuid.uuid4())
        body = orjson.dumps({"kind": KIND, "apiVersion": API_VERSION, "request": {
            "uid": uid, "desiredAPIVersion": desired, "objects": sent}})
        try:
            answer = await self.client.post(f"conversion_webhook_for_{self.name}",
                                            self.config, body, TIMEOUT)
        except CallError as exc:
            raise failed(exc.reason.removeprefix("failed to call webhook: ")) from None
        try:
            response = review_response(answer, API_VERSION, KIND, uid, "no response provided")
        except ValueError as exc:
            raise failed(str(exc)) from None
        result = _m(response.get("result"))
        if result.get("status") != "Success":
            raise failed(str(result.get("message") or "response.result.status was "
                             f"'{result.get('status') or ''}', not 'Success'"))
        converted = response.get("convertedObjects")
        if not isinstance(converted, list) or len(converted) != len(sent):
            count = len(converted) if isinstance(converted, list) else 0
            raise errors.internal(f"conversion webhook for {what} returned {count} objects, "
                                  f"expected {len(sent)}")
        for index, (original, new) in enumerate(zip(sent, converted, strict=True)):
            new_map = _m(new)
            if new_map.get("apiVersion") != desired:
                raise failed(f"invalid converted object at index {index}: invalid apiVersion "
                             f'"{new_map.get("apiVersion") or ""}", expected "{desired}"')
            if new_map.get("kind") != original.get("kind"):
                raise failed(f"invalid converted object at index {index}: invalid kind "
                             f'"{new_map.get("kind") or ""}", expected '
                             f'"{original.get("kind")}"')
        return [dict(_m(o)) for o in converted]


def _restore_meta(original: Mapping[str, Any], converted: dict[str, Any]) -> dict[str, Any]:
    md = dict(_m(original.get("metadata")))
    new_md = _m(converted.get("metadata"))
    for field in ("labels", "annotations"):
        if field in new_md:
            md[field] = new_md[field]
        else:
            md.pop(field, None)
    converted["metadata"] = md
    return converted
