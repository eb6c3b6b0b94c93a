"""``kubernetes.utils.create_from_yaml`` of the official Python client against kubemu.

The scenarios of the client's own e2e suite (``kubernetes/e2e_test/test_utils.py``):
single- and multi-document files, a ``List`` kind, in-memory objects, Deployments,
DaemonSets, Jobs, ReplicationControllers, Roles and APIServices, and the
``FailToCreateError`` raised by creating the same objects again, whose 409 bodies must be
byte-for-byte what kube-apiserver writes (JSON Status plus a trailing newline).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config, utils
from kubernetes.client.exceptions import ApiException

from tests.support.secure import SecureApiServer


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def api_client(secure_apiserver: SecureApiServer) -> Iterator[client.ApiClient]:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(secure_apiserver.kubeconfig),
                            client_configuration=configuration)
    api = client.ApiClient(configuration)
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def ns(api_client: client.ApiClient, secure_apiserver: SecureApiServer) -> Iterator[str]:
    core = client.CoreV1Api(api_client)
    name = unique("pyyaml")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    secure_apiserver.wait_default_service_account(name)
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise


def already_exists_body(resource: str, group: str, name: str) -> str:
    """The exact 409 body kube-apiserver writes for a create of an existing object."""
    qualified = f"{resource}.{group}" if group else resource
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = resource
    status = {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f'{qualified} "{name}" already exists', "reason": "AlreadyExists",
        "details": details, "code": 409,
    }
    return json.dumps(status, separators=(",", ":")) + "\n"


def labels(app: str) -> dict[str, Any]:
    return {"matchLabels": {"app": app}}


def pod_template(app: str, restart: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": app, "image": "nginx:1.15.4",
                                            "ports": [{"containerPort": 80}]}]}
    if restart:
        spec["restartPolicy"] = restart
    return {"metadata": {"labels": {"app": app}}, "spec": spec}


def deployment(name: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": 3, "selector": labels(name), "template": pod_template(name)}}


def daemonset(name: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": labels(name), "template": pod_template(name)}}


def job(name: str) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {
                "containers": [{"name": "pi", "image": "perl:5.34.0",
                                "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(20)"]}],
                "restartPolicy": "Never"}}, "backoffLimit": 4}}


def rc(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name},
            "spec": {"replicas": 2, "selector": {"app": name}, "template": pod_template(name)}}


def service(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 9376}]}}


def role(name: str) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}


def apiservice(uid: str) -> dict[str, Any]:
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": f"v1alpha1.g{uid}.example.com"},
            "spec": {"group": f"g{uid}.example.com", "version": "v1alpha1",
                     "service": {"namespace": "default", "name": "example-api"},
                     "groupPriorityMinimum": 1000, "versionPriority": 15,
                     "insecureSkipTLSVerify": True}}


def write_yaml(path: Path, *docs: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def test_single_document_files(api_client: client.ApiClient, ns: str, tmp_path: Path) -> None:
    apps, batch = client.AppsV1Api(api_client), client.BatchV1Api(api_client)
    core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    cases = {"deploy": deployment, "ds": daemonset, "job": job, "rc": rc, "role": role}
    names = {key: unique(key) for key in cases}
    for key, build in cases.items():
        created = utils.create_from_yaml(
            api_client, write_yaml(tmp_path / f"{key}.yaml", build(names[key])), namespace=ns)
        assert created[0][0].metadata.name == names[key]
    assert apps.read_namespaced_deployment(names["deploy"], ns).spec.replicas == 3
    assert apps.read_namespaced_daemon_set(names["ds"], ns).metadata.name == names["ds"]
    assert batch.read_namespaced_job(names["job"], ns).spec.backoff_limit == 4
    assert core.read_namespaced_replication_controller(names["rc"], ns).spec.replicas == 2
    assert rbac.read_namespaced_role(names["role"], ns).rules[0].verbs == ["get", "list"]


def test_apiservice_and_its_conflict(api_client: client.ApiClient, tmp_path: Path) -> None:
    registration = client.ApiregistrationV1Api(api_client)
    obj = apiservice(uuid.uuid4().hex[:8])
    name = obj["metadata"]["name"]
    path = write_yaml(tmp_path / "apiservice.yaml", obj)
    try:
        utils.create_from_yaml(api_client, path)
        assert registration.read_api_service(name).spec.group == obj["spec"]["group"]
        with pytest.raises(utils.FailToCreateError) as failure:
            utils.create_from_yaml(api_client, path)
        [error] = failure.value.api_exceptions
        assert error.status == 409
        assert error.body == already_exists_body("apiservices", "apiregistration.k8s.io", name)
    finally:
        registration.delete_api_service(name)


def test_multi_document_file_and_conflicts(api_client: client.ApiClient, ns: str,
                                           tmp_path: Path) -> None:
    core = client.CoreV1Api(api_client)
    name = unique("multi")
    path = write_yaml(tmp_path / "multi.yaml", rc(name), service(name), deployment(name))
    created = utils.create_from_yaml(api_client, path, namespace=ns)
    assert [group[0].kind for group in created] == [
        "ReplicationController", "Service", "Deployment"]
    assert core.read_namespaced_service(name, ns).spec.ports[0].port == 80

    with pytest.raises(utils.FailToCreateError) as failure:
        utils.create_from_yaml(api_client, path, namespace=ns)
    bodies = [error.body for error in failure.value.api_exceptions]
    assert bodies == [
        already_exists_body("replicationcontrollers", "", name),
        already_exists_body("services", "", name),
        already_exists_body("deployments", "apps", name),
    ]
    assert all(error.status == 409 for error in failure.value.api_exceptions)


def test_list_kind_and_partial_conflict(api_client: client.ApiClient, ns: str,
                                        tmp_path: Path) -> None:
    apps = client.AppsV1Api(api_client)
    first, second = unique("listed"), unique("listed")
    items = [deployment(first), service(first)]
    listed = {"apiVersion": "v1", "kind": "List", "items": items}
    utils.create_from_yaml(api_client, write_yaml(tmp_path / "list.yaml", listed), namespace=ns)
    assert apps.read_namespaced_deployment(first, ns).metadata.labels == {"app": first}

    # The same list plus one new object: the new one is created, the two old ones fail.
    items.append(deployment(second))
    with pytest.raises(utils.FailToCreateError) as failure:
        utils.create_from_yaml(api_client, write_yaml(tmp_path / "list2.yaml", listed),
                               namespace=ns)
    assert [error.body for error in failure.value.api_exceptions] == [
        already_exists_body("deployments", "apps", first),
        already_exists_body("services", "", first),
    ]
    assert apps.read_namespaced_deployment(second, ns).spec.replicas == 3
    assert "already exists" in str(failure.value)


def test_yaml_objects_in_memory(api_client: client.ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(api_client)
    name = unique("inmem")
    utils.create_from_yaml(api_client, yaml_objects=[deployment(name), daemonset(name)],
                           namespace=ns)
    assert apps.read_namespaced_deployment(name, ns).spec.template.spec.containers[0].image \
        == "nginx:1.15.4"
    with pytest.raises(utils.FailToCreateError) as failure:
        utils.create_from_yaml(api_client, yaml_objects=[deployment(name)], namespace=ns)
    [error] = failure.value.api_exceptions
    assert error.body == already_exists_body("deployments", "apps", name)
