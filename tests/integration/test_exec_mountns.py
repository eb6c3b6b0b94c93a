"""As root, host processes see a pod's volumes at their ``mountPath`` (a private mount
namespace per process) and the host's filesystem and mount table stay as they were.

A real apiserver and a node agent run with ``--allow-host-commands``; ``kubectl exec``, the
container's own command and an exec readiness probe all read the volumes at their real
paths, and see an edited ConfigMap there at the agent's next volume sync. Runs only as
root (the agent falls back to ``$KUBEMU_POD_ROOT`` otherwise).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubemu.addresses import Addresses
from tests.integration.test_exec import apply, pod
from tests.support.apiserver import ApiServerProcess, start_apiserver
from tests.support.kubectl import Kubectl, find_kubectl
from tests.support.kubemu_up import wait_for
from tests.support.process import Process

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces need root")

NODE = 23  # the node index of this module's agent in the session's address block

#: Host paths the pod mounts or works in; none of them may exist on the host.
HOST_PATHS = ("/etc/cfg", "/cache", "/srv/kubemu-mountns-work")

MANIFESTS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {mode: fast}
---
apiVersion: v1
kind: Pod
metadata: {name: mounted}
spec:
  nodeName: mountns-node
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "cp /etc/cfg/mode /cache/from-command &&
              while :; do cat /etc/cfg/mode > /cache/live; sleep 0.2; done"]
    workingDir: /srv/kubemu-mountns-work
    env: [{name: MODE, valueFrom: {configMapKeyRef: {name: cfg, key: mode}}}]
    readinessProbe:
      exec: {command: ["cat", "/cache/from-command"]}
      periodSeconds: 1
    volumeMounts:
    - {name: cfg, mountPath: /etc/cfg}
    - {name: cache, mountPath: /cache}
    - {name: api, mountPath: /var/run/secrets/kubernetes.io/serviceaccount}
    - {name: cache, mountPath: /opt/kubemu-ro-cache, readOnly: true}
  volumes:
  - {name: cfg, configMap: {name: cfg}}
  - {name: cache, emptyDir: {}}
  - name: api
    projected:
      sources:
      - downwardAPI:
          items: [{path: namespace, fieldRef: {fieldPath: metadata.namespace}}]
"""


def _mount_targets() -> set[str]:
    out = subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True,
                         check=True)
    return set(out.stdout.split())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory,
            address_block: Addresses) -> Iterator[tuple[ApiServerProcess, Path, set[str]]]:
    present = [p for p in (*HOST_PATHS, "/opt/kubemu-ro-cache") if os.path.lexists(p)]
    if present:
        pytest.skip(f"the host already has {present}")
    before = _mount_targets()
    base = tmp_path_factory.mktemp("mountns")
    server = start_apiserver(base)
    agent = Process(["-m", "controllers.node", "--kubeconfig", str(server.kubeconfig),
                     "--node-name", "mountns-node", "--node-ip", address_block.node_ip(NODE),
                     "--pod-cidr", address_block.pod_cidr(NODE), "--lease-interval", "1",
                     "--root-dir", str(base / "node"), "--allow-host-commands",
                     "--sync-frequency", "1s"],
                    base / "node.log").start()
    try:
        apply(server, MANIFESTS)

        def ready() -> bool:
            conditions = pod(server, "mounted")["status"].get("conditions") or []
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        wait_for("the pod ready (its exec probe reads the emptyDir)", ready, 60.0)
        yield server, base, before
    finally:
        agent.stop()
        server.stop()


@pytest.fixture
def kc(cluster: tuple[ApiServerProcess, Path, set[str]],
       tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    binary = find_kubectl()
    if binary is None:
        pytest.skip("kubectl binary not installed (scripts/bootstrap installs it)")
    return Kubectl(binary, tmp_path_factory.mktemp("home"), lambda: cluster[0].kubeconfig)


def test_volumes_are_at_their_mount_path(kc: Kubectl) -> None:
    done = kc("exec", "mounted", "--", "cat",
              "/var/run/secrets/kubernetes.io/serviceaccount/namespace", "/etc/cfg/mode",
              check=True)
    assert done.stdout == "defaultfast"


def test_the_command_exec_and_probe_share_the_empty_dir(kc: Kubectl) -> None:
    done = kc("exec", "mounted", "--", "sh", "-c",
              "cat /cache/from-command; echo hi > /cache/from-exec", check=True)
    assert done.stdout == "fast"
    done = kc("exec", "mounted", "--", "cat", "/cache/from-exec", "/opt/kubemu-ro-cache/from-exec",
              check=True)
    assert done.stdout == "hi\nhi\n"


def test_read_only_mounts_refuse_writes(kc: Kubectl) -> None:
    for path in ("/etc/cfg/mode", "/opt/kubemu-ro-cache/x",
                 "/var/run/secrets/kubernetes.io/serviceaccount/namespace"):
        done = kc("exec", "mounted", "--", "sh", "-c", f"echo x > {path}")
        assert done.returncode != 0
        assert "Read-only file system" in done.stderr


def test_the_pod_has_its_host_name_and_hosts_file(kc: Kubectl) -> None:
    done = kc("exec", "mounted", "--", "sh", "-c", "hostname; tail -1 /etc/hosts",
              check=True)
    name, entry = done.stdout.splitlines()
    assert name == "mounted"
    assert entry.split("\t")[1:] == ["mounted"]
    assert os.uname().nodename != "mounted"  # the host's is left alone


def test_working_dir_and_host_paths_are_left_alone(kc: Kubectl) -> None:
    done = kc("exec", "mounted", "--", "sh", "-c", "pwd; ls /etc/passwd", check=True)
    assert done.stdout == "/srv/kubemu-mountns-work\n/etc/passwd\n"
    for path in (*HOST_PATHS, "/opt/kubemu-ro-cache"):
        assert not os.path.lexists(path), path


def test_the_host_mount_table_is_unchanged(kc: Kubectl,
                                           cluster: tuple[ApiServerProcess, Path, set[str]]
                                           ) -> None:
    kc("exec", "mounted", "--", "true", check=True)
    new = _mount_targets() - cluster[2]
    ours = [t for t in new if t.startswith((str(cluster[1]), *HOST_PATHS, "/var/run/secrets",
                                            "/run/secrets", "/opt/kubemu"))]
    assert ours == []


def test_an_edited_configmap_reaches_the_running_container(kc: Kubectl) -> None:
    """The kubelet's layout (``..data`` and links through it) and its periodic sync: the
    running command and a new exec both read the new value (``--sync-frequency 1s``)."""
    listing = kc("exec", "mounted", "--", "ls", "-a", "/etc/cfg", check=True).stdout.split()
    assert "..data" in listing and "mode" in listing
    kc("patch", "configmap", "cfg", "-p", '{"data":{"mode":"slow"}}', check=True)
    wait_for("the command sees the new value", lambda: kc(
        "exec", "mounted", "--", "cat", "/cache/live", check=True).stdout == "slow", 20.0)
    assert kc("exec", "mounted", "--", "cat", "/etc/cfg/mode", check=True).stdout == "slow"
    # Its variables were fixed when the container was created: execs inherit them.
    assert kc("exec", "mounted", "--", "sh", "-c", "echo $MODE", check=True).stdout == "fast\n"
