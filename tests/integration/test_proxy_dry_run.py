"""``--dry-run`` of the nftables and ipvs modes against a real apiserver (no privileges),
and the ipvs mode's refusal to apply without the ip_vs kernel module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from controllers.proxy.ipvs import ipvs_available
from tests.support.apiserver import REPO_ROOT, ApiServerProcess
from tests.support.proxy import Api, Process, eventually, unique


def _proxy(server: ApiServerProcess, tmp_path: Path, mode: str) -> Process:
    return Process(["-m", "controllers.proxy", "--proxy-mode", mode, "--dry-run",
                    "--kubeconfig", str(server.kubeconfig), "--min-sync-period", "0",
                    "--cluster-cidr", "10.244.0.0/16", "--nodeport-addresses", "192.168.5.5",
                    "--healthz-bind-address", "", "--metrics-bind-address", ""],
                   tmp_path / f"{mode}.log").start()


def test_dry_run_prints_nftables_and_ipvs_state(apiserver: ApiServerProcess,
                                                tmp_path: Path) -> None:
    api = Api(apiserver, unique("dry"))
    api.pod("p0", "10.244.9.7", {"app": "dry"}, 8080)
    svc = api.service("web", {"app": "dry"}, [{"name": "http", "port": 80, "targetPort": 8080}],
                      type="NodePort", sessionAffinity="ClientIP")
    cip, np = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
    procs = [_proxy(apiserver, tmp_path, "nftables"), _proxy(apiserver, tmp_path, "ipvs")]
    try:
        nft, ipvs = procs
        # Endpoints come from the EndpointSlice (written by hand: no controller here).
        r = api.http.post(f"/apis/discovery.k8s.io/v1/namespaces/{api.ns}/endpointslices", json={
            "metadata": {"name": "web-x", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.9.7"], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]})
        assert r.status_code == 201, r.text
        eventually(lambda: "dnat to 10.244.9.7:8080" in nft.logs(), timeout=15,
                   what=f"nftables dry run\n{nft.logs()[-2000:]}")
        out = nft.logs()
        assert f"{cip} . tcp . 80 : goto service-" in out
        assert f"tcp . {np} : goto external-" in out
        assert "flags dynamic,timeout ; timeout 10800s" in out
        eventually(lambda: f"-a -t 192.168.5.5:{np} -r 10.244.9.7:8080 -m -w 1" in ipvs.logs(),
                   timeout=15, what=f"ipvs dry run\n{ipvs.logs()[-2000:]}")
        out = ipvs.logs()
        assert f"-A -t {cip}:80 -s rr -p 10800" in out
        assert f"add KUBE-CLUSTER-IP {cip},tcp:80" in out
        assert f"add KUBE-NODE-PORT-TCP {np}" in out
        assert "-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT" in out
        assert nft.running() and ipvs.running()
    finally:
        for p in procs:
            p.stop()


def test_ipvs_refuses_to_apply_without_the_kernel_module() -> None:
    if ipvs_available():
        pytest.skip("this kernel offers IPVS")
    done = subprocess.run(
        [sys.executable, "-m", "controllers.proxy", "--proxy-mode", "ipvs",
         "--master", "http://127.0.0.1:9", "--healthz-bind-address", "",
         "--metrics-bind-address", ""],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=30,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert done.returncode != 0
    assert "the kernel offers no IPVS" in done.stderr and "--dry-run" in done.stderr
