"""kubectl 1.33 (the version the server announces) prints the upstream server-side Tables
of the workload, batch, access, policy, networking, storage and scheduling kinds.

One namespace per test run on the session apiserver; the objects go in with
``kubectl apply -f`` (JSON bodies), then ``kubectl get`` and ``get -o wide`` must
show upstream's header lines (and a few upstream cells).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.support.kubectl import Kubectl

SUFFIX = uuid.uuid4().hex[:6]
#: Cluster-scoped objects; each test run deletes them when done.
STORAGE_CLASS = f"fast-{SUFFIX}"
PRIORITY_CLASS = f"high-{SUFFIX}"

_TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
}
_JOB_TEMPLATE = {
    "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl:5.34"}]},
}


def _objects() -> list[dict[str, Any]]:
    rbac = "rbac.authorization.k8s.io/v1"
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                  "template": _TEMPLATE}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
         "spec": {"template": _JOB_TEMPLATE}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
         # suspend set explicitly: the server does not default it (upstream: false).
         "spec": {"schedule": "0 3 * * *", "suspend": False,
                  "jobTemplate": {"spec": {"template": _JOB_TEMPLATE}}}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
         "type": "Opaque", "stringData": {"user": "admin"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}},
        {"apiVersion": rbac, "kind": "Role", "metadata": {"name": "reader"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
        {"apiVersion": rbac, "kind": "RoleBinding", "metadata": {"name": "read"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
         "subjects": [{"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"}]},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"},
         "spec": {"rules": [{"host": "web.example", "http": {"paths": [
             {"path": "/", "pathType": "Prefix",
              "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"name": STORAGE_CLASS,
                      "annotations": {"storageclass.kubernetes.io/is-default-class": "false"}},
         "provisioner": "example.com/fast"},
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
         "metadata": {"name": PRIORITY_CLASS}, "value": 1000},
    ]


def _header(output: str) -> list[str]:
    """The header line of a ``kubectl get`` table, split into column titles."""
    first = output.splitlines()[0]
    return re.split(r"\s{2,}", first.strip())


def _row(output: str, name: str) -> list[str]:
    for line in output.splitlines()[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] == name:
            return cells
    raise AssertionError(f"no row {name!r} in:\n{output}")


@pytest.fixture
def applied(kubectl_announced: Kubectl) -> Iterator[tuple[Kubectl, str]]:
    """The objects applied in a fresh namespace (and the two cluster-scoped ones)."""
    kubectl = kubectl_announced
    ns = f"tables-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", ns, check=True)
    manifest = "\n---\n".join(yaml.safe_dump(obj) for obj in _objects())
    try:
        kubectl("apply", "-n", ns, "-f", "-", input=manifest, check=True)
        yield kubectl, ns
    finally:
        kubectl("delete", "storageclass", STORAGE_CLASS, "--wait=false")
        kubectl("delete", "priorityclass", PRIORITY_CLASS, "--wait=false")
        kubectl("delete", "namespace", ns, "--wait=false")


WIDE3 = ["CONTAINERS", "IMAGES", "SELECTOR"]
HEADERS = [
    ("deployments", ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], WIDE3),
    ("jobs", ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"], WIDE3),
    ("cronjobs", ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"],
     WIDE3),
    ("secrets", ["NAME", "TYPE", "DATA", "AGE"], []),
    ("serviceaccounts", ["NAME", "SECRETS", "AGE"], []),
    ("roles", ["NAME", "CREATED AT"], []),
    ("rolebindings", ["NAME", "ROLE", "AGE"], ["USERS", "GROUPS", "SERVICEACCOUNTS"]),
    ("poddisruptionbudgets", ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS",
                              "AGE"], []),
    ("ingresses", ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"], []),
    ("storageclasses", ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE",
                        "ALLOWVOLUMEEXPANSION", "AGE"], []),
    ("priorityclasses", ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"], []),
]


def test_get_headers_as_upstream(applied: tuple[Kubectl, str]) -> None:
    kubectl, ns = applied
    for resource, header, wide in HEADERS:
        plain = kubectl("get", resource, "-n", ns, check=True).stdout
        assert _header(plain) == header, resource
        wide_out = kubectl("get", resource, "-n", ns, "-o", "wide", check=True).stdout
        assert _header(wide_out) == header + wide, resource


def test_get_cells_as_upstream(applied: tuple[Kubectl, str]) -> None:
    kubectl, ns = applied

    def get(*args: str) -> str:
        return kubectl("get", *args, "-n", ns, check=True).stdout

    deploy = _row(get("deployments", "-o", "wide"), "web")
    assert deploy[1:4] == ["0/2", "0", "0"]
    assert deploy[5:] == ["app", "nginx:1.27", "app=web"]
    assert _row(get("jobs"), "pi")[1:3] == ["Running", "0/1"]
    assert _row(get("cronjobs"), "nightly")[1:6] == ["0 3 * * *", "<none>", "False", "0",
                                                     "<none>"]
    assert _row(get("secrets"), "creds")[1:3] == ["Opaque", "1"]
    assert _row(get("rolebindings", "-o", "wide"), "read")[1] == "Role/reader"
    assert _row(get("pdb"), "web")[1:4] == ["1", "N/A", "0"]
    assert _row(get("ingresses"), "web")[1:3] == ["<none>", "web.example"]
    assert _row(get("storageclasses"), STORAGE_CLASS)[1:5] == [
        "example.com/fast", "Delete", "Immediate", "false"]
    assert _row(get("priorityclasses"), PRIORITY_CLASS)[1:3] == ["1000", "false"]
