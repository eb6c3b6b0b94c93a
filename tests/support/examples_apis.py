"""Examples of the creatable kinds of the API groups; see :mod:`tests.support.examples_base`."""

from __future__ import annotations

from typing import Any

from tests.support.examples_base import (
    DEFAULT_HEADER,
    DELETE,
    NGINX_POD_SPEC,
    Example,
    Json,
    pod_spec_defaults,
)

_NGINX_TEMPLATE: Json = {"metadata": {"labels": {"app": "nginx"}}, "spec": NGINX_POD_SPEC}
_NGINX_SELECTOR: Json = {"matchLabels": {"app": "nginx"}}

_WEBHOOK: Json = {
    "name": "check.example.com",
    "clientConfig": {"url": "https://hooks.example.com/check"},
    "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
               "resources": ["pods"]}],
    "sideEffects": "None",
    "admissionReviewVersions": ["v1"],
}
_WEBHOOK_DEFAULTS: dict[str, Any] = {
    "webhooks[0].failurePolicy": "Fail", "webhooks[0].matchPolicy": "Equivalent",
    "webhooks[0].timeoutSeconds": 10, "webhooks[0].namespaceSelector": {},
    "webhooks[0].objectSelector": {}, "webhooks[0].rules[0].scope": "*",
}

_CSR_PEM = "$CSR"

_RULES: list[Json] = [{"apiGroups": [""], "resources": ["pods"],
                       "verbs": ["get", "watch", "list"]}]
_NO_VERBS = {"rules[0].verbs": DELETE}
_BINDING_HEADER = ("NAME", "ROLE", "AGE")


def _apiservice_name(uid: str) -> str:
    return f"v1.g{uid}.example.com"


def _ip_name(uid: str) -> str:
    """A canonical IPv4 address (IPAddress objects are named by their address)."""
    value = int(uid[:6], 16)
    return f"10.{250 + value % 5}.{(value >> 8) % 256}.{value % 256}"


