"""Upstream's controller roles ``system:controller:<name>``, as data.

kube-controller-manager's ``controller_policy.go`` (its ``testdata/controller-roles.yaml``)
for the controllers on by default in 1.33 (with ``MultiCIDRServiceAllocator`` and
``SELinuxChangePolicy``, on in 1.33), each bound by a same-named ClusterRoleBinding to
ServiceAccount ``kube-system/<name>`` — what upstream's controllers use with
``--use-service-account-credentials``. kubemu's controller manager runs as one user
instead (see :mod:`apiserver.auth.bootstrap_kubemu`); these roles are served so that
clusters look as upstream's and users can bind them.
"""

from __future__ import annotations

from apiserver.auth.bootstrap_kubemu import BindingRow
from apiserver.auth.bootstrap_roles import READ, R, RoleRow

_EVENTS = R('"",events.k8s.io', "events", "create,patch,update")
_CRUD = "create,delete,get,list,patch,update,watch"


def _row(name: str, *rules: dict[str, object], events: bool = True) -> RoleRow:
    return RoleRow(f"system:controller:{name}", (*rules, *((_EVENTS,) if events else ())))


CONTROLLER_ROLES: tuple[RoleRow, ...] = (
    _row("attachdetach-controller",
         R('""', "persistentvolumeclaims,persistentvolumes", "list,watch"),
         R('""', "nodes", READ), R('""', "nodes/status", "patch,update"),
         R('""', "pods", "list,watch"), _EVENTS,
         R("storage.k8s.io", "volumeattachments", "create,delete,get,list,watch"),
         R("storage.k8s.io", "csidrivers", READ), R("storage.k8s.io", "csinodes", READ),
         events=False),
    _row("certificate-controller",
         R("certificates.k8s.io", "certificatesigningrequests", "delete,get,list,watch"),
         R("certificates.k8s.io", "certificatesigningrequests/approval,"
           "certificatesigningrequests/status", "update"),
         R("certificates.k8s.io", "signers", "approve",
           "kubernetes.io/kube-apiserver-client-kubelet"),
         R("certificates.k8s.io", "signers", "sign", "kubernetes.io/kube-apiserver-client,"
           "kubernetes.io/kube-apiserver-client-kubelet,kubernetes.io/kubelet-serving,"
           "kubernetes.io/legacy-unknown"),
         R("authorization.k8s.io", "subjectaccessreviews", "create")),
    _row("clusterrole-aggregation-controller",
         R("rbac.authorization.k8s.io", "clusterroles", "escalate,get,list,patch,update,watch"),
         events=False),
    _row("cronjob-controller",
         R("batch", "cronjobs", "get,list,update,watch"),
         R("batch", "jobs", _CRUD), R("batch", "cronjobs/status", "update"),
         R("batch", "cronjobs/finalizers", "update"), R('""', "pods", "delete,list,watch")),
    _row("daemon-set-controller",
         R("apps,extensions", "daemonsets", READ),
         R("apps,extensions", "daemonsets/status", "update"),
         R("apps,extensions", "daemonsets/finalizers", "update"),
         R('""', "nodes", "list,watch"), R('""', "pods", "create,delete,list,patch,watch"),
         R('""', "pods/binding", "create"), R("apps", "controllerrevisions", _CRUD)),
    _row("deployment-controller",
         R("apps,extensions", "deployments", "get,list,update,watch"),
         R("apps,extensions", "deployments/status", "update"),
         R("apps,extensions", "deployments/finalizers", "update"),
         R("apps,extensions", "replicasets", _CRUD), R('""', "pods", "get,list,update,watch")),
    _row("disruption-controller",
         R("apps,extensions", "deployments", READ), R("apps,extensions", "replicasets", READ),
         R('""', "replicationcontrollers", READ), R("policy", "poddisruptionbudgets", READ),
         R("apps", "statefulsets", READ), R("policy", "poddisruptionbudgets/status", "update"),
         R('""', "pods/status", "patch,update"), R("*", "*/scale", "get")),
    _row("endpoint-controller",
         R('""', "pods,services", READ),
         R('""', "endpoints", "create,delete,get,list,update,watch"),
         R('""', "endpoints/restricted", "create")),
    _row("endpointslice-controller",
         R('""', "nodes,pods,services", READ), R('""', "services/finalizers", "update"),
         R("discovery.k8s.io", "endpointslices", "create,delete,get,list,update,watch")),
    _row("endpointslicemirroring-controller",
         R('""', "endpoints,services", READ), R('""', "services/finalizers", "update"),
         R('""', "endpoints/finalizers", "update"),
         R("discovery.k8s.io", "endpointslices", "create,delete,get,list,update,watch")),
    _row("ephemeral-volume-controller",
         R('""', "pods", READ), R('""', "pods/finalizers", "update"),
         R('""', "persistentvolumeclaims", "create,get,list,watch")),
    _row("expand-controller",
         R('""', "persistentvolumes", "get,list,patch,update,watch"),
         R('""', "persistentvolumeclaims/status", "patch,update"),
         R('""', "persistentvolumeclaims", READ)),
    _row("generic-garbage-collector", R("*", "*", "delete,get,list,patch,update,watch")),
    _row("horizontal-pod-autoscaler",
         R("autoscaling", "horizontalpodautoscalers", READ),
         R("autoscaling", "horizontalpodautoscalers/status", "update"),
         R("*", "*/scale", "get,update"), R('""', "pods", "list,watch"),
         R("metrics.k8s.io", "pods", "list,watch"), R("custom.metrics.k8s.io", "*", READ),
         R("external.metrics.k8s.io", "*", READ)),
    _row("job-controller",
         R("batch", "jobs", "get,list,patch,update,watch"), R("batch", "jobs/status", "update"),
         R("batch", "jobs/finalizers", "update"),
         R('""', "pods", "create,delete,list,patch,watch")),
    _row("legacy-service-account-token-cleaner",
         R('""', "configmaps", "get", "kube-apiserver-legacy-service-account-token-tracking"),
         R('""', "secrets", "delete,patch"), events=False),
    _row("namespace-controller",
         R('""', "namespaces", "delete,get,list,watch"),
         R('""', "namespaces/finalize,namespaces/status", "update"),
         R("*", "*", "delete,deletecollection,get,list,watch"), events=False),
    _row("node-controller",
         R('""', "nodes", "delete,get,list,patch,update,watch"),
         R('""', "nodes/status", "patch,update"), R('""', "pods/status", "patch,update"),
         R('""', "pods", "delete,get,list,watch")),
    _row("persistent-volume-binder",
         R('""', "persistentvolumes", "create,delete,get,list,update,watch"),
         R('""', "persistentvolumes/status", "update"),
         R('""', "persistentvolumeclaims", "get,list,update,watch"),
         R('""', "persistentvolumeclaims/status", "update"),
         R('""', "pods", "create,delete,get,list,watch"),
         R("storage.k8s.io", "storageclasses", READ), R('""', "nodes", "list,watch"), _EVENTS,
         R('""', "events", "watch"), events=False),
    _row("pod-garbage-collector",
         R('""', "pods", "delete,list,watch"), R('""', "nodes", READ),
         R('""', "pods/status", "patch"), events=False),
    _row("pv-protection-controller", R('""', "persistentvolumes", "get,list,update,watch")),
    _row("pvc-protection-controller",
         R('""', "persistentvolumeclaims", "get,list,update,watch"),
         R('""', "persistentvolumeclaims/status", "update"), R('""', "pods", READ)),
    _row("replicaset-controller",
         R("apps,extensions", "replicasets", "get,list,update,watch"),
         R("apps,extensions", "replicasets/status", "update"),
         R("apps,extensions", "replicasets/finalizers", "update"),
         R('""', "pods", "create,delete,list,patch,watch")),
    _row("replication-controller",
         R('""', "replicationcontrollers", "get,list,update,watch"),
         R('""', "replicationcontrollers/status", "update"),
         R('""', "replicationcontrollers/finalizers", "update"),
         R('""', "pods", "create,delete,list,patch,watch")),
    _row("resourcequota-controller",
         R("*", "*", "list,watch"), R('""', "resourcequotas/status", "update")),
    _row("root-ca-cert-publisher", R('""', "configmaps", "create,update")),
    _row("route-controller", R('""', "nodes", "list,watch"), R('""', "nodes/status", "patch")),
    _row("selinux-warning-controller", _EVENTS,
         R('""', "persistentvolumes", READ), R('""', "persistentvolumeclaims", READ),
         R('""', "pods", READ), R("storage.k8s.io", "csidrivers", READ), events=False),
    _row("service-account-controller", R('""', "serviceaccounts", "create")),
    _row("service-cidrs-controller",
         R("networking.k8s.io", "servicecidrs", "get,list,patch,update,watch"),
         R("networking.k8s.io", "servicecidrs/finalizers", "patch,update"),
         R("networking.k8s.io", "servicecidrs/status", "patch,update"),
         R("networking.k8s.io", "ipaddresses", READ)),
    _row("service-controller",
         R('""', "services", READ), R('""', "services/status", "patch,update"),
         R('""', "nodes", "list,watch")),
    _row("statefulset-controller",
         R('""', "pods", "list,watch"), R("apps", "statefulsets", READ),
         R("apps", "statefulsets/status", "update"), R("apps", "statefulsets/finalizers", "update"),
         R('""', "pods", "create,delete,get,patch,update"),
         R("apps", "controllerrevisions", _CRUD),
         R('""', "persistentvolumeclaims", "create,get,list,watch"),
         R('""', "persistentvolumeclaims", "delete,update"), R('""', "pods/finalizers", "update")),
    _row("ttl-after-finished-controller", R("batch", "jobs", "delete,get,list,watch")),
    _row("ttl-controller", R('""', "nodes", "list,patch,update,watch")),
    _row("validatingadmissionpolicy-status-controller",
         R("admissionregistration.k8s.io", "validatingadmissionpolicies", READ),
         R("admissionregistration.k8s.io", "validatingadmissionpolicies/status",
           "get,patch,update")),
)

CONTROLLER_ROLE_BINDINGS: tuple[BindingRow, ...] = tuple(
    BindingRow(row.name, row.name,
               (("ServiceAccount", row.name.removeprefix("system:controller:"), "kube-system"),))
    for row in CONTROLLER_ROLES)
