"""Tables of the access kinds: Secrets, ServiceAccounts, RoleBindings,
ClusterRoleBindings and CertificateSigningRequests (upstream ``printers.go``).

Roles and ClusterRoles have no printer upstream; they get the default table.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from apiserver.printing.cells import age, lst, m, name, opt_int, s
from apiserver.printing.duration import human_duration
from apiserver.printing.spec import AGE, NAME, Col, Doc, KindTable

__all__ = ["TABLES", "csr_condition", "subjects_strings"]


def print_secret(secret: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Type, Data (number of keys), Age.

    ``stringData`` keys count too: upstream prints the internal object, into whose
    ``data`` the conversion from v1 has merged ``stringData``.
    """
    keys = set(m(secret.get("data"))) | set(m(secret.get("stringData")))
    return [name(secret), s(secret.get("type")), len(keys), age(secret, now)]


def print_serviceaccount(sa: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Secrets (number of referenced secrets), Age."""
    return [name(sa), len(lst(sa.get("secrets"))), age(sa, now)]


def subjects_strings(subjects: Any) -> tuple[list[str], list[str], list[str]]:
    """Users, groups and service accounts (``ns/name``) of a binding, in order."""
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    for subject in lst(subjects):
        subject = m(subject)
        kind, subject_name = s(subject.get("kind")), s(subject.get("name"))
        if kind == "ServiceAccount":
            accounts.append(f"{s(subject.get('namespace'))}/{subject_name}")
        elif kind == "User":
            users.append(subject_name)
        elif kind == "Group":
            groups.append(subject_name)
    return users, groups, accounts


def print_binding(binding: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Role (``Kind/name``), Age, Users, Groups, ServiceAccounts (each ``", "``-joined)."""
    ref = m(binding.get("roleRef"))
    users, groups, accounts = subjects_strings(binding.get("subjects"))
    return [
        name(binding),
        f"{s(ref.get('kind'))}/{s(ref.get('name'))}",
        age(binding, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


def csr_condition(csr: Mapping[str, Any]) -> str:
    """``Denied``, ``Approved`` or ``Pending``, then ``,Failed`` and ``,Issued`` as they apply."""
    status = m(csr.get("status"))
    types = {s(m(c).get("type")) for c in lst(status.get("conditions"))}
    text = "Denied" if "Denied" in types else "Approved" if "Approved" in types else "Pending"
    if "Failed" in types:
        text += ",Failed"
    if s(status.get("certificate")):
        text += ",Issued"
    return text


def print_csr(csr: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Age, SignerName, Requestor (the username), RequestedDuration, Condition."""
    spec = m(csr.get("spec"))
    seconds = opt_int(spec.get("expirationSeconds"))
    return [
        name(csr),
        age(csr, now),
        s(spec.get("signerName")) or "<none>",
        s(spec.get("username")),
        "<none>" if seconds is None else human_duration(timedelta(seconds=seconds)),
        csr_condition(csr),
    ]


def _binding_columns(kind: str, noun: str) -> tuple[Col, ...]:
    return (
        NAME,
        Col("Role", Doc(f"rbac.v1.{kind}", "roleRef")),
        AGE,
        Col("Users", f"Users in the {noun}", priority=1),
        Col("Groups", f"Groups in the {noun}", priority=1),
        Col("ServiceAccounts", f"ServiceAccounts in the {noun}", priority=1),
    )


_CSR = "certificates.v1.CertificateSigningRequest"
_RBAC = "rbac.authorization.k8s.io"

TABLES = (
    KindTable("", "Secret", (
        NAME,
        Col("Type", Doc("core.v1.Secret", "type")),
        Col("Data", Doc("core.v1.Secret", "data")),
        AGE,
    ), print_secret),
    KindTable("", "ServiceAccount", (
        NAME, Col("Secrets", Doc("core.v1.ServiceAccount", "secrets")), AGE,
    ), print_serviceaccount),
    KindTable(_RBAC, "RoleBinding", _binding_columns("RoleBinding", "roleBinding"), print_binding),
    KindTable(_RBAC, "ClusterRoleBinding",
              _binding_columns("ClusterRoleBinding", "clusterRoleBinding"), print_binding),
    KindTable("certificates.k8s.io", "CertificateSigningRequest", (
        NAME,
        AGE,
        Col("SignerName", Doc(_CSR + "Spec", "signerName")),
        Col("Requestor", Doc(_CSR + "Spec", "request")),
        Col("RequestedDuration", Doc(_CSR + "Spec", "expirationSeconds")),
        Col("Condition", Doc(_CSR + "Status", "conditions")),
    ), print_csr),
)
