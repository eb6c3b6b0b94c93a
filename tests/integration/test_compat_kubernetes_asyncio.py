"""kubernetes_asyncio against the secured apiserver (TLS + RBAC): CRUD, a watch and a
server-side apply as a ServiceAccount that holds ``edit`` in one namespace, and RBAC's
403 for what that role does not grant."""

from __future__ import annotations

import asyncio
import importlib
import json
import uuid

from tests.support.deps import missing_dependency
from tests.support.secure import SecureApiServer


def require_client() -> None:
    """The client is a pinned test dependency: skip locally, fail under CI if missing."""
    try:
        importlib.import_module("kubernetes_asyncio")
    except ImportError:
        missing_dependency("kubernetes_asyncio (pip install -e '.[test]')")


def test_crud_watch_apply(secure_apiserver: SecureApiServer) -> None:
    require_client()
    from kubernetes_asyncio import client, config, watch

    ns = secure_apiserver.create_namespace(f"kas-{uuid.uuid4().hex[:8]}")
    user = secure_apiserver.service_account(ns, "kas", cluster_roles=["edit"])

    async def main() -> None:
        api_client = await config.new_client_from_config(config_file=str(user.kubeconfig))
        async with api_client:
            core = client.CoreV1Api(api_client)
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
            try:
                await core.list_namespaced_secret("default")
            except client.ApiException as denied:
                assert denied.status == 403
                assert json.loads(denied.body)["message"] == (
                    f'secrets is forbidden: User "{user.user}" cannot list resource '
                    '"secrets" in API group "" in the namespace "default"')
            else:
                raise AssertionError("a ServiceAccount with edit in its namespace listed "
                                     "secrets of another")

    asyncio.run(main())
    secure_apiserver.admin("DELETE", f"/api/v1/namespaces/{ns}")
