"""Upstream's bootstrap Roles and RoleBindings in ``kube-system`` and ``kube-public``.

``NamespaceRoles()`` and ``NamespaceRoleBindings()`` of the bootstrap policy (its
``testdata/namespace-roles.yaml`` and ``namespace-role-bindings.yaml``): leader locking
for the controller manager and the scheduler, the reader of the
``extension-apiserver-authentication`` ConfigMap, and the roles of the bootstrap signer,
token cleaner and cloud provider controllers.
"""

from __future__ import annotations

from apiserver.auth.bootstrap_kubemu import BindingRow
from apiserver.auth.bootstrap_roles import READ, R, RoleRow

_SYSTEM = "kube-system"
_LOCKING = (R("coordination.k8s.io", "leases", "create,get,list,update,watch"),
            R("coordination.k8s.io", "leasecandidates", "create,get,list,update,watch"))
_EVENTS = R('"",events.k8s.io', "events", "create,patch,update")

NAMESPACE_ROLES: tuple[RoleRow, ...] = (
    RoleRow("system:controller:bootstrap-signer", (
        R('""', "configmaps", READ), R('""', "configmaps", "update", "cluster-info"), _EVENTS),
        namespace="kube-public"),
    RoleRow("extension-apiserver-authentication-reader", (
        R('""', "configmaps", READ, "extension-apiserver-authentication"),), namespace=_SYSTEM),
    RoleRow("system::leader-locking-kube-controller-manager", _LOCKING, namespace=_SYSTEM),
    RoleRow("system::leader-locking-kube-scheduler", _LOCKING, namespace=_SYSTEM),
    RoleRow("system:controller:bootstrap-signer", (R('""', "secrets", READ),),
            namespace=_SYSTEM),
    RoleRow("system:controller:cloud-provider", (
        R('""', "configmaps", "create,get,list,watch"),), namespace=_SYSTEM),
    RoleRow("system:controller:token-cleaner", (
        R('""', "secrets", "delete,get,list,watch"), _EVENTS), namespace=_SYSTEM),
)


def _sa(name: str) -> tuple[str, str, str]:
    return ("ServiceAccount", name, _SYSTEM)


NAMESPACE_ROLE_BINDINGS: tuple[BindingRow, ...] = (
    BindingRow("system:controller:bootstrap-signer", "system:controller:bootstrap-signer",
               (_sa("bootstrap-signer"),), namespace="kube-public"),
    BindingRow("system::extension-apiserver-authentication-reader",
               "extension-apiserver-authentication-reader",
               (("User", "system:kube-controller-manager"), ("User", "system:kube-scheduler")),
               namespace=_SYSTEM),
    BindingRow("system::leader-locking-kube-controller-manager",
               "system::leader-locking-kube-controller-manager",
               (("User", "system:kube-controller-manager"), _sa("kube-controller-manager"),
                _sa("leader-election-controller")), namespace=_SYSTEM),
    BindingRow("system::leader-locking-kube-scheduler", "system::leader-locking-kube-scheduler",
               (("User", "system:kube-scheduler"), _sa("kube-scheduler")), namespace=_SYSTEM),
    BindingRow("system:controller:bootstrap-signer", "system:controller:bootstrap-signer",
               (_sa("bootstrap-signer"),), namespace=_SYSTEM),
    BindingRow("system:controller:cloud-provider", "system:controller:cloud-provider",
               (_sa("cloud-provider"),), namespace=_SYSTEM),
    BindingRow("system:controller:token-cleaner", "system:controller:token-cleaner",
               (_sa("token-cleaner"),), namespace=_SYSTEM),
)
