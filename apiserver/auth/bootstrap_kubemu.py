"""The bootstrap ClusterRoleBindings, and the roles of kubemu's own components.

Upstream's bindings (``ClusterRoleBindings()`` of the bootstrap policy) as a table of
(binding name, role name, subjects). kubemu runs components upstream does not have (the
endpoints controller as its own process, service-lb) and runs every controller of its
controller manager under one identity; their least-privilege roles live here, named
``system:kubemu:*`` and bound to the identities ``kubemu up`` gives them:

===================================  ==============================================
user (client-certificate CN)         roles
===================================  ==============================================
``system:kube-controller-manager``   ``system:kube-controller-manager`` (upstream)
                                     + ``system:kubemu:controller-manager``
``system:kubemu:endpoints-controller`` ``system:kubemu:endpoints-controller``
``system:kubemu:service-lb``         ``system:kubemu:service-lb``
``system:kubemu:dns``                ``system:kubemu:dns`` (list and watch Namespaces,
                                     Services and EndpointSlices: the cluster DNS)
``system:kubemu:console``            ``system:kubemu:console`` (read-only: what the web
                                     console shows)
``system:kube-scheduler``            ``system:kube-scheduler``, ``system:volume-scheduler``
``system:kube-proxy``                ``system:node-proxier``
``system:node:<name>`` (O            the Node authorizer (``--authorization-mode=Node``)
``system:nodes``)
===================================  ==============================================

Why ``system:kubemu:controller-manager``: upstream's kube-controller-manager runs each
controller with its own ServiceAccount (``--use-service-account-credentials``) bound to
``system:controller:<name>``; kubemu's manager is one client, so its role is the union of
what its controllers do: the garbage collector's ``get/patch/update/delete`` on
everything (upstream ``generic-garbage-collector``), the namespace controller's
``deletecollection`` on everything (upstream ``namespace-controller``), the objects the workload
controllers create, the ``clusterrole-aggregation`` controller's ``escalate`` on
ClusterRoles and the ``csrsigning`` controller's ``sign`` on upstream's signers.
"""

from __future__ import annotations

from dataclasses import dataclass

from apiserver.auth.bootstrap_roles import AGGREGATE_TO, READ, R, RoleRow

_WRITE_ENDPOINTS = "create,delete,get,list,update,watch"


def lease_rules(name: str) -> tuple[dict[str, object], ...]:
    """Leader election on one Lease: create any, get and update only ``name``."""
    return (R("coordination.k8s.io", "leases", "create"),
            R("coordination.k8s.io", "leases", "get,update", name))


_EVENTS = R('"",events.k8s.io', "events", "create,patch,update")

