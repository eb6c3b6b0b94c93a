"""kubectl 1.37 (the pinned wheel) against the real apiserver.

Each test works in its own namespace on the session apiserver. kubectl 1.37
warns on stderr about the version skew with a 1.33 server; tests ignore it.
Covered: ``get`` with the upstream Table columns (default, ``-o wide``, ``-A``,
``-l``, ``-o json|yaml``, ``--show-labels``), ``get -w``/``--watch-only``,
``create -f``, client-side ``apply`` (created/unchanged/configured), ``label``,
``annotate``, ``edit``, ``patch``, ``delete`` (``-f``, ``--force``, ``--wait``),
``describe svc``, ``explain``, ``api-resources``, ``version`` and strict field
validation.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.kubectl import Kubectl


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ok(kubectl: Kubectl, *args: str, input: str | None = None) -> str:
    """Run kubectl, require exit 0, return stdout."""
    return kubectl(*args, input=input, check=True).stdout


def manifest(*objects: dict[str, Any]) -> str:
    return "\n---\n".join(yaml.safe_dump(obj) for obj in objects)


def rows(output: str) -> list[list[str]]:
    """Table output split into cells (columns are separated by 2+ spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in output.splitlines() if line.strip()]


@pytest.fixture
def ns(kubectl: Kubectl) -> Iterator[str]:
    name = unique("kc")
    ok(kubectl, "create", "-f", "-",
       input=json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    try:
        yield name
    finally:
        kubectl("delete", "namespace", name, "--wait=false")


def service(name: str, port: int = 80, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"selector": {"app": name},
                 "ports": [{"name": "http", "port": port, "targetPort": 8080}], **spec},
    }


def configmap(name: str, data: dict[str, str] | None = None,
              labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels or {}},
            "data": data if data is not None else {"a": "1"}}


def pod(name: str, node: str | None = None, labels: dict[str, str] | None = None
        ) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}}, "spec": spec}


# -- discovery-ish commands ---------------------------------------------------


def test_version(kubectl: Kubectl) -> None:
    result = kubectl("version", "-o", "json", check=True)
    info = json.loads(result.stdout)
    assert info["clientVersion"]["major"] == "1"
    assert info["clientVersion"]["minor"] == "37"
    server = info["serverVersion"]
    assert server["major"] == "1"
    assert server["minor"] == "33"
    assert server["gitVersion"].startswith("v1.33.")
    for key in ("gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"):
        assert key in server
    plain = ok(kubectl, "version")
    assert "Server Version: v1.33." in plain


