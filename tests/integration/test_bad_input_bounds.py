"""Decoding bombs and hostile input against a real apiserver: a prompt 4xx, never a stall.

Each amplification input (YAML alias expansion, JSON-patch ``copy`` doubling, nesting far
past the decoder's bound) must be answered with a 4xx Status within a second while a
second client's GETs keep being answered quickly (p99 under 100 ms). The other bad inputs
of the same family (integers beyond 64 bits, warnings carrying control characters,
double-encoded paths, resourceVersions beyond uint64) get upstream's answer and, above
all, an answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.support.apiserver import ApiServerProcess, start_apiserver

pytestmark = [pytest.mark.integration, pytest.mark.exclusive]

NS = "bounds"
CM = f"/api/v1/namespaces/{NS}/configmaps"
JSON = {"content-type": "application/json"}
YAML = {"content-type": "application/yaml"}
APPLY = {"content-type": "application/apply-patch+yaml"}
JSONPATCH = {"content-type": "application/json-patch+json"}
#: An amplification input must be refused within this many seconds.
ANSWER_WITHIN = 1.0
#: ... while the other client's GETs stay under this (p99, seconds).
GET_P99 = 0.1
#: GETs the second client completes around the attacks (at least).
MIN_GETS = 100
#: Each amplification input is sent this many times while the second client probes.
ROUNDS = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    proc = start_apiserver(tmp_path_factory.mktemp("bounds"), "memory")
    try:
        with httpx.Client(base_url=proc.url) as client:
            assert client.post("/api/v1/namespaces",
                               json={"metadata": {"name": NS}}).status_code == 201
            assert client.post(CM, json={"metadata": {"name": "probe"},
                                         "data": {"k": "v"}}).status_code == 201
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def client(server: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30.0) as c:
        yield c


class Prober:
    """A second client GETting one object in a loop; latencies in seconds."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10.0) as c:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    status = c.get(f"{CM}/probe").status_code
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                self.latencies.append(time.monotonic() - started)
                if status != 200:
                    self.failures.append(f"status {status}")
                time.sleep(0.002)

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.latencies) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@contextmanager
def responsive(server: ApiServerProcess) -> Iterator[Prober]:
    """Assert the server keeps answering another client's GETs promptly meanwhile."""
    prober = Prober(server.url)
    prober._thread.start()
    prober.wait_for(3)  # probing steadily before the first attack
    try:
        yield prober
    finally:
        prober.wait_for(MIN_GETS)
        prober._stop.set()
        prober._thread.join(15)
    assert not prober.failures, prober.failures[:5]
    assert len(prober.latencies) >= MIN_GETS
    assert prober.p99() < GET_P99, f"p99 {prober.p99():.3f}s over {len(prober.latencies)} GETs"


def timed(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """The response, asserted to be a 4xx Status sent within :data:`ANSWER_WITHIN`."""
    started = time.monotonic()
    r = client.request(method, url, **kwargs)
    elapsed = time.monotonic() - started
    assert 400 <= r.status_code < 500, r.text[:500]
    assert elapsed < ANSWER_WITHIN, f"{elapsed:.2f}s"
    body = r.json()
    assert body["kind"] == "Status" and body["code"] == r.status_code
    return r


def alias_bomb(levels: int, per_level: int = 10, kind: str = "ConfigMap") -> str:
    """The billion-laughs shape: each level lists the previous level ``per_level`` times."""
    lines = ["apiVersion: v1", f"kind: {kind}", "metadata: {name: bomb}",
             "a0: &a0 [" + ",".join(["lol"] * per_level) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * per_level) + "]")
    return "\n".join(lines) + "\n"


def nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


# -- amplification ---------------------------------------------------------------------


