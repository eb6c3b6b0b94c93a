"""lightkube against the real apiserver: CRUD, a watch and server-side apply."""

from __future__ import annotations

import importlib
import uuid

from tests.support.apiserver import ApiServerProcess
from tests.support.deps import missing_dependency


def require_client() -> None:
    """The client is a pinned test dependency: skip locally, fail under CI if missing."""
    try:
        importlib.import_module("lightkube")
    except ImportError:
        missing_dependency("lightkube (pip install -e '.[test]')")



def test_crud_watch_apply(apiserver: ApiServerProcess) -> None:
    require_client()
    from lightkube import Client, KubeConfig
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import ConfigMap, Namespace

    ns = f"lk-{uuid.uuid4().hex[:8]}"
    client = Client(config=KubeConfig.from_file(str(apiserver.kubeconfig)),
                    field_manager="lightkube")
    client.create(Namespace(metadata=ObjectMeta(name=ns)))
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
    client.delete(Namespace, ns)
