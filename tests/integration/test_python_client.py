"""The official ``kubernetes`` Python client (v37) against the real apiserver.

Every test builds its own ``Configuration`` from the secured session apiserver's
admin kubeconfig (TLS verified against the test CA, a client certificate, RBAC and the
default admission plugins; no global client state) and works in its own namespace. Covered:
CRUD on Pods, Services, Endpoints, ConfigMaps, Namespaces and Events; the three
patch types; status subresources; graceful pod deletion; deletecollection;
namespace lifecycle; dryRun, generateName, optimistic concurrency, pagination;
``watch.Watch().stream`` for each kind, the client's 410 retry-once behaviour and
the upstream e2e ``test_watch_configmaps`` scenario.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from tests.support.apiserver import ApiServerProcess
from tests.support.secure import SecureApiServer

CoreApi = client.CoreV1Api


def make_api(server: ApiServerProcess | SecureApiServer) -> CoreApi:
    """A CoreV1Api on a private Configuration loaded from ``server``'s kubeconfig."""
    configuration = client.Configuration()
    config.load_kube_config(
        config_file=str(server.kubeconfig), client_configuration=configuration
    )
    return client.CoreV1Api(client.ApiClient(configuration))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def api(secure_apiserver: SecureApiServer) -> Iterator[CoreApi]:
    core = make_api(secure_apiserver)
    try:
        yield core
    finally:
        core.api_client.close()


@pytest.fixture
def ns(api: CoreApi, secure_apiserver: SecureApiServer) -> Iterator[str]:
    """A fresh namespace for one test (with its default ServiceAccount), deleted afterwards."""
    name = unique("pyc")
    api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    secure_apiserver.wait_default_service_account(name)
    try:
        yield name
    finally:
        try:
            api.delete_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise


def pod_body(name: str, labels: dict[str, str] | None = None,
             node_name: str | None = None) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1PodSpec(
            node_name=node_name,
            containers=[client.V1Container(
                name="app", image="nginx:1.27",
                ports=[client.V1ContainerPort(container_port=80, name="http")],
            )],
        ),
    )


def service_body(name: str, port: int = 80, labels: dict[str, str] | None = None
                 ) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": f"p{port}", "port": port, "targetPort": 8080}],
        },
    }


def configmap_body(name: str, labels: dict[str, str] | None = None,
                   data: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}},
        "data": data or {"key": "value"},
    }


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def gone(read: Callable[[], Any]) -> bool:
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


# -- CRUD ---------------------------------------------------------------------


def test_pod_crud(api: CoreApi, ns: str) -> None:
    created = api.create_namespaced_pod(ns, pod_body("web", {"app": "web"}))
    assert isinstance(created, client.V1Pod)
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    assert created.status.phase == "Pending"
    assert created.spec.containers[0].ports[0].protocol == "TCP"
    assert created.spec.restart_policy == "Always"

    read = api.read_namespaced_pod("web", ns)
    assert read.metadata.uid == created.metadata.uid

    read.spec.containers[0].image = "nginx:1.28"
    replaced = api.replace_namespaced_pod("web", ns, read)
    assert replaced.spec.containers[0].image == "nginx:1.28"
    assert int(replaced.metadata.resource_version) > int(read.metadata.resource_version)
    assert replaced.metadata.generation == 2

    # A pod without spec.nodeName is deleted at once; the response is the Pod.
    deleted = api.delete_namespaced_pod("web", ns)
    assert isinstance(deleted, client.V1Pod)
    assert deleted.metadata.name == "web"
    assert gone(lambda: api.read_namespaced_pod("web", ns))


def test_pod_update_of_immutable_spec_is_rejected(api: CoreApi, ns: str) -> None:
    api.create_namespaced_pod(ns, pod_body("fixed"))
    with pytest.raises(ApiException) as info:
        api.patch_namespaced_pod("fixed", ns, {"spec": {"restartPolicy": "Never"}})
    assert info.value.status == 422
    assert "Forbidden: pod updates may not change fields" in info.value.body


