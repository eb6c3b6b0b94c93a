"""kubernetes_asyncio against the real apiserver: CRUD, a watch and a server-side apply."""

from __future__ import annotations

import asyncio
import importlib
import uuid

from tests.support.apiserver import ApiServerProcess
from tests.support.deps import missing_dependency


def require_client() -> None:
    """The client is a pinned test dependency: skip locally, fail under CI if missing."""
    try:
        importlib.import_module("kubernetes_asyncio")
    except ImportError:
        missing_dependency("kubernetes_asyncio (pip install -e '.[test]')")



def test_crud_watch_apply(apiserver: ApiServerProcess) -> None:
    require_client()
    from kubernetes_asyncio import client, config, watch

    ns = f"kas-{uuid.uuid4().hex[:8]}"

    async def main() -> None:
        api_client = await config.new_client_from_config(config_file=str(apiserver.kubeconfig))
        async with api_client:
            core = client.CoreV1Api(api_client)
            await core.create_namespace({"metadata": {"name": ns}})
            created = await core.create_namespaced_config_map(
                ns, {"metadata": {"name": "c1"}, "data": {"a": "1"}})
            rv = created.metadata.resource_version
            await core.patch_namespaced_config_map("c1", ns, {"data": {"a": "2"}})
            got = await core.read_namespaced_config_map("c1", ns)
            assert got.data == {"a": "2"}
            events = []
            async with watch.Watch().stream(core.list_namespaced_config_map, ns,
                                            resource_version=rv, timeout_seconds=5) as stream:
                async for event in stream:
                    events.append((event["type"], event["object"].data))
                    break
            assert events == [("MODIFIED", {"a": "2"})]
            # Server-side apply: a patch with the apply content type creates "c2".
            applied = await core.patch_namespaced_config_map(
                "c2", ns,
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c2"},
                 "data": {"x": "y"}},
                field_manager="kas", _content_type="application/apply-patch+yaml")
            assert applied.data == {"x": "y"}
            assert applied.metadata.managed_fields[0].manager == "kas"
            await core.delete_namespaced_config_map("c1", ns)
            items = (await core.list_namespaced_config_map(ns)).items
            assert [i.metadata.name for i in items] == ["c2"]
            await core.delete_namespace(ns)

    asyncio.run(main())
