"""Table columns and cells of the kinds beyond the original core ones (upstream printers.go)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apiserver.api.resources import ResourceInfo, lookup
from apiserver.printing import build_table, column_definitions, table_row
from apiserver.printing.spec import Doc, resolve_doc
from apiserver.printing.table import _TABLES

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def ago(**kw: float) -> str:
    return (NOW - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


def info(group_version: str, plural: str) -> ResourceInfo:
    group, _, version = group_version.rpartition("/")
    found = lookup(group, version, plural)
    assert found is not None, plural
    return found


def cells(gv: str, plural: str, obj: dict[str, Any]) -> list[Any]:
    result: list[Any] = table_row(info(gv, plural), obj, NOW)["cells"]
    return result


def meta(name: str = "x", **extra: Any) -> dict[str, Any]:
    return {"name": name, "creationTimestamp": ago(hours=5), **extra}


def wide_and_not(gv: str, plural: str) -> tuple[list[str], list[str]]:
    cols = column_definitions(info(gv, plural))
    return (
        [c["name"] for c in cols if c["priority"] == 0],
        [c["name"] for c in cols if c["priority"] == 1],
    )


W3 = ["Containers", "Images", "Selector"]

COLUMNS: list[tuple[str, str, list[str], list[str]]] = [
    ("apps/v1", "deployments", ["Name", "Ready", "Up-to-date", "Available", "Age"], W3),
    ("apps/v1", "replicasets", ["Name", "Desired", "Current", "Ready", "Age"], W3),
    ("apps/v1", "statefulsets", ["Name", "Ready", "Age"], ["Containers", "Images"]),
    ("apps/v1", "daemonsets", ["Name", "Desired", "Current", "Ready", "Up-to-date",
                               "Available", "Node Selector", "Age"], W3),
    ("apps/v1", "controllerrevisions", ["Name", "Controller", "Revision", "Age"], []),
    ("batch/v1", "jobs", ["Name", "Status", "Completions", "Duration", "Age"], W3),
    ("batch/v1", "cronjobs", ["Name", "Schedule", "Timezone", "Suspend", "Active",
                              "Last Schedule", "Age"], W3),
    ("v1", "replicationcontrollers", ["Name", "Desired", "Current", "Ready", "Age"], W3),
    ("v1", "podtemplates", ["Name", "Containers", "Images", "Pod Labels"], []),
    ("v1", "secrets", ["Name", "Type", "Data", "Age"], []),
    ("v1", "serviceaccounts", ["Name", "Secrets", "Age"], []),
    ("v1", "limitranges", ["Name", "Created At"], []),
    ("v1", "resourcequotas", ["Name", "Request", "Limit", "Age"], []),
    ("v1", "componentstatuses", ["Name", "Status", "Message", "Error"], []),
    ("v1", "persistentvolumes", ["Name", "Capacity", "Access Modes", "Reclaim Policy", "Status",
                                 "Claim", "StorageClass", "VolumeAttributesClass", "Reason",
                                 "Age"], ["VolumeMode"]),
    ("v1", "persistentvolumeclaims", ["Name", "Status", "Volume", "Capacity", "Access Modes",
                                      "StorageClass", "VolumeAttributesClass", "Age"],
     ["VolumeMode"]),
    ("rbac.authorization.k8s.io/v1", "roles", ["Name", "Created At"], []),
    ("rbac.authorization.k8s.io/v1", "clusterroles", ["Name", "Created At"], []),
    ("rbac.authorization.k8s.io/v1", "rolebindings", ["Name", "Role", "Age"],
     ["Users", "Groups", "ServiceAccounts"]),
    ("rbac.authorization.k8s.io/v1", "clusterrolebindings", ["Name", "Role", "Age"],
     ["Users", "Groups", "ServiceAccounts"]),
    ("networking.k8s.io/v1", "ingresses", ["Name", "Class", "Hosts", "Address", "Ports", "Age"],
     []),
    ("networking.k8s.io/v1", "ingressclasses", ["Name", "Controller", "Parameters", "Age"], []),
    ("networking.k8s.io/v1", "networkpolicies", ["Name", "Pod-Selector", "Age"], []),
    ("networking.k8s.io/v1", "ipaddresses", ["Name", "ParentRef"], []),
    ("networking.k8s.io/v1", "servicecidrs", ["Name", "CIDRs", "Age"], []),
    ("policy/v1", "poddisruptionbudgets", ["Name", "Min Available", "Max Unavailable",
                                           "Allowed Disruptions", "Age"], []),
    ("autoscaling/v2", "horizontalpodautoscalers", ["Name", "Reference", "Targets", "MinPods",
                                                    "MaxPods", "Replicas", "Age"], []),
    ("autoscaling/v1", "horizontalpodautoscalers", ["Name", "Reference", "Targets", "MinPods",
                                                    "MaxPods", "Replicas", "Age"], []),
    ("scheduling.k8s.io/v1", "priorityclasses", ["Name", "Value", "Global-Default", "Age",
                                                 "PreemptionPolicy"], []),
    ("node.k8s.io/v1", "runtimeclasses", ["Name", "Handler", "Age"], []),
    ("storage.k8s.io/v1", "storageclasses", ["Name", "Provisioner", "ReclaimPolicy",
                                             "VolumeBindingMode", "AllowVolumeExpansion", "Age"],
     []),
    ("storage.k8s.io/v1", "csidrivers", ["Name", "AttachRequired", "PodInfoOnMount",
                                         "StorageCapacity", "TokenRequests", "RequiresRepublish",
                                         "Modes", "Age"], []),
    ("storage.k8s.io/v1", "csinodes", ["Name", "Drivers", "Age"], []),
    ("storage.k8s.io/v1", "csistoragecapacities", ["Name", "StorageClassName", "Capacity"], []),
    ("storage.k8s.io/v1", "volumeattachments", ["Name", "Attacher", "PV", "Node", "Attached",
                                                "Age"], []),
    ("certificates.k8s.io/v1", "certificatesigningrequests", ["Name", "Age", "SignerName",
                                                              "Requestor", "RequestedDuration",
                                                              "Condition"], []),
    ("events.k8s.io/v1", "events", ["Last Seen", "Type", "Reason", "Object", "Message"],
     ["Subobject", "Source", "First Seen", "Count", "Name"]),
    ("flowcontrol.apiserver.k8s.io/v1", "flowschemas", ["Name", "PriorityLevel",
                                                        "MatchingPrecedence",
                                                        "DistinguisherMethod", "Age",
                                                        "MissingPL"], []),
    ("flowcontrol.apiserver.k8s.io/v1", "prioritylevelconfigurations",
     ["Name", "Type", "NominalConcurrencyShares", "Queues", "HandSize", "QueueLengthLimit",
      "Age"], []),
    ("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations",
     ["Name", "Webhooks", "Age"], []),
    ("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations",
     ["Name", "Webhooks", "Age"], []),
    ("admissionregistration.k8s.io/v1", "validatingadmissionpolicies",
     ["Name", "Validations", "ParamKind", "Age"], []),
    ("admissionregistration.k8s.io/v1", "validatingadmissionpolicybindings",
     ["Name", "PolicyName", "ParamRef", "Age"], []),
    ("apiregistration.k8s.io/v1", "apiservices", ["Name", "Service", "Available", "Age"], []),
]


@pytest.mark.parametrize(("gv", "plural", "normal", "wide"), COLUMNS,
                         ids=[f"{c[0]}/{c[1]}" for c in COLUMNS])
def test_columns_as_upstream(gv: str, plural: str, normal: list[str], wide: list[str]) -> None:
    assert wide_and_not(gv, plural) == (normal, wide)


def test_column_types_and_formats() -> None:
    def types(gv: str, plural: str) -> dict[str, str]:
        return {c["name"]: c["type"] for c in column_definitions(info(gv, plural))}

    assert types("apps/v1", "replicasets")["Desired"] == "integer"
    assert types("apps/v1", "deployments")["Up-to-date"] == "string"
    assert types("batch/v1", "cronjobs")["Suspend"] == "boolean"
    assert types("batch/v1", "cronjobs")["Active"] == "integer"
    assert types("scheduling.k8s.io/v1", "priorityclasses")["Global-Default"] == "boolean"
    attacher = column_definitions(info("storage.k8s.io/v1", "volumeattachments"))[1]
    assert attacher["format"] == "name"


def test_every_schema_doc_resolves() -> None:
    for table in _TABLES.values():
        for col in table.columns:
            desc = getattr(col, "description", None)
            if isinstance(desc, Doc):
                assert resolve_doc(desc), (table.kind, desc)
    deploy = {c["name"]: c["description"] for c in column_definitions(info("apps/v1",
                                                                            "deployments"))}
    assert deploy["Up-to-date"].startswith("Total number of non-terminating pods targeted by "
                                           "this deployment that have the desired template spec")
    assert deploy["Ready"] == "Number of the pod with ready state"


# --- workloads -------------------------------------------------------------------

TEMPLATE = {"spec": {"containers": [{"name": "app", "image": "nginx:1.27"},
                                    {"name": "side", "image": "busybox"}]}}


def test_deployment() -> None:
    obj = {"metadata": meta("web"),
           "spec": {"replicas": 3, "template": TEMPLATE,
                    "selector": {"matchLabels": {"app": "web"},
                                 "matchExpressions": [{"key": "tier", "operator": "In",
                                                       "values": ["b", "a"]}]}},
           "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    assert cells("apps/v1", "deployments", obj) == [
        "web", "2/3", 3, 2, "5h", "app,side", "nginx:1.27,busybox", "app=web,tier in (a,b)"]
    bare = cells("apps/v1", "deployments", {"metadata": meta("d")})
    assert bare[1:4] == ["0/1", 0, 0] and bare[-1] == ""


def test_replicaset_statefulset_daemonset_rc() -> None:
    rs = {"metadata": meta("rs"), "spec": {"replicas": 2, "template": TEMPLATE},
          "status": {"replicas": 2, "readyReplicas": 1}}
    assert cells("apps/v1", "replicasets", rs)[:5] == ["rs", 2, 2, 1, "5h"]
    assert cells("apps/v1", "replicasets", rs)[-1] == "<none>"
    sts = {"metadata": meta("db"), "spec": {"replicas": 3, "template": TEMPLATE},
           "status": {"readyReplicas": 3}}
    assert cells("apps/v1", "statefulsets", sts) == ["db", "3/3", "5h", "app,side",
                                                     "nginx:1.27,busybox"]
    ds = {"metadata": meta("agent"),
          "spec": {"selector": {"matchLabels": {"k": "v"}},
                   "template": {"spec": {"nodeSelector": {"os": "linux"}, "containers": []}}},
          "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                     "updatedNumberScheduled": 3, "numberAvailable": 2}}
    assert cells("apps/v1", "daemonsets", ds) == ["agent", 3, 3, 2, 3, 2, "os=linux", "5h",
                                                  "", "", "k=v"]
    rc = {"metadata": meta("rc"), "spec": {"replicas": 1, "selector": {"app": "x"}}}
    assert cells("v1", "replicationcontrollers", rc) == ["rc", 1, 0, 0, "5h", "", "", "app=x"]


def test_controllerrevision_and_podtemplate() -> None:
    owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "controller": True}
    cr = {"metadata": meta("agent-7f", ownerReferences=[owner]), "revision": 4}
    assert cells("apps/v1", "controllerrevisions", cr) == ["agent-7f", "daemonset.apps/agent", 4,
                                                           "5h"]
    assert cells("apps/v1", "controllerrevisions", {"metadata": meta("r")})[1] == "<none>"
    pt = {"metadata": meta("t"), "template": {"metadata": {"labels": {"b": "2", "a": "1"}},
                                              **TEMPLATE}}
    assert cells("v1", "podtemplates", pt) == ["t", "app,side", "nginx:1.27,busybox", "a=1,b=2"]


# --- batch -------------------------------------------------------------------------


def job(**status: Any) -> dict[str, Any]:
    return {"metadata": meta("pi"),
            "spec": {"completions": 1, "template": TEMPLATE,
                     "selector": {"matchLabels": {"controller-uid": "u1"}}},
            "status": status}


def test_job_states() -> None:
    done = job(succeeded=1, startTime=ago(minutes=10), completionTime=ago(minutes=7),
               conditions=[{"type": "Complete", "status": "True"}])
    assert cells("batch/v1", "jobs", done) == ["pi", "Complete", "1/1", "3m", "5h", "app,side",
                                               "nginx:1.27,busybox", "controller-uid=u1"]
    running = job(startTime=ago(seconds=42), active=1)
    assert cells("batch/v1", "jobs", running)[1:4] == ["Running", "0/1", "42s"]
    failed = job(failed=6, startTime=ago(minutes=5),
                 conditions=[{"type": "FailureTarget", "status": "True"},
                             {"type": "Failed", "status": "True"}])
    assert cells("batch/v1", "jobs", failed)[1] == "Failed"
    pending = {"metadata": meta("p"), "spec": {"parallelism": 3}}
    assert cells("batch/v1", "jobs", pending)[1:4] == ["Running", "0/1 of 3", ""]
    suspended = job(conditions=[{"type": "Suspended", "status": "True"}])
    assert cells("batch/v1", "jobs", suspended)[1] == "Suspended"
    terminating = job(conditions=[{"type": "Suspended", "status": "True"}])
    terminating["metadata"]["deletionTimestamp"] = ago(seconds=1)
    assert cells("batch/v1", "jobs", terminating)[1] == "Terminating"


def test_cronjob() -> None:
    cj = {"metadata": meta("nightly"),
          "spec": {"schedule": "0 3 * * *", "suspend": False,
                   "jobTemplate": {"spec": {"template": TEMPLATE}}},
          "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(minutes=30)}}
    assert cells("batch/v1", "cronjobs", cj) == [
        "nightly", "0 3 * * *", "<none>", "False", 1, "30m", "5h", "app,side",
        "nginx:1.27,busybox", "<none>"]
    bare = cells("batch/v1", "cronjobs", {"metadata": meta("c"),
                                          "spec": {"timeZone": "Etc/UTC"}})
    assert bare[2:6] == ["Etc/UTC", "<unset>", 0, "<none>"]


# --- access ----------------------------------------------------------------------------


def test_secret_serviceaccount_bindings_csr() -> None:
    secret = {"metadata": meta("s"), "type": "Opaque", "data": {"a": "MQ==", "b": "Mg=="}}
    assert cells("v1", "secrets", secret) == ["s", "Opaque", 2, "5h"]
    secret["stringData"] = {"b": "two", "c": "three"}
    assert cells("v1", "secrets", secret)[2] == 3
    sa = {"metadata": meta("default"), "secrets": [{"name": "tok"}]}
    assert cells("v1", "serviceaccounts", sa) == ["default", 1, "5h"]
    rb = {"metadata": meta("rb"), "roleRef": {"kind": "Role", "name": "reader",
                                              "apiGroup": "rbac.authorization.k8s.io"},
          "subjects": [{"kind": "User", "name": "jane"}, {"kind": "Group", "name": "devs"},
                       {"kind": "ServiceAccount", "name": "bot", "namespace": "ci"},
                       {"kind": "User", "name": "joe"}]}
    gv = "rbac.authorization.k8s.io/v1"
    assert cells(gv, "rolebindings", rb) == ["rb", "Role/reader", "5h", "jane, joe", "devs",
                                             "ci/bot"]
    crb = {"metadata": meta("crb"), "roleRef": {"kind": "ClusterRole", "name": "admin"}}
    assert cells(gv, "clusterrolebindings", crb) == ["crb", "ClusterRole/admin", "5h", "", "", ""]
    csr = {"metadata": meta("c1"),
           "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "username": "jane",
                    "expirationSeconds": 86400},
           "status": {"conditions": [{"type": "Approved", "status": "True"}],
                      "certificate": "LS0t"}}
    assert cells("certificates.k8s.io/v1", "certificatesigningrequests", csr) == [
        "c1", "5h", "kubernetes.io/kube-apiserver-client", "jane", "24h", "Approved,Issued"]
    pending = cells("certificates.k8s.io/v1", "certificatesigningrequests",
                    {"metadata": meta("c2")})
    assert pending[2:] == ["<none>", "", "<none>", "Pending"]


# --- storage ---------------------------------------------------------------------------


def test_pv_pvc_storageclass() -> None:
    pv = {"metadata": meta("pv1"),
          "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany",
                                                                    "ReadWriteOnce"],
                   "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "fast",
                   "claimRef": {"namespace": "default", "name": "data"},
                   "volumeMode": "Filesystem"},
          "status": {"phase": "Bound"}}
    assert cells("v1", "persistentvolumes", pv) == [
        "pv1", "10Gi", "RWO,RWX", "Retain", "Bound", "default/data", "fast", "<unset>", "",
        "5h", "Filesystem"]
    pvc = {"metadata": meta("data"),
           "spec": {"volumeName": "pv1", "storageClassName": "fast",
                    "resources": {"requests": {"storage": "5Gi"}}},
           "status": {"phase": "Bound", "capacity": {"storage": "10Gi"},
                      "accessModes": ["ReadWriteOnce"]}}
    assert cells("v1", "persistentvolumeclaims", pvc) == [
        "data", "Bound", "pv1", "10Gi", "RWO", "fast", "<unset>", "5h", "<unset>"]
    unbound = {"metadata": meta("u"), "spec": {}, "status": {"phase": "Pending"}}
    assert cells("v1", "persistentvolumeclaims", unbound)[1:6] == ["Pending", "", "", "", ""]
    sc = {"metadata": meta("standard", annotations={
        "storageclass.kubernetes.io/is-default-class": "true"}),
        "provisioner": "rancher.io/local-path"}
    assert cells("storage.k8s.io/v1", "storageclasses", sc) == [
        "standard (default)", "rancher.io/local-path", "Delete", "Immediate", False, "5h"]


def test_csi_kinds() -> None:
    gv = "storage.k8s.io/v1"
    drv = {"metadata": meta("csi.example.com"), "spec": {"volumeLifecycleModes": ["Persistent"]}}
    assert cells(gv, "csidrivers", drv) == ["csi.example.com", True, False, False, "<unset>",
                                            False, "Persistent", "5h"]
    node = {"metadata": meta("n1"), "spec": {"drivers": [{"name": "a"}, {"name": "b"}]}}
    assert cells(gv, "csinodes", node) == ["n1", 2, "5h"]
    cap = {"metadata": meta("cap"), "storageClassName": "fast", "capacity": "100Gi"}
    assert cells(gv, "csistoragecapacities", cap) == ["cap", "fast", "100Gi"]
    va = {"metadata": meta("va"), "spec": {"attacher": "csi.example.com", "nodeName": "n1",
                                           "source": {"persistentVolumeName": "pv1"}},
          "status": {"attached": True}}
    assert cells(gv, "volumeattachments", va) == ["va", "csi.example.com", "pv1", "n1", True,
                                                  "5h"]


# --- networking --------------------------------------------------------------------------


def test_ingress_and_friends() -> None:
    gv = "networking.k8s.io/v1"
    ing = {"metadata": meta("web"),
           "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example"]}],
                    "rules": [{"host": h} for h in ("a", "b", "c", "d", "e")]},
           "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb"}]}}}
    assert cells(gv, "ingresses", ing) == ["web", "nginx", "a,b,c + 2 more...", "10.0.0.2,lb",
                                           "80, 443", "5h"]
    bare = {"metadata": meta("b"), "spec": {"rules": [{}]}}
    assert cells(gv, "ingresses", bare) == ["b", "<none>", "*", "", "80", "5h"]
    ic = {"metadata": meta("nginx"),
          "spec": {"controller": "k8s.io/ingress-nginx",
                   "parameters": {"apiGroup": "k8s.example.com", "kind": "Params",
                                  "name": "p"}}}
    assert cells(gv, "ingressclasses", ic) == ["nginx", "k8s.io/ingress-nginx",
                                               "Params.k8s.example.com/p", "5h"]
    np = {"metadata": meta("deny"), "spec": {"podSelector": {}}}
    assert cells(gv, "networkpolicies", np) == ["deny", "<none>", "5h"]
    cidr = {"metadata": meta("kubernetes"), "spec": {"cidrs": ["10.96.0.0/12", "fd00::/108"]}}
    assert cells(gv, "servicecidrs", cidr) == ["kubernetes", "10.96.0.0/12,fd00::/108", "5h"]
    ip = {"metadata": meta("10.96.0.1"),
          "spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default",
                                 "name": "kubernetes"}}}
    assert cells(gv, "ipaddresses", ip) == ["10.96.0.1", "services/default/kubernetes", "5h"]


# --- policy, autoscaling, scheduling ---------------------------------------------------------


def test_pdb_quota_componentstatus_priorityclass_runtimeclass() -> None:
    pdb = {"metadata": meta("pdb"), "spec": {"minAvailable": "50%"},
           "status": {"disruptionsAllowed": 1}}
    assert cells("policy/v1", "poddisruptionbudgets", pdb) == ["pdb", "50%", "N/A", 1, "5h"]
    quota = {"metadata": meta("q"),
             "status": {"hard": {"pods": "10", "limits.cpu": "2", "requests.cpu": "1"},
                        "used": {"pods": "3", "limits.cpu": "500m"}}}
    assert cells("v1", "resourcequotas", quota) == [
        "q", "pods: 3/10, requests.cpu: 0/1", "limits.cpu: 500m/2", "5h"]
    cs = {"metadata": meta("etcd-0"),
          "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]}
    assert cells("v1", "componentstatuses", cs) == ["etcd-0", "Healthy", "ok", ""]
    pc = {"metadata": meta("high"), "value": 1000, "globalDefault": True,
          "preemptionPolicy": "Never"}
    assert cells("scheduling.k8s.io/v1", "priorityclasses", pc) == ["high", 1000, True, "5h",
                                                                    "Never"]
    rc = {"metadata": meta("gvisor"), "handler": "runsc"}
    assert cells("node.k8s.io/v1", "runtimeclasses", rc) == ["gvisor", "runsc", "5h"]


def test_hpa_v2_and_v1() -> None:
    hpa = {"metadata": meta("web"),
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5,
                    "metrics": [
                        {"type": "Resource", "resource": {
                            "name": "cpu", "target": {"type": "Utilization",
                                                      "averageUtilization": 80}}},
                        {"type": "Resource", "resource": {
                            "name": "memory", "target": {"type": "AverageValue",
                                                         "averageValue": "1Gi"}}},
                        {"type": "Pods", "pods": {"target": {"averageValue": "1k"}}}]},
           "status": {"currentReplicas": 2, "currentMetrics": [
               {"type": "Resource", "resource": {"name": "cpu",
                                                 "current": {"averageUtilization": 50}}}]}}
    assert cells("autoscaling/v2", "horizontalpodautoscalers", hpa) == [
        "web", "Deployment/web", "cpu: 50%/80%, memory: <unknown>/1Gi + 1 more...", "<unset>",
        5, 2, "5h"]
    v1 = {"metadata": meta("web"),
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1,
                   "maxReplicas": 4, "targetCPUUtilizationPercentage": 80},
          "status": {"currentReplicas": 1}}
    assert cells("autoscaling/v1", "horizontalpodautoscalers", v1) == [
        "web", "Deployment/web", "cpu: <unknown>/80%", "1", 4, 1, "5h"]
    assert cells("autoscaling/v2", "horizontalpodautoscalers", {"metadata": meta()})[2] == "<none>"


# --- events, API machinery --------------------------------------------------------------------


def test_events_k8s_io_event_prints_as_core_event() -> None:
    ev = {"metadata": meta("web.1"), "eventTime": ago(minutes=3), "type": "Normal",
          "reason": "Scheduled", "note": "Successfully assigned",
          "regarding": {"kind": "Pod", "name": "web"},
          "reportingController": "default-scheduler", "reportingInstance": "sched-1"}
    assert cells("events.k8s.io/v1", "events", ev) == [
        "3m", "Normal", "Scheduled", "pod/web", "", "default-scheduler, sched-1",
        "Successfully assigned", "3m", 1, "web.1"]


def test_admission_flowcontrol_apiservice() -> None:
    gv = "admissionregistration.k8s.io/v1"
    hook = {"metadata": meta("h"), "webhooks": [{"name": "a"}, {"name": "b"}]}
    assert cells(gv, "validatingwebhookconfigurations", hook) == ["h", 2, "5h"]
    vap = {"metadata": meta("p"), "spec": {"validations": [{"expression": "true"}],
                                           "paramKind": {"apiVersion": "v1",
                                                         "kind": "ConfigMap"}}}
    assert cells(gv, "validatingadmissionpolicies", vap) == ["p", 1, "v1/ConfigMap", "5h"]
    binding = {"metadata": meta("b"), "spec": {"policyName": "p",
                                               "paramRef": {"name": "cfg"}}}
    assert cells(gv, "validatingadmissionpolicybindings", binding) == ["b", "p", "*/cfg", "5h"]
    by_selector = {"metadata": meta("b"), "spec": {"policyName": "p", "paramRef": {
        "selector": {"matchLabels": {"a": "b"}}}}}
    assert cells(gv, "validatingadmissionpolicybindings", by_selector)[2] == (
        "&LabelSelector{MatchLabels:map[string]string{a: b,},"
        "MatchExpressions:[]LabelSelectorRequirement{},}")
    fgv = "flowcontrol.apiserver.k8s.io/v1"
    fs = {"metadata": meta("exempt"),
          "spec": {"priorityLevelConfiguration": {"name": "exempt"}, "matchingPrecedence": 1},
          "status": {"conditions": [{"type": "Dangling", "status": "False"}]}}
    assert cells(fgv, "flowschemas", fs) == ["exempt", "exempt", 1, "<none>", "5h", "False"]
    plc = {"metadata": meta("workload-low"),
           "spec": {"type": "Limited", "limited": {
               "nominalConcurrencyShares": 100,
               "limitResponse": {"type": "Queue", "queuing": {
                   "queues": 128, "handSize": 6, "queueLengthLimit": 50}}}}}
    assert cells(fgv, "prioritylevelconfigurations", plc) == [
        "workload-low", "Limited", 100, 128, 6, 50, "5h"]
    exempt = {"metadata": meta("exempt"), "spec": {"type": "Exempt"}}
    assert cells(fgv, "prioritylevelconfigurations", exempt)[2:6] == ["<none>"] * 4
    svc = {"metadata": meta("v1.apps"), "status": {"conditions": [
        {"type": "Available", "status": "True", "reason": "Local"}]}}
    assert cells("apiregistration.k8s.io/v1", "apiservices", svc) == ["v1.apps", "Local", "True",
                                                                      "5h"]
    down = {"metadata": meta("v1.metrics"),
            "spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}},
            "status": {"conditions": [{"type": "Available", "status": "False",
                                       "reason": "MissingEndpoints"}]}}
    assert cells("apiregistration.k8s.io/v1", "apiservices", down)[1:3] == [
        "kube-system/metrics-server", "False (MissingEndpoints)"]


def test_flowschema_list_rows_sorted_by_precedence_then_name() -> None:
    def fs(name: str, precedence: int) -> dict[str, Any]:
        return {"metadata": meta(name), "spec": {"matchingPrecedence": precedence}}

    table = build_table(info("flowcontrol.apiserver.k8s.io/v1", "flowschemas"),
                        [fs("b", 500), fs("a", 500), fs("exempt", 1)], "7", NOW)
    assert [r["cells"][0] for r in table["rows"]] == ["exempt", "a", "b"]