def test_service_crud_and_e2e_port_merge(api: CoreApi, ns: str) -> None:
    """kubernetes/e2e_test/test_client.py::test_service_apis."""
    name = "frontend"
    body = {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": name, "labels": {"name": name}},
        "spec": {"ports": [{"name": "port", "protocol": "TCP", "port": 80,
                            "targetPort": 80}],
                 "selector": {"name": name}},
    }
    created = api.create_namespaced_service(namespace=ns, body=body)
    assert created.metadata.name == name
    assert created.status is not None
    assert created.spec.type == "ClusterIP"
    assert created.spec.session_affinity == "None"

    read = api.read_namespaced_service(name=name, namespace=ns)
    assert read.metadata.name == name
    assert read.status is not None

    body["spec"]["ports"] = [{"name": "new", "port": 8080, "protocol": "TCP",
                              "targetPort": 8080}]
    patched = api.patch_namespaced_service(name=name, namespace=ns, body=body)
    assert len(patched.spec.ports) == 2
    assert sorted(p.port for p in patched.spec.ports) == [80, 8080]

    deleted = api.delete_namespaced_service(name=name, namespace=ns, body={})
    assert deleted is not None
    assert gone(lambda: api.read_namespaced_service(name, ns))


def test_service_replace(api: CoreApi, ns: str) -> None:
    svc = api.create_namespaced_service(ns, service_body("keep"))
    svc.metadata.labels["tier"] = "web"
    svc.spec.ports[0].port = 81
    replaced = api.replace_namespaced_service("keep", ns, svc)
    assert replaced.metadata.labels == {"app": "keep", "tier": "web"}
    assert [p.port for p in replaced.spec.ports] == [81]
    assert replaced.metadata.uid == svc.metadata.uid
    assert int(replaced.metadata.resource_version) > int(svc.metadata.resource_version)
    listed = api.list_namespaced_service(ns, label_selector="tier=web")
    assert [s.metadata.name for s in listed.items] == ["keep"]
    assert api.list_namespaced_service(ns, label_selector="tier!=web").items == []


def test_endpoints_crud(api: CoreApi, ns: str) -> None:
    body = client.V1Endpoints(
        metadata=client.V1ObjectMeta(name="manual", labels={"app": "manual"}),
        subsets=[client.V1EndpointSubset(
            addresses=[client.V1EndpointAddress(ip="10.1.0.1")],
            ports=[client.CoreV1EndpointPort(port=8080, name="http")],
        )],
    )
    created = api.create_namespaced_endpoints(ns, body)
    assert created.subsets[0].addresses[0].ip == "10.1.0.1"
    created.subsets[0].addresses.append(client.V1EndpointAddress(ip="10.1.0.2"))
    replaced = api.replace_namespaced_endpoints("manual", ns, created)
    assert [a.ip for a in replaced.subsets[0].addresses] == ["10.1.0.1", "10.1.0.2"]

    listed = api.list_namespaced_endpoints(ns, label_selector="app=manual")
    assert [e.metadata.name for e in listed.items] == ["manual"]
    everywhere = api.list_endpoints_for_all_namespaces(label_selector="app=manual")
    assert (ns, "manual") in {(e.metadata.namespace, e.metadata.name)
                              for e in everywhere.items}

    # The v37 client returns the Status as a plain dict.
    status = api.delete_namespaced_endpoints("manual", ns)
    assert isinstance(status, dict)
    assert status["kind"] == "Status"
    assert status["status"] == "Success"
    assert status["details"]["name"] == "manual"
    assert status["details"]["kind"] == "endpoints"
    assert gone(lambda: api.read_namespaced_endpoints("manual", ns))


