"""A small kopf operator against the real apiserver: it starts, receives Service
events and patches the Services it sees."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import httpx

from tests.support.apiserver import ApiServerProcess
from tests.support.deps import missing_dependency


def require_client() -> None:
    """The client is a pinned test dependency: skip locally, fail under CI if missing."""
    try:
        importlib.import_module("kopf")
    except ImportError:
        missing_dependency("kopf (pip install -e '.[test]')")


OPERATOR = '''
import kopf


@kopf.on.startup()
def configure(settings, **_):
    settings.posting.enabled = False
    settings.watching.server_timeout = 10


@kopf.on.create("v1", "services")
def seen(name, spec, patch, logger, **_):
    patch.metadata.labels["kopf-seen"] = "yes"
    patch.metadata.annotations["kopf-ports"] = str(len(spec.get("ports", [])))
    logger.info("saw service %s", name)
'''


def test_kopf_operator_patches_services(apiserver: ApiServerProcess, tmp_path: Path) -> None:
    require_client()
    ns = f"kopf-{uuid.uuid4().hex[:8]}"
    http = httpx.Client(base_url=apiserver.url, timeout=10)
    assert http.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).status_code == 201
    (tmp_path / "operator.py").write_text(textwrap.dedent(OPERATOR))
    log = (tmp_path / "kopf.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kopf", "run", "--standalone", "--namespace", ns,
         str(tmp_path / "operator.py")],
        stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "KUBECONFIG": str(apiserver.kubeconfig)}, cwd=tmp_path,
    )
    try:
        r = http.post(f"/api/v1/namespaces/{ns}/services", json={
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "a", "port": 80},
                                                          {"name": "b", "port": 443}]}})
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 30
        svc: dict[str, object] = {}
        while time.monotonic() < deadline:
            svc = http.get(f"/api/v1/namespaces/{ns}/services/web").json()
            labels = svc["metadata"].get("labels") or {}  # type: ignore[index]
            if labels.get("kopf-seen") == "yes":
                break
            assert proc.poll() is None, (tmp_path / "kopf.log").read_text()
            time.sleep(0.2)
        md = svc["metadata"]
        assert md["labels"]["kopf-seen"] == "yes", (tmp_path / "kopf.log").read_text()  # type: ignore[index]
        assert md["annotations"]["kopf-ports"] == "2"  # type: ignore[index]
        managers = {e["manager"] for e in md["managedFields"]}  # type: ignore[index]
        assert "kopf" in managers or any("kopf" in m for m in managers), managers
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        http.delete(f"/api/v1/namespaces/{ns}")
        http.close()
