"""``kubemu up --allow-host-commands`` (secure, the default): ``kubectl exec`` goes through
the apiserver to the node's HTTPS kubelet API (the apiserver's kubelet-client certificate)
and runs the command as a host process."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.kubemu_up import KUBECTL, start_kubemu, stop_kubemu, wait_for

POD = """
apiVersion: v1
kind: Pod
metadata: {name: shell}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: busybox, command: ["sleep", "3600"]}
"""


def test_kubectl_exec_through_a_secure_cluster(tmp_path: Path) -> None:
    up = start_kubemu(tmp_path / "data", 1, "--allow-host-commands")
    try:
        # ServiceAccount admission needs the namespace's default ServiceAccount.
        wait_for("the default ServiceAccount",
                 lambda: up.get("/api/v1/namespaces/default/serviceaccounts/default"))
        up.kubectl("apply", "-f", "-", stdin=POD)
        wait_for("shell running", lambda: "running" in up.get(
            "/api/v1/namespaces/default/pods/shell")["status"]["containerStatuses"][0]["state"])
        done = subprocess.run(
            [KUBECTL, "--kubeconfig", str(up.kubeconfig), "exec", "shell", "--", "sh", "-c",
             "echo $HOSTNAME; cat $KUBEMU_POD_ROOT/var/run/secrets/kubernetes.io/"
             "serviceaccount/namespace; exit 3"],
            capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 3, done.stderr
        assert done.stdout == "shell\ndefault"
        if os.geteuid() == 0:  # a private mount namespace puts the volume at its mountPath
            done = subprocess.run(
                [KUBECTL, "--kubeconfig", str(up.kubeconfig), "exec", "shell", "--", "cat",
                 "/var/run/secrets/kubernetes.io/serviceaccount/namespace"],
                capture_output=True, text=True, timeout=60, check=False)
            assert (done.returncode, done.stdout) == (0, "default"), done.stderr
    finally:
        stop_kubemu(up)