def test_configmap_e2e_patches_and_selector_list(api: CoreApi, ns: str) -> None:
    """kubernetes/e2e_test/test_client.py::test_configmap_apis."""
    name = "test-configmap-" + uuid.uuid4().hex[:6]
    body = {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": name, "labels": {"e2e-test": "true"}},
        "data": {"config.json": '{"command":"/usr/bin/mysqld_safe"}',
                 "frontend.cnf": "[mysqld]\nbind-address = 10.0.0.3\n"},
    }
    created = api.create_namespaced_config_map(body=body, namespace=ns)
    assert created.metadata.name == name

    read = api.read_namespaced_config_map(name=name, namespace=ns)
    assert read.data["config.json"] == body["data"]["config.json"]

    # A list body is a JSON patch.
    patched = api.patch_namespaced_config_map(
        name=name, namespace=ns,
        body=[{"op": "replace", "path": "/data", "value": {"new_value": "x"}}],
    )
    assert patched.data == {"new_value": "x"}

    # A dict body is a strategic-merge patch.
    patched = api.patch_namespaced_config_map(
        name=name, namespace=ns, body={"data": {"new_value": "y", "other": "z"}}
    )
    assert patched.data == {"new_value": "y", "other": "z"}

    listed = api.list_namespaced_config_map(ns, label_selector="e2e-test=true")
    assert [c.metadata.name for c in listed.items] == [name]
    assert api.list_namespaced_config_map(ns, label_selector="e2e-test=false").items == []

    api.delete_namespaced_config_map(name=name, namespace=ns, body={})
    assert api.list_namespaced_config_map(ns, label_selector="e2e-test=true").items == []


def test_list_all_namespaces_with_selectors(api: CoreApi) -> None:
    tag = uuid.uuid4().hex[:8]
    names = [unique("pyca"), unique("pycb")]
    try:
        for namespace in names:
            api.create_namespace({"metadata": {"name": namespace}})
            api.create_namespaced_config_map(
                namespace, configmap_body("cm", {"tag": tag, "ns": namespace}))
            api.create_namespaced_pod(namespace, pod_body("p", {"tag": tag}))
            api.create_namespaced_service(namespace, service_body("s", labels={"tag": tag}))
        cms = api.list_config_map_for_all_namespaces(label_selector=f"tag={tag}")
        assert sorted(c.metadata.namespace for c in cms.items) == sorted(names)
        one = api.list_config_map_for_all_namespaces(
            label_selector=f"tag={tag},ns={names[0]}")
        assert [c.metadata.namespace for c in one.items] == [names[0]]
        notin = api.list_config_map_for_all_namespaces(
            label_selector=f"tag={tag},ns notin ({names[0]})")
        assert [c.metadata.namespace for c in notin.items] == [names[1]]
        pods = api.list_pod_for_all_namespaces(label_selector=f"tag={tag}")
        assert sorted(p.metadata.namespace for p in pods.items) == sorted(names)
        svcs = api.list_service_for_all_namespaces(label_selector=f"tag={tag}")
        assert len(svcs.items) == 2
        by_field = api.list_pod_for_all_namespaces(
            label_selector=f"tag={tag}", field_selector=f"metadata.namespace={names[1]}")
        assert [p.metadata.namespace for p in by_field.items] == [names[1]]
        assert int(cms.metadata.resource_version) > 0
    finally:
        for namespace in names:
            api.delete_namespace(namespace)


def test_events_crud_and_field_selector(api: CoreApi, ns: str) -> None:
    svc = api.create_namespaced_service(ns, service_body("evsvc"))
    event = client.CoreV1Event(
        metadata=client.V1ObjectMeta(name="evsvc.1"),
        involved_object=client.V1ObjectReference(
            kind="Service", namespace=ns, name="evsvc", uid=svc.metadata.uid,
            api_version="v1"),
        reason="Testing", message="hello", type="Normal",
        source=client.V1EventSource(component="pytest"),
    )
    created = api.create_namespaced_event(ns, event)
    assert created.reason == "Testing"
    found = api.list_namespaced_event(
        ns, field_selector=f"involvedObject.name=evsvc,involvedObject.kind=Service,"
                           f"involvedObject.uid={svc.metadata.uid}")
    assert [e.metadata.name for e in found.items] == ["evsvc.1"]
    assert api.list_namespaced_event(ns, field_selector="reason=Other").items == []
    with pytest.raises(ApiException) as info:
        api.list_namespaced_event(ns, field_selector="message=hello")
    assert info.value.status == 400
    assert "field label not supported" in info.value.body


# -- patches ------------------------------------------------------------------