@pytest.mark.parametrize("levels", [7, 8, 9])
def test_yaml_alias_bomb_is_refused_promptly(
    server: ApiServerProcess, client: httpx.Client, levels: int
) -> None:
    bomb = alias_bomb(levels)
    assert len(bomb) < 700
    with responsive(server):
        for _ in range(ROUNDS):
            r = timed(client, "POST", CM, content=bomb, headers=YAML)
            assert r.status_code == 400
            assert r.json()["message"].startswith(
                "the object provided is unrecognized (must be of type ConfigMap): error "
                "converting YAML to JSON: yaml: document contains excessive aliasing")
            r = timed(client, "PATCH", f"{CM}/bomb", params={"fieldManager": "x"},
                      content=bomb, headers=APPLY)
            assert r.json()["message"] == ("error decoding YAML: error converting YAML to "
                                           "JSON: yaml: document contains excessive aliasing")
    assert client.get(f"{CM}/bomb").status_code == 404


def test_yaml_with_moderate_aliasing_is_accepted(client: httpx.Client) -> None:
    body = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aliases}\ndata:\n"
            "  a: &v hello\n" + "".join(f"  k{i}: *v\n" for i in range(2000)))
    r = client.post(CM, content=body, headers=YAML)
    assert r.status_code == 201, r.text[:300]
    assert r.json()["data"]["k1999"] == "hello"


@pytest.mark.parametrize("dry_run", [True, False], ids=["dryRun", "write"])
def test_json_patch_copy_doubling_is_refused_promptly(
    server: ApiServerProcess, client: httpx.Client, dry_run: bool
) -> None:
    name = f"copy-{dry_run}".lower()
    assert client.post(CM, json={"metadata": {"name": name}}).status_code == 201
    ops: list[dict[str, Any]] = [
        {"op": "add", "path": "/metadata/annotations", "value": {"a": "x" * 32}}]
    ops += [{"op": "copy", "from": "/metadata/annotations", "path": f"/metadata/annotations/c{i}"}
            for i in range(21)]
    body = json.dumps(ops)
    assert len(body) < 2000
    params = {"dryRun": "All"} if dry_run else {}
    with responsive(server):
        for _ in range(ROUNDS):
            r = timed(client, "PATCH", f"{CM}/{name}", params=params, content=body,
                      headers=JSONPATCH)
            assert r.status_code == 422
            assert r.json()["reason"] == "Invalid"
            assert r.json()["message"] == (
                "the server rejected our request due to an error in our request")
    assert "annotations" not in client.get(f"{CM}/{name}").json()["metadata"]


# -- nesting ---------------------------------------------------------------------------

_DEEP = 10_001


@pytest.mark.parametrize(("depth", "media"), [
    (_DEEP, "application/json"), (_DEEP, "application/yaml"),
    (3 * 1024 * 1024 - 100, "application/json"), (3 * 1024 * 1024 - 100, "application/yaml"),
])
def test_deeply_nested_bodies_are_400(
    server: ApiServerProcess, client: httpx.Client, depth: int, media: str
) -> None:
    half = depth // 2
    body = '{"metadata":{"name":"deep"},"foo":' + nested(half) + "}" if depth == _DEEP \
        else "[" * depth
    with responsive(server):
        for _ in range(ROUNDS):
            r = timed(client, "POST", CM, content=body, headers={"content-type": media})
    assert r.status_code == 400
    message = r.json()["message"]
    assert message.startswith("the object provided is unrecognized (must be of type ConfigMap)")
    assert "exceeded max depth" in message


@pytest.mark.parametrize("media", [
    "application/merge-patch+json", "application/strategic-merge-patch+json",
    "application/json-patch+json", "application/apply-patch+yaml",
])
def test_deeply_nested_patches_are_400(
    server: ApiServerProcess, client: httpx.Client, media: str
) -> None:
    value = nested(_DEEP)
    if media == "application/json-patch+json":
        body = '[{"op":"add","path":"/metadata/labels","value":' + value + "}]"
    elif media == "application/apply-patch+yaml":
        body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"probe"},"x":' \
            + value + "}"
    else:
        body = '{"metadata":{"labels":' + value + "}}"
    params = {"fieldManager": "x"} if "apply" in media else {}
    with responsive(server):
        for _ in range(ROUNDS):
            r = timed(client, "PATCH", f"{CM}/probe", params=params, content=body,
                      headers={"content-type": media})
    assert r.status_code == 400
    assert "exceeded max depth" in r.json()["message"]


