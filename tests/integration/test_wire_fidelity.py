"""Byte-level fidelity of answers, over real HTTP to the real apiserver.

Each test works in its own namespace of the shared session apiserver.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ApiServerProcess
from tests.support.kubectl import Kubectl

TIMEOUT = httpx.Timeout(15.0)
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@pytest.fixture
def client(apiserver: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=apiserver.url, timeout=TIMEOUT) as c:
        yield c


@pytest.fixture
def ns(client: httpx.Client) -> str:
    name = f"wire-{uuid.uuid4().hex[:8]}"
    r = client.post("/api/v1/namespaces", json={"metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


def _ends_with_one_newline(r: httpx.Response) -> None:
    assert r.content.endswith(b"}\n"), r.content[-40:]
    assert not r.content.endswith(b"\n\n")
    assert int(r.headers["content-length"]) == len(r.content)


def test_every_json_answer_ends_with_newline(client: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    cm = {"metadata": {"name": "a"}, "data": {"k": "v"}}
    created = client.post(base, json=cm)
    assert created.status_code == 201
    conflict = client.post(base, json=cm)
    assert conflict.status_code == 409
    stale = created.json()
    stale["metadata"]["resourceVersion"] = "1"
    answers = [
        created,
        conflict,
        client.get(f"{base}/a"),
        client.get(base),
        client.get(base, params={"limit": "1"}),
        client.get(f"{base}/missing"),
        client.put(f"{base}/a", json=stale),
        client.get(base, headers={"accept": TABLE}),
        client.get(f"{base}/a", headers={"accept": TABLE}),
        client.post(base, content=b"{", headers={"content-type": "application/json"}),
        client.get("/api"),
        client.get("/apis"),
        client.get("/api/v1"),
        client.get("/apis/apps/v1"),
        client.get("/apis", headers={"accept": AGGREGATED}),
        client.get("/no/such/path"),
        client.delete(f"{base}/a"),
    ]
    for r in answers:
        _ends_with_one_newline(r)


def test_conflict_body_matches_upstream_bytes(client: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    assert client.post(base, json={"metadata": {"name": "a"}}).status_code == 201
    r = client.post(base, json={"metadata": {"name": "a"}})
    assert r.content == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"configmaps \\"a\\" already exists","reason":"AlreadyExists",'
        b'"details":{"name":"a","kind":"configmaps"},"code":409}\n'
    )


@pytest.mark.parametrize("rv", ["0", ""])
def test_put_with_zero_resource_version_is_unconditional(
    client: httpx.Client, ns: str, rv: str
) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    assert client.post(base, json={"metadata": {"name": "a"}}).status_code == 201
    body = {"metadata": {"name": "a", "resourceVersion": rv}, "data": {"k": "v"}}
    r = client.put(f"{base}/a", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"k": "v"}


def test_kubectl_create_raw_of_a_yaml_pod_is_unrecognized(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
        "  - name: c\n    image: busybox\n"
    )
    result = kubectl("create", "--raw", "/api/v1/namespaces", "-f", str(manifest))
    assert result.returncode != 0
    assert "the object provided is unrecognized (must be of type Namespace)" in result.stderr


@pytest.mark.parametrize(("patch", "cause"), [
    ({"metadata": {"labels": "x"}},
     'Invalid value: "map[metadata:map[labels:x]]": cannot restore map from string'),
    ({"data": {"k": 1}}, 'Invalid value: "map[data:map[k:1]]": cannot convert int64 to string'),
    ({"metadata": {"annotations": {"q": 'a"b'}, "labels": [1.5]}},
     'Invalid value: "map[metadata:map[annotations:map[q:a\\"b] labels:[1.5]]]": '
     "cannot restore map from slice"),
])
def test_strategic_merge_patch_of_the_wrong_type_is_upstreams_422(
    client: httpx.Client, ns: str, patch: dict[str, object], cause: str
) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    cm = {"metadata": {"name": "a", "labels": {"x": "y"}}, "data": {"k": "v"}}
    assert client.post(base, json=cm).status_code == 201
    r = client.patch(f"{base}/a", json=patch,
                     headers={"content-type": "application/strategic-merge-patch+json"})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["reason"] == "Invalid"
    assert body["message"] == f'"" is invalid: patch: {cause}'
    assert body["details"] == {
        "causes": [{"reason": "FieldValueInvalid", "message": cause, "field": "patch"}]
    }