def test_three_patch_types_on_configmap(api: CoreApi, ns: str) -> None:
    api.create_namespaced_config_map(ns, configmap_body("cm", {"a": "1"},
                                                        {"x": "1", "y": "2"}))
    merged = api.patch_namespaced_config_map(
        "cm", ns, {"metadata": {"labels": {"a": None, "b": "2"}}, "data": {"x": None}},
        _content_type="application/merge-patch+json",
    )
    assert merged.metadata.labels == {"b": "2"}
    assert merged.data == {"y": "2"}

    json_patched = api.patch_namespaced_config_map(
        "cm", ns, [{"op": "add", "path": "/data/z", "value": "3"},
                   {"op": "test", "path": "/data/y", "value": "2"}],
    )
    assert json_patched.data == {"y": "2", "z": "3"}

    with pytest.raises(ApiException) as info:
        api.patch_namespaced_config_map(
            "cm", ns, [{"op": "test", "path": "/data/y", "value": "nope"}])
    assert info.value.status == 422

    strategic = api.patch_namespaced_config_map("cm", ns, {"data": {"y": "20"}})
    assert strategic.data == {"y": "20", "z": "3"}


def test_patch_types_on_service_ports(api: CoreApi, ns: str) -> None:
    api.create_namespaced_service(ns, {
        "metadata": {"name": "ports"},
        "spec": {"selector": {"app": "x"},
                 "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]},
    })
    # Strategic merge: merge by port, $patch delete removes one.
    smp = api.patch_namespaced_service("ports", ns, {
        "spec": {"ports": [{"port": 81, "$patch": "delete"},
                           {"name": "c", "port": 82}]}})
    assert [(p.name, p.port) for p in smp.spec.ports] == [("a", 80), ("c", 82)]
    # Merge patch: lists are replaced wholesale.
    merge = api.patch_namespaced_service(
        "ports", ns, {"spec": {"ports": [{"name": "only", "port": 90}]}},
        _content_type="application/merge-patch+json")
    assert [(p.name, p.port, p.target_port) for p in merge.spec.ports] == [("only", 90, 90)]
    # JSON patch on an index.
    jp = api.patch_namespaced_service(
        "ports", ns, [{"op": "replace", "path": "/spec/ports/0/port", "value": 91}])
    assert jp.spec.ports[0].port == 91


# -- status subresources ------------------------------------------------------


def test_pod_status_subresource(api: CoreApi, ns: str) -> None:
    api.create_namespaced_pod(ns, pod_body("st"))
    pod = api.read_namespaced_pod_status("st", ns)
    pod.status.phase = "Running"
    pod.status.pod_ip = "10.244.0.7"
    updated = api.replace_namespaced_pod_status("st", ns, pod)
    assert updated.status.phase == "Running"
    assert updated.status.pod_ip == "10.244.0.7"

    # A normal update cannot change status...
    current = api.read_namespaced_pod("st", ns)
    current.status.phase = "Failed"
    current.metadata.labels = {"changed": "yes"}
    replaced = api.replace_namespaced_pod("st", ns, current)
    assert replaced.metadata.labels == {"changed": "yes"}
    assert replaced.status.phase == "Running"
    patched = api.patch_namespaced_pod("st", ns, {"status": {"phase": "Succeeded"}})
    assert patched.status.phase == "Running"

    # ...and a status update cannot change spec.
    status_patched = api.patch_namespaced_pod_status(
        "st", ns, {"spec": {"activeDeadlineSeconds": 5},
                   "status": {"podIP": "10.244.0.8"}})
    assert status_patched.status.pod_ip == "10.244.0.8"
    assert status_patched.spec.active_deadline_seconds is None


def test_service_status_subresource(api: CoreApi, ns: str) -> None:
    api.create_namespaced_service(ns, {
        "metadata": {"name": "lb"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "lb"},
                 "ports": [{"port": 80}]},
    })
    # status on the main resource is ignored
    ignored = api.patch_namespaced_service(
        "lb", ns, {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}})
    assert not ignored.status.load_balancer.ingress

    written = api.patch_namespaced_service_status(
        "lb", ns, {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}},
                   "spec": {"sessionAffinity": "ClientIP"}})
    assert written.status.load_balancer.ingress[0].ip == "192.0.2.10"
    assert written.spec.session_affinity == "None"
    read = api.read_namespaced_service_status("lb", ns)
    assert read.status.load_balancer.ingress[0].ip == "192.0.2.10"


# -- deletion -----------------------------------------------------------------