def test_nesting_within_the_bound_is_decoded(client: httpx.Client) -> None:
    """150 levels of an unknown field: decoded, dropped with a warning, as upstream."""
    body = '{"metadata":{"name":"nested"},"foo":' + nested(150) + "}"
    r = client.post(CM, content=body, headers=JSON)
    assert r.status_code == 201, r.text
    assert r.headers["warning"] == '299 - "unknown field \\"foo\\""'
    for media in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
        r = client.patch(f"{CM}/nested", content='{"foo":' + nested(150) + "}",
                         headers={"content-type": media})
        assert r.status_code == 200, r.text


# -- values, headers, paths, resourceVersions ------------------------------------------


def test_yaml_integer_beyond_int64_is_400(client: httpx.Client) -> None:
    body = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n"
            "  generation: 99999999999999999999999\n")
    r = client.post(CM, content=body, headers=YAML)
    assert r.status_code == 400, r.text
    assert r.json()["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal '
        "number 1e+23 into Go struct field ObjectMeta.metadata.generation of type int64")
    # In a field of no known type it is a (float) number, dropped with the unknown field.
    r = client.post(CM, content=body.replace("generation", "bogus"), headers=YAML)
    assert r.status_code == 201, r.text


def test_a_warning_with_control_characters_is_sent_escaped(client: httpx.Client) -> None:
    r = client.post(CM, json={"metadata": {"name": "warned"}, "fo\x01o\nbar": 1})
    assert r.status_code == 201, r.text
    assert r.headers.get_list("warning") == ['299 - "unknown field \\"fo\\\\x01o\\\\nbar\\""']
    assert client.get(f"{CM}/warned").status_code == 200


def test_a_path_is_percent_decoded_once(client: httpx.Client) -> None:
    assert client.post(CM, json={"metadata": {"name": "cm1"}}).status_code == 201
    encoded = f"/api/v1/namespaces/{NS}%252Fconfigmaps%252Fcm1"
    r = client.get(encoded)
    assert r.status_code == 404
    assert r.json()["message"] == f'namespaces "{NS}%2Fconfigmaps%2Fcm1" not found'
    assert client.delete(encoded).status_code == 404
    assert client.get(f"{CM}/cm1").status_code == 200


_HUGE = "18446744073709551616"  # 2**64


@pytest.mark.parametrize(("rv", "problem"), [
    (_HUGE, "value out of range"), ("99999999999999999999999", "value out of range"),
    ("abc", "invalid syntax"), ("-1", "invalid syntax"),
])
def test_resource_versions_beyond_uint64_are_400(
    client: httpx.Client, rv: str, problem: str
) -> None:
    query = (f'invalid resource version: resourceVersion: Invalid value: "{rv}": '
             f'strconv.ParseUint: parsing "{rv}": {problem}')
    for params in ({"resourceVersion": rv},
                   {"resourceVersion": rv, "watch": "1", "timeoutSeconds": "1"}):
        r = client.get(CM, params=params)
        assert (r.status_code, r.json()["message"]) == (400, query)
    r = client.get(f"{CM}/probe", params={"resourceVersion": rv})
    assert (r.status_code, r.json()["message"]) == (400, query)
    body_message = f'strconv.ParseUint: parsing "{rv}": {problem}'
    r = client.put(f"{CM}/probe", json={"metadata": {"name": "probe", "resourceVersion": rv}})
    assert (r.status_code, r.json()["message"]) == (400, body_message)
    r = client.patch(f"{CM}/probe", json={"metadata": {"resourceVersion": rv}},
                     headers={"content-type": "application/merge-patch+json"})
    assert (r.status_code, r.json()["message"]) == (400, body_message)
