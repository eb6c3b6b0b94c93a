"""The built-in resources of Kubernetes 1.33, as its discovery documents list them.

Pure data, one row per REST resource, in upstream's discovery order (core first,
then groups alphabetically, resources alphabetically). Taken from upstream's
discovery fixtures (``api/discovery/*.json`` of kubernetes/kubernetes at 1.33) and
the default-enabled group versions of kube-apiserver 1.33; ``tests/data/
api-resources-1.33.txt`` is the same list as ``kubectl api-resources`` prints it
against kube-apiserver 1.33 and a test compares the two.

Columns of a row: ``group/version``, plural, kind, scope (``N`` namespaced, ``C``
cluster), short names, categories, verbs and subresources. ``*`` as verbs is the
full CRUD set. A subresource is ``name:verbs`` with an optional ``@group/version/Kind``
when it reads and writes another kind than its parent (``scale``, ``eviction``), or
``@Kind`` for another kind of the parent's group version (the connect options kinds).

Only subresources this server answers are listed: the streaming and proxy ones
(``pods/log``, ``pods/exec``, ``pods/attach``, ``pods/portforward``, the ``proxy``
subresources) are served by :mod:`apiserver.handlers.connect` with the node agents'
kubelet API, ``serviceaccounts/token`` with a token signer, and ``pods/ephemeralcontainers``
by the generic store with the pod strategy's rules for it.

CustomResourceDefinitions are a row like any other; the custom resources they define
are added at run time (:func:`apiserver.api.resources.register_dynamic`).
"""

from __future__ import annotations

#: One row: (group/version, plural, kind, scope, short names, categories, verbs, subresources).
Row = tuple[str, str, str, str, str, str, str, str]

_CRUD = "*"
_STATUS = "status:get,patch,update"
_SCALE = "scale:get,patch,update@autoscaling/v1/Scale"
#: The connect subresources, with upstream's discovery verbs and kinds.
_PROXY_VERBS = "proxy:create,delete,get,patch,update"
_POD_CONNECT = ("attach:create,get@PodAttachOptions exec:create,get@PodExecOptions log:get "
                f"portforward:create,get@PodPortForwardOptions {_PROXY_VERBS}@PodProxyOptions")

