"""kr8s against the real apiserver: CRUD and a watch (kr8s offers no apply)."""

from __future__ import annotations

import importlib
import uuid

from tests.support.apiserver import ApiServerProcess
from tests.support.deps import missing_dependency


def require_client() -> None:
    """The client is a pinned test dependency: skip locally, fail under CI if missing."""
    try:
        importlib.import_module("kr8s")
    except ImportError:
        missing_dependency("kr8s (pip install -e '.[test]')")



def test_crud_watch(apiserver: ApiServerProcess) -> None:
    require_client()
    import kr8s
    from kr8s.objects import ConfigMap, Namespace

    ns = f"kr8s-{uuid.uuid4().hex[:8]}"
    api = kr8s.api(kubeconfig=str(apiserver.kubeconfig))
    Namespace({"metadata": {"name": ns}}, api=api).create()
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
    Namespace(ns, api=api).delete()
