"""Two ``kubemu up`` clusters on one machine, side by side, never sharing an address.

Each runs on its own data directory and so takes its own block of loopback addresses
(:mod:`kubemu.addresses`): its node IPs, pod IPs, ClusterIPs and kube-proxy ports are
its own. Both run pods behind a NodePort Service; traffic to each cluster's ClusterIP
and NodePort reaches only that cluster's pods, each cluster's DNS answers with its own
Service, and no kube-proxy fails to bind anything.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import httpx
import pytest
import yaml

from tests.support.kubemu_up import Kubemu, answers, start_kubemu, stop_kubemu, wait_for

pytestmark = pytest.mark.timeout(240)

IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
            "name": "web", "image": IMAGE, "args": ["netexec", "--http-port=8080"],
            "ports": [{"name": "http", "containerPort": 8080}],
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"},
                               "periodSeconds": 1},
        }]},
    }


SERVICE = {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
    "spec": {"type": "NodePort", "selector": {"app": "web"},
             "ports": [{"port": 8080, "targetPort": "http"}]},
}


@pytest.fixture
def two_clusters(tmp_path: Path) -> Iterator[tuple[Kubemu, Kubemu]]:
    started: list[Kubemu] = []
    try:
        for name in ("a", "b"):
            started.append(start_kubemu(tmp_path / name, 1))
        yield started[0], started[1]
    finally:
        for cluster in reversed(started):
            stop_kubemu(cluster)


def resolve(query: dns.message.Message, server: str, port: int) -> list[Any]:
    """The answer section, empty when the query was lost."""
    try:
        return list(dns.query.udp(query, server, timeout=2, port=port).answer)
    except dns.exception.Timeout:
        return []


def deploy(k: Kubemu, prefix: str) -> tuple[str, str, set[str]]:
    """Two pods and the Service in ``k``: (ClusterIP:port, NodeIP:NodePort, pod names)."""
    names = {f"{prefix}-web-1", f"{prefix}-web-2"}
    k.kubectl("create", "-f", "-",
              stdin="---\n".join(yaml.safe_dump(doc) for doc in [SERVICE, *map(pod, names)]))
    svc = k.get("/api/v1/namespaces/default/services/web")
    node_ip = k.addresses.node_ip(1)
    return (f"{svc['spec']['clusterIP']}:8080", f"{node_ip}:{svc['spec']['ports'][0]['nodePort']}",
            names)


def test_two_clusters_never_share_an_address(two_clusters: tuple[Kubemu, Kubemu]) -> None:
    a, b = two_clusters
    assert a.addresses.block != b.addresses.block
    for k in (a, b):
        recorded = json.loads((k.data_dir / "addresses.json").read_text())
        assert recorded["block"] == str(k.addresses.block)
        kubernetes = k.get("/api/v1/namespaces/default/services/kubernetes")
        assert kubernetes["spec"]["clusterIP"] == k.addresses.kubernetes_ip
    deployed = {"a": deploy(a, "a"), "b": deploy(b, "b")}

    for k, (cluster_ip, node_port, names) in ((a, deployed["a"]), (b, deployed["b"])):
        ip = ipaddress.ip_address(cluster_ip.split(":")[0])
        assert ip in k.addresses.service_range

        def pod_ips(k: Kubemu = k) -> list[str]:
            pods = k.get("/api/v1/namespaces/default/pods")["items"]
            return [p["status"].get("podIP", "") for p in pods]

        ips = wait_for("two pod IPs", lambda f=pod_ips: (lambda v: v if all(v) and len(v) == 2
                                                         else None)(f()))
        assert all(ipaddress.ip_address(i) in k.addresses.cluster_cidr for i in ips), ips
        # Every answer through this cluster's ClusterIP and NodePort is one of its pods;
        # both pods answer (round robin), the other cluster's never do.
        for address in (cluster_ip, node_port):
            wait_for(f"{address} answering with both pods",
                     lambda address=address, names=names: set(answers(address, 6)) == names,
                     timeout=60)
            assert set(answers(address, 10)) == names

    # Each cluster's DNS, asked through its own kube-dns ClusterIP, names its own web.
    for k in (a, b):
        web_ip = k.get("/api/v1/namespaces/default/services/web")["spec"]["clusterIP"]
        query = dns.message.make_query("web.default.svc.cluster.local.", "A")
        port = 53 if os.geteuid() == 0 else 10053
        answer = wait_for("web resolved", lambda q=query, k=k, port=port: resolve(
            q, k.addresses.dns_ip, port))
        assert [str(rd) for rrset in answer for rd in rrset] == [web_ip]

    # No kube-proxy failed to bind any address: nothing was taken by the other cluster.
    for k in (a, b):
        events = k.get("/api/v1/namespaces/default/events")["items"]
        assert [e["message"] for e in events if e["reason"] == "FailedToBindPort"] == []
        assert "cannot listen" not in k.log.read_text(errors="replace")
        healthz = httpx.get(f"http://{k.addresses.proxy_healthz(1)}/healthz", timeout=5)
        assert healthz.status_code == 200, healthz.text
