"""The one walk of a request body (types and unknown fields) and the duplicate-key check.

Each result is compared with what the separate strict decoder (:mod:`apiserver.schema.
fieldcheck`, which parses the text keeping repeated keys) reports for the same body.
"""

from __future__ import annotations

import orjson
import pytest

from apiserver.handlers.bodies import no_duplicate_fields
from apiserver.schema import find_duplicate_fields, unknown_fields
from apiserver.schema.typecheck import check_body, first_type_issue

POD = "io.k8s.api.core.v1.Pod"
SERVICE = "io.k8s.api.core.v1.Service"

BODIES = [
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "bogus": {"a": 1}},
     "spec": {"containers": [{"name": "a", "image": "nginx:1.27", "zz": 1,
                              "env": [{"name": "E", "valueFrom": {"zzz": 1}}],
                              "resources": {"limits": {"cpu": "1"}}}],
              "nodeSelector": {"k": "v"}, "extra": [1, 2]},
     "top": True},
    {"metadata": {"managedFields": [{"fieldsV1": {"f:spec": {}}, "nope": 1}],
                  "annotations": {"a:b": "c:d"}}},
    {"spec": {"kind": "x", "overhead": {"cpu": "1", "x": "2"}}},
]


@pytest.mark.parametrize("body", BODIES)
def test_unknown_fields_match_the_strict_decoder(body: dict[str, object]) -> None:
    issue, unknown = check_body(POD, body)
    assert issue is None
    assert unknown == unknown_fields(POD, body)
    assert check_body(POD, body, types=False) == (None, unknown)
    assert check_body(POD, body, unknown=False) == (None, [])


def test_first_type_issue_stops_the_walk_with_the_go_message() -> None:
    body = {"metadata": {"name": "s", "labels": {"a": 1}}, "spec": {"ports": [{"port": "x"}]}}
    issue, _ = check_body(SERVICE, body)
    assert issue is not None
    assert issue.message == (
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of "
        "type string"
    )
    assert first_type_issue(SERVICE, body) == issue
    ports = {"spec": {"ports": [{"port": 80}, {"port": "x"}], "bad": 1}}
    issue, _ = check_body(SERVICE, ports)
    assert issue is not None and issue.path == "spec.ports.port"
    assert issue.struct == "ServicePort" and issue.go_type == "int32"
    # Types off (a custom resource): the same walk only collects unknown fields.
    assert check_body(SERVICE, ports, types=False) == (None, ["spec.bad"])


@pytest.mark.parametrize("raw", [
    b'{"metadata":{"name":"a","name":"b"}}',
    b'{"metadata":{"labels":{"x":"1:2","x":"3"}}}',
    b'{"spec":{"ports":[{"port":1},{"port":1,"port":2}]}}',
    b'{"a" : {"b": "c"}, "a" : {"b": "c"}}',
    b'{"a":"\\u003a","a":"x","b":1}',
    b'{"a":"\\u003A"}',
])
def test_repeated_keys_are_never_missed(raw: bytes) -> None:
    obj = orjson.loads(raw)
    if find_duplicate_fields(raw):
        assert not no_duplicate_fields(raw, obj)
    else:
        # Only an escaped colon may send a body without duplicates to the full check.
        assert b"\\u003" in raw


@pytest.mark.parametrize("raw", [
    b'{"metadata":{"name":"a","annotations":{"k:x":"http://a:b/c","j":"{\\"a\\":1}"}}}',
    b'{ "a" : [ {"b" : "c:d"}, {"b" : "e"} ], "t": "2024-01-01T00:00:00Z" }',
    b'{"a":{},"b":[],"c":null,"d":1.5,"e":true}',
])
def test_bodies_without_repeated_keys_pass(raw: bytes) -> None:
    assert find_duplicate_fields(raw) == []
    assert no_duplicate_fields(raw, orjson.loads(raw))
