"""``python -m controllers.manager`` against a real apiserver: the serviceaccount controller."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.apiserver import ApiServerProcess
from tests.support.process import Process

TIMEOUT = 20.0


@pytest.fixture
def manager(fresh_apiserver: ApiServerProcess, tmp_path: Path) -> Iterator[Process]:
    argv = ["-m", "controllers.manager", "--kubeconfig", str(fresh_apiserver.kubeconfig),
            "--leader-elect=false"]
    process = Process(argv, tmp_path / "manager.log").start()
    try:
        yield process
    finally:
        process.stop()


def _wait_for(client: httpx.Client, path: str, present: bool = True) -> dict[str, object]:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        response = client.get(path)
        if (response.status_code == 200) == present:
            return dict(response.json())
        time.sleep(0.1)
    raise AssertionError(f"{path} {'never appeared' if present else 'never went away'}")


def test_every_namespace_gets_a_default_service_account(
    fresh_apiserver: ApiServerProcess, manager: Process
) -> None:
    with httpx.Client(base_url=fresh_apiserver.url, timeout=10.0) as client:
        for system in ("default", "kube-system"):
            _wait_for(client, f"/api/v1/namespaces/{system}/serviceaccounts/default")
        ns = f"sa-{uuid.uuid4().hex[:8]}"
        assert client.post("/api/v1/namespaces",
                           json={"metadata": {"name": ns}}).status_code == 201
        path = f"/api/v1/namespaces/{ns}/serviceaccounts/default"
        first = _wait_for(client, path)
        assert client.delete(path).status_code == 200
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            again = client.get(path)
            if again.status_code == 200 and again.json()["metadata"]["uid"] != \
                    first["metadata"]["uid"]:  # type: ignore[index]
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the deleted default ServiceAccount was not made again")
