"""``kubemu up --nodes 2`` end to end: two nodes, a kube-proxy per node, real traffic.

* Four pods split 2/2 over the nodes, become Ready through real readiness probes and
  answer through the ClusterIP (node 1's kube-proxy) and the NodePort of either node.
* Flipping one pod's readiness removes it from the Endpoints and from the userspace
  proxy's rotation: connections through the ClusterIP never reach it afterwards.
* An ``externalTrafficPolicy: Local`` NodePort answers only on the node that has an
  endpoint (each node's kube-proxy knows its node name).
* The README's walkthrough runs verbatim (every command in one bash, each checked for
  exit status 0) against its own ``kubemu up``.

Each test starts its own ``kubemu up`` (the scheduler and node agents act on every pod,
so counts stay exact) on its own block of loopback addresses (``Kubemu.addresses``), so
other clusters may run on the machine meanwhile.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kubemu.addresses import Addresses
from kubemu.components import LaunchContext, launch_plan
from tests.support.apiserver import REPO_ROOT
from tests.support.kubemu_up import (
    Kubemu,
    answers,
    hostname,
    start_kubemu,
    stop_kubemu,
    wait_for,
)

BIN = Path(sys.executable).parent
README = REPO_ROOT / "README.md"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[Kubemu]:
    cluster = start_kubemu(tmp_path / "data", nodes=2)
    try:
        wait_for("two Ready nodes", lambda: cluster.kubectl(
            "get", "nodes", "--no-headers").count(" Ready ") == 2)
        yield cluster
    finally:
        stop_kubemu(cluster)


def pod_manifest(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "spread"}},
        "spec": {"terminationGracePeriodSeconds": 5, "containers": [{
            "name": "web", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
            "args": ["netexec", "--http-port=8080"],
            "ports": [{"name": "http", "containerPort": 8080}],
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"},
                               "periodSeconds": 1, "failureThreshold": 1},
        }]},
    }


def test_two_nodes_readiness_leaves_rotation_and_local_policy(two_nodes: Kubemu) -> None:
    k = two_nodes
    ns = "spread"
    k.kubectl("create", "namespace", ns)
    names = [f"web-{i}" for i in range(1, 5)]
    k.kubectl("create", "-f", "-",
              stdin="---\n".join(yaml.safe_dump(pod_manifest(n, ns)) for n in names))

    def pods() -> dict[str, dict[str, Any]]:
        items = k.get(f"/api/v1/namespaces/{ns}/pods")["items"]
        return {p["metadata"]["name"]: p for p in items}

    def all_ready() -> dict[str, dict[str, Any]] | None:
        current = pods()
        ok = len(current) == 4 and all(
            {c["type"]: c["status"] for c in p["status"].get("conditions") or []}.get("Ready")
            == "True" for p in current.values())
        return current if ok else None

    running = wait_for("4 ready pods", all_ready)
    node_of = {n: p["spec"]["nodeName"] for n, p in running.items()}
    ip_of = {n: p["status"]["podIP"] for n, p in running.items()}
    # The scheduler spreads 2/2; each pod's IP comes from its node's pod CIDR.
    assert sorted(node_of.values()) == ["node-1", "node-1", "node-2", "node-2"], node_of
    node_ip = {f"node-{i}": k.addresses.node_ip(i) for i in (1, 2)}
    for name in names:
        index = int(node_of[name].rsplit("-", 1)[1])
        cidr = ipaddress.ip_network(k.addresses.pod_cidr(index))
        assert ipaddress.ip_address(ip_of[name]) in cidr, (name, node_of, ip_of)
        assert running[name]["status"]["hostIP"] == node_ip[node_of[name]]

    k.kubectl("-n", ns, "create", "-f", "-", stdin=yaml.safe_dump({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "spread"},
        "spec": {"type": "NodePort", "selector": {"app": "spread"},
                 "ports": [{"port": 8080, "targetPort": "http"}]}}))
    svc = k.get(f"/api/v1/namespaces/{ns}/services/spread")
    cluster = f"{svc['spec']['clusterIP']}:8080"
    node_port = svc["spec"]["ports"][0]["nodePort"]

    def addresses(key: str) -> list[str]:
        ep = k.get(f"/api/v1/namespaces/{ns}/endpoints/spread")
        return sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get(key) or [])

    wait_for("4 endpoints", lambda: addresses("addresses") == sorted(ip_of.values()))
    # The EndpointSlice carries each endpoint's node, which kube-proxy matches.
    slices = k.get(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
                   "?labelSelector=kubernetes.io/service-name%3Dspread")["items"]
    slice_nodes = {e["addresses"][0]: e.get("nodeName") for s in slices
                   for e in s.get("endpoints") or []}
    assert slice_nodes == {ip_of[n]: node_of[n] for n in names}

    # Every pod answers through the ClusterIP, and through either node's NodePort
    # (externalTrafficPolicy: Cluster: a node forwards to pods on the other node too).
    wait_for("every pod through the ClusterIP",
             lambda: set(answers(cluster, 8)) == set(names))
    for ip in node_ip.values():
        wait_for(f"every pod through {ip}:{node_port}",
                 lambda ip=ip: set(answers(f"{ip}:{node_port}", 8)) == set(names))

    # Readiness flip: out of the Endpoints, then out of the proxy's rotation.
    gone = "web-1"
    resp = httpx.post(f"http://{ip_of[gone]}:8080/kubemu/ready?value=false", timeout=3)
    assert resp.status_code == 200
    wait_for("not ready address", lambda: addresses("notReadyAddresses") == [ip_of[gone]])
    assert addresses("addresses") == sorted(ip_of[n] for n in names if n != gone)
    wait_for("out of rotation", lambda: gone not in answers(cluster, 6))
    seen = answers(cluster, 30)
    assert gone not in seen and set(seen) == set(names) - {gone}, seen
    assert gone not in answers(f"{node_ip['node-2']}:{node_port}", 12)
    # The pod itself still serves; only the Service stopped sending it traffic.
    assert hostname(f"{ip_of[gone]}:8080") == gone

    # externalTrafficPolicy: Local, selecting one pod on node-2 only.
    local_pod = next(n for n in names if node_of[n] == "node-2")
    k.kubectl("-n", ns, "label", "pod", local_pod, "local=yes")
    k.kubectl("-n", ns, "create", "-f", "-", stdin=yaml.safe_dump({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "local"},
        "spec": {"type": "NodePort", "externalTrafficPolicy": "Local",
                 "selector": {"local": "yes"},
                 "ports": [{"port": 8080, "targetPort": "http"}]}}))
    local_svc = k.get(f"/api/v1/namespaces/{ns}/services/local")
    local_port = local_svc["spec"]["ports"][0]["nodePort"]
    assert "healthCheckNodePort" not in local_svc["spec"]  # only LoadBalancers get one
    wait_for("answers on node-2", lambda: answers(f"{node_ip['node-2']}:{local_port}", 4)
             == [local_pod] * 4)
    # node-1 has a listener (the proxy binds it) but no local endpoint: refused.
    for _ in range(4):
        with pytest.raises(httpx.TransportError):
            hostname(f"{node_ip['node-1']}:{local_port}")
    # Cluster traffic is not affected by the external policy.
    assert answers(f"{local_svc['spec']['clusterIP']}:8080", 3) == [local_pod] * 3

    # Switching to Cluster makes node-1 forward to node-2's pod.
    k.kubectl("-n", ns, "patch", "service", "local", "-p",
              '{"spec":{"externalTrafficPolicy":"Cluster"}}')
    wait_for("answers on node-1 with Cluster policy",
             lambda: answers(f"{node_ip['node-1']}:{local_port}", 2) == [local_pod] * 2)

    # Only node 1's proxy binds the shared ClusterIPs: no proxy failed to bind anything.
    events = k.get(f"/api/v1/namespaces/{ns}/events")["items"]
    assert [e["message"] for e in events if e["reason"] == "FailedToBindPort"] == []
    log = k.log.read_text(errors="replace")
    assert "kube-proxy-node-2" in log and "cannot listen" not in log


def test_launch_plan_runs_a_kube_proxy_per_node(tmp_path: Path) -> None:
    ctx = LaunchContext(python="py", data_dir=tmp_path, kubeconfig=tmp_path / "kc",
                        bind_address="127.0.0.1", port=8080,
                        server_url="http://127.0.0.1:8080", storage="sqlite", nodes=3,
                        addresses=Addresses.for_block(9))
    plan = {c.name: list(c.args(ctx)) for c in launch_plan(ctx)}
    proxies = [name for name in plan if name.startswith("kube-proxy")]
    assert proxies == ["kube-proxy", "kube-proxy-node-2", "kube-proxy-node-3"]
    for index, name in enumerate(proxies, 1):
        argv = plan[name]
        flag = dict(itertools.pairwise(argv))
        assert flag["--hostname-override"] == f"node-{index}"
        assert flag["--nodeport-addresses"] == f"127.9.0.{index}/32"
        assert flag["--healthz-bind-address"] == f"127.9.0.{index}:10256"
        assert flag["--metrics-bind-address"] == f"127.9.0.{index}:10249"
        assert ("--bind-cluster-ips=false" in argv) == (index != 1)
    assert dict(itertools.pairwise(plan["node-3"]))["--pod-cidr"] == "127.9.130.0/24"
    assert dict(itertools.pairwise(plan["apiserver"]))["--service-cluster-ip-range"] == \
        "127.9.64.0/18"
    assert dict(itertools.pairwise(plan["service-lb"]))["--address-pool"] == "127.9.1.0/24"
    assert "etcd" not in plan and "--etcd-servers" not in plan["apiserver"]
    assert "kube-proxy" not in {c.name for c in launch_plan(ctx, ["kube-proxy"])}


# -- the README walkthrough ------------------------------------------------------------


def walkthrough_commands(text: str, marker: str = "walkthrough") -> list[str]:
    """The commands of every fenced block preceded by ``<!-- walkthrough -->`` (or
    ``<!-- MARKER -->``).

    A command is one line, plus its ``\\`` continuation lines and the body of a
    heredoc it opens; blank lines and comment lines are skipped.
    """
    blocks = re.findall(rf"<!-- {re.escape(marker)} -->\s*\n```[a-z]*\n(.*?)\n```", text, re.S)
    commands: list[str] = []
    for block in blocks:
        current: list[str] = []
        heredoc: str | None = None
        for line in block.splitlines():
            if heredoc is not None:
                current.append(line)
                if line.strip() == heredoc:
                    heredoc = None
                    commands.append("\n".join(current))
                    current = []
                continue
            if not current and (not line.strip() or line.lstrip().startswith("#")):
                continue
            current.append(line)
            match = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
            if match:
                heredoc = match.group(1)
            elif not line.endswith("\\"):
                commands.append("\n".join(current))
                current = []
        assert heredoc is None and not current, "unterminated command in the walkthrough"
    return commands


class Shell:
    """One bash process (in ``cwd``, the repository by default); runs commands one at a
    time and reports each exit status."""

    def __init__(self, env: dict[str, str], cwd: Path = REPO_ROOT) -> None:
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, cwd=cwd, env=env, bufsize=1)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.count = 0

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def run(self, command: str, timeout: float = 90.0) -> tuple[int, str]:
        assert self.process.stdin is not None
        self.count += 1
        marker = f"__walkthrough_rc_{self.count}__"
        self.process.stdin.write(f"{command}\necho \"{marker}=$?\"\n")
        self.process.stdin.flush()
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"timed out running {command!r}: {''.join(out)}") from None
            if line is None:
                raise AssertionError(f"bash exited running {command!r}: {''.join(out)}")
            if line.startswith(f"{marker}="):
                return int(line.split("=", 1)[1]), "".join(out)
            out.append(line)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def assert_least_privilege(cluster: Kubemu) -> None:
    """The cluster ran over verified TLS under RBAC, each component as its own identity
    that may not do what its role does not grant (only the controller manager's garbage
    collector may delete Services)."""
    assert cluster.url.startswith("https://")
    assert "insecure-skip-tls-verify" not in cluster.kubeconfig.read_text()
    configs = {path.stem: path for path in (cluster.data_dir / "kubeconfigs").glob("*.conf")}
    expected = {"controller-manager": "system:kube-controller-manager",
                "scheduler": "system:kube-scheduler", "kube-proxy": "system:kube-proxy",
                "endpoints": "system:kubemu:endpoints-controller",
                "service-lb": "system:kubemu:service-lb", "dns": "system:kubemu:dns",
                "console": "system:kubemu:console",
                "node-1": "system:node:node-1", "node-2": "system:node:node-2"}
    assert set(configs) == set(expected)
    for name, path in configs.items():
        def kubectl(*args: str, config: Path = path) -> str:
            out = subprocess.run([str(BIN / "kubectl"), "--kubeconfig", str(config), *args],
                                 capture_output=True, text=True, timeout=60)
            return out.stdout.strip()

        assert yaml.safe_load(kubectl("auth", "whoami", "-o", "yaml"))["status"][
            "userInfo"]["username"] == expected[name]
        may_delete = kubectl("auth", "can-i", "delete", "services", "-n", "default")
        assert may_delete == ("yes" if name == "controller-manager" else "no"), name
        if name == "dns":  # list and watch only
            assert [kubectl("auth", "can-i", verb, resource, "-A") for verb, resource in (
                ("watch", "endpointslices.discovery.k8s.io"), ("list", "namespaces"),
                ("get", "services"), ("list", "pods"))] == ["yes", "yes", "no", "no"]


def assert_console_serves(cluster: Kubemu) -> None:
    """kubemu up printed the console's URL, and the console shows the cluster read with
    its own read-only identity."""
    found = re.search(r"web console: (http://\S+)", cluster.log.read_text(errors="replace"))
    assert found, "kubemu up printed no console URL"
    assert found.group(1) == cluster.addresses.console_url
    snapshot = httpx.get(found.group(1) + "api/snapshot", timeout=10).json()
    assert [n["name"] for n in snapshot["nodes"]] == ["node-1", "node-2"]
    [default] = [ns for ns in snapshot["namespaces"] if ns["name"] == "default"]
    assert "web" in [svc["name"] for svc in default["services"]]
    node = httpx.get(found.group(1) + "api/object", params={"resource": "nodes",
                                                             "name": "node-1"}, timeout=10)
    assert node.status_code == 200 and yaml.safe_load(node.text)["kind"] == "Node"


def test_readme_walkthrough_runs_verbatim(tmp_path: Path) -> None:
    commands = walkthrough_commands(README.read_text())
    assert len(commands) > 10
    text = " ".join(commands)
    for needle in ("kubectl expose", "kubectl get svc,endpoints,pods -o wide",
                   "/kubemu/ready?value=false", "kubectl get endpoints", "--watch",
                   "kubectl delete pod", "nodePort"):
        assert needle in text, needle
    data_dir = tmp_path / "data"
    cluster = start_kubemu(data_dir, nodes=2)
    env = {key: value for key, value in os.environ.items() if key != "KUBECONFIG"}
    env.update(KUBEMU_DATA=str(data_dir), HOME=str(tmp_path),
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    shell = Shell(env)
    transcript: list[tuple[str, str]] = []
    try:
        wait_for("two Ready nodes", lambda: cluster.kubectl(
            "get", "nodes", "--no-headers").count(" Ready ") == 2)
        for command in commands:
            code, output = shell.run(command)
            transcript.append((command, output))
            assert code == 0, f"{command!r} exited {code}:\n{output}"
        assert_least_privilege(cluster)
        assert_console_serves(cluster)
    finally:
        shell.close()
        stop_kubemu(cluster)

    def output_of(prefix: str) -> list[str]:
        return [out for cmd, out in transcript if cmd.startswith(prefix)]

    everything = "".join(out for _, out in transcript)
    # kubectl get svc,endpoints,pods -o wide: the Service, its Endpoints, pods on both nodes.
    wide = output_of("kubectl get svc,endpoints,pods -o wide")[0]
    assert "service/web" in wide and "NodePort" in wide and "endpoints/web" in wide
    assert "node-1" in wide and "node-2" in wide and "1/1" in wide
    # The ClusterIP and the NodePort answer with the pods' names.
    rounds = [out.split() for out in output_of("for i in 1 2 3 4 5 6 7 8 9;")]
    assert len(rounds) == 3, transcript
    first_round = rounds[0]
    # Round-robin: nine new connections, three to each pod.
    assert sorted(first_round) == sorted(["web-1", "web-2", "web-3"] * 3), first_round
    node_port = [out for cmd, out in transcript if "$NODE_PORT" in cmd and "curl" in cmd]
    assert node_port and all(re.search(r"^web-[123]$", out, re.M) for out in node_port), node_port
    # Scaling: web-4 joins, web-1 leaves.
    assert "pod/web-4 created" in everything and 'pod "web-1" deleted' in everything
    second_round = rounds[1]
    assert "web-4" in second_round and "web-1" not in second_round, second_round
    # Readiness flip: web-2 leaves the rotation and comes back; the watch saw it.
    assert "ready=false" in everything and "ready=true" in everything
    third_round = rounds[2]
    assert third_round and "web-2" not in third_round, third_round
    assert set(third_round) == {"web-3", "web-4"}, third_round
    pod_ip = re.search(r"web-2 is (127\.\d+\.\d+\.\d+)", everything)
    assert pod_ip, everything
    watch_rows = [line.split()[1] for line in everything.splitlines()
                  if line.startswith("web ") and len(line.split()) >= 3]
    assert any(pod_ip.group(1) not in row for row in watch_rows), watch_rows
    assert pod_ip.group(1) in watch_rows[-1], watch_rows
