"""lightkube against the secured apiserver (TLS + RBAC): CRUD, a watch and server-side
apply as a ServiceAccount that holds ``edit`` in one namespace, and RBAC's 403 for what
that role does not grant."""

from __future__ import annotations

import importlib
import uuid

import pytest

from tests.support.deps import missing_dependency
from tests.support.secure import SecureApiServer


def require_client() -> None:
    """The client is a pinned test dependency: skip locally, fail under CI if missing."""
    try:
        importlib.import_module("lightkube")
    except ImportError:
        missing_dependency("lightkube (pip install -e '.[test]')")


def test_crud_watch_apply(secure_apiserver: SecureApiServer) -> None:
    require_client()
    from lightkube import ApiError, Client, KubeConfig
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import ConfigMap, Namespace

    ns = secure_apiserver.create_namespace(f"lk-{uuid.uuid4().hex[:8]}")
    user = secure_apiserver.service_account(ns, "lightkube", cluster_roles=["edit"])
    client = Client(config=KubeConfig.from_file(str(user.kubeconfig)),
                    field_manager="lightkube")
    created = client.create(ConfigMap(metadata=ObjectMeta(name="c1"), data={"a": "1"}),
                            namespace=ns)
    rv = created.metadata.resourceVersion
    client.patch(ConfigMap, "c1", {"data": {"a": "2"}}, namespace=ns)
    assert client.get(ConfigMap, "c1", namespace=ns).data == {"a": "2"}
    for op, obj in client.watch(ConfigMap, namespace=ns, resource_version=rv):
        assert (op, obj.data) == ("MODIFIED", {"a": "2"})
        break
    applied = client.apply(ConfigMap(metadata=ObjectMeta(name="c2", namespace=ns),
                                     data={"x": "y"}))
    assert applied.data == {"x": "y"}
    assert [m.manager for m in applied.metadata.managedFields] == ["lightkube"]
    client.delete(ConfigMap, "c1", namespace=ns)
    assert [c.metadata.name for c in client.list(ConfigMap, namespace=ns)] == ["c2"]
    with pytest.raises(ApiError) as denied:
        client.delete(Namespace, ns)
    assert denied.value.status.code == 403
    assert denied.value.status.message == (
        f'namespaces "{ns}" is forbidden: User "{user.user}" cannot delete resource '
        f'"namespaces" in API group "" in the namespace "{ns}"')
    secure_apiserver.admin("DELETE", f"/api/v1/namespaces/{ns}")
