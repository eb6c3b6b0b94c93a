"""An httpx client for one fresh namespace of a running apiserver.

:class:`NamespacedApi` creates the namespace (``<prefix>-<random>``) and offers the writes
most tests start with: ``post`` (asserting 201) and ``service``.
"""

from __future__ import annotations

import ssl
import uuid
from typing import Any

import httpx


class NamespacedApi:
    """``http`` (an httpx client of ``url``) and ``ns``, a namespace it created."""

    def __init__(self, url: str, prefix: str, verify: ssl.SSLContext | bool = True) -> None:
        self.http = httpx.Client(base_url=url, timeout=10, verify=verify)
        self.ns = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.post("/api/v1/namespaces", {"metadata": {"name": self.ns}})

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create ``body`` at ``path``; the created object (fails unless 201)."""
        r = self.http.post(path, json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def service(self, name: str, **spec: Any) -> dict[str, Any]:
        """Create the Service ``name`` with ``spec`` in the namespace."""
        return self.post(f"/api/v1/namespaces/{self.ns}/services",
                         {"metadata": {"name": name}, "spec": spec})
