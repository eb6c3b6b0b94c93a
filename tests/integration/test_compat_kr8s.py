"""kr8s against the secured apiserver (TLS + RBAC): CRUD and a watch (kr8s offers no
apply) as a ServiceAccount that holds ``edit`` in one namespace, and RBAC's 403 for
what that role does not grant."""

from __future__ import annotations

import importlib
import uuid

import pytest

from tests.support.deps import missing_dependency
from tests.support.secure import SecureApiServer


def require_client() -> None:
    """The client is a pinned test dependency: skip locally, fail under CI if missing."""
    try:
        importlib.import_module("kr8s")
    except ImportError:
        missing_dependency("kr8s (pip install -e '.[test]')")


def test_crud_watch(secure_apiserver: SecureApiServer) -> None:
    require_client()
    import kr8s
    from kr8s.objects import ConfigMap, Namespace

    ns = secure_apiserver.create_namespace(f"kr8s-{uuid.uuid4().hex[:8]}")
    user = secure_apiserver.service_account(ns, "kr8s", cluster_roles=["edit"])
    api = kr8s.api(kubeconfig=str(user.kubeconfig))
    cm = ConfigMap({"metadata": {"name": "c1", "namespace": ns}, "data": {"a": "1"}}, api=api)
    cm.create()
    cm.patch({"data": {"a": "2"}})
    got = ConfigMap.get("c1", namespace=ns, api=api)
    assert got.raw["data"] == {"a": "2"}
    names = [o.name for o in api.get("configmaps", namespace=ns)]
    assert names == ["c1"]
    for event, obj in api.watch("configmaps", namespace=ns):
        assert event == "ADDED" and obj.name == "c1"
        break
    got.delete()
    assert not ConfigMap("c1", namespace=ns, api=api).exists()
    with pytest.raises(kr8s.ServerError) as denied:
        Namespace({"metadata": {"name": f"{ns}-other"}}, api=api).create()
    assert denied.value.status["code"] == 403
    assert denied.value.status["message"] == (
        f'namespaces is forbidden: User "{user.user}" cannot create resource "namespaces" '
        'in API group "" at the cluster scope')
    secure_apiserver.admin("DELETE", f"/api/v1/namespaces/{ns}")