ROWS: tuple[Row, ...] = (
    # -- core/v1 ------------------------------------------------------------------------
    ("v1", "bindings", "Binding", "N", "", "", "create", ""),
    ("v1", "componentstatuses", "ComponentStatus", "C", "cs", "", "get,list", ""),
    ("v1", "configmaps", "ConfigMap", "N", "cm", "", _CRUD, ""),
    ("v1", "endpoints", "Endpoints", "N", "ep", "", _CRUD, ""),
    ("v1", "events", "Event", "N", "ev", "", _CRUD, ""),
    ("v1", "limitranges", "LimitRange", "N", "limits", "", _CRUD, ""),
    ("v1", "namespaces", "Namespace", "C", "ns", "",
     "create,delete,get,list,patch,update,watch", f"finalize:update {_STATUS}"),
    ("v1", "nodes", "Node", "C", "no", "", _CRUD,
     f"{_PROXY_VERBS}@NodeProxyOptions {_STATUS}"),
    ("v1", "persistentvolumeclaims", "PersistentVolumeClaim", "N", "pvc", "", _CRUD, _STATUS),
    ("v1", "persistentvolumes", "PersistentVolume", "C", "pv", "", _CRUD, _STATUS),
    ("v1", "pods", "Pod", "N", "po", "all", _CRUD,
     f"{_POD_CONNECT} binding:create ephemeralcontainers:get,patch,update "
     f"eviction:create@policy/v1/Eviction {_STATUS}"),
    ("v1", "podtemplates", "PodTemplate", "N", "", "", _CRUD, ""),
    ("v1", "replicationcontrollers", "ReplicationController", "N", "rc", "all", _CRUD,
     f"{_SCALE} {_STATUS}"),
    ("v1", "resourcequotas", "ResourceQuota", "N", "quota", "", _CRUD, _STATUS),
    ("v1", "secrets", "Secret", "N", "", "", _CRUD, ""),
    ("v1", "serviceaccounts", "ServiceAccount", "N", "sa", "", _CRUD,
     "token:create@authentication.k8s.io/v1/TokenRequest"),
    ("v1", "services", "Service", "N", "svc", "all", _CRUD,
     f"{_PROXY_VERBS}@ServiceProxyOptions {_STATUS}"),
    # -- admissionregistration.k8s.io/v1 ------------------------------------------------
    ("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations",
     "MutatingWebhookConfiguration", "C", "", "api-extensions", _CRUD, ""),
    ("admissionregistration.k8s.io/v1", "validatingadmissionpolicies",
     "ValidatingAdmissionPolicy", "C", "", "api-extensions", _CRUD, _STATUS),
    ("admissionregistration.k8s.io/v1", "validatingadmissionpolicybindings",
     "ValidatingAdmissionPolicyBinding", "C", "", "api-extensions", _CRUD, ""),
    ("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations",
     "ValidatingWebhookConfiguration", "C", "", "api-extensions", _CRUD, ""),
    # -- apiextensions.k8s.io/v1 --------------------------------------------------------
    ("apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", "C",
     "crd,crds", "api-extensions", _CRUD, _STATUS),
    # -- apiregistration.k8s.io/v1 ------------------------------------------------------
    ("apiregistration.k8s.io/v1", "apiservices", "APIService", "C", "", "api-extensions",
     _CRUD, _STATUS),
    # -- apps/v1 ------------------------------------------------------------------------
    ("apps/v1", "controllerrevisions", "ControllerRevision", "N", "", "", _CRUD, ""),
    ("apps/v1", "daemonsets", "DaemonSet", "N", "ds", "all", _CRUD, _STATUS),
    ("apps/v1", "deployments", "Deployment", "N", "deploy", "all", _CRUD, f"{_SCALE} {_STATUS}"),
    ("apps/v1", "replicasets", "ReplicaSet", "N", "rs", "all", _CRUD, f"{_SCALE} {_STATUS}"),
    ("apps/v1", "statefulsets", "StatefulSet", "N", "sts", "all", _CRUD, f"{_SCALE} {_STATUS}"),
    # -- authentication.k8s.io/v1 -------------------------------------------------------
    ("authentication.k8s.io/v1", "selfsubjectreviews", "SelfSubjectReview", "C", "", "",
     "create", ""),
    ("authentication.k8s.io/v1", "tokenreviews", "TokenReview", "C", "", "", "create", ""),
    # -- authorization.k8s.io/v1 --------------------------------------------------------
    ("authorization.k8s.io/v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", "N",
     "", "", "create", ""),
    ("authorization.k8s.io/v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", "C",
     "", "", "create", ""),
    ("authorization.k8s.io/v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", "C",
     "", "", "create", ""),
    ("authorization.k8s.io/v1", "subjectaccessreviews", "SubjectAccessReview", "C", "", "",
     "create", ""),
    # -- autoscaling: v2 is the preferred version ---------------------------------------
    ("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", "N", "hpa", "all",
     _CRUD, _STATUS),
    ("autoscaling/v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", "N", "hpa", "all",
     _CRUD, _STATUS),
    # -- batch/v1 -----------------------------------------------------------------------
    ("batch/v1", "cronjobs", "CronJob", "N", "cj", "all", _CRUD, _STATUS),
    ("batch/v1", "jobs", "Job", "N", "", "all", _CRUD, _STATUS),
    # -- certificates.k8s.io/v1 ---------------------------------------------------------
    ("certificates.k8s.io/v1", "certificatesigningrequests", "CertificateSigningRequest", "C",
     "csr", "", _CRUD, f"approval:get,patch,update {_STATUS}"),
    # -- coordination, discovery, events ------------------------------------------------
    ("coordination.k8s.io/v1", "leases", "Lease", "N", "", "", _CRUD, ""),
    ("discovery.k8s.io/v1", "endpointslices", "EndpointSlice", "N", "", "", _CRUD, ""),
    ("events.k8s.io/v1", "events", "Event", "N", "ev", "", _CRUD, ""),
    # -- flowcontrol.apiserver.k8s.io/v1 ------------------------------------------------
    ("flowcontrol.apiserver.k8s.io/v1", "flowschemas", "FlowSchema", "C", "", "", _CRUD,
     _STATUS),
    ("flowcontrol.apiserver.k8s.io/v1", "prioritylevelconfigurations",
     "PriorityLevelConfiguration", "C", "", "", _CRUD, _STATUS),
    # -- networking.k8s.io/v1 -----------------------------------------------------------
    ("networking.k8s.io/v1", "ingressclasses", "IngressClass", "C", "", "", _CRUD, ""),
    ("networking.k8s.io/v1", "ingresses", "Ingress", "N", "ing", "", _CRUD, _STATUS),
    ("networking.k8s.io/v1", "ipaddresses", "IPAddress", "C", "ip", "", _CRUD, ""),
    ("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", "N", "netpol", "", _CRUD, ""),
    ("networking.k8s.io/v1", "servicecidrs", "ServiceCIDR", "C", "", "", _CRUD, _STATUS),
    # -- node, policy, rbac, scheduling -------------------------------------------------
    ("node.k8s.io/v1", "runtimeclasses", "RuntimeClass", "C", "", "", _CRUD, ""),
    ("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", "N", "pdb", "", _CRUD, _STATUS),
    ("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", "C", "", "",
     _CRUD, ""),
    ("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", "C", "", "", _CRUD, ""),
    ("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", "N", "", "", _CRUD, ""),
    ("rbac.authorization.k8s.io/v1", "roles", "Role", "N", "", "", _CRUD, ""),
    ("scheduling.k8s.io/v1", "priorityclasses", "PriorityClass", "C", "pc", "", _CRUD, ""),
    # -- storage.k8s.io/v1 --------------------------------------------------------------
    ("storage.k8s.io/v1", "csidrivers", "CSIDriver", "C", "", "", _CRUD, ""),
    ("storage.k8s.io/v1", "csinodes", "CSINode", "C", "", "", _CRUD, ""),
    ("storage.k8s.io/v1", "csistoragecapacities", "CSIStorageCapacity", "N", "", "", _CRUD, ""),
    ("storage.k8s.io/v1", "storageclasses", "StorageClass", "C", "sc", "", _CRUD, ""),
    ("storage.k8s.io/v1", "volumeattachments", "VolumeAttachment", "C", "", "", _CRUD, _STATUS),
)

#: The OpenAPI definition-name prefix of each group's kinds.
SCHEMA_PREFIXES: dict[str, str] = {
    "": "io.k8s.api.core",
    "apiregistration.k8s.io": "io.k8s.kube-aggregator.pkg.apis.apiregistration",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
}


def schema_prefix(group: str) -> str:
    """``io.k8s.api.<short group>`` (``apps``, ``rbac``, ``networking``…) for ``group``."""
    if group in SCHEMA_PREFIXES:
        return SCHEMA_PREFIXES[group]
    return "io.k8s.api." + group.split(".", 1)[0]
