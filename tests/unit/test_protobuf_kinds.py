"""Protobuf bodies of the kinds beyond core/v1: workloads, RBAC, reviews, subresources.

Bodies are built as Go's generated marshallers lay them out (every non-pointer
scalar and message written even when zero; pointers only when set) with the wire
helpers of :mod:`tests.unit.test_protobuf`, inside an envelope naming the kind's
``apiVersion``. Each must decode to the dict the JSON form of the same object parses to.
"""

from __future__ import annotations

import base64

import pytest

from apiserver.handlers.protobuf import ProtobufError, decode
from tests.unit.test_protobuf import entry, envelope, int_or_string, ld, object_meta, vint


def quantity(text: str) -> bytes:
    return ld(1, text)


def container(name: str, image: str, *extra: bytes) -> bytes:
    """A Container with the non-pointer fields Go always writes."""
    return (
        ld(1, name) + ld(2, image) + ld(5, "") + ld(8, b"") + ld(13, "") + ld(14, "")
        + vint(16, 0) + vint(17, 0) + vint(18, 0) + ld(20, "") + b"".join(extra)
    )


def pod_spec(*containers: bytes, restart_policy: str = "") -> bytes:
    return (
        b"".join(ld(2, c) for c in containers) + ld(3, restart_policy) + ld(6, "")
        + ld(8, "") + ld(9, "") + ld(10, "") + vint(11, 0) + vint(12, 0) + vint(13, 0)
        + ld(16, "") + ld(17, "") + ld(19, "") + ld(24, "")
    )


def pod_template(labels: dict[str, str], spec: bytes) -> bytes:
    meta = object_meta("", labels=b"".join(entry(11, k, v) for k, v in labels.items()))
    return ld(1, meta) + ld(2, spec)


def test_deployment_with_zero_replicas_probes_int_or_string_and_quantities() -> None:
    http_probe = ld(1, ld(2, ld(1, "/healthz") + ld(2, int_or_string("http")) + ld(3, "")
                         + ld(4, "HTTP"))) + vint(2, 5) + vint(3, 0) + vint(4, 10) \
        + vint(5, 0) + vint(6, 3)
    tcp_probe = ld(1, ld(3, ld(1, int_or_string(8080)) + ld(2, ""))) + vint(2, 0) \
        + vint(3, 0) + vint(4, 0) + vint(5, 0) + vint(6, 0)
    web = container(
        "web", "nginx:1.27",
        ld(6, ld(1, "http") + vint(2, 0) + vint(3, 8080) + ld(4, "TCP") + ld(5, "")),
        ld(8, entry(1, "cpu", quantity("500m")) + entry(2, "memory", quantity("128Mi"))),
        ld(10, http_probe),
        ld(11, tcp_probe),
    ).replace(ld(8, b""), b"")
    strategy = ld(1, "RollingUpdate") + ld(2, ld(1, int_or_string("25%"))
                                           + ld(2, int_or_string(1)))
    spec = (
        vint(1, 0)  # replicas: *int32 set to 0 must survive
        + ld(2, entry(1, "app", "web"))
        + ld(3, pod_template({"app": "web"}, pod_spec(web)))
        + ld(4, strategy)
        + vint(5, 0) + vint(6, 10) + vint(7, 0) + vint(9, 600)
    )
    status = vint(1, 0) + vint(2, 0) + vint(3, 0) + vint(4, 0) + vint(5, 0) + vint(7, 0)
    raw = ld(1, object_meta("web", ns=ld(3, "team"))) + ld(2, spec) + ld(3, status)
    obj = decode(envelope(raw, "apps/v1", "Deployment"), "Deployment")
    assert obj["apiVersion"] == "apps/v1"
    assert obj["metadata"] == {"name": "web", "namespace": "team"}
    assert obj["status"] == {}
    assert obj["spec"] == {
        "replicas": 0,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [{
                    "name": "web",
                    "image": "nginx:1.27",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "128Mi"}},
                    "livenessProbe": {
                        "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                        "initialDelaySeconds": 5,
                        "periodSeconds": 10,
                        "failureThreshold": 3,
                    },
                    "readinessProbe": {"tcpSocket": {"port": 8080}},
                }],
            },
        },
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1},
        },
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    }


