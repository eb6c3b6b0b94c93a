"""Request metrics (:mod:`apiserver.filters.requestmetrics`, :mod:`apiserver.api.metrics`):
upstream's verb, scope and dry-run labels for known requests, the histogram's inclusive
buckets, and the chain counting what it answers — refusals included — over an ASGI client."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from apiserver.api import metrics
from apiserver.chain import ChainStages, build_chain
from apiserver.filters.maxinflight import MaxInFlight
from apiserver.filters.requestmetrics import dry_run, labels_of
from apiserver.handlers.http import Receive, Scope, Send
from apiserver.handlers.requestinfo import scope_request_info


def _labels(method: str, path: str, query: bytes = b"",
            content_type: bytes = b"application/json") -> tuple[str, ...]:
    scope = {"type": "http", "method": method, "path": path, "query_string": query,
             "headers": [(b"content-type", content_type)]}
    return labels_of(scope, scope_request_info(scope))


#: "METHOD path?query" → "verb dry_run group version resource subresource scope" ("-": empty).
KNOWN = """
GET /api/v1/namespaces/ns/pods/p        GET - - v1 pods - resource
GET /api/v1/namespaces/ns/pods          LIST - - v1 pods - namespace
GET /api/v1/pods?limit=5                LIST - - v1 pods - cluster
GET /api/v1/namespaces/ns/pods?watch=1  WATCH - - v1 pods - namespace
GET /api/v1/watch/namespaces/ns/pods    WATCH - - v1 pods - namespace
POST /apis/apps/v1/namespaces/ns/deployments?dryRun=All  POST All apps v1 deployments - resource
PUT /apis/apps/v1/namespaces/ns/deployments/d/scale  PUT - apps v1 deployments scale resource
DELETE /api/v1/namespaces/ns/pods       DELETE - - v1 pods - namespace
GET /api/v1/namespaces/ns/pods/p/log    CONNECT - - v1 pods log resource
POST /api/v1/namespaces/ns/pods/p/exec  CONNECT - - v1 pods exec resource
GET /api/v1/nodes/n                     GET - - v1 nodes - resource
GET /healthz                            GET - - - - - -
GET /apis/apps/v1                       GET - - - - - -
"""


@pytest.mark.parametrize("line", KNOWN.strip().splitlines())
def test_labels_follow_upstream(line: str) -> None:
    method, target, *expected = line.split()
    path, _, query = target.partition("?")
    labels = tuple("" if value == "-" else value for value in expected)
    assert _labels(method, path, query.encode()) == (*labels, "apiserver")


def test_apply_patches_are_apply() -> None:
    path = "/api/v1/namespaces/ns/configmaps/c"
    assert _labels("PATCH", path, content_type=b"application/apply-patch+yaml")[0] == "APPLY"
    assert _labels("PATCH", path, content_type=b"application/merge-patch+json")[0] == "PATCH"


def test_dry_run_values_are_sorted_and_unique() -> None:
    assert dry_run(b"") == ""
    assert dry_run(b"dryRun=All&dryRun=All") == "All"
    assert dry_run(b"dryRun=b&x=1&dryRun=a") == "a,b"


def test_histogram_buckets_are_inclusive_and_cumulative() -> None:
    histogram = metrics.Histogram(metrics.REQUEST_BUCKETS)
    for value in (0.005, 0.006, 1.0, 61.0):
        histogram.observe(("x",), value)
    buckets, total, count = histogram.cumulative(("x",))
    as_dict = dict(buckets)
    assert [le for le, _ in buckets][:3] == ["0.005", "0.025", "0.05"]
    assert buckets[-1] == ("+Inf", 4)
    assert as_dict["0.005"] == 1 and as_dict["0.025"] == 2 and as_dict["1"] == 3
    assert as_dict["60"] == 3
    assert count == 4 and total == pytest.approx(62.011)


def test_watch_event_size_buckets_are_upstreams() -> None:
    assert metrics.WATCH_EVENT_SIZE_BUCKETS == (1024, 2048, 4096, 8192, 16384, 32768, 65536,
                                                131072)


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_chain_counts_answers_and_refusals() -> None:
    stages = ChainStages(max_in_flight=MaxInFlight(1, 1))
    limits = stages.max_in_flight
    assert limits is not None
    get = ("GET", "", "", "v1", "pods", "", "resource", "apiserver")
    refused = ("POST", "", "", "v1", "pods", "", "resource", "apiserver")
    before_ok = metrics.REQUEST_COUNTS[get].get(200, 0)
    before_refused = metrics.REQUEST_COUNTS[refused].get(429, 0)

    async def main() -> None:
        transport = httpx.ASGITransport(app=build_chain(_ok, stages))
        async with httpx.AsyncClient(transport=transport, base_url="http://kubemu") as client:
            assert (await client.get("/api/v1/namespaces/ns/pods/p")).status_code == 200
            limits.mutating.in_use = 1  # the mutating pool is full
            response = await client.post("/api/v1/namespaces/ns/pods", content=b"{}")
            assert response.status_code == 429
            limits.mutating.in_use = 0

    asyncio.run(main())
    assert metrics.REQUEST_COUNTS[get][200] == before_ok + 1
    assert metrics.REQUEST_COUNTS[refused][429] == before_refused + 1
    assert metrics.REQUEST_DURATIONS.cumulative(get)[2] >= 1


def test_chain_without_request_metrics_counts_nothing() -> None:
    stages = ChainStages(request_metrics=False)
    key = ("GET", "", "", "v1", "secrets", "", "resource", "apiserver")
    before = metrics.REQUEST_COUNTS[key].get(200, 0)

    async def main() -> None:
        transport = httpx.ASGITransport(app=build_chain(_ok, stages))
        async with httpx.AsyncClient(transport=transport, base_url="http://kubemu") as client:
            assert (await client.get("/api/v1/namespaces/ns/secrets/s")).status_code == 200

    asyncio.run(main())
    assert metrics.REQUEST_COUNTS[key].get(200, 0) == before