def test_api_resources(kubectl: Kubectl) -> None:
    table = rows(ok(kubectl, "api-resources"))
    assert table[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    found: dict[str, list[str]] = {}
    for row in table[1:]:
        found.setdefault(row[0], row[1:])  # core "events" is listed before events.k8s.io's
    assert found["pods"] == ["po", "v1", "true", "Pod"]
    assert found["services"] == ["svc", "v1", "true", "Service"]
    assert found["endpoints"] == ["ep", "v1", "true", "Endpoints"]
    assert found["configmaps"] == ["cm", "v1", "true", "ConfigMap"]
    assert found["namespaces"] == ["ns", "v1", "false", "Namespace"]
    assert found["events"] == ["ev", "v1", "true", "Event"]
    cluster_scoped = ok(kubectl, "api-resources", "--namespaced=false", "-o", "name").split()
    assert "namespaces" in cluster_scoped and "pods" not in cluster_scoped
    wide = rows(ok(kubectl, "api-resources", "-o", "wide"))
    assert wide[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "VERBS",
                       "CATEGORIES"]
    by_name = {row[0]: row for row in wide[1:]}
    assert by_name["pods"][5:] == ["create,delete,deletecollection,get,list,patch,update,watch",
                                   "all"]
    assert by_name["services"][-1] == "all"
    assert by_name["namespaces"][5] == "create,delete,get,list,patch,update,watch"
    assert by_name["configmaps"][-1].endswith("watch")  # no categories
    in_all = ok(kubectl, "api-resources", "--categories=all", "-o", "name").split()
    assert sorted(in_all) == sorted([
        "pods", "replicationcontrollers", "services", "daemonsets.apps", "deployments.apps",
        "replicasets.apps", "statefulsets.apps", "horizontalpodautoscalers.autoscaling",
        "cronjobs.batch", "jobs.batch",
    ])


def test_explain_service_ports(kubectl: Kubectl) -> None:
    out = ok(kubectl, "explain", "service.spec.ports")
    assert "KIND:       Service" in out
    assert "VERSION:    v1" in out
    assert "FIELD: ports <[]ServicePort>" in out
    assert "The list of ports that are exposed by this service." in out
    for field in ("port\t<integer> -required-", "targetPort\t<IntOrString>",
                  "protocol\t<string>", "nodePort\t<integer>"):
        assert field in out
    recursive = ok(kubectl, "explain", "pods.spec.containers.ports", "--recursive")
    assert "containerPort\t<integer> -required-" in recursive


# -- get ----------------------------------------------------------------------


def test_get_pods_columns(kubectl: Kubectl, ns: str) -> None:
    ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(pod("web", node="node-a")))
    table = rows(ok(kubectl, "-n", ns, "get", "pods"))
    assert table[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table[1][:4] == ["web", "0/1", "Pending", "0"]
    assert re.fullmatch(r"\d+s", table[1][4])

    ok(kubectl, "-n", ns, "patch", "pod", "web", "--subresource=status", "--type=merge",
       "-p", json.dumps({"status": {
           "phase": "Running", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}],
           "containerStatuses": [{"name": "app", "ready": True, "restartCount": 2,
                                  "image": "nginx:1.27", "imageID": "",
                                  "started": True,
                                  "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}],
       }}))
    wide = rows(ok(kubectl, "-n", ns, "get", "pods", "-o", "wide"))
    assert wide[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                       "NOMINATED NODE", "READINESS GATES"]
    row = wide[1]
    assert row[:4] == ["web", "1/1", "Running", "2"]
    assert row[5:] == ["10.244.1.5", "node-a", "<none>", "<none>"]


def test_get_services_columns(kubectl: Kubectl, ns: str) -> None:
    ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(
        service("web"),
        service("ext", type="ExternalName", externalName="db.example.com", selector=None),
    ))
    table = rows(ok(kubectl, "-n", ns, "get", "svc"))
    assert table[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    by_name = {row[0]: row for row in table[1:]}
    cluster_ip = ok(kubectl, "-n", ns, "get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
    assert by_name["web"][1:5] == ["ClusterIP", cluster_ip or "<none>", "<none>", "80/TCP"]
    assert by_name["ext"][1:5] == ["ExternalName", "<none>", "db.example.com", "80/TCP"]

    wide = rows(ok(kubectl, "-n", ns, "get", "services", "-o", "wide"))
    assert wide[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE",
                       "SELECTOR"]
    selectors_ = {row[0]: row[-1] for row in wide[1:]}
    assert selectors_ == {"web": "app=web", "ext": "<none>"}


def test_get_endpoints_configmaps_namespaces_columns(kubectl: Kubectl, ns: str) -> None:
    addresses = [{"ip": f"10.0.1.{i}"} for i in range(1, 5)]
    ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "many"},
         "subsets": [{"addresses": addresses, "ports": [{"port": 80}]}]},
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "empty"}},
        configmap("two", {"a": "1", "b": "2"}),
    ))
    eps = rows(kubectl("-n", ns, "get", "endpoints", check=True).stdout)
    assert eps[0] == ["NAME", "ENDPOINTS", "AGE"]
    by_name = {row[0]: row[1] for row in eps[1:]}
    assert by_name == {"many": "10.0.1.1:80,10.0.1.2:80,10.0.1.3:80 + 1 more...",
                       "empty": "<none>"}

    cms = rows(ok(kubectl, "-n", ns, "get", "cm"))
    assert cms[0] == ["NAME", "DATA", "AGE"]
    assert cms[1][:2] == ["two", "2"]

    nss = rows(ok(kubectl, "get", "namespaces", ns, "default"))
    assert nss[0] == ["NAME", "STATUS", "AGE"]
    assert {row[0]: row[1] for row in nss[1:]} == {ns: "Active", "default": "Active"}