def test_secret_bytes_data_becomes_base64() -> None:
    raw = (
        ld(1, object_meta("s")) + entry(2, "a", b"b") + entry(2, "bin", b"\x00\xff")
        + ld(3, "Opaque")
    )
    obj = decode(envelope(raw, "v1", "Secret"), "Secret")
    assert obj == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"a": base64.b64encode(b"b").decode(), "bin": "AP8="},
        "type": "Opaque",
    }


def test_role_rules_keep_the_empty_core_api_group() -> None:
    rule = ld(1, "get") + ld(1, "list") + ld(2, "") + ld(3, "pods") + ld(3, "pods/log")
    raw = ld(1, object_meta("r")) + ld(2, rule)
    obj = decode(envelope(raw, "rbac.authorization.k8s.io/v1", "Role"), "Role")
    assert obj["rules"] == [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]}
    ]


def test_role_binding_role_ref_and_subjects() -> None:
    subject = ld(1, "ServiceAccount") + ld(2, "") + ld(3, "sa1") + ld(4, "team")
    role_ref = ld(1, "rbac.authorization.k8s.io") + ld(2, "Role") + ld(3, "r")
    raw = ld(1, object_meta("rb")) + ld(2, subject) + ld(3, role_ref)
    obj = decode(envelope(raw, "rbac.authorization.k8s.io/v1", "RoleBinding"), "RoleBinding")
    assert obj["subjects"] == [{"kind": "ServiceAccount", "name": "sa1", "namespace": "team"}]
    assert obj["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                              "name": "r"}


def job_spec(backoff_limit: int) -> bytes:
    template = pod_template({}, pod_spec(container("j", "busybox"), restart_policy="Never"))
    return ld(6, template) + vint(7, backoff_limit)


def test_job_and_cronjob() -> None:
    status = vint(4, 0) + vint(5, 0) + vint(6, 0) + ld(7, "")
    job = ld(1, object_meta("j")) + ld(2, job_spec(0)) + ld(3, status)
    obj = decode(envelope(job, "batch/v1", "Job"), "Job")
    assert obj["spec"] == {
        "template": {
            "metadata": {},
            # A non-pointer struct is always in Go's JSON, even empty.
            "spec": {"containers": [{"name": "j", "image": "busybox", "resources": {}}],
                     "restartPolicy": "Never"},
        },
        "backoffLimit": 0,
    }
    assert obj["status"] == {}

    cron_spec = (
        ld(1, "*/5 * * * *") + ld(3, "")
        + ld(5, ld(1, object_meta("c")) + ld(2, job_spec(6)))
    )
    cron = decode(envelope(ld(1, object_meta("c")) + ld(2, cron_spec), "batch/v1", "CronJob"),
                  "CronJob")
    assert cron["spec"]["schedule"] == "*/5 * * * *"
    assert cron["spec"]["jobTemplate"]["metadata"] == {"name": "c"}
    assert cron["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 6


def test_scale_keeps_zero_replicas() -> None:
    raw = ld(1, object_meta("web")) + ld(2, vint(1, 0)) + ld(3, vint(1, 3) + ld(2, "app=web"))
    obj = decode(envelope(raw, "autoscaling/v1", "Scale"), "Scale")
    assert obj == {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "web"},
        "spec": {"replicas": 0},
        "status": {"replicas": 3, "selector": "app=web"},
    }


def test_eviction_with_delete_options() -> None:
    options = vint(1, 0) + ld(2, ld(1, "uid-1")) + ld(5, "All")
    raw = ld(1, object_meta("p", ns=ld(3, "team"))) + ld(2, options)
    obj = decode(envelope(raw, "policy/v1", "Eviction"), "Eviction")
    assert obj["metadata"] == {"name": "p", "namespace": "team"}
    assert obj["deleteOptions"] == {
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": "uid-1"},
        "dryRun": ["All"],
    }


def test_self_subject_access_review() -> None:
    attributes = (
        ld(1, "team") + ld(2, "get") + ld(3, "") + ld(4, "") + ld(5, "pods") + ld(6, "")
        + ld(7, "")
    )
    status = vint(1, 0) + ld(2, "") + ld(3, "") + vint(4, 0)
    raw = ld(1, object_meta("")) + ld(2, ld(1, attributes)) + ld(3, status)
    obj = decode(envelope(raw, "authorization.k8s.io/v1", "SelfSubjectAccessReview"),
                 "SelfSubjectAccessReview")
    assert obj["metadata"] == {}
    assert obj["spec"] == {"resourceAttributes": {"namespace": "team", "verb": "get",
                                                  "resource": "pods"}}
    # allowed has no omitempty: false is part of the JSON form.
    assert obj["status"] == {"allowed": False}


def test_subject_access_review_extra_values_are_lists() -> None:
    spec = ld(2, ld(1, "/healthz") + ld(2, "get")) + ld(3, "alice") + ld(4, "dev") \
        + entry(5, "scopes", ld(1, "a") + ld(1, "b")) + entry(5, "none", b"") + ld(6, "")
    raw = ld(1, object_meta("")) + ld(2, spec)
    obj = decode(envelope(raw, "authorization.k8s.io/v1", "SubjectAccessReview"),
                 "SubjectAccessReview")
    assert obj["spec"] == {
        "nonResourceAttributes": {"path": "/healthz", "verb": "get"},
        "user": "alice",
        "groups": ["dev"],
        "extra": {"scopes": ["a", "b"], "none": []},
    }


def test_token_request_and_controller_revision_raw_extension() -> None:
    bound = ld(1, "Pod") + ld(2, "v1") + ld(3, "p") + ld(4, "")
    spec = ld(1, "api") + ld(3, bound) + vint(4, 600)
    obj = decode(envelope(ld(1, object_meta("sa1")) + ld(2, spec),
                          "authentication.k8s.io/v1", "TokenRequest"), "TokenRequest")
    assert obj["spec"] == {"audiences": ["api"], "expirationSeconds": 600,
                           "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p"}}

    raw = ld(1, object_meta("rev")) + ld(2, ld(1, b'{"spec":{"x":1}}')) + vint(3, 2)
    rev = decode(envelope(raw, "apps/v1", "ControllerRevision"), "ControllerRevision")
    assert rev["data"] == {"spec": {"x": 1}}
    assert rev["revision"] == 2


