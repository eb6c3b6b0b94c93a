"""Fixtures of the integration tests that talk to the shared apiserver over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.apiserver import ApiServerProcess


@pytest.fixture
def client(apiserver: ApiServerProcess) -> Iterator[httpx.Client]:
    """An HTTP client of the session apiserver."""
    with httpx.Client(base_url=apiserver.url, timeout=10) as c:
        yield c


@pytest.fixture
def ns(client: httpx.Client) -> str:
    """A new namespace of the session apiserver, for this test alone."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    r = client.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name
