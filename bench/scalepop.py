"""Populating the ``scale`` scenario: 1,000 namespaces, 10,000 Services, 150,000 pods.

Two phases, each timed:

1. **Over HTTP** against a running apiserver (concurrent httpx): the namespaces, plus one
   *template* of each bulk kind in the first namespace — a Service, a Running and Ready
   pod, the Service's Endpoints and EndpointSlice — so their stored form (defaults,
   ``uid``, ``creationTimestamp``, ``managedFields``) is exactly what the apiserver writes.
2. **Offline, through the storage layer** (the apiserver stopped): every other Service,
   pod, Endpoints and EndpointSlice is its template with name, namespace, ``uid``, labels,
   IPs and references changed, written with ``Storage.create`` in large concurrent batches,
   which the revision log group-commits (512 rows per transaction). Services get the free
   ClusterIPs of the service range in order; the apiserver's start-up repair (upstream's
   repair controller) records them in the allocation map the next time it starts, in one
   write of the map.

Layout: namespace ``scale-NNNN`` holds Services ``svc-0`` … ``svc-{S-1}`` and
``pods_per_service`` pods per Service named ``svc-K-J`` (label ``app=svc-K``, node
``node-J``, a unique pod IP in 10.0.0.0/8); each Service's Endpoints and EndpointSlice list
its pods as ready.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from aetcd.rpc import rpc_pb2 as pb

from apiserver.storage.errors import StorageUnavailableError
from apiserver.storage.etcd_client import EtcdClient, EtcdError
from apiserver.storage.interface import Storage
from bench.procs import BenchError

CONCURRENCY = 32
#: Creates handed to the storage at once (the log commits them 512 per transaction).
STORAGE_CHUNK = 4096
JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Shape:
    """How much the scenario creates."""

    namespaces: int
    services_per_namespace: int
    pods_per_service: int

    @property
    def services(self) -> int:
        """Services in all."""
        return self.namespaces * self.services_per_namespace

    @property
    def pods(self) -> int:
        """Pods in all."""
        return self.services * self.pods_per_service


def namespace(n: int) -> str:
    """The name of namespace number ``n``."""
    return f"scale-{n:04d}"


def pod_ip(shape: Shape, n: int, k: int, j: int) -> str:
    """The IP of pod ``j`` of Service ``k`` in namespace ``n`` (unique in 10.0.0.0/8)."""
    i = ((n * shape.services_per_namespace) + k) * shape.pods_per_service + j + 1
    return f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"


def _service(n: int, k: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": f"svc-{k}", "namespace": namespace(n)},
        "spec": {"selector": {"app": f"svc-{k}"},
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080,
                            "protocol": "TCP"}]},
    }


def _pod(n: int, k: int, j: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"svc-{k}-{j}", "namespace": namespace(n),
                     "labels": {"app": f"svc-{k}", "tier": "web",
                                "pod-template-hash": "5d8f6c7b9"}},
        "spec": {
            "nodeName": f"node-{j}",
            "containers": [{
                "name": "app", "image": "nginx:1.27",
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            }],
        },
    }


def _pod_status(ip: str) -> dict[str, Any]:
    now = "2026-01-01T00:00:00Z"
    return {"status": {
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "127.0.0.1",
        "startTime": now,
        "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                       for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
        "containerStatuses": [{"name": "app", "image": "nginx:1.27", "imageID": "",
                               "ready": True, "restartCount": 0, "started": True,
                               "state": {"running": {"startedAt": now}}}],
    }}


def _ref(ns: str, name: str, uid: str) -> dict[str, Any]:
    return {"kind": "Pod", "namespace": ns, "name": name, "uid": uid}


def _endpoints_subsets(ns: str, targets: list[tuple[str, str, str, str]]) -> list[dict[str, Any]]:
    """``targets``: (ip, node, pod name, pod uid) of the ready pods."""
    return [{
        "addresses": [{"ip": ip, "nodeName": node, "targetRef": _ref(ns, name, uid)}
                      for ip, node, name, uid in targets],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }]


def _slice_endpoints(ns: str, targets: list[tuple[str, str, str, str]]) -> list[dict[str, Any]]:
    return [{"addresses": [ip], "nodeName": node, "targetRef": _ref(ns, name, uid),
             "conditions": {"ready": True, "serving": True, "terminating": False}}
            for ip, node, name, uid in targets]


def _ok(resp: httpx.Response, what: str) -> None:
    if resp.status_code not in (200, 201):
        raise BenchError(f"{what}: HTTP {resp.status_code}: {resp.text[:400]}")


async def _workers(jobs: list[Any], run: Any, concurrency: int = CONCURRENCY) -> None:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def worker() -> None:
        while not queue.empty():
            await run(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def populate_http(url: str, shape: Shape) -> float:
    """Phase 1 (see the module docstring); returns its seconds."""
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120.0) as client:

        async def create(job: tuple[str, dict[str, Any]]) -> None:
            path, body = job
            resp = await client.post(path, content=orjson.dumps(body), headers=JSON)
            _ok(resp, f"POST {path} {body['metadata']['name']}")

        await _workers([("/api/v1/namespaces", {"metadata": {"name": namespace(n)}})
                        for n in range(shape.namespaces)], create)
        ns = namespace(0)
        resp = await client.post(f"/api/v1/namespaces/{ns}/services",
                                 content=orjson.dumps(_service(0, 0)), headers=JSON)
        _ok(resp, "template service")
        svc = resp.json()
        resp = await client.post(f"/api/v1/namespaces/{ns}/pods",
                                 content=orjson.dumps(_pod(0, 0, 0)), headers=JSON)
        _ok(resp, "template pod")
        pod = resp.json()
        resp = await client.patch(
            f"/api/v1/namespaces/{ns}/pods/svc-0-0/status",
            content=orjson.dumps(_pod_status(pod_ip(shape, 0, 0, 0))),
            headers={"content-type": "application/merge-patch+json"})
        _ok(resp, "template pod status")
        targets = [(pod_ip(shape, 0, 0, 0), "node-0", "svc-0-0", pod["metadata"]["uid"])]
        endpoints = {"apiVersion": "v1", "kind": "Endpoints",
                     "metadata": {"name": "svc-0", "namespace": ns,
                                  "labels": {"app": "svc-0"}},
                     "subsets": _endpoints_subsets(ns, targets)}
        resp = await client.post(f"/api/v1/namespaces/{ns}/endpoints",
                                 content=orjson.dumps(endpoints), headers=JSON)
        _ok(resp, "template endpoints")
        eps = {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {
                "name": "svc-0-abcde", "namespace": ns,
                "labels": {"kubernetes.io/service-name": "svc-0",
                           "endpointslice.kubernetes.io/managed-by":
                               "endpointslice-controller.k8s.io"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "svc-0",
                                     "uid": svc["metadata"]["uid"], "controller": True,
                                     "blockOwnerDeletion": True}],
            },
            "addressType": "IPv4",
            "endpoints": _slice_endpoints(ns, targets),
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        }
        resp = await client.post(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
                                 content=orjson.dumps(eps), headers=JSON)
        _ok(resp, "template endpointslice")
    return time.perf_counter() - started


def _template(items: dict[str, bytes], suffix: str) -> tuple[str, dict[str, Any]]:
    for key, value in items.items():
        if key.endswith(suffix):
            return key, orjson.loads(value)
    raise BenchError(f"no stored object ends with {suffix!r}")


def _free_ips(service_range: ipaddress.IPv4Network,
              stored: dict[str, bytes], svc_root: str) -> Iterator[str]:
    """ClusterIPs of the range no stored Service holds, in order (the first 16 kept free)."""
    taken = {orjson.loads(v)["spec"].get("clusterIP") for k, v in stored.items()
             if k.startswith(svc_root)}
    for offset in range(16, service_range.num_addresses - 1):
        ip = str(service_range.network_address + offset)
        if ip not in taken:
            yield ip


def _generate(shape: Shape, stored: dict[str, bytes],
              service_range: ipaddress.IPv4Network) -> Iterator[tuple[str, bytes]]:
    """(key, value) of every bulk object not stored yet, from the templates in ``stored``."""
    first = namespace(0)
    pod_key, pod_t = _template(stored, f"/pods/{first}/svc-0-0")
    svc_key, svc_t = _template(stored, f"/services/{first}/svc-0")
    ep_key, ep_t = _template(stored, f"/endpoints/{first}/svc-0")
    sl_key, sl_t = _template(stored, f"/endpointslices/{first}/svc-0-abcde")
    pod_root, svc_root, ep_root, sl_root = (
        key[: key.index(first)] for key in (pod_key, svc_key, ep_key, sl_key))
    ips = _free_ips(service_range, stored, svc_root)
    for n in range(shape.namespaces):
        ns = namespace(n)
        for k in range(shape.services_per_namespace):
            if n == 0 and k == 0:
                svc_uid = svc_t["metadata"]["uid"]
            else:
                svc_uid = str(uuid.uuid4())
                ip = next(ips)
                obj = {**svc_t, "metadata": {**svc_t["metadata"], "name": f"svc-{k}",
                                             "namespace": ns, "uid": svc_uid},
                       "spec": {**svc_t["spec"], "clusterIP": ip, "clusterIPs": [ip],
                                "selector": {"app": f"svc-{k}"}}}
                yield f"{svc_root}{ns}/svc-{k}", orjson.dumps(obj)
            targets = []
            for j in range(shape.pods_per_service):
                name = f"svc-{k}-{j}"
                ip = pod_ip(shape, n, k, j)
                key = f"{pod_root}{ns}/{name}"
                if key == pod_key:
                    targets.append((ip, f"node-{j}", name, pod_t["metadata"]["uid"]))
                    continue
                uid = str(uuid.uuid4())
                obj = {**pod_t,
                       "metadata": {**pod_t["metadata"], "name": name, "namespace": ns,
                                    "uid": uid, "labels": {**pod_t["metadata"]["labels"],
                                                           "app": f"svc-{k}"}},
                       "spec": {**pod_t["spec"], "nodeName": f"node-{j}"},
                       "status": {**pod_t["status"], "podIP": ip, "podIPs": [{"ip": ip}]}}
                targets.append((ip, f"node-{j}", name, uid))
                yield key, orjson.dumps(obj)
            if n == 0 and k == 0:
                continue
            obj = {**ep_t, "metadata": {**ep_t["metadata"], "name": f"svc-{k}",
                                        "namespace": ns, "uid": str(uuid.uuid4()),
                                        "labels": {"app": f"svc-{k}"}},
                   "subsets": _endpoints_subsets(ns, targets)}
            yield f"{ep_root}{ns}/svc-{k}", orjson.dumps(obj)
            owner = {**sl_t["metadata"]["ownerReferences"][0], "name": f"svc-{k}",
                     "uid": svc_uid}
            name = f"svc-{k}-{uuid.uuid4().hex[:5]}"
            obj = {**sl_t, "metadata": {
                **sl_t["metadata"], "name": name, "namespace": ns, "uid": str(uuid.uuid4()),
                "ownerReferences": [owner],
                "labels": {**sl_t["metadata"]["labels"],
                           "kubernetes.io/service-name": f"svc-{k}"}},
                "endpoints": _slice_endpoints(ns, targets)}
            yield f"{sl_root}{ns}/{name}", orjson.dumps(obj)


async def populate_storage(storage: Storage, shape: Shape,
                           service_range: ipaddress.IPv4Network) -> tuple[float, int]:
    """Phase 2 (see the module docstring) on a started ``storage``; returns
    (seconds, objects written)."""
    started = time.perf_counter()
    items, _ = await storage.list_prefix("/registry/")
    stored = {kv.key: kv.value for kv in items}
    written = 0
    chunk: list[tuple[str, bytes]] = []
    for pair in _generate(shape, stored, service_range):
        chunk.append(pair)
        if len(chunk) >= STORAGE_CHUNK:
            await asyncio.gather(*(storage.create(k, v) for k, v in chunk))
            written += len(chunk)
            chunk = []
    if chunk:
        await asyncio.gather(*(storage.create(k, v) for k, v in chunk))
        written += len(chunk)
    return time.perf_counter() - started, written


#: Puts per etcd transaction (etcd's default ``--max-txn-ops``).
ETCD_TXN_OPS = 128
#: Transactions in flight at once during the copy.
ETCD_COPY_CONCURRENCY = 8


async def copy_to_etcd(source: Storage, etcd_url: str) -> tuple[float, int]:
    """Put every live key of ``source`` into an empty etcd, keys and values as
    :class:`~apiserver.storage.etcd.EtcdStorage` stores them (``/registry`` prefix, raw
    bytes), 128 puts per transaction over gRPC (the apiserver's own
    :class:`~apiserver.storage.etcd_client.EtcdClient`), then compact; (seconds, keys).

    One ``Storage.create`` per key waits for its own round trip, too slow for this many
    keys.
    """
    started = time.perf_counter()
    items, _ = await source.list_prefix("/registry/")
    batches = [items[i:i + ETCD_TXN_OPS] for i in range(0, len(items), ETCD_TXN_OPS)]
    client = EtcdClient([etcd_url], request_timeout=120.0)
    try:

        async def put(batch: list[Any]) -> None:
            await client.txn(pb.TxnRequest(success=[
                pb.RequestOp(request_put=pb.PutRequest(key=kv.key.encode(), value=kv.value))
                for kv in batch]))

        await _workers(batches, put, ETCD_COPY_CONCURRENCY)
        # Compacted, as a running cluster's etcd is: the bulk puts put 128 events in each
        # revision, so an apiserver's history window (the last 10,000 revisions) would
        # otherwise reach back over every key at once.
        await client.call("kv", "Compact", pb.CompactionRequest(
            revision=await client.revision(), physical=True), idempotent=True)
    except (EtcdError, StorageUnavailableError) as exc:
        raise BenchError(f"copying into etcd at {etcd_url}: {exc}") from exc
    finally:
        await client.close()
    return time.perf_counter() - started, len(items)