APIS_EXAMPLES: tuple[Example, ...] = (
    # -- admissionregistration.k8s.io/v1 ------------------------------------------------
    Example(
        "admissionregistration_mutatingwebhookconfiguration", "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", False,
        {"webhooks": [_WEBHOOK]},
        {**_WEBHOOK_DEFAULTS, "webhooks[0].reinvocationPolicy": "Never"},
        ("NAME", "WEBHOOKS", "AGE"),
        {"webhooks[0].sideEffects": DELETE}, "webhooks[0].sideEffects",
    ),
    Example(
        "admissionregistration_validatingadmissionpolicy", "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicy", "validatingadmissionpolicies", False,
        {"spec": {"matchConstraints": {"resourceRules": [
            {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
             "resources": ["deployments"]}]},
            "validations": [{"expression": "object.spec.replicas <= 5"}]}},
        {"spec.failurePolicy": "Fail", "spec.matchConstraints.matchPolicy": "Equivalent",
         "spec.matchConstraints.namespaceSelector": {},
         "spec.matchConstraints.objectSelector": {},
         "spec.matchConstraints.resourceRules[0].scope": "*"},
        ("NAME", "VALIDATIONS", "PARAMKIND", "AGE"),
        {"spec.failurePolicy": "Bogus"}, "spec.failurePolicy",
    ),
    Example(
        "admissionregistration_validatingadmissionpolicybinding",
        "admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings", False,
        {"spec": {"policyName": "demo-policy.example.com", "validationActions": ["Deny"],
                  "matchResources": {"namespaceSelector": {
                      "matchLabels": {"environment": "test"}}}}},
        {"spec.matchResources.matchPolicy": "Equivalent",
         "spec.matchResources.objectSelector": {}},
        ("NAME", "POLICYNAME", "PARAMREF", "AGE"),
        {"spec.policyName": DELETE}, "spec.policyName",
    ),
    Example(
        "admissionregistration_validatingwebhookconfiguration",
        "admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations", False,
        {"webhooks": [_WEBHOOK]}, _WEBHOOK_DEFAULTS, ("NAME", "WEBHOOKS", "AGE"),
        {"webhooks[0].admissionReviewVersions": DELETE},
        "webhooks[0].admissionReviewVersions",
    ),
    # -- apiregistration.k8s.io/v1 ------------------------------------------------------
    Example(
        "apiregistration_apiservice", "apiregistration.k8s.io/v1", "APIService",
        "apiservices", False,
        {"spec": {"group": "g$UID.example.com", "version": "v1",
                  "service": {"namespace": "default", "name": "example-api"},
                  "groupPriorityMinimum": 1000, "versionPriority": 15,
                  "insecureSkipTLSVerify": True}},
        {"spec.service.port": 443},
        ("NAME", "SERVICE", "AVAILABLE", "AGE"),
        {"spec.groupPriorityMinimum": 0}, "spec.groupPriorityMinimum",
        name=_apiservice_name,
    ),
    # -- apps/v1 ------------------------------------------------------------------------
    Example(
        "apps_controllerrevision", "apps/v1", "ControllerRevision", "controllerrevisions", True,
        {"data": {"spec": {"template": {"metadata": {"labels": {"app": "nginx"}}}}},
         "revision": 1},
        {}, ("NAME", "CONTROLLER", "REVISION", "AGE"), {"revision": -1}, "revision",
    ),
    Example(
        "apps_daemonset", "apps/v1", "DaemonSet", "daemonsets", True,
        {"spec": {"selector": _NGINX_SELECTOR, "template": _NGINX_TEMPLATE}},
        {"spec.updateStrategy.type": "RollingUpdate",
         "spec.updateStrategy.rollingUpdate.maxUnavailable": 1,
         "spec.updateStrategy.rollingUpdate.maxSurge": 0, "spec.revisionHistoryLimit": 10,
         **pod_spec_defaults("spec.template.spec")},
        ("NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR",
         "AGE"),
        {"spec.template.metadata.labels": {"app": "other"}}, "spec.template.metadata.labels",
    ),
    Example(
        "apps_deployment", "apps/v1", "Deployment", "deployments", True,
        {"metadata": {"labels": {"app": "nginx"}},
         "spec": {"replicas": 3, "selector": _NGINX_SELECTOR, "template": _NGINX_TEMPLATE}},
        {"spec.strategy.type": "RollingUpdate",
         "spec.strategy.rollingUpdate.maxSurge": "25%",
         "spec.strategy.rollingUpdate.maxUnavailable": "25%",
         "spec.revisionHistoryLimit": 10, "spec.progressDeadlineSeconds": 600,
         **pod_spec_defaults("spec.template.spec")},
        ("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"),
        {"spec.selector": DELETE}, "spec.selector",
    ),
    Example(
        "apps_replicaset", "apps/v1", "ReplicaSet", "replicasets", True,
        {"spec": {"selector": _NGINX_SELECTOR, "template": _NGINX_TEMPLATE}},
        {"spec.replicas": 1, **pod_spec_defaults("spec.template.spec")},
        ("NAME", "DESIRED", "CURRENT", "READY", "AGE"),
        {"spec.selector": DELETE}, "spec.selector",
    ),
    Example(
        "apps_statefulset", "apps/v1", "StatefulSet", "statefulsets", True,
        {"spec": {"serviceName": "nginx", "replicas": 3, "selector": _NGINX_SELECTOR,
                  "template": _NGINX_TEMPLATE}},
        {"spec.podManagementPolicy": "OrderedReady",
         "spec.updateStrategy.type": "RollingUpdate",
         "spec.updateStrategy.rollingUpdate.partition": 0, "spec.revisionHistoryLimit": 10,
         "spec.persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain",
                                                       "whenScaled": "Retain"},
         **pod_spec_defaults("spec.template.spec")},
        ("NAME", "READY", "AGE"),
        {"spec.selector": DELETE}, "spec.selector",
    ),
    # -- autoscaling --------------------------------------------------------------------
    Example(
        "autoscaling_horizontalpodautoscaler_v2", "autoscaling/v2", "HorizontalPodAutoscaler",
        "horizontalpodautoscalers", True,
        {"spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": "php-apache"}, "maxReplicas": 10}},
        {"spec.minReplicas": 1, "spec.metrics[0].type": "Resource",
         "spec.metrics[0].resource.name": "cpu",
         "spec.metrics[0].resource.target": {"type": "Utilization", "averageUtilization": 80}},
        ("NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"),
        {"spec.maxReplicas": 0}, "spec.maxReplicas",
    ),
    Example(
        "autoscaling_horizontalpodautoscaler_v1", "autoscaling/v1", "HorizontalPodAutoscaler",
        "horizontalpodautoscalers", True,
        {"spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": "php-apache"},
                  "maxReplicas": 10, "targetCPUUtilizationPercentage": 50}},
        {"spec.minReplicas": 1},
        ("NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"),
        {"spec.maxReplicas": 0}, "spec.maxReplicas",
    ),
    # -- batch/v1 -----------------------------------------------------------------------
    Example(
        "batch_cronjob", "batch/v1", "CronJob", "cronjobs", True,
        {"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "hello", "image": "busybox:1.28",
                            "command": ["/bin/sh", "-c", "date; echo Hello"]}],
            "restartPolicy": "OnFailure"}}}}}},
        {"spec.concurrencyPolicy": "Allow", "spec.suspend": False,
         "spec.successfulJobsHistoryLimit": 3, "spec.failedJobsHistoryLimit": 1,
         "spec.jobTemplate.spec.template.spec.containers[0].terminationMessagePath":
             "/dev/termination-log"},
        ("NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"),
        {"spec.schedule": "bogus"}, "spec.schedule",
    ),
    Example(
        "batch_job", "batch/v1", "Job", "jobs", True,
        {"spec": {"template": {"spec": {
            "containers": [{"name": "pi", "image": "perl:5.34.0",
                            "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]}],
            "restartPolicy": "Never"}}}},
        {"spec.backoffLimit": 6, "spec.completionMode": "NonIndexed", "spec.completions": 1,
         "spec.parallelism": 1, "spec.suspend": False,
         "spec.podReplacementPolicy": "TerminatingOrFailed",
         "spec.template.metadata.labels[batch.kubernetes.io/job-name]": "$NAME",
         "spec.template.metadata.labels[job-name]": "$NAME",
         "spec.template.spec.containers[0].terminationMessagePath": "/dev/termination-log"},
        ("NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"),
        {"spec.template.spec.restartPolicy": "Always"}, "spec.template.spec.restartPolicy",
    ),
    # -- certificates, coordination, discovery, events ----------------------------------
    Example(
        "certificates_certificatesigningrequest", "certificates.k8s.io/v1",
        "CertificateSigningRequest", "certificatesigningrequests", False,
        {"spec": {"request": _CSR_PEM, "signerName": "example.com/acceptance",
                  "expirationSeconds": 86400, "usages": ["client auth"]}},
        {}, ("NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"),
        {"spec.signerName": DELETE}, "spec.signerName",
        needs=frozenset({"CSR"}),
    ),
    Example(
        "coordination_lease", "coordination.k8s.io/v1", "Lease", "leases", True,
        {"spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}},
        {}, ("NAME", "HOLDER", "AGE"),
        {"spec.leaseDurationSeconds": 0}, "spec.leaseDurationSeconds",
    ),
    Example(
        "discovery_endpointslice", "discovery.k8s.io/v1", "EndpointSlice", "endpointslices", True,
        {"metadata": {"labels": {"kubernetes.io/service-name": "example"}},
         "addressType": "IPv4",
         "ports": [{"name": "http", "port": 80}],
         "endpoints": [{"addresses": ["10.1.2.3"], "conditions": {"ready": True},
                        "nodeName": "node-1"}]},
        {"ports[0].protocol": "TCP"},
        ("NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"),
        {"addressType": "Bogus"}, "addressType",
    ),
    Example(
        "events_event", "events.k8s.io/v1", "Event", "events", True,
        {"eventTime": "2025-01-01T00:00:00.000000Z", "reportingController": "example.com/ctl",
         "reportingInstance": "ctl-1", "action": "Scheduling", "reason": "Scheduled",
         "regarding": {"kind": "Pod", "name": "nginx", "namespace": "$NS", "apiVersion": "v1"},
         "note": "assigned", "type": "Normal"},
        {}, ("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"),
        {"reportingController": DELETE}, "reportingController",
    ),
    # -- flowcontrol.apiserver.k8s.io/v1 ------------------------------------------------
    Example(
        "flowcontrol_flowschema", "flowcontrol.apiserver.k8s.io/v1", "FlowSchema",
        "flowschemas", False,
        {"spec": {"priorityLevelConfiguration": {"name": "global-default"},
                  "distinguisherMethod": {"type": "ByUser"},
                  "rules": [{"subjects": [{"kind": "Group",
                                           "group": {"name": "system:authenticated"}}],
                             "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"],
                                                "resources": ["*"], "namespaces": ["*"]}]}]}},
        {"spec.matchingPrecedence": 1000},
        ("NAME", "PRIORITYLEVEL", "MATCHINGPRECEDENCE", "DISTINGUISHERMETHOD", "AGE",
         "MISSINGPL"),
        {"spec.priorityLevelConfiguration.name": DELETE},
        "spec.priorityLevelConfiguration.name",
    ),
    Example(
        "flowcontrol_prioritylevelconfiguration", "flowcontrol.apiserver.k8s.io/v1",
        "PriorityLevelConfiguration", "prioritylevelconfigurations", False,
        {"spec": {"type": "Limited",
                  "limited": {"limitResponse": {"type": "Queue", "queuing": {}}}}},
        {"spec.limited.nominalConcurrencyShares": 30, "spec.limited.lendablePercent": 0,
         "spec.limited.limitResponse.queuing": {"queues": 64, "handSize": 8,
                                                "queueLengthLimit": 50}},
        ("NAME", "TYPE", "NOMINALCONCURRENCYSHARES", "QUEUES", "HANDSIZE",
         "QUEUELENGTHLIMIT", "AGE"),
        {"spec.type": "Bogus"}, "spec.type",
    ),
    # -- networking.k8s.io/v1 -----------------------------------------------------------
    Example(
        "networking_ingressclass", "networking.k8s.io/v1", "IngressClass", "ingressclasses",
        False,
        {"spec": {"controller": "example.com/ingress-controller"}},
        {}, ("NAME", "CONTROLLER", "PARAMETERS", "AGE"),
        {"spec.controller": DELETE}, "spec.controller",
    ),
    Example(
        "networking_ingress", "networking.k8s.io/v1", "Ingress", "ingresses", True,
        {"spec": {"rules": [{"http": {"paths": [
            {"path": "/testpath", "pathType": "Prefix",
             "backend": {"service": {"name": "test", "port": {"number": 80}}}}]}}]}},
        {}, ("NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"),
        {"spec.rules[0].http.paths[0].pathType": DELETE},
        "spec.rules[0].http.paths[0].pathType",
    ),
    Example(
        "networking_ipaddress", "networking.k8s.io/v1", "IPAddress", "ipaddresses", False,
        {"spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default",
                                "name": "example"}}},
        {}, ("NAME", "PARENTREF"),
        {"spec.parentRef": DELETE}, "spec.parentRef",
        name=_ip_name,
    ),
    Example(
        "networking_networkpolicy", "networking.k8s.io/v1", "NetworkPolicy", "networkpolicies",
        True,
        {"spec": {"podSelector": {"matchLabels": {"role": "db"}},
                  "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "frontend"}}}],
                               "ports": [{"port": 6379}]}]}},
        # SetDefaults_NetworkPolicy: no policyTypes and no egress rules → [Ingress].
        {"spec.policyTypes": ["Ingress"], "spec.ingress[0].ports[0].protocol": "TCP"},
        ("NAME", "POD-SELECTOR", "AGE"),
        {"spec.policyTypes": ["Bogus"]}, "spec.policyTypes[0]",
    ),
    Example(
        "networking_servicecidr", "networking.k8s.io/v1", "ServiceCIDR", "servicecidrs", False,
        {"spec": {"cidrs": ["10.240.0.0/24"]}},
        {}, ("NAME", "CIDRS", "AGE"),
        {"spec.cidrs": ["bogus"]}, "spec.cidrs[0]",
    ),
    # -- node, policy, rbac, scheduling -------------------------------------------------
    Example(
        "node_runtimeclass", "node.k8s.io/v1", "RuntimeClass", "runtimeclasses", False,
        {"handler": "runc"}, {}, ("NAME", "HANDLER", "AGE"),
        {"handler": "Bad_Handler"}, "handler",
    ),
    Example(
        "policy_poddisruptionbudget", "policy/v1", "PodDisruptionBudget",
        "poddisruptionbudgets", True,
        {"spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "zookeeper"}}}},
        {}, ("NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"),
        {"spec.maxUnavailable": 1}, "spec",
    ),
    Example(
        "rbac_clusterrolebinding", "rbac.authorization.k8s.io/v1", "ClusterRoleBinding",
        "clusterrolebindings", False,
        {"subjects": [{"kind": "Group", "name": "manager"}],
         "roleRef": {"kind": "ClusterRole", "name": "secret-reader",
                     "apiGroup": "rbac.authorization.k8s.io"}},
        {"subjects[0].apiGroup": "rbac.authorization.k8s.io"}, _BINDING_HEADER,
        {"roleRef.kind": "Bogus"}, "roleRef.kind",
    ),
    Example(
        "rbac_clusterrole", "rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False,
        {"rules": [{"apiGroups": [""], "resources": ["secrets"],
                    "verbs": ["get", "watch", "list"]}]},
        {}, DEFAULT_HEADER, _NO_VERBS, "rules[0].verbs",
    ),
    Example(
        "rbac_rolebinding", "rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True,
        {"subjects": [{"kind": "User", "name": "jane"}],
         "roleRef": {"kind": "Role", "name": "pod-reader",
                     "apiGroup": "rbac.authorization.k8s.io"}},
        {"subjects[0].apiGroup": "rbac.authorization.k8s.io"}, _BINDING_HEADER,
        {"roleRef.kind": "Bogus"}, "roleRef.kind",
    ),
    Example(
        "rbac_role", "rbac.authorization.k8s.io/v1", "Role", "roles", True,
        {"rules": _RULES}, {}, DEFAULT_HEADER, _NO_VERBS, "rules[0].verbs",
    ),
    Example(
        "scheduling_priorityclass", "scheduling.k8s.io/v1", "PriorityClass", "priorityclasses",
        False,
        {"value": 1000000, "globalDefault": False,
         "description": "This priority class should be used for XYZ service pods only."},
        {"preemptionPolicy": "PreemptLowerPriority"},
        ("NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"),
        {"value": 2000000000}, "value",
    ),
    # -- storage.k8s.io/v1 --------------------------------------------------------------
    Example(
        "storage_csidriver", "storage.k8s.io/v1", "CSIDriver", "csidrivers", False,
        {"spec": {}},
        {"spec.attachRequired": True, "spec.podInfoOnMount": False,
         "spec.storageCapacity": False, "spec.requiresRepublish": False,
         "spec.fsGroupPolicy": "ReadWriteOnceWithFSType",
         "spec.volumeLifecycleModes": ["Persistent"]},
        ("NAME", "ATTACHREQUIRED", "PODINFOONMOUNT", "STORAGECAPACITY", "TOKENREQUESTS",
         "REQUIRESREPUBLISH", "MODES", "AGE"),
        {"spec.fsGroupPolicy": "Bogus"}, "spec.fsGroupPolicy",
    ),
    Example(
        "storage_csinode", "storage.k8s.io/v1", "CSINode", "csinodes", False,
        {"spec": {"drivers": [{"name": "csi.example.com", "nodeID": "node-1",
                               "topologyKeys": ["topology.example.com/zone"]}]}},
        {}, ("NAME", "DRIVERS", "AGE"),
        {"spec.drivers[0].name": "Bad_Name"}, "spec.drivers[0].name",
    ),
    Example(
        "storage_csistoragecapacity", "storage.k8s.io/v1", "CSIStorageCapacity",
        "csistoragecapacities", True,
        {"storageClassName": "standard", "capacity": "10Gi",
         "nodeTopology": {"matchLabels": {"topology.example.com/zone": "a"}}},
        {}, ("NAME", "STORAGECLASSNAME", "CAPACITY"),
        {"storageClassName": DELETE}, "storageClassName",
    ),
    Example(
        "storage_storageclass", "storage.k8s.io/v1", "StorageClass", "storageclasses", False,
        {"provisioner": "kubernetes.io/no-provisioner"},
        {"reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"},
        ("NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION",
         "AGE"),
        {"provisioner": DELETE}, "provisioner",
    ),
    Example(
        "storage_volumeattachment", "storage.k8s.io/v1", "VolumeAttachment",
        "volumeattachments", False,
        {"spec": {"attacher": "csi.example.com", "nodeName": "node-1",
                  "source": {"persistentVolumeName": "pv-1"}}},
        {}, ("NAME", "ATTACHER", "PV", "NODE", "ATTACHED", "AGE"),
        {"spec.attacher": DELETE}, "spec.attacher",
    ),
)
