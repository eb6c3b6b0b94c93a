"""Setting up the apiserver's data for the benchmark over plain HTTP (httpx)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

from bench.procs import BenchError


def pod(name: str, namespace: str) -> dict[str, Any]:
    """A small, realistic pod (the same shape the create scenario posts)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": "bench", "tier": "web", "pod-template-hash": "5d8f6c7b9"},
            "annotations": {"bench.kubemu.io/run": "setup"},
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:1.27",
                    "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                    "env": [{"name": "MODE", "value": "bench"}],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "64Mi"},
                        "limits": {"cpu": "500m", "memory": "128Mi"},
                    },
                }
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 5,
        },
    }


def _check(resp: httpx.Response, what: str, ok: tuple[int, ...] = (200, 201)) -> None:
    if resp.status_code not in ok:
        raise BenchError(f"{what}: HTTP {resp.status_code}: {resp.text[:500]}")


def ensure_namespace(client: httpx.Client, name: str) -> None:
    """Create namespace ``name`` unless it exists."""
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    resp = client.post("/api/v1/namespaces", json=body)
    _check(resp, f"create namespace {name}", (201, 409))


def create_pod(client: httpx.Client, namespace: str, name: str) -> None:
    """Create one pod (an existing one is fine)."""
    resp = client.post(f"/api/v1/namespaces/{namespace}/pods", json=pod(name, namespace))
    _check(resp, f"create pod {namespace}/{name}", (201, 409))


def fetch(client: httpx.Client, path: str) -> bytes:
    """GET ``path``: the exact response bytes."""
    resp = client.get(path, headers={"accept": "application/json"})
    _check(resp, f"GET {path}", (200,))
    return resp.content


async def _populate(base_url: str, namespace: str, count: int, concurrency: int) -> None:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60.0) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(count):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                name = f"pod-{i:05d}"
                body = orjson.dumps(pod(name, namespace))
                resp = await client.post(
                    f"/api/v1/namespaces/{namespace}/pods",
                    content=body,
                    headers={"content-type": "application/json"},
                )
                _check(resp, f"create pod {namespace}/{name}", (201, 409))

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def populate(base_url: str, namespace: str, count: int, concurrency: int = 32) -> None:
    """Create ``count`` pods in ``namespace`` with ``concurrency`` requests in flight."""
    asyncio.run(_populate(base_url, namespace, count, concurrency))
