"""Fuzzing every core/v1 operation over HTTP: no answer is ever a 5xx, every request is answered.

The one 5xx upstream itself gives for bad input is a proxy subresource's 503
``ServiceUnavailable`` when its Service has no endpoints; that is accepted.

A real apiserver process gets at least :data:`REQUESTS` fuzzed requests (see
:mod:`tests.support.fuzz`), spread evenly over every served core/v1 operation: each
operation is one hypothesis-driven run of :data:`PER_OPERATION` examples. Failures are
collected rather than raised at the first one, so a run reports every 5xx and every
request left unanswered (a timeout counts) with the request that caused it.

Bounded for CI: memory storage, no shrinking, short watches (``timeoutSeconds=1``,
read only up to the response headers). The service ranges are wide, so allocation
running out — an upstream 500, not bad input — is not reached.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.support.apiserver import ApiServerProcess, start_apiserver
from tests.support.fuzz import NAMES, NAMESPACE, OPERATIONS, FuzzRequest, Operation, requests

pytestmark = [pytest.mark.slow, pytest.mark.integration]

#: At least this many requests in all.
REQUESTS = 5000
PER_OPERATION = math.ceil(REQUESTS / len(OPERATIONS))
#: Seconds a request may take before it counts as unanswered.
ANSWER_TIMEOUT = 10.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    base: Path = tmp_path_factory.mktemp("fuzz")
    proc = start_apiserver(base, "memory", ["--service-cluster-ip-range", "10.96.0.0/12"])
    try:
        yield proc
    finally:
        proc.stop()


def _seed(client: httpx.Client) -> None:
    """The fuzz namespace and a few objects the fuzzed names often hit."""
    client.post("/api/v1/namespaces", json={"metadata": {"name": NAMESPACE}})
    for name in NAMES:
        client.post(f"/api/v1/namespaces/{NAMESPACE}/configmaps",
                    json={"metadata": {"name": name}, "data": {"k": "v"}})
        client.post(f"/api/v1/namespaces/{NAMESPACE}/pods", json={
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
        client.post(f"/api/v1/namespaces/{NAMESPACE}/services", json={
            "metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}})
        client.post("/api/v1/nodes", json={"metadata": {"name": name}})


def _send(client: httpx.Client, request: FuzzRequest) -> tuple[int, bytes]:
    """The status and body of the answer to ``request``. A watch that is accepted is left as
    soon as its headers arrive, with no body; any answer of 400 or more is read whole,
    since its Status decides whether a 5xx is a fault (a proxy request carrying ``watch``
    is still proxied and may get its 503)."""
    params = httpx.QueryParams(tuple(request.params))
    with client.stream(request.method, request.path, params=params, headers=request.headers,
                       content=request.content) as response:
        streaming = request.watch and response.status_code < 400
        body = b"" if streaming else response.read()
        return response.status_code, body


def _backend_unavailable(op: Operation, status: int, body: bytes) -> bool:
    """Upstream's answer when a proxy subresource has nowhere to go: 503 with a
    ``ServiceUnavailable`` Status (e.g. ``no endpoints available for service "a"``) — the
    seeded Services have no endpoints. Not a server fault."""
    if not op.label.endswith("/proxy") or status != 503:
        return False
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("kind") == "Status" \
        and answer.get("reason") == "ServiceUnavailable"


def _fuzz(client: httpx.Client, op: Operation, failures: list[str], counter: list[int]) -> None:
    @settings(max_examples=PER_OPERATION, deadline=None, database=None,
              phases=[Phase.generate], derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(request=requests(op))
    def run(request: FuzzRequest) -> None:
        counter[0] += 1
        try:
            status, body = _send(client, request)
        except httpx.HTTPError as exc:
            failures.append(f"{op.label}: no answer ({exc!r}): {request.describe()}")
            return
        if status >= 500 and not _backend_unavailable(op, status, body):
            failures.append(f"{op.label}: {status}: {request.describe()}")

    run()


@pytest.mark.timeout(300)
def test_fuzzed_core_v1_requests_never_get_a_5xx(server: ApiServerProcess) -> None:
    failures: list[str] = []
    counter = [0]
    started = time.monotonic()
    with httpx.Client(base_url=server.url, timeout=ANSWER_TIMEOUT) as client:
        _seed(client)
        for op in OPERATIONS:
            _fuzz(client, op, failures, counter)
        # The server still answers normally after the run.
        assert client.get("/readyz").status_code == 200
    elapsed = time.monotonic() - started
    print(f"fuzz: {counter[0]} requests over {len(OPERATIONS)} core/v1 operations "
          f"in {elapsed:.1f}s, {len(failures)} failures")
    assert counter[0] >= REQUESTS
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:50])
