"""Calling webhooks: the HTTPS client shared by admission webhooks and CRD conversion.

:mod:`.client` (``clientConfig`` → one POST of a JSON review, with upstream's error
texts) and :mod:`.resolve` (a ``clientConfig.service`` → a ready endpoint address).
This layer knows no registry: the caller hands it a function that reads objects.
"""

from apiserver.webhook.client import CallError, ClientConfig, WebhookClient, review_response
from apiserver.webhook.resolve import ObjectLookup, resolve_service

__all__ = ["CallError", "ClientConfig", "ObjectLookup", "WebhookClient", "resolve_service",
           "review_response"]