def test_graceful_pod_delete(api: CoreApi, ns: str) -> None:
    api.create_namespaced_pod(ns, pod_body("bound", node_name="node-1"))
    first = api.delete_namespaced_pod("bound", ns)
    assert isinstance(first, client.V1Pod)
    assert first.metadata.deletion_timestamp is not None
    assert first.metadata.deletion_grace_period_seconds == 30
    still = api.read_namespaced_pod("bound", ns)
    assert still.metadata.deletion_timestamp is not None

    final = api.delete_namespaced_pod("bound", ns, grace_period_seconds=0)
    assert final.metadata.name == "bound"
    assert gone(lambda: api.read_namespaced_pod("bound", ns))


def test_delete_with_preconditions(api: CoreApi, ns: str) -> None:
    cm = api.create_namespaced_config_map(ns, configmap_body("pre"))
    with pytest.raises(ApiException) as info:
        api.delete_namespaced_config_map(
            "pre", ns, body=client.V1DeleteOptions(
                preconditions=client.V1Preconditions(uid="00000000-not-it")))
    assert info.value.status == 409
    api.delete_namespaced_config_map(
        "pre", ns, body=client.V1DeleteOptions(
            preconditions=client.V1Preconditions(uid=cm.metadata.uid)))
    assert gone(lambda: api.read_namespaced_config_map("pre", ns))


def test_delete_collection_with_label_selector(api: CoreApi, ns: str) -> None:
    for i in range(3):
        api.create_namespaced_config_map(ns, configmap_body(f"drop-{i}", {"drop": "yes"}))
    api.create_namespaced_config_map(ns, configmap_body("keep", {"drop": "no"}))
    # Upstream answers with the list of deleted objects (the client's V1Status
    # model just carries its kind).
    result = api.delete_collection_namespaced_config_map(ns, label_selector="drop=yes")
    assert result.kind == "ConfigMapList"
    left = api.list_namespaced_config_map(ns)
    assert [c.metadata.name for c in left.items] == ["keep"]


def test_missing_objects_are_404(api: CoreApi, ns: str) -> None:
    with pytest.raises(ApiException) as info:
        api.read_namespaced_service("nope", ns)
    assert info.value.status == 404
    assert info.value.reason == "Not Found"
    assert '"message":"services \\"nope\\" not found"' in info.value.body
    assert '"reason":"NotFound"' in info.value.body


# -- namespaces ---------------------------------------------------------------


def test_namespace_lifecycle(api: CoreApi) -> None:
    name = unique("pyc-life")
    created = api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    assert created.status.phase == "Active"
    assert created.spec.finalizers == ["kubernetes"]
    assert created.metadata.labels["kubernetes.io/metadata.name"] == name
    api.create_namespaced_config_map(name, configmap_body("inside"))
    api.create_namespaced_service(name, service_body("inside"))
    api.create_namespaced_pod(name, pod_body("inside"))

    # The client types the answer as V1Status; the server sends the Namespace.
    deleting = api.delete_namespace(name)
    assert isinstance(deleting, dict)
    assert deleting["kind"] == "Namespace"
    assert deleting["status"]["phase"] == "Terminating"
    assert deleting["metadata"]["deletionTimestamp"]
    # The namespace controller starts 5 s after the deletion (upstream's grace period); it
    # then deletes every kind's collection in turn: room for a loaded machine.
    wait_until(lambda: gone(lambda: api.read_namespace(name)), timeout=60)
    assert api.list_namespaced_config_map(name).items == []
    assert api.list_namespaced_pod(name).items == []
    assert api.list_namespaced_service(name).items == []


