"""kubectl's typed generators send ``application/vnd.kubernetes.protobuf`` bodies.

``kubectl create namespace|configmap|service ...``, ``run`` and ``expose`` (v1.37)
encode the object in protobuf; the server must decode it into the same object the
JSON form of that request would create. kubectl 1.33 (the announced version) does the
same for the generators of other groups (deployment, secret, serviceaccount, role,
rolebinding, job, cronjob); those tests assert only on the fields the client sent.
Raw protobuf requests over httpx cover the error answers (400 for malformed bodies,
unknown fields, wrong kind) and protobuf ``DeleteOptions``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.support.apiserver import ApiServerProcess
from tests.support.kubectl import Kubectl

PROTOBUF = "application/vnd.kubernetes.protobuf"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def get_json(kubectl: Kubectl, *args: str) -> dict[str, Any]:
    result = kubectl("get", *args, "-o", "json", check=True)
    obj: dict[str, Any] = json.loads(result.stdout)
    return obj


def new_namespace(kubectl: Kubectl) -> str:
    name = unique("pb")
    kubectl("create", "namespace", name, check=True)
    return name


def test_create_namespace_is_sent_as_protobuf_and_stored(kubectl: Kubectl) -> None:
    name = unique("pb-ns")
    result = kubectl("create", "namespace", name, "-v=8", check=True)
    assert f"namespace/{name} created" in result.stdout
    # The request really went out as protobuf (so this exercises the decoder).
    assert f"Content-Type: {PROTOBUF}" in result.stderr
    ns = get_json(kubectl, "namespace", name)
    assert ns["kind"] == "Namespace"
    assert ns["metadata"]["name"] == name
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": name}
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}
    # Zero-valued Go fields sent on the wire (namespace "", generation 0, empty
    # creationTimestamp) must not leak into the object.
    assert "namespace" not in ns["metadata"]


def test_create_configmap_from_literals_and_binary_file(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    ns = new_namespace(kubectl)
    blob = bytes([0xFF, 0x00, 0xFE, 0x10])
    (tmp_path / "blob.bin").write_bytes(blob)
    kubectl(
        "-n", ns, "create", "configmap", "settings",
        "--from-literal=a=b", "--from-literal=empty=",
        f"--from-file=blob.bin={tmp_path / 'blob.bin'}",
        check=True,
    )
    cm = get_json(kubectl, "-n", ns, "configmap", "settings")
    assert cm["metadata"]["namespace"] == ns
    assert cm["data"] == {"a": "b", "empty": ""}
    assert cm["binaryData"] == {"blob.bin": "/wD+EA=="}
    assert "immutable" not in cm


def test_create_service_clusterip(kubectl: Kubectl) -> None:
    ns = new_namespace(kubectl)
    kubectl("-n", ns, "create", "service", "clusterip", "web", "--tcp=80:8080", check=True)
    svc = get_json(kubectl, "-n", ns, "service", "web")
    assert svc["metadata"]["labels"] == {"app": "web"}
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["selector"] == {"app": "web"}
    assert spec["ports"] == [
        {"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}
    ]


def test_create_service_nodeport_with_named_target_port(kubectl: Kubectl) -> None:
    ns = new_namespace(kubectl)
    kubectl(
        "-n", ns, "create", "service", "nodeport", "np",
        "--tcp=5678:http", "--node-port=30678", check=True,
    )
    svc = get_json(kubectl, "-n", ns, "service", "np")
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"] == [
        {
            "name": "5678-http",
            "nodePort": 30678,
            "port": 5678,
            "protocol": "TCP",
            "targetPort": "http",
        }
    ]


def test_run_and_expose(kubectl: Kubectl) -> None:
    ns = new_namespace(kubectl)
    kubectl(
        "-n", ns, "run", "app", "--image=nginx:1.27", "--port=80",
        "--env=MODE=prod", "--labels=app=app,tier=web", "--restart=Never",
        check=True,
    )
    kubectl("-n", ns, "expose", "pod", "app", "--port=81", "--target-port=80",
            "--name=app-svc", check=True)
    pod = get_json(kubectl, "-n", ns, "pod", "app")
    assert pod["metadata"]["labels"] == {"app": "app", "tier": "web"}
    (container,) = pod["spec"]["containers"]
    assert container["name"] == "app"
    assert container["image"] == "nginx:1.27"
    assert container["env"] == [{"name": "MODE", "value": "prod"}]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert pod["spec"]["restartPolicy"] == "Never"
    svc = get_json(kubectl, "-n", ns, "service", "app-svc")
    assert svc["spec"]["selector"] == {"app": "app", "tier": "web"}
    assert svc["spec"]["ports"] == [{"port": 81, "protocol": "TCP", "targetPort": 80}]


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items()
            if k not in ("name", "uid", "resourceVersion", "creationTimestamp")}
    labels = meta.get("labels")
    if isinstance(labels, dict):
        meta["labels"] = {k: v.replace("-json", "") for k, v in labels.items()}
    rest = {k: v for k, v in obj.items() if k != "metadata"}
    spec = rest.get("spec")
    if obj.get("kind") == "Service" and isinstance(spec, dict):
        # Allocated values (cluster IP, node ports) differ between two Services.
        spec = {k: v for k, v in spec.items() if k not in ("clusterIP", "clusterIPs")}
        spec["ports"] = [{k: v for k, v in p.items() if k != "nodePort"}
                         for p in spec.get("ports") or []]
        rest["spec"] = spec
    text = json.dumps(rest).replace("-json", "")
    return {"metadata": meta, **json.loads(text)}


def test_protobuf_and_json_requests_create_the_same_objects(kubectl: Kubectl) -> None:
    ns = new_namespace(kubectl)
    generators = [
        ("service", "lb", ["create", "service", "loadbalancer", "lb", "--tcp=80:8080,443"]),
        ("configmap", "cfg", ["create", "configmap", "cfg", "--from-literal=k=v"]),
        ("pod", "runner", ["run", "runner", "--image=busybox", "--env=A=1", "--labels=x=y",
                           "--", "sleep", "3600"]),
    ]
    for resource, name, argv in generators:
        kubectl("-n", ns, *argv, check=True)
        json_argv = [f"{name}-json" if a == name else a for a in argv]
        manifest = kubectl("-n", ns, "--dry-run=client", "-o", "json", *json_argv, check=True)
        kubectl("-n", ns, "create", "-f", "-", input=manifest.stdout, check=True)
        via_protobuf = get_json(kubectl, "-n", ns, resource, name)
        via_json = get_json(kubectl, "-n", ns, resource, f"{name}-json")
        assert _comparable(via_protobuf) == _comparable(via_json), resource


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _ld(number: int, value: bytes | str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(raw)) + raw


def _envelope(raw: bytes, kind: str) -> bytes:
    return b"k8s\x00" + _ld(1, _ld(1, "v1") + _ld(2, kind)) + _ld(2, raw)


def _post(server: ApiServerProcess, path: str, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{server.url}{path}",
        content=body,
        headers={"Content-Type": PROTOBUF, "Accept": f"{PROTOBUF}, application/json"},
        timeout=10,
    )


def test_raw_protobuf_create_update_and_errors(apiserver: ApiServerProcess) -> None:
    ns = unique("pb-raw")
    created = _post(apiserver, "/api/v1/namespaces",
                    _envelope(_ld(1, _ld(1, ns)), "Namespace"))
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith("application/json")
    assert created.json()["metadata"]["name"] == ns

    path = f"/api/v1/namespaces/{ns}/configmaps"
    cm = _ld(1, _ld(1, "c1")) + _ld(2, _ld(1, "k") + _ld(2, "v"))
    ok = _post(apiserver, path, _envelope(cm, "ConfigMap"))
    assert ok.status_code == 201, ok.text
    assert ok.json()["data"] == {"k": "v"}

    # PUT with a protobuf body (resourceVersion from the created object).
    rv = ok.json()["metadata"]["resourceVersion"]
    updated_body = _ld(1, _ld(1, "c1") + _ld(6, rv)) + _ld(2, _ld(1, "k") + _ld(2, "v2"))
    updated = httpx.put(f"{apiserver.url}{path}/c1", content=_envelope(updated_body, "ConfigMap"),
                        headers={"Content-Type": PROTOBUF}, timeout=10)
    assert updated.status_code == 200, updated.text
    assert updated.json()["data"] == {"k": "v2"}

    truncated = _post(apiserver, path, b"k8s\x00\x12\x10\x0a")
    assert truncated.status_code == 400
    assert truncated.json()["reason"] == "BadRequest"
    assert "unable to decode protobuf body" in truncated.json()["message"]
    assert "unexpected end of data" in truncated.json()["message"]

    unknown = _post(apiserver, path, _envelope(_ld(1, _ld(1, "c2")) + _ld(77, "x"), "ConfigMap"))
    assert unknown.status_code == 400
    assert "unknown field number 77 in message ConfigMap" in unknown.json()["message"]

    no_magic = _post(apiserver, path, b'{"kind":"ConfigMap"}')
    assert no_magic.status_code == 400
    assert "does not appear to be a protobuf message" in no_magic.json()["message"]

    wrong_kind = _post(apiserver, path, _envelope(_ld(1, _ld(1, "c3")), "Service"))
    assert wrong_kind.status_code == 400
    assert "does not match the expected kind (ConfigMap)" in wrong_kind.json()["message"]

    unsupported = httpx.post(f"{apiserver.url}{path}", content=b"x",
                             headers={"Content-Type": "text/plain"}, timeout=10)
    assert unsupported.status_code == 415
    assert PROTOBUF in unsupported.json()["message"]

    assert httpx.get(f"{apiserver.url}{path}/c2", timeout=10).status_code == 404


def test_protobuf_delete_options(apiserver: ApiServerProcess) -> None:
    ns = unique("pb-del")
    assert _post(apiserver, "/api/v1/namespaces",
                 _envelope(_ld(1, _ld(1, ns)), "Namespace")).status_code == 201
    path = f"/api/v1/namespaces/{ns}/configmaps"
    created = _post(apiserver, path, _envelope(_ld(1, _ld(1, "gone")), "ConfigMap"))
    assert created.status_code == 201, created.text

    def delete(options: bytes) -> httpx.Response:
        return httpx.request(
            "DELETE", f"{apiserver.url}{path}/gone",
            content=_envelope(options, "DeleteOptions"),
            headers={"Content-Type": PROTOBUF}, timeout=10,
        )

    # preconditions {uid} that does not match: 409, the object stays.
    conflict = delete(_ld(2, _ld(1, "not-the-uid")))
    assert conflict.status_code == 409, conflict.text
    # propagationPolicy is a string on the wire; a bad value is rejected as in JSON.
    bad_policy = delete(_ld(4, "Sideways"))
    assert bad_policy.status_code == 422, bad_policy.text
    assert "Sideways" in bad_policy.json()["message"]
    uid = created.json()["metadata"]["uid"]
    deleted = delete(_ld(2, _ld(1, uid)) + _ld(4, "Background"))
    assert deleted.status_code == 200, deleted.text
    assert httpx.get(f"{apiserver.url}{path}/gone", timeout=10).status_code == 404


# -- kubectl 1.33 (the announced version): typed generators of other groups -----------


def test_create_deployment_with_kubectl_1_33(kubectl_announced: Kubectl) -> None:
    kubectl = kubectl_announced
    ns = new_namespace(kubectl)
    result = kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=2",
                     "--port=80", "-v=8", check=True)
    assert "deployment.apps/web created" in result.stdout
    assert f"Content-Type: {PROTOBUF}" in result.stderr
    deploy = get_json(kubectl, "-n", ns, "deployment", "web")
    assert deploy["apiVersion"] == "apps/v1"
    assert deploy["metadata"]["labels"] == {"app": "web"}
    spec = deploy["spec"]
    assert spec["replicas"] == 2
    assert spec["selector"] == {"matchLabels": {"app": "web"}}
    assert spec["template"]["metadata"]["labels"] == {"app": "web"}
    (container,) = spec["template"]["spec"]["containers"]
    assert container["name"] == "nginx"
    assert container["image"] == "nginx"
    assert container["ports"][0]["containerPort"] == 80


def test_create_deployment_with_zero_replicas_keeps_zero(kubectl_announced: Kubectl) -> None:
    ns = new_namespace(kubectl_announced)
    kubectl_announced("-n", ns, "create", "deployment", "idle", "--image=nginx",
                      "--replicas=0", check=True)
    deploy = get_json(kubectl_announced, "-n", ns, "deployment", "idle")
    assert deploy["spec"]["replicas"] == 0


def test_create_secret_serviceaccount_and_role_with_kubectl_1_33(
    kubectl_announced: Kubectl,
) -> None:
    kubectl = kubectl_announced
    ns = new_namespace(kubectl)
    kubectl("-n", ns, "create", "secret", "generic", "s", "--from-literal=a=b", check=True)
    secret = get_json(kubectl, "-n", ns, "secret", "s")
    assert secret["data"] == {"a": "Yg=="}

    kubectl("-n", ns, "create", "serviceaccount", "sa1", check=True)
    sa = get_json(kubectl, "-n", ns, "serviceaccount", "sa1")
    assert sa["kind"] == "ServiceAccount"
    assert sa["metadata"]["name"] == "sa1"

    kubectl("-n", ns, "create", "role", "r", "--verb=get", "--verb=list", "--resource=pods",
            check=True)
    role = get_json(kubectl, "-n", ns, "role", "r")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                              "verbs": ["get", "list"]}]

    kubectl("-n", ns, "create", "rolebinding", "rb", "--role=r",
            f"--serviceaccount={ns}:sa1", check=True)
    binding = get_json(kubectl, "-n", ns, "rolebinding", "rb")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": "r"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "sa1", "namespace": ns}]


def test_create_job_and_cronjob_with_kubectl_1_33(kubectl_announced: Kubectl) -> None:
    kubectl = kubectl_announced
    ns = new_namespace(kubectl)
    kubectl("-n", ns, "create", "job", "j", "--image=busybox", "--", "echo", "hi", check=True)
    job = get_json(kubectl, "-n", ns, "job", "j")
    assert job["apiVersion"] == "batch/v1"
    template = job["spec"]["template"]["spec"]
    assert template["restartPolicy"] == "Never"
    (container,) = template["containers"]
    assert container["image"] == "busybox"
    assert container["command"] == ["echo", "hi"]

    kubectl("-n", ns, "create", "cronjob", "c", "--image=busybox",
            "--schedule=*/5 * * * *", check=True)
    cron = get_json(kubectl, "-n", ns, "cronjob", "c")
    assert cron["spec"]["schedule"] == "*/5 * * * *"
    job_template = cron["spec"]["jobTemplate"]
    assert job_template["metadata"]["name"] == "c"
    (container,) = job_template["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "busybox"
    assert job_template["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
