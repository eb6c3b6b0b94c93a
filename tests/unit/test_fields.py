"""Field selectors: parsing, escapes, per-resource validation and object field sets."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.api.fields import (
    FieldRequirement,
    FieldSelector,
    escape_value,
    named_object_selector,
    object_fields,
    parse_field_selector,
    primary_pod_ip,
    validate_field_selector,
)
from apiserver.api.labels import SelectorError
from apiserver.api.resources import CONFIGMAPS, ENDPOINTS, EVENTS, NAMESPACES, PODS, SERVICES


def test_parse_basic_operators() -> None:
    sel = parse_field_selector("metadata.name==foo,status.phase!=Running,spec.nodeName=n1")
    # Terms are sorted by their raw text, as upstream.
    assert sel.requirements == (
        FieldRequirement("metadata.name", "=", "foo"),
        FieldRequirement("spec.nodeName", "=", "n1"),
        FieldRequirement("status.phase", "!=", "Running"),
    )
    assert str(sel) == "metadata.name=foo,spec.nodeName=n1,status.phase!=Running"


def test_requirements_are_tuples() -> None:
    (req,) = parse_field_selector("a=b").requirements
    field, op, value = req
    assert (field, op, value) == ("a", "=", "b")


def test_empty_and_blank_terms() -> None:
    assert parse_field_selector("").empty
    assert parse_field_selector(",,").empty
    assert parse_field_selector("").matches({"x": "y"})
    assert parse_field_selector("a=b,,").requirements == (FieldRequirement("a", "=", "b"),)


def test_empty_value() -> None:
    sel = parse_field_selector("spec.nodeName=")
    assert sel.matches({"spec.nodeName": ""})
    assert sel.matches({})  # missing fields compare as ""
    assert not sel.matches({"spec.nodeName": "n1"})


def test_matching() -> None:
    sel = parse_field_selector("a=1,b!=2")
    assert sel.matches({"a": "1", "b": "3"})
    assert sel.matches({"a": "1"})  # b missing: "" != "2"
    assert not sel.matches({"a": "1", "b": "2"})
    assert not sel.matches({"a": "2"})


def test_escapes() -> None:
    sel = parse_field_selector(r"a=x\,y\=z\\w,b=c")
    assert sel.requirements == (
        FieldRequirement("a", "=", "x,y=z\\w"),
        FieldRequirement("b", "=", "c"),
    )
    assert escape_value("x,y=z\\w") == r"x\,y\=z\\w"
    assert str(sel) == r"a=x\,y\=z\\w,b=c"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
        ("a=b,foo", "invalid selector: 'a=b,foo'; can't understand 'foo'"),
        ("a=b=c", "invalid field selector: unescaped character in value: 61"),
        (r"a=b\q", "invalid field selector: invalid escape sequence: \\q"),
        ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_field_selector(text)
    assert str(info.value) == message


def test_first_operator_wins() -> None:
    # The field part has no escaping: the first operator splits the term.
    (req,) = parse_field_selector("a!=b").requirements
    assert req == FieldRequirement("a", "!=", "b")
    (req,) = parse_field_selector("a==").requirements
    assert req == FieldRequirement("a", "=", "")


def test_requires_exact_match() -> None:
    sel = parse_field_selector("metadata.name=x,spec.nodeName!=y")
    assert sel.requires_exact_match("metadata.name") == "x"
    assert sel.requires_exact_match("spec.nodeName") is None
    assert sel.requires_exact_match("other") is None


def test_named_object_selector() -> None:
    sel = named_object_selector("foo")
    assert sel == FieldSelector((FieldRequirement("metadata.name", "=", "foo"),))
    assert sel.matches({"metadata.name": "foo"})
    assert not sel.matches({"metadata.name": "bar"})


def test_validate_rewrites_alias() -> None:
    sel = validate_field_selector(parse_field_selector("spec.host=n1"), PODS)
    assert sel.requirements == (FieldRequirement("spec.nodeName", "=", "n1"),)


@pytest.mark.parametrize(
    ("info", "text"),
    [
        (PODS, "metadata.name=a,metadata.namespace=b,spec.nodeName=c,status.podIPs=d"),
        (PODS, "spec.hostNetwork=true,status.nominatedNodeName=x,spec.schedulerName=s"),
        (SERVICES, "spec.clusterIP=None,spec.type=ClusterIP,metadata.namespace=x"),
        (NAMESPACES, "status.phase=Active,metadata.name=x"),
        (ENDPOINTS, "metadata.name=x,metadata.namespace=y"),
        (CONFIGMAPS, "metadata.name=x"),
        (EVENTS, "involvedObject.kind=Pod,involvedObject.uid=u,source=kubelet,type=Normal"),
        (EVENTS, "reason=x,reportingComponent=y,involvedObject.fieldPath=z"),
    ],
)
def test_validate_accepts_supported_labels(info: Any, text: str) -> None:
    sel = parse_field_selector(text)
    assert validate_field_selector(sel, info) == sel


@pytest.mark.parametrize(
    ("info", "text", "message"),
    [
        (PODS, "foo=bar", "field label not supported: foo"),
        (PODS, "metadata.labels=x", "field label not supported: metadata.labels"),
        (SERVICES, "spec.ports=1", "field label not supported: spec.ports"),
        (NAMESPACES, "metadata.namespace=x", "field label not supported: metadata.namespace"),
        (EVENTS, "message=x", "field label not supported: message"),
        (
            ENDPOINTS,
            "subsets=x",
            '"subsets" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
        (
            CONFIGMAPS,
            "data=x",
            '"data" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
    ],
)
def test_validate_rejects(info: Any, text: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        validate_field_selector(parse_field_selector(text), info)
    assert str(err.value) == message


POD: dict[str, Any] = {
    "metadata": {"name": "p", "namespace": "ns", "labels": {"a": "b"}},
    "spec": {
        "nodeName": "n1",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "serviceAccountName": "default",
        "hostNetwork": True,
        "containers": [{"name": "c"}],
    },
    "status": {
        "phase": "Running",
        "podIP": "10.0.0.9",
        "podIPs": [{"ip": "10.0.0.9"}, {"ip": "fd00::9"}],
        "nominatedNodeName": "n2",
    },
}


def test_pod_fields() -> None:
    assert object_fields(PODS, POD) == {
        "metadata.name": "p",
        "metadata.namespace": "ns",
        "spec.nodeName": "n1",
        "spec.restartPolicy": "Always",
        "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": "default",
        "spec.hostNetwork": "true",
        "status.phase": "Running",
        "status.podIP": "10.0.0.9",
        "status.nominatedNodeName": "n2",
    }


def test_pod_fields_defaults() -> None:
    fields = object_fields(PODS, {"metadata": {"name": "p", "namespace": "ns"}})
    assert fields["spec.hostNetwork"] == "false"
    assert fields["spec.nodeName"] == ""
    assert fields["status.podIP"] == ""
    assert "status.podIPs" not in fields  # upstream never sets it


def test_pod_selection_end_to_end() -> None:
    fields = object_fields(PODS, POD)
    ok = validate_field_selector(parse_field_selector("spec.host=n1,status.phase=Running"), PODS)
    assert ok.matches(fields)
    # status.podIPs is accepted but never in the field set: it compares as "".
    ips = validate_field_selector(parse_field_selector("status.podIPs=10.0.0.9"), PODS)
    assert not ips.matches(fields)
    unscheduled = parse_field_selector("spec.nodeName=")
    assert not unscheduled.matches(fields)


def test_primary_pod_ip() -> None:
    assert primary_pod_ip({"status": {"podIPs": [{"ip": "fd00::1"}], "podIP": "x"}}) == "fd00::1"
    assert primary_pod_ip({"status": {"podIP": "10.1.1.1"}}) == "10.1.1.1"
    assert primary_pod_ip({}) == ""


def test_service_fields() -> None:
    svc = {
        "metadata": {"name": "s", "namespace": "ns"},
        "spec": {"clusterIP": "10.0.0.1", "type": "NodePort", "ports": [{"port": 80}]},
    }
    assert object_fields(SERVICES, svc) == {
        "metadata.name": "s",
        "metadata.namespace": "ns",
        "spec.clusterIP": "10.0.0.1",
        "spec.type": "NodePort",
    }


def test_namespace_fields_are_cluster_scoped() -> None:
    ns = {"metadata": {"name": "default"}, "status": {"phase": "Active"}}
    fields = object_fields(NAMESPACES, ns)
    assert fields["metadata.name"] == "default"
    assert fields["status.phase"] == "Active"
    assert "metadata.namespace" not in fields


def test_event_fields() -> None:
    ev = {
        "metadata": {"name": "e", "namespace": "ns"},
        "involvedObject": {
            "kind": "Service",
            "namespace": "ns",
            "name": "web",
            "uid": "u-1",
            "apiVersion": "v1",
            "resourceVersion": "7",
        },
        "reason": "Created",
        "type": "Normal",
        "reportingComponent": "ctrl",
        "source": {},
    }
    fields = object_fields(EVENTS, ev)
    assert fields["involvedObject.kind"] == "Service"
    assert fields["involvedObject.uid"] == "u-1"
    assert fields["involvedObject.fieldPath"] == ""
    assert fields["source"] == "ctrl"  # falls back to reportingComponent
    assert fields["reportingComponent"] == "ctrl"
    ev["source"] = {"component": "kubelet"}
    assert object_fields(EVENTS, ev)["source"] == "kubelet"
    # kubectl describe's event query
    sel = parse_field_selector(
        "involvedObject.name=web,involvedObject.namespace=ns,involvedObject.kind=Service,"
        "involvedObject.uid=u-1"
    )
    assert validate_field_selector(sel, EVENTS).matches(fields)


def test_simple_kinds_have_metadata_only() -> None:
    obj = {"metadata": {"name": "x", "namespace": "y"}, "data": {"k": "v"}}
    assert object_fields(CONFIGMAPS, obj) == {"metadata.name": "x", "metadata.namespace": "y"}
    assert object_fields(ENDPOINTS, obj) == {"metadata.name": "x", "metadata.namespace": "y"}
