"""apply_defaults on plain dicts: upstream's SetDefaults_* for every kind that has some."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apiserver.admission.tolerations import (
    configure_default_tolerations,
    default_toleration_seconds,
)
from apiserver.api.resources import RESOURCES, ResourceInfo
from apiserver.registry.defaults import DEFAULTERS, apply_defaults
from apiserver.registry.defaults.podspec import image_pull_policy

Obj = dict[str, Any]

_INFOS = {(r.group, r.version, r.kind): r for r in RESOURCES}


def info(group: str, version: str, kind: str) -> ResourceInfo:
    return _INFOS[(group, version, kind)]


def defaulted(group: str, version: str, kind: str, obj: Obj) -> Obj:
    apply_defaults(info(group, version, kind), obj)
    return obj


def container(**extra: Any) -> Obj:
    return {"name": "app", "image": "nginx", **extra}


def template(**spec: Any) -> Obj:
    return {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [container()], **spec}}


CONTAINER_DEFAULTS = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "imagePullPolicy": "Always",
    "resources": {},
}
PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                  "failureThreshold": 3}


def test_every_table_key_is_a_served_kind() -> None:
    assert set(DEFAULTERS) <= set(_INFOS)


# -- Pod ----------------------------------------------------------------------------------


def test_pod_spec_and_container_defaults() -> None:
    pod = defaulted("", "v1", "Pod", {"spec": {"containers": [container(
        ports=[{"containerPort": 80}],
        livenessProbe={"httpGet": {"port": 80}},
        readinessProbe={"grpc": {"port": 9000}, "periodSeconds": 3},
        startupProbe={"exec": {"command": ["true"]}, "timeoutSeconds": 0},
        env=[{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        lifecycle={"preStop": {"httpGet": {"port": 80, "path": "/quit"}}},
    )]}})
    spec = pod["spec"]
    assert {k: spec[k] for k in ("dnsPolicy", "restartPolicy", "schedulerName",
                                 "securityContext", "terminationGracePeriodSeconds",
                                 "enableServiceLinks")} == {
        "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
        "schedulerName": "default-scheduler", "securityContext": {},
        "terminationGracePeriodSeconds": 30, "enableServiceLinks": True}
    c = spec["containers"][0]
    assert {k: c[k] for k in CONTAINER_DEFAULTS} == CONTAINER_DEFAULTS
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert c["livenessProbe"] == {**PROBE_DEFAULTS,
                                  "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}}
    assert c["readinessProbe"] == {**PROBE_DEFAULTS, "periodSeconds": 3,
                                   "grpc": {"port": 9000, "service": ""}}
    # timeoutSeconds is a plain int upstream: an explicit 0 is "unset".
    assert c["startupProbe"]["timeoutSeconds"] == 1
    assert c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert c["lifecycle"]["preStop"]["httpGet"] == {"port": 80, "path": "/quit",
                                                    "scheme": "HTTP"}


def test_pod_defaults_keep_client_values() -> None:
    spec = {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
            "securityContext": {"runAsUser": 1}, "enableServiceLinks": False,
            "containers": [container(imagePullPolicy="Never", terminationMessagePath="/x",
                                     livenessProbe={"failureThreshold": 7})]}
    before = copy.deepcopy(spec)
    out = defaulted("", "v1", "Pod", {"spec": spec})["spec"]
    for key in ("restartPolicy", "terminationGracePeriodSeconds", "securityContext",
                "enableServiceLinks"):
        assert out[key] == before[key]
    c = out["containers"][0]
    assert (c["imagePullPolicy"], c["terminationMessagePath"]) == ("Never", "/x")
    assert c["livenessProbe"]["failureThreshold"] == 7


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.27", "IfNotPresent"),
    ("registry:5000/team/app", "Always"), ("registry:5000/team/app:v1", "IfNotPresent"),
    ("app@sha256:" + "a" * 64, "IfNotPresent"), ("app:latest@sha256:" + "a" * 64, "Always"),
    ("", "IfNotPresent"), (None, "IfNotPresent"),
])
def test_image_pull_policy(image: Any, policy: str) -> None:
    assert image_pull_policy(image) == policy


def test_pod_only_requests_from_limits_and_host_ports() -> None:
    pod = defaulted("", "v1", "Pod", {"spec": {"hostNetwork": True, "containers": [
        container(resources={"limits": {"cpu": "1", "memory": "1Gi"},
                             "requests": {"cpu": "500m"}},
                  ports=[{"containerPort": 8080}, {"containerPort": 53, "hostPort": 5353}]),
    ], "initContainers": [container(name="init", resources={"limits": {"cpu": "2"}})]}})
    c = pod["spec"]["containers"][0]
    assert c["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert [p["hostPort"] for p in c["ports"]] == [8080, 5353]
    assert pod["spec"]["initContainers"][0]["resources"]["requests"] == {"cpu": "2"}


def test_templates_get_pod_spec_defaults_but_not_pod_only_ones() -> None:
    tmpl = template(hostNetwork=True)
    tmpl["spec"]["containers"][0].update(resources={"limits": {"cpu": "1"}},
                                         ports=[{"containerPort": 80}])
    spec = defaulted("", "v1", "PodTemplate", {"template": tmpl})["template"]["spec"]
    assert spec["restartPolicy"] == "Always"
    assert "enableServiceLinks" not in spec and "tolerations" not in spec
    c = spec["containers"][0]
    assert "requests" not in c["resources"] and "hostPort" not in c["ports"][0]


def test_volume_defaults() -> None:
    volumes = [
        {"name": "empty"},
        {"name": "s", "secret": {"secretName": "s"}},
        {"name": "c", "configMap": {"name": "c", "defaultMode": 256}},
        {"name": "d", "downwardAPI": {"items": [
            {"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
        {"name": "p", "projected": {"sources": [
            {"serviceAccountToken": {"path": "token"}},
            {"downwardAPI": {"items": [{"path": "n",
                                        "fieldRef": {"fieldPath": "metadata.name"}}]}}]}},
        {"name": "h", "hostPath": {"path": "/data"}},
        {"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
    ]
    out = defaulted("", "v1", "Pod", {"spec": {"containers": [container()],
                                              "volumes": volumes}})["spec"]["volumes"]
    by = {v["name"]: v for v in out}
    assert by["empty"]["emptyDir"] == {}
    assert by["s"]["secret"]["defaultMode"] == 420
    assert by["c"]["configMap"]["defaultMode"] == 256
    assert by["d"]["downwardAPI"]["defaultMode"] == 420
    assert by["d"]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"
    projected = by["p"]["projected"]
    assert projected["defaultMode"] == 420
    assert projected["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 3600
    assert projected["sources"][1]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"
    assert by["h"]["hostPath"] == {"path": "/data", "type": ""}
    claim = by["e"]["ephemeral"]["volumeClaimTemplate"]
    assert claim == {"spec": {"volumeMode": "Filesystem"}}


@pytest.mark.parametrize("bad", [
    {"spec": "nope"},
    {"spec": {"containers": "nope", "volumes": [None, 3, {"name": "v", "secret": "x"}]}},
    {"spec": {"containers": [None, {"name": "a", "ports": [1], "livenessProbe": []}],
              "tolerations": "x", "hostNetwork": True}},
    {"spec": {"containers": [{"resources": {"limits": [], "requests": "x"}}]}},
])
def test_malformed_pods_do_not_crash(bad: Obj) -> None:
    defaulted("", "v1", "Pod", bad)


# -- workloads ----------------------------------------------------------------------------


def test_deployment_from_kubectl_create_deployment() -> None:
    # What `kubectl create deployment web --image=nginx` sends.
    dep = defaulted("apps", "v1", "Deployment", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "strategy": {}, "template": {
                     "metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "nginx", "image": "nginx",
                                              "resources": {}}]}}},
    })
    spec = dep["spec"]
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert (spec["replicas"], spec["revisionHistoryLimit"],
            spec["progressDeadlineSeconds"]) == (1, 10, 600)
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always" and pod_spec["dnsPolicy"] == "ClusterFirst"
    c = pod_spec["containers"][0]
    assert {k: c[k] for k in CONTAINER_DEFAULTS} == CONTAINER_DEFAULTS


def test_deployment_recreate_gets_no_rolling_update() -> None:
    dep = defaulted("apps", "v1", "Deployment", {"spec": {
        "strategy": {"type": "Recreate"}, "replicas": 0, "template": template()}})
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    assert dep["spec"]["replicas"] == 0


def test_replica_set() -> None:
    rs = defaulted("apps", "v1", "ReplicaSet", {"spec": {"template": template()}})
    assert rs["spec"]["replicas"] == 1
    assert rs["spec"]["template"]["spec"]["schedulerName"] == "default-scheduler"


def test_stateful_set() -> None:
    sts = defaulted("apps", "v1", "StatefulSet", {"spec": {
        "template": template(),
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}]}})
    spec = sts["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain",
                                                            "whenScaled": "Retain"}
    assert (spec["replicas"], spec["revisionHistoryLimit"]) == (1, 10)
    assert spec["volumeClaimTemplates"][0] == {
        "metadata": {"name": "data"}, "spec": {"volumeMode": "Filesystem"},
        "status": {"phase": "Pending"}}
    # An explicit RollingUpdate without a rollingUpdate block stays without one.
    sts = defaulted("apps", "v1", "StatefulSet", {"spec": {
        "updateStrategy": {"type": "RollingUpdate"}, "template": template()}})
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate"}


def test_daemon_set() -> None:
    ds = defaulted("apps", "v1", "DaemonSet", {"spec": {"template": template()}})
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["spec"]["revisionHistoryLimit"] == 10


def test_replication_controller_selector_and_labels_from_template() -> None:
    rc = defaulted("", "v1", "ReplicationController", {"metadata": {"name": "rc"},
                                                       "spec": {"template": template()}})
    assert rc["spec"]["selector"] == {"app": "web"}
    assert rc["metadata"]["labels"] == {"app": "web"}
    assert rc["spec"]["replicas"] == 1
    rc = defaulted("", "v1", "ReplicationController", {
        "metadata": {"labels": {"tier": "x"}},
        "spec": {"selector": {"app": "web", "v": "1"}, "template": template()}})
    assert rc["spec"]["selector"] == {"app": "web", "v": "1"}
    assert rc["metadata"]["labels"] == {"tier": "x"}


def test_job_defaults() -> None:
    job = defaulted("batch", "v1", "Job", {"metadata": {"name": "j"}, "spec": {
        "template": template(restartPolicy="Never")}})
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert job["metadata"]["labels"] == {"app": "web"}
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_job_defaults_depend_on_other_fields() -> None:
    spec = defaulted("batch", "v1", "Job", {"spec": {
        "completions": 5, "backoffLimitPerIndex": 1, "completionMode": "Indexed",
        "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [
            {"type": "DisruptionTarget"}]}]},
        "template": template()}})["spec"]
    assert (spec["completions"], spec["parallelism"]) == (5, 1)
    assert spec["backoffLimit"] == 2**31 - 1
    assert spec["podReplacementPolicy"] == "Failed"
    assert spec["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"] == "True"
    only_parallelism = defaulted("batch", "v1", "Job", {"spec": {"parallelism": 3}})["spec"]
    assert only_parallelism["parallelism"] == 3 and "completions" not in only_parallelism


def test_cron_job_defaults() -> None:
    cj = defaulted("batch", "v1", "CronJob", {"spec": {
        "schedule": "* * * * *",
        "jobTemplate": {"spec": {"template": template(restartPolicy="OnFailure")}}}})
    spec = cj["spec"]
    assert spec["concurrencyPolicy"] == "Allow" and spec["suspend"] is False
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    job_spec = spec["jobTemplate"]["spec"]
    # SetDefaults_Job is for Job objects: the template keeps its job fields unset.
    assert "backoffLimit" not in job_spec and "completions" not in job_spec
    assert job_spec["template"]["spec"]["containers"][0]["terminationMessagePolicy"] == "File"


# -- core -----------------------------------------------------------------------------------


def test_core_kinds() -> None:
    assert defaulted("", "v1", "Secret", {"data": {}})["type"] == "Opaque"
    assert defaulted("", "v1", "Secret", {"type": "kubernetes.io/tls"})["type"] == (
        "kubernetes.io/tls")
    pv = defaulted("", "v1", "PersistentVolume", {"spec": {"rbd": {"image": "i"}}})
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["volumeMode"] == "Filesystem"
    assert pv["spec"]["rbd"] == {"image": "i", "pool": "rbd", "user": "admin",
                                 "keyring": "/etc/ceph/keyring"}
    assert pv["status"] == {"phase": "Pending"}
    pvc = defaulted("", "v1", "PersistentVolumeClaim", {"spec": {"volumeMode": "Block"}})
    assert pvc == {"spec": {"volumeMode": "Block"}, "status": {"phase": "Pending"}}
    ep = defaulted("", "v1", "Endpoints", {"subsets": [{"ports": [{"port": 80},
                                                                 {"port": 53,
                                                                  "protocol": "UDP"}]}]})
    assert [p["protocol"] for p in ep["subsets"][0]["ports"]] == ["TCP", "UDP"]
    ns = defaulted("", "v1", "Namespace", {"metadata": {"name": "team"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    assert ns["status"] == {"phase": "Active"}


def test_limit_range() -> None:
    lr = defaulted("", "v1", "LimitRange", {"spec": {"limits": [
        {"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}},
        {"type": "Pod", "max": {"cpu": "4"}}]}})
    item, pod_item = lr["spec"]["limits"]
    assert item["default"] == {"cpu": "2"}
    assert item["defaultRequest"] == {"cpu": "2", "memory": "64Mi"}
    assert pod_item == {"type": "Pod", "max": {"cpu": "4"}}


# -- other groups ----------------------------------------------------------------------------


def test_hpa() -> None:
    v2 = defaulted("autoscaling", "v2", "HorizontalPodAutoscaler", {"spec": {
        "maxReplicas": 5, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}})
    spec = v2["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    assert spec["behavior"]["scaleUp"]["policies"] == [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15}]
    assert spec["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert spec["behavior"]["scaleDown"] == {
        "stabilizationWindowSeconds": 60, "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
    assert "behavior" not in defaulted("autoscaling", "v2", "HorizontalPodAutoscaler",
                                       {"spec": {}})["spec"]
    v1 = defaulted("autoscaling", "v1", "HorizontalPodAutoscaler", {"spec": {"maxReplicas": 3}})
    assert v1["spec"] == {"maxReplicas": 3, "minReplicas": 1}


def test_rbac_bindings() -> None:
    rb = defaulted("rbac.authorization.k8s.io", "v1", "RoleBinding", {
        "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "n"},
                     {"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"}]})
    assert rb["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert [s.get("apiGroup") for s in rb["subjects"]] == [
        None, "rbac.authorization.k8s.io", "rbac.authorization.k8s.io"]


def test_networking() -> None:
    np = defaulted("networking.k8s.io", "v1", "NetworkPolicy", {"spec": {
        "podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}})
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert np["spec"]["egress"][0]["ports"] == [{"port": 53, "protocol": "TCP"}]
    ic = defaulted("networking.k8s.io", "v1", "IngressClass", {"spec": {
        "parameters": {"kind": "K", "name": "n"}}})
    assert ic["spec"]["parameters"]["scope"] == "Cluster"
    slice_ = defaulted("discovery.k8s.io", "v1", "EndpointSlice", {"ports": [{"port": 80}]})
    assert slice_["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]


def test_storage_and_scheduling() -> None:
    sc = defaulted("storage.k8s.io", "v1", "StorageClass", {"provisioner": "p"})
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
    csi = defaulted("storage.k8s.io", "v1", "CSIDriver", {"spec": {"attachRequired": False}})
    assert csi["spec"] == {
        "attachRequired": False, "podInfoOnMount": False, "storageCapacity": False,
        "fsGroupPolicy": "ReadWriteOnceWithFSType", "requiresRepublish": False,
        "seLinuxMount": False, "volumeLifecycleModes": ["Persistent"]}
    pc = defaulted("scheduling.k8s.io", "v1", "PriorityClass", {"value": 10})
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"


def test_admission_registration() -> None:
    webhook = {"name": "w.example.com", "sideEffects": "None",
               "admissionReviewVersions": ["v1"],
               "clientConfig": {"service": {"name": "s", "namespace": "n"}},
               "rules": [{"operations": ["CREATE"], "apiGroups": [""],
                          "apiVersions": ["v1"], "resources": ["pods"]}]}
    mwc = defaulted("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
                    {"webhooks": [copy.deepcopy(webhook)]})
    w = mwc["webhooks"][0]
    assert {k: w[k] for k in ("failurePolicy", "matchPolicy", "namespaceSelector",
                              "objectSelector", "timeoutSeconds", "reinvocationPolicy")} == {
        "failurePolicy": "Fail", "matchPolicy": "Equivalent", "namespaceSelector": {},
        "objectSelector": {}, "timeoutSeconds": 10, "reinvocationPolicy": "Never"}
    assert w["rules"][0]["scope"] == "*"
    assert w["clientConfig"]["service"]["port"] == 443
    vwc = defaulted("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
                    {"webhooks": [copy.deepcopy(webhook)]})
    assert "reinvocationPolicy" not in vwc["webhooks"][0]
    vap = defaulted("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", {
        "spec": {"matchConstraints": {"resourceRules": [{"resources": ["pods"]}]}}})
    assert vap["spec"]["failurePolicy"] == "Fail"
    assert vap["spec"]["matchConstraints"] == {
        "resourceRules": [{"resources": ["pods"], "scope": "*"}],
        "matchPolicy": "Equivalent", "namespaceSelector": {}, "objectSelector": {}}


def test_flowcontrol_and_apiservice() -> None:
    fs = defaulted("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", {"spec": {}})
    assert fs["spec"]["matchingPrecedence"] == 1000
    plc = defaulted("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", {
        "spec": {"type": "Limited", "limited": {
            "limitResponse": {"type": "Queue", "queuing": {"queues": 16}}}}})
    limited = plc["spec"]["limited"]
    assert (limited["nominalConcurrencyShares"], limited["lendablePercent"]) == (30, 0)
    assert limited["limitResponse"]["queuing"] == {"queues": 16, "handSize": 8,
                                                   "queueLengthLimit": 50}
    svc = defaulted("apiregistration.k8s.io", "v1", "APIService", {
        "spec": {"service": {"name": "m", "namespace": "kube-system"}}})
    assert svc["spec"]["service"]["port"] == 443


def test_kinds_without_upstream_defaults_are_untouched() -> None:
    pdb = {"spec": {"minAvailable": 1}}
    assert defaulted("policy", "v1", "PodDisruptionBudget", copy.deepcopy(pdb)) == pdb
    ingress = {"spec": {"rules": [{"http": {"paths": [{"path": "/"}]}}]}}
    assert defaulted("networking.k8s.io", "v1", "Ingress", copy.deepcopy(ingress)) == ingress


@pytest.mark.parametrize("key", sorted(DEFAULTERS))
@pytest.mark.parametrize("bad", [{}, {"spec": None}, {"spec": 3, "metadata": "x"},
                                 {"spec": {"template": [], "strategy": "x", "subsets": 1}}])
def test_no_defaulter_crashes_on_malformed_input(key: tuple[str, str, str], bad: Obj) -> None:
    DEFAULTERS[key](copy.deepcopy(bad))


def test_pod_toleration_seconds_follow_the_apiserver_flags() -> None:
    """``--default-not-ready-toleration-seconds``/``--default-unreachable-toleration-seconds``."""
    configure_default_tolerations(not_ready=7, unreachable=3)
    try:
        spec: Obj = {"containers": [container()]}
        default_toleration_seconds(spec)
    finally:
        configure_default_tolerations()
    assert {t["key"]: t["tolerationSeconds"] for t in spec["tolerations"]} == {
        "node.kubernetes.io/not-ready": 7, "node.kubernetes.io/unreachable": 3}
    plain: Obj = {"containers": [container()]}
    default_toleration_seconds(plain)
    assert {t["tolerationSeconds"] for t in plain["tolerations"]} == {300}
