"""The bootstrap ClusterRoles of kube-apiserver 1.33, as data.

Upstream ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`` (its
``testdata/cluster-roles.yaml``): one row per role, each rule written compactly as
``R(api groups, resources, verbs[, resource names])`` or ``U(non-resource URLs, verbs)``,
comma-separated. The ``admin``, ``edit`` and ``view`` roles carry an ``aggregationRule``
only; the ``clusterrole-aggregation`` controller fills their rules from the
``system:aggregate-to-*`` roles. kubemu's own components, which have no upstream role,
get theirs in :mod:`apiserver.auth.bootstrap_kubemu`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"
_RW = "create,delete,deletecollection,patch,update"
READ = "get,list,watch"
_ALL = "create,delete,deletecollection,get,list,patch,update,watch"


def R(groups: str, resources: str, verbs: str, names: str = "") -> dict[str, Any]:
    """A resource rule from comma lists (a lone ``""`` group is written as ``""``)."""
    rule: dict[str, Any] = {"verbs": verbs.split(",")}
    rule["apiGroups"] = [("" if g == '""' else g) for g in groups.split(",")]
    rule["resources"] = resources.split(",")
    if names:
        rule["resourceNames"] = names.split(",")
    return rule


def U(urls: str, verbs: str) -> dict[str, Any]:
    """A non-resource rule from comma lists."""
    return {"nonResourceURLs": urls.split(","), "verbs": verbs.split(",")}


@dataclass(frozen=True)
class RoleRow:
    """One bootstrap ClusterRole (or Role, with a namespace): name, rules, extra labels,
    aggregation selectors."""

    name: str
    rules: tuple[dict[str, Any], ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    aggregate_from: tuple[str, ...] = ()
    namespace: str = ""


def _to(*names: str) -> dict[str, str]:
    return {AGGREGATE_TO + n: "true" for n in names}


_EVENTS_WRITE = R('"",events.k8s.io', "events", "create,patch,update")
_REVIEWS = (R("authentication.k8s.io", "tokenreviews", "create"),
            R("authorization.k8s.io", "subjectaccessreviews", "create"))

CLUSTER_ROLES: tuple[RoleRow, ...] = (
    RoleRow("cluster-admin", (R("*", "*", "*"), U("*", "*"))),
    RoleRow("admin", aggregate_from=("admin",)),
    RoleRow("edit", labels=_to("admin"), aggregate_from=("edit",)),
    RoleRow("view", labels=_to("edit"), aggregate_from=("view",)),
    RoleRow("system:aggregate-to-admin", (
        R("authorization.k8s.io", "localsubjectaccessreviews", "create"),
        R("rbac.authorization.k8s.io", "rolebindings,roles", _ALL),
    ), labels=_to("admin")),
    RoleRow("system:aggregate-to-edit", (
        R('""', "pods/attach,pods/exec,pods/portforward,pods/proxy,secrets,services/proxy",
          READ),
        R('""', "serviceaccounts", "impersonate"),
        R('""', "pods,pods/attach,pods/exec,pods/portforward,pods/proxy", _RW),
        R('""', "pods/eviction", "create"),
        R('""', "configmaps,events,persistentvolumeclaims,replicationcontrollers,"
          "replicationcontrollers/scale,secrets,serviceaccounts,services,services/proxy", _RW),
        R('""', "serviceaccounts/token", "create"),
        R("apps", "daemonsets,deployments,deployments/rollback,deployments/scale,replicasets,"
          "replicasets/scale,statefulsets,statefulsets/scale", _RW),
        R("autoscaling", "horizontalpodautoscalers", _RW),
        R("batch", "cronjobs,jobs", _RW),
        R("extensions", "daemonsets,deployments,deployments/rollback,deployments/scale,"
          "ingresses,networkpolicies,replicasets,replicasets/scale,"
          "replicationcontrollers/scale", _RW),
        R("policy", "poddisruptionbudgets", _RW),
        R("networking.k8s.io", "ingresses,networkpolicies", _RW),
        R("coordination.k8s.io", "leases", _ALL),
    ), labels=_to("edit")),
    RoleRow("system:aggregate-to-view", (
        R('""', "configmaps,endpoints,persistentvolumeclaims,persistentvolumeclaims/status,"
          "pods,replicationcontrollers,replicationcontrollers/scale,serviceaccounts,services,"
          "services/status", READ),
        R('""', "bindings,events,limitranges,namespaces/status,pods/log,pods/status,"
          "replicationcontrollers/status,resourcequotas,resourcequotas/status", READ),
        R('""', "namespaces", READ),
        R("discovery.k8s.io", "endpointslices", READ),
        R("apps", "controllerrevisions,daemonsets,daemonsets/status,deployments,"
          "deployments/scale,deployments/status,replicasets,replicasets/scale,"
          "replicasets/status,statefulsets,statefulsets/scale,statefulsets/status", READ),
        R("autoscaling", "horizontalpodautoscalers,horizontalpodautoscalers/status", READ),
        R("batch", "cronjobs,cronjobs/status,jobs,jobs/status", READ),
        R("extensions", "daemonsets,daemonsets/status,deployments,deployments/scale,"
          "deployments/status,ingresses,ingresses/status,networkpolicies,replicasets,"
          "replicasets/scale,replicasets/status,replicationcontrollers/scale", READ),
        R("policy", "poddisruptionbudgets,poddisruptionbudgets/status", READ),
        R("networking.k8s.io", "ingresses,ingresses/status,networkpolicies", READ),
    ), labels=_to("view")),
    RoleRow("system:auth-delegator", _REVIEWS),
    RoleRow("system:basic-user", (
        R("authorization.k8s.io", "selfsubjectaccessreviews,selfsubjectrulesreviews", "create"),
        R("authentication.k8s.io", "selfsubjectreviews", "create"),
    )),
    RoleRow("system:certificates.k8s.io:certificatesigningrequests:nodeclient", (
        R("certificates.k8s.io", "certificatesigningrequests/nodeclient", "create"),)),
    RoleRow("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", (
        R("certificates.k8s.io", "certificatesigningrequests/selfnodeclient", "create"),)),
    RoleRow("system:certificates.k8s.io:kube-apiserver-client-approver", (
        R("certificates.k8s.io", "signers", "approve", "kubernetes.io/kube-apiserver-client"),)),
    RoleRow("system:certificates.k8s.io:kube-apiserver-client-kubelet-approver", (
        R("certificates.k8s.io", "signers", "approve",
          "kubernetes.io/kube-apiserver-client-kubelet"),)),
    RoleRow("system:certificates.k8s.io:kubelet-serving-approver", (
        R("certificates.k8s.io", "signers", "approve", "kubernetes.io/kubelet-serving"),)),
    RoleRow("system:certificates.k8s.io:legacy-unknown-approver", (
        R("certificates.k8s.io", "signers", "approve", "kubernetes.io/legacy-unknown"),)),
    RoleRow("system:discovery", (
        U("/api,/api/*,/apis,/apis/*,/healthz,/livez,/openapi,/openapi/*,/readyz,/version,"
          "/version/", "get"),)),
    RoleRow("system:heapster", (
        R('""', "events,namespaces,nodes,pods", READ),
        R("extensions", "deployments", READ),
    )),
    RoleRow("system:kube-aggregator", (R('""', "endpoints,services", READ),)),
    RoleRow("system:kube-controller-manager", (
        _EVENTS_WRITE,
        R("coordination.k8s.io", "leases", "create"),
        R("coordination.k8s.io", "leases", "get,update", "kube-controller-manager"),
        R('""', "secrets,serviceaccounts", "create"),
        R('""', "secrets", "delete"),
        R('""', "configmaps,namespaces,secrets,serviceaccounts", "get"),
        R('""', "secrets,serviceaccounts", "update"),
        *_REVIEWS,
        R("*", "*", "list,watch"),
        R('""', "serviceaccounts/token", "create"),
    )),
    RoleRow("system:kube-dns", (R('""', "endpoints,services", "list,watch"),)),
    RoleRow("system:kube-scheduler", (
        _EVENTS_WRITE,
        R("coordination.k8s.io", "leases", "create"),
        R("coordination.k8s.io", "leases", "get,update", "kube-scheduler"),
        R('""', "nodes", READ),
        R('""', "pods", "delete,get,list,watch"),
        R('""', "bindings,pods/binding", "create"),
        R('""', "pods/status", "patch,update"),
        R('""', "replicationcontrollers,services", READ),
        R("apps,extensions", "replicasets", READ),
        R("apps", "statefulsets", READ),
        R("policy", "poddisruptionbudgets", READ),
        R('""', "persistentvolumeclaims,persistentvolumes", READ),
        *_REVIEWS,
        R("storage.k8s.io", "csinodes", READ),
        R('""', "namespaces", READ),
        R("storage.k8s.io", "csidrivers", READ),
        R("storage.k8s.io", "csistoragecapacities", READ),
    )),
    RoleRow("system:kubelet-api-admin", (
        R('""', "nodes", READ),
        R('""', "nodes", "proxy"),
        R('""', "nodes/log,nodes/metrics,nodes/proxy,nodes/stats", "*"),
    )),
    RoleRow("system:monitoring", (
        U("/healthz,/healthz/*,/livez,/livez/*,/metrics,/metrics/slis,/readyz,/readyz/*",
          "get"),)),
    RoleRow("system:node-bootstrapper", (
        R("certificates.k8s.io", "certificatesigningrequests", "create,get,list,watch"),)),
    RoleRow("system:node-problem-detector", (
        R('""', "nodes", "get"),
        R('""', "nodes/status", "patch"),
        _EVENTS_WRITE,
    )),
    RoleRow("system:node-proxier", (
        R('""', "endpoints,services", "list,watch"),
        R('""', "nodes", READ),
        _EVENTS_WRITE,
        R("discovery.k8s.io", "endpointslices", "list,watch"),
    )),
    RoleRow("system:persistent-volume-provisioner", (
        R('""', "persistentvolumes", "create,delete,get,list,watch"),
        R('""', "persistentvolumeclaims", "get,list,update,watch"),
        R("storage.k8s.io", "storageclasses", READ),
        R('""', "events", "watch"),
        _EVENTS_WRITE,
    )),
    RoleRow("system:public-info-viewer", (
        U("/healthz,/livez,/readyz,/version,/version/", "get"),)),
    RoleRow("system:service-account-issuer-discovery", (
        U("/.well-known/openid-configuration,/openid/v1/jwks", "get"),)),
    RoleRow("system:volume-scheduler", (
        R('""', "persistentvolumes", "get,list,patch,update,watch"),
        R("storage.k8s.io", "storageclasses", READ),
        R('""', "persistentvolumeclaims", "get,list,patch,update,watch"),
    )),
)

#: ``system:node``: also the static rules of the Node authorizer (upstream ``NodeRules``).
NODE_RULES: tuple[dict[str, Any], ...] = (
    R("authentication.k8s.io", "tokenreviews", "create"),
    R("authorization.k8s.io", "localsubjectaccessreviews,subjectaccessreviews", "create"),
    R('""', "services", READ),
    R('""', "nodes", "create,get,list,watch"),
    R('""', "nodes/status", "patch,update"),
    R('""', "nodes", "patch,update"),
    R('""', "events", "create,patch,update"),
    R('""', "pods", READ),
    R('""', "pods", "create,delete"),
    R('""', "pods/status", "patch,update"),
    R('""', "pods/eviction", "create"),
    R('""', "configmaps,secrets", READ),
    R('""', "persistentvolumeclaims,persistentvolumes", "get"),
    R('""', "endpoints", "get"),
    R("certificates.k8s.io", "certificatesigningrequests", "create,get,list,watch"),
    R("coordination.k8s.io", "leases", "create,delete,get,patch,update"),
    R("storage.k8s.io", "volumeattachments", "get"),
    R('""', "serviceaccounts/token", "create"),
    R('""', "persistentvolumeclaims/status", "get,patch,update"),
    R("storage.k8s.io", "csidrivers", READ),
    R("storage.k8s.io", "csinodes", "create,delete,get,patch,update"),
    R("node.k8s.io", "runtimeclasses", READ),
)

CLUSTER_ROLES = (*CLUSTER_ROLES, RoleRow("system:node", NODE_RULES))