KUBEMU_ROLES: tuple[RoleRow, ...] = (
    RoleRow("system:kubemu:controller-manager", (
        # the garbage collector (upstream system:controller:generic-garbage-collector) and
        # the namespace controller (system:controller:namespace-controller)
        R("*", "*", "delete,deletecollection,get,list,patch,update,watch"),
        # what the workload, node and serviceaccount controllers create, and the
        # root-ca-cert-publisher's kube-root-ca.crt ConfigMaps
        R('""', "configmaps,pods,persistentvolumeclaims,persistentvolumes,serviceaccounts",
          "create"),
        # the hostpath provisioner's default StorageClass
        R("storage.k8s.io", "storageclasses", "create"),
        R('""', "pods/binding,pods/eviction", "create"),
        R("apps", "controllerrevisions,replicasets", "create"),
        R("batch", "jobs", "create"),
        # the clusterrole-aggregation controller
        R("rbac.authorization.k8s.io", "clusterroles", "escalate,get,list,patch,update,watch"),
        # the csrsigning controller (upstream system:controller:certificate-controller)
        R("certificates.k8s.io", "signers", "sign", "kubernetes.io/kube-apiserver-client,"
          "kubernetes.io/kube-apiserver-client-kubelet,kubernetes.io/kubelet-serving,"
          "kubernetes.io/legacy-unknown"),
    )),
    RoleRow("system:kubemu:endpoints-controller", (
        R('""', "pods,services", READ),
        R('""', "endpoints", _WRITE_ENDPOINTS),
        R("discovery.k8s.io", "endpointslices", _WRITE_ENDPOINTS),
        _EVENTS,
        *lease_rules("kubemu-endpoints-controller"),
    )),
    RoleRow("system:kubemu:service-lb", (
        R('""', "services", READ),
        R('""', "services/status", "patch,update"),
        _EVENTS,
        *lease_rules("service-lb"),
    )),
    RoleRow("system:kubemu:dns", (
        R('""', "namespaces,services", "list,watch"),
        R("discovery.k8s.io", "endpointslices", "list,watch"),
    )),
    RoleRow("system:kubemu:console", (
        R('""', "namespaces,services,pods,nodes", READ),
        R("discovery.k8s.io", "endpointslices", READ),
    )),
    # metrics-server's role for reading the resource metrics API (kubemu serves it),
    # aggregated into view, edit and admin as metrics-server's manifest labels it.
    RoleRow("system:aggregated-metrics-reader", (R("metrics.k8s.io", "pods,nodes", READ),),
            labels={AGGREGATE_TO + n: "true" for n in ("admin", "edit", "view")}),
)

#: Subjects are (kind, name[, namespace]).
Subject = tuple[str, ...]


@dataclass(frozen=True)
class BindingRow:
    """One bootstrap ClusterRoleBinding (or RoleBinding of a Role, with a namespace)."""

    name: str
    role: str
    subjects: tuple[Subject, ...]
    namespace: str = ""


CLUSTER_ROLE_BINDINGS: tuple[BindingRow, ...] = (
    BindingRow("cluster-admin", "cluster-admin", (("Group", "system:masters"),)),
    BindingRow("system:monitoring", "system:monitoring", (("Group", "system:monitoring"),)),
    BindingRow("system:discovery", "system:discovery", (("Group", "system:authenticated"),)),
    BindingRow("system:basic-user", "system:basic-user", (("Group", "system:authenticated"),)),
    BindingRow("system:public-info-viewer", "system:public-info-viewer", (
        ("Group", "system:authenticated"), ("Group", "system:unauthenticated"))),
    BindingRow("system:node-proxier", "system:node-proxier", (("User", "system:kube-proxy"),)),
    BindingRow("system:kube-controller-manager", "system:kube-controller-manager",
               (("User", "system:kube-controller-manager"),)),
    BindingRow("system:kube-dns", "system:kube-dns",
               (("ServiceAccount", "kube-dns", "kube-system"),)),
    BindingRow("system:kube-scheduler", "system:kube-scheduler",
               (("User", "system:kube-scheduler"),)),
    BindingRow("system:volume-scheduler", "system:volume-scheduler",
               (("User", "system:kube-scheduler"),)),
    BindingRow("system:node", "system:node", ()),
    BindingRow("system:service-account-issuer-discovery",
               "system:service-account-issuer-discovery",
               (("Group", "system:serviceaccounts"),)),
    # kubemu's components
    BindingRow("system:kubemu:controller-manager", "system:kubemu:controller-manager",
               (("User", "system:kube-controller-manager"),)),
    BindingRow("system:kubemu:endpoints-controller", "system:kubemu:endpoints-controller",
               (("User", "system:kubemu:endpoints-controller"),)),
    BindingRow("system:kubemu:service-lb", "system:kubemu:service-lb",
               (("User", "system:kubemu:service-lb"),)),
    BindingRow("system:kubemu:dns", "system:kubemu:dns", (("User", "system:kubemu:dns"),)),
    BindingRow("system:kubemu:console", "system:kubemu:console",
               (("User", "system:kubemu:console"),)),
)
