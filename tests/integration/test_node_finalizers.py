"""A pod that a finalizer keeps after its deletion: the node agent stops its containers
and deletes it once, then leaves it alone until the finalizer goes (as the kubelet)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from kubemu.addresses import Addresses
from tests.integration.test_nodes import Proc, get, kubectl, wait_for
from tests.support.apiserver import ApiServerProcess

HELD = """
apiVersion: v1
kind: Pod
metadata: {name: held, finalizers: [example.com/hold]}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    ports: [{containerPort: 8080}]
"""


def _pod_deletes(server: ApiServerProcess) -> float:
    text = httpx.get(server.url + "/metrics", timeout=5).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == "apiserver_request_total"
               and sample.labels.get("verb") == "DELETE"
               and sample.labels.get("resource") == "pods")


def test_a_pod_held_by_a_finalizer_is_deleted_once(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc], address_block: Addresses,
) -> None:
    server = fresh_apiserver
    procs(server, "controllers.scheduler")
    procs(server, "controllers.node", "--node-name", "kn-f", "--pod-cidr",
          address_block.pod_cidr(1), "--lease-interval", "1")
    kubectl(server, "apply", "-f", "-", stdin=HELD)
    wait_for("running", lambda: get(server, "/api/v1/namespaces/default/pods/held")
             ["status"].get("phase") == "Running", timeout=60)
    before = _pod_deletes(server)
    kubectl(server, "delete", "pod", "held", "--wait=false")

    wait_for("the agent's delete", lambda: _pod_deletes(server) >= before + 2, timeout=30)
    time.sleep(3)
    # kubectl's delete and the agent's: not one more while the finalizer holds the pod.
    assert _pod_deletes(server) == before + 2
    kubectl(server, "patch", "pod", "held", "--type=json",
            "-p", '[{"op": "remove", "path": "/metadata/finalizers"}]')
    wait_for("gone", lambda: httpx.get(server.url + "/api/v1/namespaces/default/pods/held",
                                       timeout=5).status_code == 404, timeout=30)