def test_namespace_terminating_rejects_creates(api: CoreApi) -> None:
    name = unique("pyc-term")
    api.create_namespace({"metadata": {"name": name}})
    # An object with a finalizer keeps the namespace Terminating until it is gone.
    held = configmap_body("held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    api.create_namespaced_config_map(name, held)
    api.delete_namespace(name)
    try:
        assert api.read_namespace(name).status.phase == "Terminating"
        # The namespace controller (5 s after the deletion) deletes what is inside.
        wait_until(lambda: api.read_namespaced_config_map("held", name).metadata
                   .deletion_timestamp is not None, timeout=60)
        assert api.read_namespace(name).status.phase == "Terminating"
        with pytest.raises(ApiException) as info:
            api.create_namespaced_config_map(name, configmap_body("late"))
        assert info.value.status == 403
        assert "because it is being terminated" in info.value.body
    finally:
        api.patch_namespaced_config_map("held", name, {"metadata": {"finalizers": None}},
                                        _content_type="application/merge-patch+json")
    # The namespace controller looks again 8 s after it found the finalizer (upstream's
    # 15 s estimate, halved).
    wait_until(lambda: gone(lambda: api.read_namespace(name)), timeout=60)


def test_create_in_missing_namespace_is_404(api: CoreApi) -> None:
    with pytest.raises(ApiException) as info:
        api.create_namespaced_config_map(unique("missing"), configmap_body("orphan"))
    assert info.value.status == 404
    assert "namespaces" in info.value.body and "not found" in info.value.body


# -- metadata semantics -------------------------------------------------------


def test_dry_run_creates_nothing(api: CoreApi, ns: str) -> None:
    result = api.create_namespaced_service(ns, service_body("dry"), dry_run="All")
    assert result.metadata.name == "dry"
    assert result.spec.type == "ClusterIP"
    assert gone(lambda: api.read_namespaced_service("dry", ns))

    api.create_namespaced_config_map(ns, configmap_body("real", data={"a": "1"}))
    dry = api.patch_namespaced_config_map("real", ns, {"data": {"a": "2"}}, dry_run="All")
    assert dry.data == {"a": "2"}
    assert api.read_namespaced_config_map("real", ns).data == {"a": "1"}
    api.delete_namespaced_config_map("real", ns, dry_run="All")
    assert api.read_namespaced_config_map("real", ns).data == {"a": "1"}


def test_generate_name(api: CoreApi, ns: str) -> None:
    body = {"metadata": {"generateName": "gen-"}, "data": {}}
    first = api.create_namespaced_config_map(ns, body)
    second = api.create_namespaced_config_map(ns, body)
    for obj in (first, second):
        assert obj.metadata.name.startswith("gen-")
        assert len(obj.metadata.name) == len("gen-") + 5
        assert obj.metadata.generate_name == "gen-"
    assert first.metadata.name != second.metadata.name


def test_already_exists_is_409(api: CoreApi, ns: str) -> None:
    api.create_namespaced_config_map(ns, configmap_body("dup"))
    with pytest.raises(ApiException) as info:
        api.create_namespaced_config_map(ns, configmap_body("dup"))
    assert info.value.status == 409
    assert "AlreadyExists" in info.value.body


def test_optimistic_concurrency_conflict(api: CoreApi, ns: str) -> None:
    svc = api.create_namespaced_service(ns, service_body("occ"))
    stale_rv = svc.metadata.resource_version
    api.patch_namespaced_service("occ", ns, {"metadata": {"labels": {"x": "1"}}})
    svc.metadata.labels = {"x": "2"}
    svc.metadata.resource_version = stale_rv
    with pytest.raises(ApiException) as info:
        api.replace_namespaced_service("occ", ns, svc)
    assert info.value.status == 409
    assert ('Operation cannot be fulfilled on services \\"occ\\": the object has been '
            'modified; please apply your changes to the latest version and try again'
            in info.value.body.replace('"occ"', '\\"occ\\"'))
    # Without a resourceVersion the replace is unconditional.
    fresh = api.read_namespaced_service("occ", ns)
    fresh.metadata.resource_version = None
    fresh.metadata.labels = {"x": "3"}
    assert api.replace_namespaced_service("occ", ns, fresh).metadata.labels == {"x": "3"}


def test_pagination(api: CoreApi, ns: str) -> None:
    for i in range(7):
        api.create_namespaced_config_map(ns, configmap_body(f"page-{i}"))
    seen: list[str] = []
    token: str | None = None
    pages = 0
    remaining: list[int | None] = []
    while True:
        kwargs: dict[str, Any] = {"limit": 3}
        if token:
            kwargs["_continue"] = token
        page = api.list_namespaced_config_map(ns, **kwargs)
        pages += 1
        seen.extend(c.metadata.name for c in page.items)
        remaining.append(page.metadata.remaining_item_count)
        token = page.metadata._continue
        if not token:
            break
    assert pages == 3
    assert seen == sorted(f"page-{i}" for i in range(7))
    assert remaining == [4, 1, None]

    # With a label selector the remaining count is omitted.
    page = api.list_namespaced_config_map(ns, limit=2, label_selector="!nothing")
    assert page.metadata._continue
    assert page.metadata.remaining_item_count is None


# -- watch --------------------------------------------------------------------


def _collect(stream: Iterator[dict[str, Any]], want: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for event in stream:
        events.append(event)
        if len(events) >= want:
            break
    return events


@pytest.mark.parametrize("kind", ["pod", "service", "endpoints", "config_map"])
def test_watch_stream_typed_objects(api: CoreApi, ns: str, kind: str) -> None:
    model: dict[str, type] = {
        "pod": client.V1Pod, "service": client.V1Service,
        "endpoints": client.V1Endpoints, "config_map": client.V1ConfigMap,
    }
    bodies: dict[str, Any] = {
        "pod": pod_body("w", {"watch": "me"}),
        "service": service_body("w", labels={"watch": "me"}),
        "endpoints": {"metadata": {"name": "w", "labels": {"watch": "me"}},
                      "subsets": [{"addresses": [{"ip": "10.9.0.1"}],
                                   "ports": [{"port": 80}]}]},
        "config_map": configmap_body("w", {"watch": "me"}),
    }
    start_rv = getattr(api, f"list_namespaced_{kind}")(ns).metadata.resource_version
    getattr(api, f"create_namespaced_{kind}")(ns, bodies[kind])
    getattr(api, f"patch_namespaced_{kind}")("w", ns, {"metadata": {"labels": {"m": "1"}}})
    getattr(api, f"delete_namespaced_{kind}")("w", ns)

    w = watch.Watch()
    stream = w.stream(getattr(api, f"list_namespaced_{kind}"), ns,
                      resource_version=start_rv, timeout_seconds=5,
                      label_selector="watch=me")
    events = _collect(stream, 3)
    w.stop()
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    for event in events:
        assert isinstance(event["object"], model[kind])
        assert event["object"].metadata.name == "w"
        assert event["raw_object"]["metadata"]["name"] == "w"
    assert events[1]["object"].metadata.labels == {"watch": "me", "m": "1"}
    assert w.resource_version == events[-1]["object"].metadata.resource_version


def test_watch_all_namespaces_initial_events(api: CoreApi, ns: str) -> None:
    tag = uuid.uuid4().hex[:8]
    api.create_namespaced_service(ns, service_body("init", labels={"tag": tag}))
    w = watch.Watch()
    events = _collect(w.stream(api.list_service_for_all_namespaces,
                               label_selector=f"tag={tag}", timeout_seconds=3), 1)
    w.stop()
    assert events[0]["type"] == "ADDED"
    assert events[0]["object"].metadata.namespace == ns


def test_watch_timeout_closes_stream(api: CoreApi, ns: str) -> None:
    rv = api.list_namespaced_pod(ns).metadata.resource_version
    started = time.monotonic()
    events = list(watch.Watch().stream(api.list_namespaced_pod, ns,
                                       resource_version=rv, timeout_seconds=1))
    elapsed = time.monotonic() - started
    assert events == []
    assert 0.9 <= elapsed < 4


def test_watch_bookmarks_update_resource_version(api: CoreApi, ns: str) -> None:
    # timeout 3 s: upstream sends a bookmark ~2 s before the deadline.
    rv = api.list_namespaced_config_map(ns).metadata.resource_version
    api.create_namespaced_config_map(ns, configmap_body("bm"))
    w = watch.Watch()
    events: list[dict[str, Any]] = []
    for event in w.stream(api.list_namespaced_config_map, ns, resource_version=rv,
                          allow_watch_bookmarks=True, timeout_seconds=3):
        events.append(event)
        if event["type"] == "BOOKMARK":
            w.stop()
    types = [e["type"] for e in events]
    assert types[0] == "ADDED"
    assert "BOOKMARK" in types
    bookmark = events[types.index("BOOKMARK")]
    assert isinstance(bookmark["object"], dict)
    assert w.resource_version == bookmark["object"]["metadata"]["resourceVersion"]
    assert int(w.resource_version) >= int(events[0]["object"].metadata.resource_version)


def test_watch_configmaps_e2e(api: CoreApi, ns: str) -> None:
    """kubernetes/e2e_test/test_watch.py::test_watch_configmaps."""
    def cm(name: str, value: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"e2e-tests": "true"}},
                "data": {"config": value}}

    name_a = "configmap-a-" + uuid.uuid4().hex[:6]
    api.create_namespaced_config_map(body=cm(name_a, "a"), namespace=ns)
    rv = api.list_namespaced_config_map(ns, label_selector="e2e-tests=true") \
        .metadata.resource_version

    name_b = "configmap-b-" + uuid.uuid4().hex[:6]
    body_b = cm(name_b, "b")
    api.create_namespaced_config_map(body=body_b, namespace=ns)
    body_b["data"]["config"] = "{}"
    api.patch_namespaced_config_map(name=name_b, namespace=ns, body=body_b)
    api.delete_collection_namespaced_config_map(namespace=ns,
                                                label_selector="e2e-tests=true")

    expect = ["ADDED", "MODIFIED", "DELETED", "DELETED"]
    seen: list[str] = []
    started = time.monotonic()
    for event in watch.Watch().stream(api.list_namespaced_config_map, namespace=ns,
                                      resource_version=rv, timeout_seconds=5,
                                      label_selector="e2e-tests=true"):
        assert event["type"] == expect[len(seen)]
        if len(seen) < 2:
            assert event["object"].metadata.name == name_b
        seen.append(event["type"])
    elapsed = time.monotonic() - started
    assert seen == expect
    assert 4.5 <= elapsed < 8, "the stream must close at timeoutSeconds"


