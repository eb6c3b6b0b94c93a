"""The create fast path of managedFields equals the general field-set path.

A create owns every field; ``_record_create`` builds that entry as a trie in one walk.
These cases check it against the general path (field values → set → FieldsV1) for
every served core kind, main resource and ``/status``, with and without a status path.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from apiserver.registry.managedfields import manager

_POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {
        "name": "p", "namespace": "default", "uid": "x",
        "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"app": "a", "tier": "web"},
        "annotations": {"a": "x"}, "finalizers": ["a/b"],
        "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "n", "uid": "u"}],
    },
    "spec": {
        "containers": [{
            "name": "app", "image": "nginx:1.27", "command": ["a", "b"],
            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"},
                      {"containerPort": 81}],
            "env": [{"name": "MODE", "value": "x"},
                    {"name": "E", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}],
            "resources": {"requests": {"cpu": "100m"}, "limits": {}},
        }],
        "volumes": [{"name": "v", "emptyDir": {}}], "securityContext": {},
        "nodeSelector": {"a": "b"}, "tolerations": [{"key": "k", "operator": "Exists"}],
    },
    "status": {"phase": "Pending"},
}
_SERVICE: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "labels": {}},
    "spec": {
        "type": "NodePort", "clusterIP": "10.0.0.5", "clusterIPs": ["10.0.0.5"],
        "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 30001},
                  {"name": "u", "port": 53, "protocol": "UDP"}],
        "selector": {"app": "x"}, "externalIPs": ["1.2.3.4"],
    },
    "status": {"loadBalancer": {}},
}
_OTHERS: list[dict[str, Any]] = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "b"}},
     "data": {"k": "v", "e": ""}, "binaryData": {}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"},
     "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}},
    {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "e"},
     "subsets": [{"addresses": [{"ip": "1.1.1.1", "targetRef": {"kind": "Pod", "name": "p"}}],
                  "ports": [{"port": 80}]}]},
    {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
     "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "R", "count": 1},
    # Items sharing a key (merged into one), repeated set values, nulls, empty lists.
    {"apiVersion": "v1", "kind": "Pod",
     "metadata": {"name": "d", "finalizers": ["a/b", "a/b"], "labels": None,
                  "annotations": {"x": ""}},
     "spec": {"containers": [{"name": "a", "image": "i", "ports": []},
                             {"name": "a", "args": ["x"], "ports": [{"containerPort": 1}]}],
              "nodeSelector": {}, "hostname": None}},
]


def _now() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("obj", [_POD, _SERVICE, *_OTHERS], ids=lambda o: o["kind"])
@pytest.mark.parametrize(
    ("subresource", "status_path"), [("", ("f:status",)), ("status", ("f:status",)), ("", None)]
)
def test_create_entry_matches_general_path(
    obj: dict[str, Any], subresource: str, status_path: tuple[str, ...] | None
) -> None:
    scope = manager.Scope(
        f"io.k8s.api.core.v1.{obj['kind']}", "v1", subresource, status_path, now=_now
    )
    fast = copy.deepcopy(obj)
    manager.record_update(None, fast, "mgr", scope)

    general = copy.deepcopy(obj)
    owned = set(scope.values(general))
    entry = manager.Entry("mgr", manager.UPDATE, "v1", scope.timestamp(), owned, subresource)
    encoded = manager.encode_entries([entry])
    if encoded:
        general["metadata"]["managedFields"] = encoded

    assert orjson.dumps(fast) == orjson.dumps(general)
    if subresource == "" and status_path and obj is _POD:
        fields = fast["metadata"]["managedFields"][0]["fieldsV1"]
        assert "f:status" not in fields
        assert 'k:{"containerPort":80,"protocol":"TCP"}' in (
            fields["f:spec"]["f:containers"]['k:{"name":"app"}']["f:ports"]
        )
