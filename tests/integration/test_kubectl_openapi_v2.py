"""kubectl's OpenAPI v2 (protobuf) code paths against the real apiserver.

kubectl validates ``kind: List`` manifests and runs ``explain
--output=plaintext-openapiv2`` with the gnostic protobuf form of ``/openapi/v2``
(``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf``); before
the server spoke it, kubectl failed with "the server was unable to respond with a
content type that the client supports".
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tests.support.apiserver import ApiServerProcess
from tests.support.kubectl import Kubectl

PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
PROTOBUF_ANSWER = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def ns(kubectl: Kubectl) -> Iterator[str]:
    name = unique("oa2")
    kubectl("create", "-f", "-", check=True, input=json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    try:
        yield name
    finally:
        kubectl("delete", "namespace", name, "--wait=false")


def config_map(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": {"k": name}, **extra}


def as_list(*items: dict[str, Any]) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": list(items)})


def test_create_list_validates_with_openapi_v2(kubectl: Kubectl, ns: str) -> None:
    result = kubectl("-n", ns, "create", "-f", "-",
                     input=as_list(config_map("first"), config_map("second")))
    assert result.returncode == 0, result.stderr
    assert "configmap/first created" in result.stdout
    assert "configmap/second created" in result.stdout
    got = kubectl("-n", ns, "get", "configmaps", "first", "second", "-o", "json", check=True)
    items = json.loads(got.stdout)["items"]
    assert [(item["metadata"]["name"], item["data"]) for item in items] == [
        ("first", {"k": "first"}), ("second", {"k": "second"})]


def test_create_list_with_unknown_field_fails_validation(kubectl: Kubectl, ns: str) -> None:
    result = kubectl("-n", ns, "create", "-f", "-",
                     input=as_list(config_map("good"), config_map("bad", bogusField=1)))
    assert result.returncode != 0
    assert 'unknown field "bogusField" in io.k8s.api.core.v1.ConfigMap' in result.stderr
    assert "content type" not in result.stderr
    # Validation runs before anything is sent: neither item was created.
    get = kubectl("-n", ns, "get", "configmaps", "-o", "name", check=True)
    assert "configmap/good" not in get.stdout and "configmap/bad" not in get.stdout


def test_explain_plaintext_openapiv2(kubectl: Kubectl) -> None:
    out = kubectl("explain", "service.spec.ports", "--output=plaintext-openapiv2",
                  check=True).stdout
    assert "KIND:     Service" in out
    assert "RESOURCE: ports <[]Object>" in out
    assert "The list of ports that are exposed by this service." in out
    assert "ServicePort contains information on service's port." in out
    assert "targetPort\t<string>" in out
    data = kubectl("explain", "configmap.data", "--output=plaintext-openapiv2",
                   check=True).stdout
    assert "FIELD:    data <map[string]string>" in data


def test_openapi_v2_protobuf_http(apiserver: ApiServerProcess) -> None:
    with httpx.Client(base_url=apiserver.url, timeout=10) as client:
        as_json = client.get("/openapi/v2", headers={"Accept": "application/json"})
        assert as_json.status_code == 200
        assert as_json.headers["content-type"] == "application/json"
        assert as_json.json()["swagger"] == "2.0"

        proto = client.get("/openapi/v2", headers={"Accept": PROTOBUF})
        assert proto.status_code == 200
        assert proto.headers["content-type"] == PROTOBUF_ANSWER
        assert proto.headers["vary"] == "Accept"
        assert proto.content.startswith(b"\x0a\x032.0")  # field 1 (swagger) = "2.0"
        assert b"io.k8s.api.core.v1.ConfigMap" in proto.content
        etag = proto.headers["etag"]
        assert etag == as_json.headers["etag"]  # upstream reuses the JSON etag

        again = client.get("/openapi/v2", headers={"Accept": PROTOBUF, "If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag

        # The non-deprecated spelling, and q-values preferring protobuf over JSON.
        for accept in (PROTOBUF_ANSWER, f"application/json;q=0.5, {PROTOBUF}"):
            answer = client.get("/openapi/v2", headers={"Accept": accept})
            assert answer.headers["content-type"] == PROTOBUF_ANSWER, accept
            assert answer.content == proto.content, accept

        legacy = client.get("/swagger-2.0.0.pb-v1")
        assert legacy.status_code == 200
        assert legacy.content == proto.content

        refused = client.get("/openapi/v2", headers={"Accept": "text/plain"})
        assert refused.status_code == 406