def test_same_kind_name_in_two_groups_is_decoded_by_api_version() -> None:
    core = ld(1, object_meta("e")) + ld(3, "Started")
    assert decode(envelope(core, "v1", "Event"), "Event")["reason"] == "Started"
    # events.k8s.io/v1 Event: field 3 is series (a message), 4 reportingController.
    new = ld(1, object_meta("e")) + ld(4, "kubelet")
    obj = decode(envelope(new, "events.k8s.io/v1", "Event"), "Event")
    assert obj["reportingController"] == "kubelet"
    # Without any apiVersion the name is ambiguous; with the URL's one it is not.
    bare = b"k8s\x00" + ld(2, new)
    with pytest.raises(ProtobufError, match="needs an apiVersion"):
        decode(bare, "Event")
    assert decode(bare, "Event", "events.k8s.io/v1")["reportingController"] == "kubelet"


def test_version_mismatch_and_unserved_versions() -> None:
    body = envelope(ld(1, object_meta("d")), "apps/v1beta1", "Deployment")
    # Another version than the URL's: left to the caller's check.
    assert decode(body, "Deployment", "apps/v1") == {
        "apiVersion": "apps/v1beta1", "kind": "Deployment"
    }
    with pytest.raises(ProtobufError, match="no protobuf decoding is available"):
        decode(body, "Deployment")


def test_delete_options_under_any_group_version() -> None:
    body = envelope(vint(1, 30) + ld(4, "Foreground"), "apps/v1", "DeleteOptions")
    assert decode(body, "DeleteOptions") == {
        "apiVersion": "apps/v1",
        "kind": "DeleteOptions",
        "gracePeriodSeconds": 30,
        "propagationPolicy": "Foreground",
    }


def test_unknown_field_in_a_nested_message_of_another_group_names_its_path() -> None:
    spec = ld(3, pod_template({}, pod_spec(container("c", "i") + vint(99, 1))))
    body = envelope(ld(1, object_meta("d")) + ld(2, spec), "apps/v1", "Deployment")
    with pytest.raises(ProtobufError,
                       match=r"spec\.template\.spec\.containers\[0\]: unknown field number 99 "
                             r"in message Container"):
        decode(body, "Deployment")
