"""Bad requests get the upstream error Status, never a 500.

Everything goes over real HTTP to the real apiserver (the shared session server,
or a private one with a tiny watch cache for expiry). Each test works in its own
namespace.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ApiServerProcess

TIMEOUT = httpx.Timeout(15.0)
JSON = {"content-type": "application/json"}
MERGE = {"content-type": "application/merge-patch+json"}
SMP = {"content-type": "application/strategic-merge-patch+json"}
JSONPATCH = {"content-type": "application/json-patch+json"}


@pytest.fixture
def client(apiserver: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=apiserver.url, timeout=TIMEOUT) as c:
        yield c


def new_namespace(client: httpx.Client) -> str:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    r = client.post("/api/v1/namespaces", json={"metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


@pytest.fixture
def ns(client: httpx.Client) -> str:
    return new_namespace(client)


def status_of(r: httpx.Response, code: int, reason: str | None = None) -> dict[str, Any]:
    """Assert ``r`` is a failure Status with ``code`` (and ``reason``); return it."""
    assert r.status_code == code, r.text
    assert r.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = r.json()
    assert body["kind"] == "Status", body
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == code
    assert body["metadata"] == {}
    if reason is not None:
        assert body["reason"] == reason, body
    return body


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


# -- bodies -------------------------------------------------------------------------


def test_malformed_json_is_400(client: httpx.Client, ns: str) -> None:
    r = client.post(f"/api/v1/namespaces/{ns}/configmaps", content=b'{"metadata": {',
                    headers=JSON)
    body = status_of(r, 400, "BadRequest")
    assert body["message"] == (
        "the object provided is unrecognized (must be of type ConfigMap): couldn't get "
        'version/kind; json parse error: unexpected end of JSON input ({"metadata": {)'
    )


def test_kind_mismatch_is_400(client: httpx.Client, ns: str) -> None:
    r = client.post(f"/api/v1/namespaces/{ns}/configmaps",
                    json={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}})
    body = status_of(r, 400, "BadRequest")
    assert body["message"] == (
        'Secret in version "v1" cannot be handled as a ConfigMap: the kind in the data '
        "(Secret) does not match the expected kind (ConfigMap)"
    )


def test_api_version_mismatch_is_400(client: httpx.Client, ns: str) -> None:
    r = client.post(f"/api/v1/namespaces/{ns}/configmaps",
                    json={"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    body = status_of(r, 400, "BadRequest")
    assert "apps/v1" in body["message"]
    assert client.get(f"/api/v1/namespaces/{ns}/configmaps/x").status_code == 404


def test_strict_field_validation_rejects_unknown_fields(client: httpx.Client, ns: str) -> None:
    obj = pod("strict")
    obj["spec"]["foo"] = 1
    r = client.post(f"/api/v1/namespaces/{ns}/pods", params={"fieldValidation": "Strict"},
                    json=obj)
    body = status_of(r, 400, "BadRequest")
    assert body["message"].startswith('strict decoding error: unknown field "spec.foo"')
    assert client.get(f"/api/v1/namespaces/{ns}/pods/strict").status_code == 404


def test_warn_field_validation_accepts_and_drops_unknown_fields(
    client: httpx.Client, ns: str
) -> None:
    obj = pod("warned")
    obj["spec"]["foo"] = 1
    r = client.post(f"/api/v1/namespaces/{ns}/pods", params={"fieldValidation": "Warn"},
                    json=obj)
    assert r.status_code == 201, r.text
    assert r.headers.get_list("warning") == ['299 - "unknown field \\"spec.foo\\""']
    assert "foo" not in r.json()["spec"]
    stored = client.get(f"/api/v1/namespaces/{ns}/pods/warned").json()
    assert "foo" not in stored["spec"]


def test_invalid_name_is_422_with_causes(client: httpx.Client, ns: str) -> None:
    r = client.post(f"/api/v1/namespaces/{ns}/configmaps",
                    json={"metadata": {"name": "Not_Valid"}})
    body = status_of(r, 422, "Invalid")
    assert body["message"].startswith('ConfigMap "Not_Valid" is invalid: metadata.name: ')
    assert body["details"]["name"] == "Not_Valid"
    assert body["details"]["kind"] == "ConfigMap"
    (cause,) = body["details"]["causes"]
    assert cause["field"] == "metadata.name"
    assert cause["reason"] == "FieldValueInvalid"
    assert cause["message"].startswith('Invalid value: "Not_Valid": ')


def test_missing_namespace_is_404(client: httpx.Client) -> None:
    r = client.post("/api/v1/namespaces/nope/configmaps", json={"metadata": {"name": "x"}})
    body = status_of(r, 404, "NotFound")
    assert body["message"] == 'namespaces "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "namespaces"}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_3_mib_is_413(client: httpx.Client, ns: str, chunked: bool) -> None:
    payload = json.dumps({"metadata": {"name": "big"}, "data": {"x": "a" * (3 * 1024 * 1024)}})
    content: bytes | Iterator[bytes] = payload.encode()
    if chunked:
        raw = payload.encode()
        content = iter([raw[i:i + 65536] for i in range(0, len(raw), 65536)])
    r = client.post(f"/api/v1/namespaces/{ns}/configmaps", content=content, headers=JSON)
    status_of(r, 413, "RequestEntityTooLarge")
    assert client.get(f"/api/v1/namespaces/{ns}/configmaps/big").status_code == 404


def test_unknown_patch_content_type_is_415(client: httpx.Client, ns: str) -> None:
    r = client.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "p"}})
    assert r.status_code == 201
    r = client.patch(f"/api/v1/namespaces/{ns}/configmaps/p", content=b'{"data":{"a":"b"}}',
                     headers={"content-type": "text/plain"})
    body = status_of(r, 415, "UnsupportedMediaType")
    assert "text/plain" in body["message"]


def test_type_errors_are_decode_errors(client: httpx.Client, ns: str) -> None:
    r = client.post(f"/api/v1/namespaces/{ns}/configmaps",
                    json={"metadata": {"name": "t", "labels": {"a": 1}}})
    body = status_of(r, 400, "BadRequest")
    assert body["message"].startswith(
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal '
        "number into Go struct field ObjectMeta.metadata.labels of type string"
    )
    # Whatever fieldValidation says.
    r = client.post(f"/api/v1/namespaces/{ns}/services", params={"fieldValidation": "Ignore"},
                    json={"metadata": {"name": "t"}, "spec": {"ports": [{"port": "eighty"}]}})
    body = status_of(r, 400, "BadRequest")
    assert "cannot unmarshal string into Go struct field" in body["message"]
    assert "spec.ports.port of type int32" in body["message"]


# -- paths and verbs ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/default/widgets",
        "/api/v1/widgets",
        "/api/v2/pods",
        "/apis/apps/v1beta2/deployments",
        "/api/v1/namespaces/default/pods/x/nosuchsubresource",
    ],
)
def test_unknown_resource_path_is_404_status(client: httpx.Client, path: str) -> None:
    body = status_of(client.get(path), 404, "NotFound")
    assert body["message"] == "the server could not find the requested resource"
    # Upstream's generic 404 carries empty details; kubectl (debug) reads details.name.
    assert body["details"] == {}


# -- conflicts --------------------------------------------------------------------------


def test_put_with_stale_resource_version_is_409(client: httpx.Client, ns: str) -> None:
    r = client.post(f"/api/v1/namespaces/{ns}/configmaps",
                    json={"metadata": {"name": "x"}, "data": {"v": "1"}})
    stale = r.json()
    fresh = dict(stale, data={"v": "2"})
    r = client.put(f"/api/v1/namespaces/{ns}/configmaps/x", json=fresh)
    assert r.status_code == 200, r.text
    stale["data"] = {"v": "3"}
    r = client.put(f"/api/v1/namespaces/{ns}/configmaps/x", json=stale)
    body = status_of(r, 409, "Conflict")
    assert body["message"] == (
        'Operation cannot be fulfilled on configmaps "x": the object has been modified; please '
        "apply your changes to the latest version and try again"
    )
    assert body["details"] == {"name": "x", "kind": "configmaps"}
    assert client.get(f"/api/v1/namespaces/{ns}/configmaps/x").json()["data"] == {"v": "2"}


def test_duplicate_create_is_409_already_exists(client: httpx.Client, ns: str) -> None:
    obj = {"metadata": {"name": "dup"}}
    assert client.post(f"/api/v1/namespaces/{ns}/configmaps", json=obj).status_code == 201
    r = client.post(f"/api/v1/namespaces/{ns}/configmaps", json=obj)
    body = status_of(r, 409, "AlreadyExists")
    assert body["message"] == 'configmaps "dup" already exists'
    assert body["details"] == {"name": "dup", "kind": "configmaps"}


# -- list parameters --------------------------------------------------------------------


@pytest.mark.parametrize("selector", ["a in (", "===", "a=b,,!", "a b", "x>y"])
def test_invalid_label_selector_is_400(client: httpx.Client, ns: str, selector: str) -> None:
    r = client.get(f"/api/v1/namespaces/{ns}/configmaps", params={"labelSelector": selector})
    status_of(r, 400, "BadRequest")


def test_unsupported_field_selector_is_400(client: httpx.Client, ns: str) -> None:
    r = client.get(f"/api/v1/namespaces/{ns}/pods", params={"fieldSelector": "spec.foo=1"})
    body = status_of(r, 400, "BadRequest")
    assert body["message"] == "field label not supported: spec.foo"
    # The same on a watch.
    r = client.get(f"/api/v1/namespaces/{ns}/pods",
                   params={"fieldSelector": "spec.foo=1", "watch": "1"})
    assert status_of(r, 400, "BadRequest")["message"] == "field label not supported: spec.foo"
    r = client.get(f"/api/v1/namespaces/{ns}/configmaps", params={"fieldSelector": "spec.foo=1"})
    assert "spec.foo" in status_of(r, 400, "BadRequest")["message"]


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "!!!",
        base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v2","rv":1,"start":"a"}').decode(),
        base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","start":"a"}').decode(),
        base64.urlsafe_b64encode(b"[1,2]").decode(),
    ],
)
def test_garbage_continue_token_is_400(client: httpx.Client, ns: str, token: str) -> None:
    r = client.get(f"/api/v1/namespaces/{ns}/configmaps", params={"continue": token, "limit": 1})
    status_of(r, 400, "BadRequest")


def test_expired_continue_token_is_410(apiserver_factory: Any) -> None:
    server: ApiServerProcess = apiserver_factory(extra_args=["--watch-cache-size", "5"])
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as c:
        ns = new_namespace(c)
        path = f"/api/v1/namespaces/{ns}/configmaps"
        for i in range(3):
            assert c.post(path, json={"metadata": {"name": f"cm-{i}"}}).status_code == 201
        page = c.get(path, params={"limit": 1}).json()
        token = page["metadata"]["continue"]
        assert page["metadata"]["remainingItemCount"] == 2
        # Still consistent while the window covers the snapshot.
        assert c.post(path, json={"metadata": {"name": "later"}}).status_code == 201
        page2 = c.get(path, params={"limit": 1, "continue": token}).json()
        assert [i["metadata"]["name"] for i in page2["items"]] == ["cm-1"]
        for i in range(6):
            r = c.patch(f"{path}/cm-0", content=json.dumps({"data": {"i": str(i)}}),
                        headers=MERGE)
            assert r.status_code == 200
        r = c.get(path, params={"limit": 1, "continue": token})
        body = status_of(r, 410, "Expired")
        assert "continue" in body["message"]
        assert "too old" in body["message"]


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"resourceVersionMatch": "NotOlderThan"}, 422,
         "resourceVersionMatch is forbidden unless resourceVersion is provided"),
        ({"resourceVersionMatch": "Exact", "resourceVersion": "0"}, 422, "resourceVersionMatch"),
        ({"resourceVersionMatch": "Bogus", "resourceVersion": "1"}, 422,
         'Unsupported value: "Bogus"'),
        ({"resourceVersionMatch": "NotOlderThan", "resourceVersion": "1", "continue": "x"}, 422,
         "resourceVersionMatch is forbidden when continue is provided"),
        ({"resourceVersion": "5", "continue": "x", "limit": "1"}, 400,
         "specifying resource version is not allowed when using continue"),
    ],
    ids=["no-rv", "exact-zero", "bogus", "with-continue", "rv-with-continue"],
)
def test_resource_version_match_errors(
    client: httpx.Client, ns: str, params: dict[str, str], code: int, message: str
) -> None:
    r = client.get(f"/api/v1/namespaces/{ns}/configmaps", params=params)
    body = status_of(r, code)
    assert message in body["message"]
    if code == 422:
        assert body["message"].startswith('ListOptions.meta.k8s.io "" is invalid: ')


def test_odd_but_valid_numbers_are_accepted(client: httpx.Client, ns: str) -> None:
    """A negative limit means no limit; a huge timeoutSeconds is just a long watch."""
    r = client.get(f"/api/v1/namespaces/{ns}/configmaps", params={"limit": "-5"})
    assert r.status_code == 200 and r.json()["kind"] == "ConfigMapList"
    r = client.get(f"/api/v1/namespaces/{ns}/configmaps", params={"limit": "0"})
    assert r.status_code == 200 and "continue" not in r.json()["metadata"]


# -- the sweep ----------------------------------------------------------------------------

# (method, path under /api/v1/namespaces/NS unless absolute, body, headers, expected code)
SWEEP: list[tuple[str, str, str | bytes | None, dict[str, str], int]] = [
    # verbs a path does not serve
    ("PUT", "/configmaps", '{"metadata":{"name":"a"}}', JSON, 405),
    ("POST", "/configmaps/target", '{"metadata":{"name":"target"}}', JSON, 405),
    ("PATCH", "/configmaps", "{}", MERGE, 405),
    ("OPTIONS", "/configmaps", None, {}, 405),
    ("POST", "/api/v1/watch/namespaces/NS/configmaps", "{}", JSON, 405),
    # bad query values
    ("GET", "/configmaps?limit=abc", None, {}, 400),
    ("GET", "/configmaps?limit=99999999999999999999999", None, {}, 400),
    ("GET", "/configmaps?watch=maybe", None, {}, 400),
    ("GET", "/configmaps?watch=1&timeoutSeconds=abc", None, {}, 400),
    ("GET", "/configmaps?watch=1&allowWatchBookmarks=yes", None, {}, 400),
    ("GET", "/configmaps?watch=1&resourceVersion=abc", None, {}, 400),
    ("GET", "/configmaps?resourceVersion=abc", None, {}, 400),
    ("GET", "/configmaps?resourceVersion=-1", None, {}, 400),
    ("GET", "/configmaps/target?resourceVersion=abc", None, {}, 400),
    ("GET", "/configmaps?fieldSelector=%3D", None, {}, 400),
    ("GET", "/configmaps?includeObject=Bogus", None,
     {"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}, 400),
    ("GET", "/configmaps", None, {"accept": "text/html"}, 406),
    ("POST", "/configmaps?dryRun=Maybe", '{"metadata":{"name":"d1"}}', JSON, 400),
    ("POST", "/configmaps?fieldValidation=Bogus", '{"metadata":{"name":"d2"}}', JSON, 400),
    ("DELETE", "/configmaps/target?gracePeriodSeconds=abc", None, {}, 400),
    # bodies of the wrong shape
    ("POST", "/configmaps", b"", JSON, 400),
    ("POST", "/configmaps", "[]", JSON, 400),
    ("POST", "/configmaps", '"a string"', JSON, 400),
    ("POST", "/configmaps", "null", JSON, 400),
    ("POST", "/configmaps", "12", JSON, 400),
    ("POST", "/configmaps", b"\xff\xfe{", JSON, 400),
    ("POST", "/configmaps", "a: [", {"content-type": "application/yaml"}, 400),
    ("POST", "/configmaps", '{"metadata":{"name":"x"}}', {"content-type": "application/xml"},
     415),
    ("POST", "/configmaps", '{"metadata":null}', JSON, 422),
    ("POST", "/configmaps", '{"metadata":"x"}', JSON, 400),
    ("POST", "/configmaps", '{"kind":5,"metadata":{"name":"k"}}', JSON, 400),
    ("POST", "/configmaps", '{"metadata":{"name":12}}', JSON, 400),
    ("POST", "/configmaps", '{"metadata":{"name":"l1","labels":["a","b"]}}', JSON, 400),
    ("POST", "/configmaps", '{"metadata":{"name":"l2","labels":{"a":1}}}', JSON, 400),
    ("POST", "/configmaps", '{"metadata":{"name":"l3","labels":{"bad key!":"v"}}}', JSON, 422),
    ("POST", "/configmaps", '{"metadata":{"name":"f1","finalizers":"x"}}', JSON, 400),
    ("POST", "/configmaps", '{"metadata":{"name":"f2","ownerReferences":{}}}', JSON, 400),
    ("POST", "/configmaps", '{"metadata":{"name":"f3","creationTimestamp":"yesterday"}}', JSON,
     400),
    ("POST", "/configmaps", '{"metadata":{"name":"d3"},"data":{"a":1}}', JSON, 400),
    ("POST", "/configmaps", '{"metadata":{"name":"d4"},"data":"x"}', JSON, 400),
    ("POST", "/configmaps", '{"metadata":{"name":"' + "a" * 300 + '"}}', JSON, 422),
    ("POST", "/configmaps", '{"metadata":{"name":"ns1","namespace":"elsewhere"}}', JSON, 400),
    ("POST", "/pods", '{"metadata":{"name":"p1"},"spec":null}', JSON, 422),
    ("POST", "/pods", '{"metadata":{"name":"p2"},"spec":{"containers":"x"}}', JSON, 400),
    ("POST", "/pods", '{"metadata":{"name":"p3"},"spec":{"containers":[1]}}', JSON, 400),
    ("POST", "/services", '{"metadata":{"name":"s1"},"spec":{"ports":[{"port":"abc"}]}}', JSON,
     400),
    ("POST", "/services",
     '{"metadata":{"name":"s2"},"spec":{"ports":[{"port":99999999999999999999}]}}', JSON, 400),
    ("POST", "/services", '{"metadata":{"name":"s3"},"spec":{"type":5}}', JSON, 400),
    ("POST", "/services", '{"metadata":{"name":"s4"},"spec":{"selector":["a"]}}', JSON, 400),
    ("PUT", "/configmaps/target", "[]", JSON, 400),
    ("PUT", "/configmaps/target", '{"metadata":{"name":"other"}}', JSON, 400),
    ("PUT", "/api/v1/namespaces/NS/finalize", '{"spec":"x"}', JSON, 400),
    # patches
    ("PATCH", "/configmaps/target", "{}", {}, 415),
    ("PATCH", "/configmaps/target", "", MERGE, 400),
    ("PATCH", "/configmaps/target", "[", MERGE, 400),
    ("PATCH", "/configmaps/target", '{"a":1}', JSONPATCH, 400),
    ("PATCH", "/configmaps/target", "[1]", SMP, 400),
    ("PATCH", "/configmaps/target", '{"metadata":{"labels":["x"]}}', MERGE, 422),
    ("PATCH", "/configmaps/target", '{"data":{"a":1}}', MERGE, 422),
    ("PATCH", "/configmaps/target", '[{"op":"bogus","path":"/data"}]', JSONPATCH, 422),
    ("PATCH", "/configmaps/missing", '{"data":{"a":"b"}}', MERGE, 404),
    # DeleteOptions
    ("DELETE", "/configmaps/target", "[]", JSON, 400),
    ("DELETE", "/configmaps/target", "{", JSON, 400),
    ("DELETE", "/configmaps/target", '{"gracePeriodSeconds":"x"}', JSON, 400),
    ("DELETE", "/configmaps/target", '{"preconditions":"x"}', JSON, 400),
    ("DELETE", "/configmaps/target", '{"dryRun":"All"}', JSON, 400),
    ("DELETE", "/configmaps/target", '{"propagationPolicy":"Bogus"}', JSON, 422),
    ("DELETE", "/configmaps/target", '{"preconditions":{"uid":"not-the-uid"}}', JSON, 409),
    # odd paths
    ("GET", "/api/v1/pods/x", None, {}, 404),
    ("GET", "/api/v1/namespaces/NS/namespaces", None, {}, 404),
    ("GET", "/api/v1/watch/namespaces/NS/configmaps/target/x", None, {}, 404),
    ("GET", "/api/v1/namespaces/NS/configmaps/%00", None, {}, 404),
]


@pytest.fixture(scope="module")
def sweep_namespace(apiserver: ApiServerProcess) -> str:
    """One namespace with a ConfigMap ``target`` that no sweep request may change."""
    with httpx.Client(base_url=apiserver.url, timeout=TIMEOUT) as c:
        ns = new_namespace(c)
        r = c.post(f"/api/v1/namespaces/{ns}/configmaps",
                   json={"metadata": {"name": "target"}, "data": {"keep": "me"}})
        assert r.status_code == 201
    return ns


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "code"),
    SWEEP,
    ids=[f"{i:02d}-{m}-{c}" for i, (m, _, _, _, c) in enumerate(SWEEP)],
)
def test_odd_requests_get_a_status_not_a_500(
    client: httpx.Client,
    sweep_namespace: str,
    method: str,
    path: str,
    body: str | bytes | None,
    headers: dict[str, str],
    code: int,
) -> None:
    ns = sweep_namespace
    url = path.replace("NS", ns) if path.startswith("/api") else f"/api/v1/namespaces/{ns}{path}"
    content = body.encode() if isinstance(body, str) else body
    r = client.request(method, url, content=content, headers=headers)
    assert r.status_code < 500, r.text
    status_of(r, code)
    # Nothing a rejected request did reached the stored object.
    target = client.get(f"/api/v1/namespaces/{ns}/configmaps/target")
    assert target.status_code == 200
    assert target.json().get("data") == {"keep": "me"}
    assert "labels" not in target.json()["metadata"]


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/v1/pods"),
    ("POST", "/api/v1/configmaps"),
    ("DELETE", "/api/v1/pods"),
    ("POST", "/apis/apps/v1/deployments"),
])
def test_namespaced_resources_are_only_read_across_namespaces(
        client: httpx.Client, method: str, path: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nowhere"}}
    resp = client.request(method, path, json=body if method == "POST" else None)
    status = status_of(resp, 405, "MethodNotAllowed")
    assert status["message"] == "the server does not allow this method on the requested resource"