def test_watch_410_retries_once_then_raises(
    apiserver_factory: Callable[..., ApiServerProcess],
) -> None:
    # -v 2 turns on uvicorn's access log, so the watch requests can be counted.
    server = apiserver_factory(extra_args=["--watch-cache-size", "3", "-v", "2"])
    api = make_api(server)
    try:
        namespace = "default"
        old_rv = api.list_namespaced_config_map(namespace).metadata.resource_version
        for i in range(10):
            api.create_namespaced_config_map(namespace, configmap_body(f"c{i}"))

        # With a timeout, no retry: the ERROR event raises at once.
        with pytest.raises(ApiException) as info:
            list(watch.Watch().stream(api.list_namespaced_config_map, namespace,
                                      resource_version=old_rv, timeout_seconds=5))
        assert info.value.status == 410
        assert info.value.reason.startswith("Expired: too old resource version: ")

        # Without a timeout: the client re-watches once from the same (old)
        # resource version, gets a second 410 and raises.
        w = watch.Watch()
        started = time.monotonic()
        with pytest.raises(ApiException) as info:
            for _ in w.stream(api.list_namespaced_config_map, namespace,
                              resource_version=old_rv):
                pass
        assert info.value.status == 410
        assert info.value.reason.startswith("Expired: too old resource version: ")
        assert time.monotonic() - started < 5
        watches = [line for line in server.logs().splitlines()
                   if "/configmaps?" in line and "watch=true" in line
                   and f"resourceVersion={old_rv}" in line]
        # one with timeoutSeconds, then the first try and its single retry
        assert len(watches) == 3, watches
        assert "Exception in ASGI application" not in server.logs()
    finally:
        api.api_client.close()


def test_watch_on_missing_rv_too_large_is_error(api: CoreApi, ns: str) -> None:
    """A watch from a resourceVersion far in the future is refused (504 Timeout
    or an ERROR event), not silently accepted."""
    rv = int(api.list_namespaced_config_map(ns).metadata.resource_version)
    with pytest.raises(ApiException) as info:
        list(watch.Watch().stream(api.list_namespaced_config_map, ns,
                                  resource_version=str(rv + 1_000_000),
                                  timeout_seconds=10))
    assert info.value.status == 504
    assert '"reason":"Timeout"' in info.value.body
    assert "Too large resource version" in info.value.body
    assert "ResourceVersionTooLarge" in info.value.body
