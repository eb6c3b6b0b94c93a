"""The Kubernetes protobuf body decoder, on hand-built wire bytes.

Bodies are built field by field here (varints, length-delimited fields, the
``k8s\\x00`` + ``runtime.Unknown`` envelope) exactly as Go's generated marshallers
lay them out: every non-pointer scalar is emitted even when zero, non-pointer
messages are emitted even when empty. The decoder must turn them into the dicts
the JSON form of the same object parses to.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from apiserver.api.resources import RESOURCES
from apiserver.handlers.protobuf import ProtobufError, decode
from apiserver.openapi.operations import CONNECT_SUBRESOURCES
from apiserver.schema import definitions
from apiserver.schema.proto_messages import JSON_FORMS, kind_message, message, message_names


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def vint(number: int, value: int) -> bytes:
    """A varint field."""
    return varint(number << 3) + varint(value)


def ld(number: int, value: bytes | str) -> bytes:
    """A length-delimited field (string, bytes or embedded message)."""
    raw = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(raw)) + raw


def entry(number: int, key: str, value: bytes | str) -> bytes:
    """One map entry ``{key=1, value=2}``."""
    return ld(number, ld(1, key) + ld(2, value))


def envelope(raw: bytes, api_version: str = "v1", kind: str = "Namespace") -> bytes:
    type_meta = ld(1, api_version) + ld(2, kind)
    return b"k8s\x00" + ld(1, type_meta) + ld(2, raw) + ld(3, "") + ld(4, "")


def object_meta(name: str, **extra: bytes) -> bytes:
    """ObjectMeta as Go writes it: every value field present, zero or not."""
    body = (
        ld(1, name) + ld(2, "") + ld(3, "") + ld(4, "") + ld(5, "") + ld(6, "")
        + vint(7, 0) + ld(8, b"")
    )
    return body + b"".join(extra.values())


def int_or_string(value: int | str) -> bytes:
    if isinstance(value, str):
        return vint(1, 1) + vint(2, 0) + ld(3, value)
    return vint(1, 0) + vint(2, value) + ld(3, "")


def test_namespace_as_kubectl_create_namespace_sends_it() -> None:
    # The exact bytes `kubectl create namespace x` (v1.37) sends.
    body = bytes.fromhex(
        "6b387300 0a0f 0a027631 12094e616d657370616365"
        " 1219 0a11 0a0178 1200 1a00 2200 2a00 3200 3800 4200 1200 1a020a00"
        " 1a00 2200"
    )
    assert decode(body, "Namespace") == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "x"},
        "spec": {},
        "status": {},
    }


def test_namespace_with_labels_finalizers_and_timestamps() -> None:
    meta = object_meta(
        "team-a",
        labels=entry(11, "env", "prod") + entry(11, "tier", ""),
        annotations=entry(12, "note", "hi"),
        finalizers=ld(14, "example.com/f"),
    )
    meta = meta.replace(ld(8, b""), ld(8, vint(1, 1700000000) + vint(2, 5)))
    raw = ld(1, meta) + ld(2, ld(1, "kubernetes")) + ld(3, ld(1, "Active"))
    obj = decode(envelope(raw), "Namespace")
    assert obj["metadata"] == {
        "name": "team-a",
        "creationTimestamp": "2023-11-14T22:13:20Z",
        "labels": {"env": "prod", "tier": ""},
        "annotations": {"note": "hi"},
        "finalizers": ["example.com/f"],
    }
    assert obj["spec"] == {"finalizers": ["kubernetes"]}
    assert obj["status"] == {"phase": "Active"}


def test_configmap_data_binary_data_and_pointer_false() -> None:
    blob = bytes(range(256))
    raw = (
        ld(1, object_meta("cm", namespace=b""))
        + entry(2, "a", "b")
        + entry(2, "empty", "")
        + entry(3, "bin", blob)
        + vint(4, 0)  # immutable: *bool false is kept
    )
    obj = decode(envelope(raw, kind="ConfigMap"), "ConfigMap")
    assert obj["kind"] == "ConfigMap"
    assert obj["data"] == {"a": "b", "empty": ""}
    assert obj["binaryData"] == {"bin": base64.b64encode(blob).decode()}
    assert obj["immutable"] is False


def service_port(name: str, port: int, target: int | str | None, node_port: int = 0) -> bytes:
    body = ld(1, name) + ld(2, "TCP") + vint(3, port)
    if target is not None:
        body += ld(4, int_or_string(target))
    return body + vint(5, node_port)


def test_service_ports_with_int_and_string_target_ports() -> None:
    spec = (
        ld(1, service_port("80-8080", 80, 8080))
        + ld(1, service_port("web", 443, "https", node_port=30443))
        + ld(1, service_port("", 53, 0))
        + entry(2, "app", "s")
        + ld(3, "")
        + ld(4, "NodePort")
        + ld(7, "")
        + ld(8, "")
        + ld(10, "")
        + ld(11, "")
        + vint(12, 0)
        + vint(13, 0)
        + vint(20, 1)
    )
    raw = ld(1, object_meta("s")) + ld(2, spec) + ld(3, ld(1, b""))
    obj = decode(envelope(raw, kind="Service"), "Service")
    assert obj["spec"] == {
        "ports": [
            {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
            {
                "name": "web",
                "protocol": "TCP",
                "port": 443,
                "targetPort": "https",
                "nodePort": 30443,
            },
            # Zero targetPort is the unset non-pointer value: omitted (defaulted later).
            {"protocol": "TCP", "port": 53},
        ],
        "selector": {"app": "s"},
        "type": "NodePort",
        "allocateLoadBalancerNodePorts": True,
    }
    assert obj["status"] == {"loadBalancer": {}}


def test_service_port_zero_is_kept_because_port_has_no_omitempty() -> None:
    raw = ld(1, object_meta("s")) + ld(2, ld(1, service_port("", 0, None)))
    obj = decode(envelope(raw, kind="Service"), "Service")
    assert obj["spec"]["ports"] == [{"protocol": "TCP", "port": 0}]


def test_pod_inline_volume_source_packed_ints_negative_and_pointers() -> None:
    container = (
        ld(1, "c")
        + ld(2, "nginx")
        + ld(3, "sh")
        + ld(3, "-c")
        + ld(6, ld(1, "http") + vint(2, 0) + vint(3, 80) + ld(4, "TCP") + ld(5, ""))
        + ld(7, ld(1, "A") + ld(2, "B"))
        + ld(8, entry(1, "cpu", ld(1, "100m")) + entry(2, "memory", ld(1, "64Mi")))
        + vint(16, 0)
    )
    security = vint(2, 1000) + ld(4, varint(1) + varint(2) + varint(3)) + vint(5, 0)
    spec = (
        ld(1, ld(1, "scratch") + ld(2, ld(2, b"")))
        + ld(2, container)
        + ld(3, "Always")
        + vint(4, 0)  # terminationGracePeriodSeconds *int64 = 0: kept
        + vint(5, -1)  # activeDeadlineSeconds (negative int64 on the wire)
        + vint(11, 0)
        + ld(14, security)
        + vint(30, 0)  # enableServiceLinks *bool false: kept
    )
    obj = decode(envelope(ld(1, object_meta("p")) + ld(2, spec), kind="Pod"), "Pod")
    assert obj["spec"] == {
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        "containers": [
            {
                "name": "c",
                "image": "nginx",
                "command": ["sh", "-c"],
                "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                "env": [{"name": "A", "value": "B"}],
                "resources": {"limits": {"cpu": "100m"}, "requests": {"memory": "64Mi"}},
            }
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 0,
        "activeDeadlineSeconds": -1,
        "securityContext": {"runAsUser": 1000, "supplementalGroups": [1, 2, 3], "fsGroup": 0},
        "enableServiceLinks": False,
    }


def test_event_micro_time_and_object_reference() -> None:
    ref = ld(1, "Pod") + ld(2, "ns") + ld(3, "p") + ld(4, "") + ld(5, "v1")
    raw = (
        ld(1, object_meta("e"))
        + ld(2, ref)
        + ld(3, "Started")
        + ld(6, b"")
        + vint(8, 2)
        + ld(10, vint(1, 1700000000) + vint(2, 123456789))
        + ld(14, "kubelet")
    )
    obj = decode(envelope(raw, kind="Event"), "Event")
    assert obj["involvedObject"] == {"kind": "Pod", "namespace": "ns", "name": "p",
                                     "apiVersion": "v1"}
    assert obj["eventTime"] == "2023-11-14T22:13:20.123456Z"
    assert obj["count"] == 2
    assert "firstTimestamp" not in obj
    assert obj["reportingComponent"] == "kubelet"


def test_managed_fields_fields_v1_becomes_json() -> None:
    managed = (
        ld(1, "kubectl") + ld(2, "Update") + ld(3, "v1") + ld(4, vint(1, 0) + vint(2, 0))
        + ld(6, "FieldsV1") + ld(7, ld(1, b'{"f:data":{".":{}}}'))
    )
    raw = ld(1, object_meta("cm", mf=ld(17, managed)))
    obj = decode(envelope(raw, kind="ConfigMap"), "ConfigMap")
    assert obj["metadata"]["managedFields"] == [{
        "manager": "kubectl",
        "operation": "Update",
        "apiVersion": "v1",
        "time": "1970-01-01T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {".": {}}},
    }]


def test_envelope_without_type_meta_uses_the_expected_kind() -> None:
    body = b"k8s\x00" + ld(2, ld(1, object_meta("x")))
    assert decode(body, "Namespace") == {"metadata": {"name": "x"}}


def test_other_kind_in_envelope_is_left_to_the_kind_check() -> None:
    body = envelope(ld(1, object_meta("x")), kind="Secret")
    assert decode(body, "Namespace") == {"apiVersion": "v1", "kind": "Secret"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"kind":"Namespace"}', "does not appear to be a protobuf message"),
        (b"k8s\x00", "empty body"),
        (b"k8s\x00" + ld(2, ld(1, b"\x0a\x05ab")), "unexpected end of data"),
        (b"k8s\x00\x12\x02\x0a", "unexpected end of data"),
        (b"k8s\x00" + ld(2, vint(99, 1)), "unknown field number 99 in message Namespace"),
        (
            b"k8s\x00" + ld(2, ld(1, object_meta("x") + vint(55, 1))),
            "metadata: unknown field number 55 in message ObjectMeta",
        ),
        (b"k8s\x00" + ld(2, ld(1, vint(1, 5))), "metadata.name: wrong wire type 0"),
        (b"k8s\x00" + ld(2, ld(1, ld(1, b"\xff\xfe"))), "invalid UTF-8"),
        (b"k8s\x00" + vint(9, 1), "unknown field number 9 in message runtime.Unknown"),
        (b"k8s\x00\x0b", "unsupported wire type 3"),
        (b"k8s\x00" + b"\x80" * 11, "varint"),
    ],
)
def test_malformed_bodies_raise_clear_errors(body: bytes, fragment: str) -> None:
    with pytest.raises(ProtobufError) as info:
        decode(body, "Namespace")
    assert fragment in str(info.value)


def test_unknown_nested_field_in_a_service_port_names_its_path() -> None:
    spec = ld(1, service_port("a", 80, 80)) + ld(1, service_port("b", 81, 81) + vint(42, 7))
    body = envelope(ld(1, object_meta("s")) + ld(2, spec), kind="Service")
    with pytest.raises(ProtobufError, match=r"spec\.ports\[1\]: unknown field number 42"):
        decode(body, "Service")


_DEFINITION_PREFIXES = {
    "meta.v1": "io.k8s.apimachinery.pkg.apis.meta.v1.",
    "apiregistration.v1": "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.",
}


def _definition_name(msg: str) -> str | None:
    package, _, name = msg.rpartition(".")
    ref = _DEFINITION_PREFIXES.get(package, f"io.k8s.api.{package}.") + name
    return ref if ref in definitions() else None


def _json_names(msg: str) -> set[str]:
    names: set[str] = set()
    for f in message(msg).values():
        names |= _json_names(f.type) if f.inline else {f.name}
    return names


_STABLE = (
    "core.v1.Namespace", "core.v1.NamespaceSpec", "core.v1.NamespaceStatus",
    "core.v1.ConfigMap", "core.v1.Service", "core.v1.ServiceSpec", "core.v1.ServicePort",
    "core.v1.ServiceStatus", "core.v1.Endpoints", "core.v1.EndpointSubset",
    "core.v1.EndpointAddress", "core.v1.EndpointPort", "core.v1.Event", "core.v1.EventSource",
    "meta.v1.ObjectMeta", "meta.v1.OwnerReference", "meta.v1.ManagedFieldsEntry",
    "core.v1.ObjectReference", "core.v1.Pod", "core.v1.EnvVar", "core.v1.ContainerPort",
    "core.v1.ResourceRequirements", "core.v1.Probe", "core.v1.SecurityContext",
    "core.v1.PodSecurityContext", "core.v1.Toleration", "core.v1.Secret",
    "apps.v1.DeploymentSpec", "batch.v1.CronJobSpec", "rbac.v1.PolicyRule",
    "autoscaling.v1.Scale", "policy.v1.Eviction", "authorization.v1.ResourceAttributes",
)


def test_every_tabulated_field_name_is_an_openapi_property() -> None:
    total = missing = 0
    for msg in sorted(message_names() - set(JSON_FORMS)):
        ref = _definition_name(msg)
        if ref is None:
            # Inline-only helpers (VolumeSource, ProbeHandler) and types newer than the
            # pinned v1.33 schema have no definition of their own.
            continue
        names = _json_names(msg)
        unknown = names - set(definitions()[ref].get("properties", {}))
        total += len(names)
        missing += len(unknown)
        if msg in _STABLE:
            assert not unknown, (msg, unknown)
    # The table follows kubectl v1.37; the validation schema is v1.33: only the few
    # fields added since may be missing from it.
    assert total > 1500
    assert missing < total * 0.03


#: Served kinds whose protobuf bodies are not decoded (JSON and YAML only): the
#: apiextensions kinds, which every client sends as JSON.
_JSON_ONLY = {("apiextensions.k8s.io/v1", "CustomResourceDefinition")}


def _served_kinds() -> set[tuple[str, str]]:
    kinds = {(info.api_version, info.kind) for info in RESOURCES} - _JSON_ONLY
    for info in RESOURCES:
        for sub in info.subresources:
            if sub.name in CONNECT_SUBRESOURCES:
                continue  # their options kinds are query parameters, never bodies
            if not sub.version:
                kinds.add((info.api_version, sub.kind))
            else:
                kinds.add((f"{sub.group}/{sub.version}" if sub.group else sub.version, sub.kind))
    return kinds - _JSON_ONLY


def test_every_served_kind_and_subresource_kind_has_a_message() -> None:
    kinds = _served_kinds() | {("v1", "Binding"), ("authentication.k8s.io/v1", "TokenRequest")}
    assert ("autoscaling/v1", "Scale") in kinds
    assert ("policy/v1", "Eviction") in kinds
    assert len(kinds) > 60
    for api_version, kind in sorted(kinds):
        assert kind_message(api_version, kind) is not None, (api_version, kind)
    assert kind_message("apps/v1", "DeleteOptions") == "meta.v1.DeleteOptions"
    assert kind_message("rbac.authorization.k8s.io/v1", "Role") == "rbac.v1.Role"
    assert kind_message("apps/v1beta1", "Deployment") is None


def test_round_trip_every_kind_with_only_metadata() -> None:
    for api_version, kind in sorted(_served_kinds()):
        body = envelope(ld(1, object_meta("n")), api_version=api_version, kind=kind)
        obj: dict[str, Any] = decode(body, kind)
        assert obj == {"apiVersion": api_version, "kind": kind, "metadata": {"name": "n"}}