def test_get_all_namespaces_and_selectors(kubectl: Kubectl) -> None:
    # A letter first: an all-digit hex tag would be read as a number by kubectl's YAML decoder.
    tag = "t" + uuid.uuid4().hex[:8]
    names = [unique("kca"), unique("kcb")]
    try:
        for i, name in enumerate(names):
            ok(kubectl, "create", "-f", "-", input=manifest(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
            ok(kubectl, "-n", name, "create", "-f", "-", input=manifest(
                configmap("cm", labels={"tag": tag, "idx": str(i)}),
                configmap("other", labels={"tag": tag + "x"}),
            ))
        table = rows(ok(kubectl, "get", "cm", "-A", "-l", f"tag={tag}"))
        assert table[0] == ["NAMESPACE", "NAME", "DATA", "AGE"]
        assert sorted((row[0], row[1]) for row in table[1:]) == \
            sorted((name, "cm") for name in names)

        only = rows(ok(kubectl, "get", "configmaps", "--all-namespaces",
                       "-l", f"tag={tag},idx in (1)"))
        assert [(row[0], row[1]) for row in only[1:]] == [(names[1], "cm")]

        excluded = rows(ok(kubectl, "-n", names[0], "get", "cm", "-l", "!idx"))
        assert "other" in [row[0] for row in excluded[1:]]
        assert "cm" not in [row[0] for row in excluded[1:]]

        none = kubectl("-n", names[0], "get", "cm", "-l", "tag=nothing", check=True)
        assert none.stdout == ""
        assert f"No resources found in {names[0]} namespace." in none.stderr

        labelled = rows(ok(kubectl, "-n", names[0], "get", "cm", "cm", "--show-labels"))
        assert labelled[0][-1] == "LABELS"
        assert labelled[1][-1] == f"idx=0,tag={tag}"
        column = rows(ok(kubectl, "-n", names[0], "get", "cm", "cm", "-L", "idx"))
        assert column[0][-1] == "IDX" and column[1][-1] == "0"
    finally:
        for name in names:
            kubectl("delete", "namespace", name, "--wait=false")


def test_get_output_json_and_yaml(kubectl: Kubectl, ns: str) -> None:
    ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(service("web"),
                                                             configmap("web-config")))
    listed = json.loads(ok(kubectl, "-n", ns, "get", "svc,cm", "-o", "json"))
    assert listed["kind"] == "List"
    kinds = sorted((item["kind"], item["metadata"]["name"]) for item in listed["items"])
    assert kinds == [("ConfigMap", "web-config"), ("Service", "web")]
    svc = next(item for item in listed["items"] if item["kind"] == "Service")
    assert svc["apiVersion"] == "v1"
    assert svc["spec"]["ports"][0] == {"name": "http", "port": 80, "protocol": "TCP",
                                       "targetPort": 8080}
    assert svc["metadata"]["uid"] and svc["metadata"]["resourceVersion"]

    single = yaml.safe_load(ok(kubectl, "-n", ns, "get", "cm", "web-config", "-o", "yaml"))
    assert single["kind"] == "ConfigMap"
    assert single["data"] == {"a": "1"}
    assert single["metadata"]["namespace"] == ns

    assert ok(kubectl, "-n", ns, "get", "svc", "-o", "name").split() == ["service/web"]
    assert ok(kubectl, "-n", ns, "get", "svc", "web", "-o",
              "jsonpath={.spec.ports[0].targetPort}") == "8080"


def test_get_missing_is_not_found(kubectl: Kubectl, ns: str) -> None:
    result = kubectl("-n", ns, "get", "pod", "ghost")
    assert result.returncode == 1
    assert 'Error from server (NotFound): pods "ghost" not found' in result.stderr


# -- get -w -------------------------------------------------------------------


class WatchProcess:
    """``kubectl get -w`` running in the background; read its lines with a deadline."""

    def __init__(self, kubectl: Kubectl, *args: str) -> None:
        argv = [str(kubectl.binary), "--kubeconfig", str(kubectl._default_kubeconfig()),
                "--cache-dir", str(kubectl.cache_dir), *args]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=kubectl.env())
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)
        self.buffer = b""
        self.lines: list[str] = []

    def read_until(self, pattern: str, timeout: float = 10.0) -> list[str]:
        """Lines read so far, once one matches ``pattern`` (regex)."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while not any(regex.search(line) for line in self.lines):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{pattern!r} not seen; got {self.lines!r}")
            if not self.selector.select(remaining):
                continue
            assert self.proc.stdout is not None
            chunk = self.proc.stdout.read()
            if not chunk:
                if self.proc.poll() is not None:
                    raise AssertionError(f"kubectl exited; got {self.lines!r}")
                continue
            self.buffer += chunk
            *complete, self.buffer = self.buffer.split(b"\n")
            self.lines.extend(line.decode() for line in complete)
        return self.lines

    def await_start(self, make: Callable[[int], object], pattern: str,
                    attempts: int = 60) -> None:
        """Call ``make(0)``, ``make(1)``, ... (each making an object the watch prints as a
        line matching ``pattern``) until such a line appears: a watch that prints only
        changes has then started."""
        for attempt in range(attempts):
            make(attempt)
            try:
                self.read_until(pattern, timeout=1.0)
                return
            except AssertionError:
                if self.proc.poll() is not None:
                    raise
        raise AssertionError(f"the watch printed nothing matching {pattern!r}: {self.lines!r}")

    def close(self) -> None:
        self.selector.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def test_get_watch(kubectl: Kubectl, ns: str) -> None:
    ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(configmap("first")))
    watcher = WatchProcess(kubectl, "-n", ns, "get", "configmaps", "-w")
    try:
        lines = watcher.read_until(r"^first\s")
        assert rows(lines[0])[0] == ["NAME", "DATA", "AGE"]
        ok(kubectl, "-n", ns, "create", "-f", "-",
           input=manifest(configmap("second", {"x": "1", "y": "2"})))
        lines = watcher.read_until(r"^second\s")
        assert rows(lines[-1])[0][:2] == ["second", "2"]
        # a change to an existing object prints a new row for it
        ok(kubectl, "-n", ns, "patch", "cm", "first", "--type=merge",
           "-p", '{"data":{"a":"1","b":"2","c":"3"}}')
        lines = watcher.read_until(r"^first\s+3\s")
        assert sum(1 for line in lines if line.startswith("NAME")) == 1
    finally:
        watcher.close()


def test_get_watch_only_pods_wide(kubectl: Kubectl, ns: str) -> None:
    ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(pod("old")))
    watcher = WatchProcess(kubectl, "-n", ns, "get", "pods", "--watch-only", "-o", "wide")
    try:
        # Nothing is printed for existing pods, so the watch has started once a pod
        # created meanwhile is printed (one created before kubectl's list is not).
        watcher.await_start(lambda i: ok(kubectl, "-n", ns, "create", "-f", "-",
                                         input=manifest(pod(f"probe-{i}"))), r"^probe-\d+\s")
        ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(pod("new", node="node-b")))
        lines = watcher.read_until(r"^new\s")
        assert not any(line.startswith("old") for line in lines)
        header = rows(lines[0])[0]
        assert header[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert "NODE" in header
        assert rows(lines[-1])[0][6] == "node-b"
        # graceful delete of a bound pod: the row turns Terminating
        ok(kubectl, "-n", ns, "delete", "pod", "new", "--wait=false")
        watcher.read_until(r"^new\s+0/1\s+Terminating\s")
    finally:
        watcher.close()
        kubectl("-n", ns, "delete", "pod", "new", "--grace-period=0", "--force")


# -- create / apply -----------------------------------------------------------


def test_create_from_file(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    path = tmp_path / "objects.yaml"
    path.write_text(manifest(service("web"), configmap("web-config")))
    out = ok(kubectl, "-n", ns, "create", "-f", str(path))
    assert out.splitlines() == ["service/web created", "configmap/web-config created"]
    again = kubectl("-n", ns, "create", "-f", str(path))
    assert again.returncode == 1
    assert ('Error from server (AlreadyExists): error when creating "' + str(path)
            + '": services "web" already exists') in again.stderr
    assert 'configmaps "web-config" already exists' in again.stderr


def test_create_rejects_unknown_field(kubectl: Kubectl, ns: str) -> None:
    bad = configmap("bad")
    bad["bogus"] = 1
    bad["metadata"]["labelz"] = {"a": "b"}
    result = kubectl("-n", ns, "create", "-f", "-", input=manifest(bad))
    assert result.returncode == 1
    assert "Error from server (BadRequest)" in result.stderr
    assert "strict decoding error" in result.stderr
    assert 'unknown field "bogus"' in result.stderr
    assert 'unknown field "metadata.labelz"' in result.stderr
    assert kubectl("-n", ns, "get", "cm", "bad").returncode == 1

    # --validate=false sends fieldValidation=Ignore: the unknown fields are dropped.
    ok(kubectl, "-n", ns, "create", "-f", "-", "--validate=false", input=manifest(bad))
    stored = json.loads(ok(kubectl, "-n", ns, "get", "cm", "bad", "-o", "json"))
    assert "bogus" not in stored

    # --validate=warn creates and prints the server's warning
    bad["metadata"]["name"] = "bad2"
    warned = kubectl("-n", ns, "create", "-f", "-", "--validate=warn", input=manifest(bad))
    assert warned.returncode == 0, warned.stderr
    assert 'unknown field "bogus"' in warned.stderr


def test_create_invalid_object(kubectl: Kubectl, ns: str) -> None:
    broken = service("Bad_Name")
    result = kubectl("-n", ns, "create", "-f", "-", input=manifest(broken))
    assert result.returncode == 1
    assert 'The Service "Bad_Name" is invalid' in result.stderr


def test_apply_created_unchanged_configured(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    svc = service("web")
    svc["spec"]["ports"].append({"name": "metrics", "port": 9090})
    svc["metadata"]["labels"]["tier"] = "front"
    cm = configmap("web-config", {"a": "1", "b": "2"})
    path.write_text(manifest(svc, cm))

    first = ok(kubectl, "-n", ns, "apply", "-f", str(path))
    assert first.splitlines() == ["service/web created", "configmap/web-config created"]
    second = ok(kubectl, "-n", ns, "apply", "-f", str(path))
    assert second.splitlines() == ["service/web unchanged", "configmap/web-config unchanged"]

    stored = json.loads(ok(kubectl, "-n", ns, "get", "svc", "web", "-o", "json"))
    last = json.loads(
        stored["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["spec"]["ports"][1] == {"name": "metrics", "port": 9090}

    # remove a port, a label and a key; change a value
    svc["spec"]["ports"] = [svc["spec"]["ports"][0]]
    del svc["metadata"]["labels"]["tier"]
    cm["data"] = {"a": "10"}
    path.write_text(manifest(svc, cm))
    third = ok(kubectl, "-n", ns, "apply", "-f", str(path))
    assert third.splitlines() == ["service/web configured", "configmap/web-config configured"]

    stored = json.loads(ok(kubectl, "-n", ns, "get", "svc", "web", "-o", "json"))
    assert [p["port"] for p in stored["spec"]["ports"]] == [80]
    assert stored["metadata"]["labels"] == {"app": "web"}
    data = json.loads(ok(kubectl, "-n", ns, "get", "cm", "web-config", "-o", "json"))["data"]
    assert data == {"a": "10"}

    # a field set out of band (not in last-applied) survives the next apply
    ok(kubectl, "-n", ns, "label", "svc", "web", "owner=ops")
    svc["spec"]["ports"].append({"name": "admin", "port": 8081})
    path.write_text(manifest(svc))
    assert ok(kubectl, "-n", ns, "apply", "-f", str(path)).strip() == "service/web configured"
    stored = json.loads(ok(kubectl, "-n", ns, "get", "svc", "web", "-o", "json"))
    assert stored["metadata"]["labels"] == {"app": "web", "owner": "ops"}
    assert [(p["name"], p["port"]) for p in stored["spec"]["ports"]] == \
        [("http", 80), ("admin", 8081)]

    diff = kubectl("-n", ns, "diff", "-f", str(path))
    assert diff.returncode == 0, diff.stdout + diff.stderr


def test_apply_server_side(kubectl: Kubectl, ns: str) -> None:
    result = kubectl("-n", ns, "apply", "--server-side", "-f", "-",
                     input=manifest(configmap("ssa", {"k": "v"})))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "configmap/ssa serverside-applied"
    stored = json.loads(ok(kubectl, "-n", ns, "get", "cm", "ssa", "-o", "json",
                           "--show-managed-fields"))
    assert stored["data"] == {"k": "v"}
    managers = {entry["manager"] for entry in stored["metadata"].get("managedFields", [])}
    assert "kubectl" in managers


# -- label / annotate / patch / edit ------------------------------------------


def test_label_and_annotate(kubectl: Kubectl, ns: str) -> None:
    ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(service("web")))
    assert ok(kubectl, "-n", ns, "label", "svc", "web", "tier=fe").strip() == \
        "service/web labeled"
    clash = kubectl("-n", ns, "label", "svc", "web", "tier=be")
    assert clash.returncode == 1
    assert "'tier' already has a value (fe), and --overwrite is false" in clash.stderr
    ok(kubectl, "-n", ns, "label", "svc", "web", "tier=be", "--overwrite")
    labels = json.loads(ok(kubectl, "-n", ns, "get", "svc", "web", "-o",
                           "jsonpath={.metadata.labels}"))
    assert labels == {"app": "web", "tier": "be"}
    assert ok(kubectl, "-n", ns, "label", "svc", "web", "tier-").strip() == \
        "service/web unlabeled"

    assert ok(kubectl, "-n", ns, "annotate", "svc", "web", "note=hello world").strip() == \
        "service/web annotated"
    ok(kubectl, "-n", ns, "annotate", "svc", "web", "note=changed", "--overwrite")
    ok(kubectl, "-n", ns, "annotate", "svc", "web", "other=x")
    ok(kubectl, "-n", ns, "annotate", "svc", "web", "other-")
    stored = json.loads(ok(kubectl, "-n", ns, "get", "svc", "web", "-o", "json"))
    assert stored["metadata"]["labels"] == {"app": "web"}
    assert stored["metadata"]["annotations"] == {"note": "changed"}

    # label by selector across objects
    ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(
        configmap("c1", labels={"grp": "a"}), configmap("c2", labels={"grp": "a"})))
    out = ok(kubectl, "-n", ns, "label", "cm", "-l", "grp=a", "seen=yes")
    assert sorted(out.splitlines()) == ["configmap/c1 labeled", "configmap/c2 labeled"]
    assert ok(kubectl, "-n", ns, "get", "cm", "-l", "seen=yes", "-o", "name").split() == \
        ["configmap/c1", "configmap/c2"]


def test_patch_types(kubectl: Kubectl, ns: str) -> None:
    svc = service("web")
    svc["spec"]["ports"].append({"name": "b", "port": 81})
    ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(svc))
    # strategic (default): ports merge by port
    ok(kubectl, "-n", ns, "patch", "svc", "web", "-p",
       '{"spec":{"ports":[{"name":"c","port":82},{"$patch":"delete","port":81}]}}')
    ports = json.loads(ok(kubectl, "-n", ns, "get", "svc", "web", "-o",
                          "jsonpath={.spec.ports}"))
    assert [(p["name"], p["port"]) for p in ports] == [("http", 80), ("c", 82)]
    # merge: lists replaced
    ok(kubectl, "-n", ns, "patch", "svc", "web", "--type=merge", "-p",
       '{"spec":{"ports":[{"name":"only","port":90}]}}')
    ports = json.loads(ok(kubectl, "-n", ns, "get", "svc", "web", "-o",
                          "jsonpath={.spec.ports}"))
    assert [(p["name"], p["port"], p["targetPort"]) for p in ports] == [("only", 90, 90)]
    # json
    out = ok(kubectl, "-n", ns, "patch", "svc", "web", "--type=json", "-p",
             '[{"op":"replace","path":"/spec/ports/0/port","value":91}]')
    assert out.strip() == "service/web patched"
    assert ok(kubectl, "-n", ns, "get", "svc", "web", "-o",
              "jsonpath={.spec.ports[0].port}") == "91"
    same = ok(kubectl, "-n", ns, "patch", "svc", "web", "--type=merge", "-p", "{}")
    assert same.strip() == "service/web patched (no change)"


def test_edit_with_kube_editor(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(service("web")))
    editor = tmp_path / "editor.sh"
    editor.write_text(
        "#!/bin/sh\n"
        'sed -i -e "s/port: 80$/port: 81/" -e "s/app: web$/app: web2/" "$1"\n'
    )
    editor.chmod(0o755)
    argv = [str(kubectl.binary), "--kubeconfig", str(kubectl._default_kubeconfig()),
            "--cache-dir", str(kubectl.cache_dir), "-n", ns, "edit", "svc", "web"]
    env = dict(kubectl.env(), KUBE_EDITOR=str(editor))
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "service/web edited"
    stored = json.loads(ok(kubectl, "-n", ns, "get", "svc", "web", "-o", "json"))
    assert [p["port"] for p in stored["spec"]["ports"]] == [81]
    assert stored["spec"]["ports"][0]["targetPort"] == 8080
    assert stored["metadata"]["labels"] == {"app": "web2"}
    assert stored["spec"]["selector"] == {"app": "web2"}

    # an editor that changes nothing: "Edit cancelled, no changes made."
    noop = tmp_path / "noop.sh"
    noop.write_text("#!/bin/sh\nexit 0\n")
    noop.chmod(0o755)
    env["KUBE_EDITOR"] = str(noop)
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "Edit cancelled, no changes made." in result.stderr


# -- delete -------------------------------------------------------------------


def test_delete_from_file_and_by_name(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    path = tmp_path / "objects.yaml"
    path.write_text(manifest(service("web"), configmap("web-config")))
    ok(kubectl, "-n", ns, "create", "-f", str(path))
    out = ok(kubectl, "-n", ns, "delete", "-f", str(path))
    assert out.splitlines() == [f'service "web" deleted from {ns} namespace',
                                f'configmap "web-config" deleted from {ns} namespace']
    empty = kubectl("-n", ns, "get", "svc,cm", "-o", "name", check=True)
    assert empty.stdout == ""

    missing = kubectl("-n", ns, "delete", "cm", "ghost")
    assert missing.returncode == 1
    assert 'configmaps "ghost" not found' in missing.stderr
    assert kubectl("-n", ns, "delete", "cm", "ghost", "--ignore-not-found").returncode == 0

    ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(
        configmap("x1", labels={"drop": "1"}), configmap("x2", labels={"drop": "1"}),
        configmap("keep")))
    out = ok(kubectl, "-n", ns, "delete", "cm", "-l", "drop=1")
    assert sorted(out.splitlines()) == [f'configmap "x1" deleted from {ns} namespace',
                                        f'configmap "x2" deleted from {ns} namespace']
    assert ok(kubectl, "-n", ns, "get", "cm", "-o", "name").split() == ["configmap/keep"]


def test_delete_unbound_pod_is_immediate(kubectl: Kubectl, ns: str) -> None:
    ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(pod("free")))
    started = time.monotonic()
    out = ok(kubectl, "-n", ns, "delete", "pod", "free")
    assert out.strip() == f'pod "free" deleted from {ns} namespace'
    assert time.monotonic() - started < 5
    assert kubectl("-n", ns, "get", "pod", "free").returncode == 1


def test_delete_graceful_pod_force_and_wait(kubectl: Kubectl, ns: str) -> None:
    ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(pod("bound", node="node-a")))
    # --wait=false: the bound pod is only marked (Terminating)
    ok(kubectl, "-n", ns, "delete", "pod", "bound", "--wait=false")
    table = rows(ok(kubectl, "-n", ns, "get", "pod", "bound"))
    assert table[1][2] == "Terminating"
    stored = json.loads(ok(kubectl, "-n", ns, "get", "pod", "bound", "-o", "json"))
    assert stored["metadata"]["deletionGracePeriodSeconds"] == 30

    # the default --wait=true watches until the object is gone
    argv = [str(kubectl.binary), "--kubeconfig", str(kubectl._default_kubeconfig()),
            "--cache-dir", str(kubectl.cache_dir), "-n", ns, "delete", "pod", "bound",
            "--timeout=30s"]
    waiting = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=kubectl.env())
    try:
        time.sleep(1.0)
        assert waiting.poll() is None, "kubectl delete returned before the pod was gone"
        forced = kubectl("-n", ns, "delete", "pod", "bound", "--grace-period=0", "--force",
                         check=True)
        assert forced.stdout.strip() == f'pod "bound" force deleted from {ns} namespace'
        assert "Immediate deletion does not wait for confirmation" in forced.stderr
        out, _ = waiting.communicate(timeout=10)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert waiting.returncode == 0
    assert out.strip() == f'pod "bound" deleted from {ns} namespace'
    assert kubectl("-n", ns, "get", "pod", "bound").returncode == 1


def test_delete_namespace_waits_until_gone(kubectl: Kubectl) -> None:
    name = unique("kc-del")
    ok(kubectl, "create", "-f", "-", input=manifest(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    ok(kubectl, "-n", name, "create", "-f", "-", input=manifest(service("web"),
                                                               configmap("c"), pod("p")))
    started = time.monotonic()
    out = ok(kubectl, "delete", "namespace", name, "--timeout=40s")
    assert out.strip() == f'namespace "{name}" deleted'
    assert time.monotonic() - started < 30  # the controller waits 5 s, then empties it
    result = kubectl("get", "namespace", name)
    assert result.returncode == 1
    assert f'namespaces "{name}" not found' in result.stderr


# -- describe -----------------------------------------------------------------


def test_describe_service(kubectl: Kubectl, ns: str) -> None:
    ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(service("web")))
    result = kubectl("-n", ns, "describe", "svc", "web")
    assert result.returncode == 0, result.stderr
    fields = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    assert fields["Name"] == "web"
    assert fields["Namespace"] == ns
    assert fields["Labels"] == "app=web"
    assert fields["Annotations"] == "<none>"
    assert fields["Selector"] == "app=web"
    assert fields["Type"] == "ClusterIP"
    assert "IP" in fields
    assert fields["Port"] == "http  80/TCP"
    assert fields["TargetPort"] == "8080/TCP"
    # 1.31+ lists EndpointSlices; the server does not serve them and kubectl
    # tolerates the 404.
    assert fields["Endpoints"] == "<none>"
    assert fields["Session Affinity"] == "None"
    assert fields["Events"] == "<none>"


def test_describe_pod_and_configmap(kubectl: Kubectl, ns: str) -> None:
    ok(kubectl, "-n", ns, "create", "-f", "-", input=manifest(pod("web", node="node-a"),
                                                             configmap("cfg", {"k": "v"})))
    described = kubectl("-n", ns, "describe", "pod", "web")
    assert described.returncode == 0, described.stderr
    assert re.search(r"^Name:\s+web$", described.stdout, re.M)
    assert re.search(r"^Node:\s+node-a", described.stdout, re.M)
    assert re.search(r"^Status:\s+Pending$", described.stdout, re.M)
    assert "nginx:1.27" in described.stdout
    cm = ok(kubectl, "-n", ns, "describe", "cm", "cfg")
    assert re.search(r"^k:\n-+\nv$", cm, re.M)


# -- typed-client generators (protobuf bodies) ---------------------------------


def test_create_generators(kubectl: Kubectl) -> None:
    """``kubectl create namespace|configmap|service`` POST protobuf bodies."""
    name = unique("kc-gen")
    try:
        assert ok(kubectl, "create", "namespace", name).strip() == f"namespace/{name} created"
        assert rows(ok(kubectl, "get", "ns", name))[1][:2] == [name, "Active"]
        out = ok(kubectl, "-n", name, "create", "configmap", "cfg",
                 "--from-literal=a=1", "--from-literal=b=two")
        assert out.strip() == "configmap/cfg created"
        cm = json.loads(ok(kubectl, "-n", name, "get", "cm", "cfg", "-o", "json"))
        assert cm["data"] == {"a": "1", "b": "two"}
        out = ok(kubectl, "-n", name, "create", "service", "clusterip", "web",
                 "--tcp=80:8080")
        assert out.strip() == "service/web created"
        svc = json.loads(ok(kubectl, "-n", name, "get", "svc", "web", "-o", "json"))
        assert svc["spec"]["ports"] == [{"name": "80-8080", "port": 80, "protocol": "TCP",
                                         "targetPort": 8080}]
        assert svc["spec"]["selector"] == {"app": "web"}
        assert svc["spec"]["type"] == "ClusterIP"
    finally:
        kubectl("delete", "namespace", name, "--wait=false")


def test_run_and_expose(kubectl: Kubectl, ns: str) -> None:
    """``run`` and ``expose`` send JSON and work."""
    out = ok(kubectl, "-n", ns, "run", "web", "--image=nginx:1.27", "--port=8080",
             "--labels=app=web")
    assert out.strip() == "pod/web created"
    out = ok(kubectl, "-n", ns, "expose", "pod", "web", "--port=80", "--target-port=8080",
             "--name=web-svc")
    assert out.strip() == "service/web-svc exposed"
    svc = json.loads(ok(kubectl, "-n", ns, "get", "svc", "web-svc", "-o", "json"))
    assert svc["spec"]["selector"] == {"app": "web"}
    assert svc["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 8080}]
