"""The kubemu pytest plugin (``kubemu`` fixture, entry point ``pytest11``).

This module uses the plugin's own session fixture, and runs a throwaway project that
knows nothing but the documented fixture with ``python -m pytest`` in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import httpx
from kubernetes import client

from kubemu.pytest_plugin import KubemuCluster


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
