"""The kubemu pytest plugin (``kubemu`` fixture, entry point ``pytest11``).

This module uses the plugin's own session fixture, and runs a throwaway project that
knows nothing but the documented fixture with ``python -m pytest`` in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import httpx
import pytest
from kubernetes import client

from kubemu.pytest_plugin import KubemuCluster

pytestmark = pytest.mark.slow


def test_fixture_gives_url_kubeconfig_and_configuration(kubemu: KubemuCluster) -> None:
    assert kubemu.url.startswith("https://")
    assert httpx.get(f"{kubemu.url}/readyz", verify=kubemu.verify).status_code == 200
    assert kubemu.kubeconfig.is_file()
    assert kubemu.url in kubemu.kubeconfig.read_text()
    assert kubemu.processes == ("apiserver", "endpoints")
    name = f"plugin-{uuid.uuid4().hex[:8]}"
    with client.ApiClient(kubemu.configuration) as api_client:
        core = client.CoreV1Api(api_client)
        core.create_namespaced_config_map("default", {"metadata": {"name": name},
                                                      "data": {"k": "v"}})
        assert core.read_namespaced_config_map(name, "default").data == {"k": "v"}
        core.delete_namespaced_config_map(name, "default")


EXAMPLE = '''
from kubernetes import client


def test_service_gets_a_cluster_ip(kubemu):
    api = client.CoreV1Api(client.ApiClient(kubemu.configuration))
    svc = api.create_namespaced_service("default", {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    })
    assert svc.spec.cluster_ip
    assert kubemu.kubeconfig.exists()
'''


def test_throwaway_project_uses_only_the_documented_fixture(tmp_path: Path) -> None:
    (tmp_path / "test_example.py").write_text(textwrap.dedent(EXAMPLE))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--kubemu-storage", "memory", "--kubemu-processes", "apiserver",
         "test_example.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


PARALLEL_EXAMPLE = '''
import json
import os
import time

import httpx
import pytest
from kubernetes import client


def check_own_cluster(kubemu, n):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    api = client.CoreV1Api(client.ApiClient(kubemu.configuration))
    name = f"{worker}-{n}"
    api.create_namespaced_config_map("default", {"metadata": {"name": name}})
    svc = api.read_namespaced_service("kubernetes", "default")
    assert svc.spec.cluster_ip == kubemu.addresses.kubernetes_ip
    # Through this worker's own kube-proxy, the kubernetes ClusterIP reaches this
    # worker's apiserver (which has the ConfigMap just written), never another one.
    scheme = kubemu.url.split(":", 1)[0]
    url = f"{scheme}://{svc.spec.cluster_ip}:443/api/v1/namespaces/default/configmaps/{name}"
    deadline = time.monotonic() + 60
    while True:
        try:
            resp = httpx.get(url, timeout=2, verify=kubemu.verify)
            if resp.status_code == 200:
                break
            assert resp.status_code != 404, resp.text
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the ClusterIP never answered"
        time.sleep(0.2)
    out = os.path.join(os.environ["KUBEMU_EXAMPLE_OUT"], f"{name}.json")
    with open(out, "w") as f:
        json.dump({"worker": worker, "block": str(kubemu.addresses.block),
                   "url": kubemu.url}, f)


def test_0(kubemu): check_own_cluster(kubemu, 0)
def test_1(kubemu): check_own_cluster(kubemu, 1)
def test_2(kubemu): check_own_cluster(kubemu, 2)
def test_3(kubemu): check_own_cluster(kubemu, 3)
def test_4(kubemu): check_own_cluster(kubemu, 4)
def test_5(kubemu): check_own_cluster(kubemu, 5)
def test_6(kubemu): check_own_cluster(kubemu, 6)
def test_7(kubemu): check_own_cluster(kubemu, 7)
'''


@pytest.mark.timeout(300)
def test_example_under_xdist_gets_a_cluster_and_address_block_per_worker(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_parallel.py").write_text(PARALLEL_EXAMPLE)
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "4",
         "--kubemu-storage", "memory", "--kubemu-processes", "apiserver,endpoints,kube-proxy",
         "test_parallel.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=280,
        env={**os.environ, "KUBEMU_EXAMPLE_OUT": str(out)},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "8 passed" in result.stdout
    runs = [json.loads(p.read_text()) for p in out.iterdir()]
    assert len(runs) == 8
    by_worker: dict[str, set[tuple[str, str]]] = {}
    for run in runs:
        by_worker.setdefault(run["worker"], set()).add((run["block"], run["url"]))
    # One cluster per worker (same block and URL for all its tests), none shared.
    assert all(len(clusters) == 1 for clusters in by_worker.values()), by_worker
    blocks = [next(iter(clusters))[0] for clusters in by_worker.values()]
    assert len(blocks) == len(set(blocks)) >= 2, by_worker
