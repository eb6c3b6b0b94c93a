"""The ``workloads`` scenario: Deployments scaled and rolled by the real controllers.

Every process is real and started here: a fresh apiserver (SQLite, CPU 0), the controller
manager (``--controllers=deployment,replicaset``), the endpoints controller, the scheduler
and ``nodes`` node agents (all on CPU 1, beside this driver). The scenario takes its own
block of loopback addresses (:mod:`kubemu.addresses`, as ``kubemu up`` does) for the node
IPs, pod CIDRs and Service range, so it can share the machine with other kubemu clusters.

1. **scale-up**: a Deployment of agnhost ``netexec`` pods (an http port, a readiness
   probe) behind a Service goes from 0 to ``replicas``; from the answer to the scale PATCH
   the driver times, on watches, the first moment ``status.readyReplicas`` reaches
   ``replicas``, the Endpoints list that many ready addresses, and the EndpointSlices
   together hold that many ready endpoints. It is then scaled back to 0 (timed until its
   last pod is gone), so that the rollout runs on idle nodes.
2. **rollout**: a ``rollout_replicas`` Deployment, once available, gets a new template
   (an env change); timed from the PATCH's answer until ``kubectl rollout status``'s
   criteria hold: ``observedGeneration >= generation`` and ``updatedReplicas == replicas
   == availableReplicas == spec.replicas``.
3. **baseline**: on another fresh apiserver with the same flags (and nothing else
   running), ``replicas`` pods with the Deployment's pod template are POSTed by 32
   concurrent clients (as ``bench/populate.py`` does): the apiserver's raw pods/s. Each
   workload time is also reported as ``(pods ÷ seconds) ÷ raw pods/s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.procs import (
    HOST,
    BenchError,
    PlainProcess,
    ServerProcess,
    apiserver_module,
    cpu_seconds,
    free_port,
    python_module,
)
from bench.workloads_state import Cluster
from kubemu.addresses import Addresses
from kubemu.blocks import acquire

NAMESPACE = "bench-workloads"
IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.53"
SCALE_NAME = "web"
ROLL_NAME = "roll"
CONCURRENCY = 32
#: Seconds any single phase may take before the scenario gives up.
PHASE_TIMEOUT = 900.0
#: Every 2 s; a pod turns unready only after 3 probes in a row failed or took over 5 s: on
#: a saturated CPU, a 1 s timeout with ``failureThreshold: 1`` makes a few of 1,000 pods
#: flap (measured: ``readyReplicas`` stuck around 994 of 1,000).
READINESS_PROBE: dict[str, Any] = {
    "httpGet": {"path": "/readyz", "port": "http"},
    "periodSeconds": 2, "timeoutSeconds": 5, "failureThreshold": 3,
}
JSON = {"content-type": "application/json"}
MERGE = {"content-type": "application/merge-patch+json"}


def pod_template(name: str, mode: str = "v1") -> dict[str, Any]:
    """The pod template of Deployment ``name``: agnhost netexec with a readiness probe."""
    return {
        "metadata": {"labels": {"app": name}},
        "spec": {"terminationGracePeriodSeconds": 5, "containers": [{
            "name": "web", "image": IMAGE,
            "args": ["netexec", "--http-port=8080"],
            "ports": [{"name": "http", "containerPort": 8080}],
            "env": [{"name": "MODE", "value": mode}],
            "readinessProbe": READINESS_PROBE,
        }]},
    }


def deployment(name: str, replicas: int) -> dict[str, Any]:
    """A RollingUpdate Deployment of :func:`pod_template` pods (25% surge / unavailable)."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "template": pod_template(name),
        },
    }


def service(name: str) -> dict[str, Any]:
    """A ClusterIP Service selecting Deployment ``name``'s pods."""
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"selector": {"app": name},
                 "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }


def _ok(resp: httpx.Response, what: str, ok: tuple[int, ...] = (200, 201)) -> None:
    if resp.status_code not in ok:
        raise BenchError(f"{what}: HTTP {resp.status_code}: {resp.text[:300]}")


def _start_apiserver(workdir: Path, name: str, cpu: int | None,
                     service_range: str) -> ServerProcess:
    port = free_port()
    return ServerProcess(
        name,
        apiserver_module("--bind-address", HOST, "--port", str(port),
                         "--data-dir", str(workdir / f"data-{name}"), "--storage", "sqlite",
                         "--service-cluster-ip-range", service_range),
        port, workdir / f"{name}.log", cpu,
    ).start()


async def _raw_creates(url: str, count: int) -> float:
    """POST ``count`` template pods with :data:`CONCURRENCY` in flight; the seconds taken."""
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:
        r = await client.post("/api/v1/namespaces", json={"metadata": {"name": NAMESPACE}})
        _ok(r, "create namespace", (201, 409))
        template = pod_template(SCALE_NAME)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(count):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                body = {"apiVersion": "v1", "kind": "Pod",
                        "metadata": {**template["metadata"], "name": f"raw-{i:05d}",
                                     "namespace": NAMESPACE},
                        "spec": template["spec"]}
                resp = await client.post(f"/api/v1/namespaces/{NAMESPACE}/pods",
                                         content=orjson.dumps(body), headers=JSON)
                _ok(resp, f"create pod raw-{i:05d}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - started


def baseline(workdir: Path, server_cpu: int | None, count: int,
             service_range: str) -> dict[str, Any]:
    """Raw create throughput of a fresh apiserver: ``count`` pods POSTed concurrently."""
    api = _start_apiserver(workdir, "kubemu-wl-raw", server_cpu, service_range)
    try:
        cpu0 = api.cpu_seconds()
        seconds = asyncio.run(_raw_creates(api.url, count))
        cpu = api.cpu_seconds() - cpu0
    finally:
        api.stop()
    rate = count / seconds
    print(f"bench: workloads raw create {count:,} pods in {seconds:.1f} s = {rate:,.0f} pods/s",
          file=sys.stderr)
    return {"pods": count, "seconds": seconds, "pods_per_second": rate,
            "apiserver_cpu_seconds": cpu}


async def _watch(client: httpx.AsyncClient, path: str, cluster: Cluster,
                 store: dict[str, dict[str, Any]], ready: asyncio.Event) -> None:
    listing = (await client.get(path)).json()
    for item in listing.get("items") or []:
        store[item["metadata"]["name"]] = item
    params = {"watch": "1", "resourceVersion": listing["metadata"]["resourceVersion"],
              "allowWatchBookmarks": "false", "timeoutSeconds": "3600"}
    async with client.stream("GET", path, params=params) as resp:
        ready.set()
        async for line in resp.aiter_lines():
            got = time.perf_counter()
            if line:
                cluster.apply(store, orjson.loads(line), got)


async def _await(fut: asyncio.Future[float], what: str) -> float:
    try:
        return await asyncio.wait_for(asyncio.shield(fut), PHASE_TIMEOUT)
    except TimeoutError:
        raise BenchError(f"workloads: {what} not reached after {PHASE_TIMEOUT:g} s") from None


async def _drive(url: str, replicas: int, rollout: int, pids: dict[str, int]) -> dict[str, Any]:
    timeout = httpx.Timeout(60.0, read=None)
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        r = await client.post("/api/v1/namespaces", json={"metadata": {"name": NAMESPACE}})
        _ok(r, "create namespace", (201, 409))
        cluster = Cluster()
        ns = f"/namespaces/{NAMESPACE}"
        watches = [
            (f"/apis/apps/v1{ns}/deployments", cluster.deployments),
            (f"/api/v1{ns}/endpoints", cluster.endpoints),
            (f"/apis/discovery.k8s.io/v1{ns}/endpointslices", cluster.slices),
            (f"/api/v1{ns}/pods", cluster.pods),
        ]
        events = [asyncio.Event() for _ in watches]
        tasks = [asyncio.create_task(_watch(client, path, cluster, store, ev))
                 for (path, store), ev in zip(watches, events, strict=True)]
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 30)
            return await _phases(client, cluster, replicas, rollout, pids)
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                    await t


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, pid in pids.items():
        group = name.split("-")[0] if name.startswith("node-") else name
        out[group] = out.get(group, 0.0) + cpu_seconds(pid)
    return out


def _cpu_delta(before: dict[str, float], pids: dict[str, int]) -> dict[str, float]:
    after = _cpu(pids)
    return {k: after[k] - before.get(k, 0.0) for k in after}


async def _phases(client: httpx.AsyncClient, cluster: Cluster, replicas: int, rollout: int,
                  pids: dict[str, int]) -> dict[str, Any]:
    dep_path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
    out: dict[str, Any] = {}

    # 1. scale-up
    r = await client.post(f"/api/v1/namespaces/{NAMESPACE}/services",
                          content=orjson.dumps(service(SCALE_NAME)), headers=JSON)
    _ok(r, "create service")
    r = await client.post(dep_path, content=orjson.dumps(deployment(SCALE_NAME, 0)),
                          headers=JSON)
    _ok(r, "create deployment")
    await _await(cluster.until(lambda c: c.rolled_out(SCALE_NAME)), "empty deployment synced")
    print(f"bench: workloads scale-up 0 → {replicas:,}…", file=sys.stderr)
    cpu0 = _cpu(pids)
    sent = time.perf_counter()
    r = await client.patch(f"{dep_path}/{SCALE_NAME}", headers=MERGE,
                           content=orjson.dumps({"spec": {"replicas": replicas}}))
    acked = time.perf_counter()
    _ok(r, "scale deployment")
    ready_f = cluster.until(lambda c: c.ready_replicas(SCALE_NAME) >= replicas)
    ep_f = cluster.until(lambda c: c.ready_addresses(SCALE_NAME) >= replicas)
    eps_f = cluster.until(lambda c: c.slice_ready(SCALE_NAME) >= replicas)
    ready_t = await _await(ready_f, f"{replicas} ready replicas")
    print(f"bench: workloads {replicas:,} ready after {ready_t - acked:.1f} s", file=sys.stderr)
    ep_t = await _await(ep_f, f"{replicas} addresses in the Endpoints")
    eps_t = await _await(eps_f, f"{replicas} endpoints in the EndpointSlices")
    cpu = _cpu_delta(cpu0, pids)
    out["scale_up"] = {
        "replicas": replicas, "patch_ms": (acked - sent) * 1000,
        "ready_seconds": ready_t - acked, "endpoints_seconds": ep_t - acked,
        "endpointslices_seconds": eps_t - acked, "cpu_seconds": cpu,
    }
    print(f"bench: workloads Endpoints {ep_t - acked:.1f} s, EndpointSlices "
          f"{eps_t - acked:.1f} s", file=sys.stderr)

    # Scale back to 0 so that the rollout runs on idle nodes.
    t0 = time.perf_counter()
    r = await client.patch(f"{dep_path}/{SCALE_NAME}", headers=MERGE,
                           content=orjson.dumps({"spec": {"replicas": 0}}))
    _ok(r, "scale deployment to 0")
    gone = await _await(cluster.until(lambda c: c.app_pods(SCALE_NAME) == 0), "pods gone")
    out["scale_down"] = {"replicas": replicas, "gone_seconds": gone - t0}
    print(f"bench: workloads scale-down to 0 in {gone - t0:.1f} s", file=sys.stderr)

    # 2. rollout
    r = await client.post(dep_path, content=orjson.dumps(deployment(ROLL_NAME, rollout)),
                          headers=JSON)
    _ok(r, "create rollout deployment")
    t0 = time.perf_counter()
    avail = await _await(cluster.until(lambda c: c.rolled_out(ROLL_NAME)), "rollout available")
    print(f"bench: workloads rollout of {rollout:,} (created in {avail - t0:.1f} s)…",
          file=sys.stderr)
    cpu0 = _cpu(pids)
    sent = time.perf_counter()
    r = await client.patch(f"{dep_path}/{ROLL_NAME}", headers=MERGE, content=orjson.dumps(
        {"spec": {"template": pod_template(ROLL_NAME, "v2")}}))
    acked = time.perf_counter()
    _ok(r, "roll deployment")
    generation = r.json()["metadata"]["generation"]

    def done(c: Cluster) -> bool:
        d = c.deployments.get(ROLL_NAME) or {}
        return bool((d.get("metadata") or {}).get("generation", 0) >= generation
                    and c.rolled_out(ROLL_NAME))

    rolled = await _await(cluster.until(done), "rollout complete")
    out["rollout"] = {
        "replicas": rollout, "create_seconds": avail - t0, "patch_ms": (acked - sent) * 1000,
        "seconds": rolled - acked, "cpu_seconds": _cpu_delta(cpu0, pids),
    }
    print(f"bench: workloads rollout complete after {rolled - acked:.1f} s", file=sys.stderr)
    return out


def _wait_nodes(url: str, nodes: int, procs: list[PlainProcess]) -> None:
    deadline = time.monotonic() + 120
    with httpx.Client(base_url=url, timeout=30) as client:
        while True:
            for p in procs:
                p.check()
            items = client.get("/api/v1/nodes").json().get("items") or []
            ready = sum(1 for n in items if n["metadata"]["name"].startswith("bench-node-")
                        and any(c.get("type") == "Ready" and c.get("status") == "True"
                                for c in (n.get("status") or {}).get("conditions") or []))
            if ready >= nodes:
                return
            if time.monotonic() > deadline:
                raise BenchError(f"only {ready} of {nodes} nodes Ready after 120 s")
            time.sleep(0.2)


def run_scenario(workdir: Path, server_cpu: int | None, load_cpu: int | None, nodes: int,
                 replicas: int, rollout: int) -> dict[str, Any]:
    """Baseline, then the cluster: scale-up and rollout timed; every process stopped after."""
    lease = acquire(f"kubemu bench workloads ({workdir})")
    try:
        return _run_scenario(workdir, server_cpu, load_cpu, nodes, replicas, rollout,
                             lease.addresses)
    finally:
        lease.release()


def _run_scenario(workdir: Path, server_cpu: int | None, load_cpu: int | None, nodes: int,
                  replicas: int, rollout: int, addresses: Addresses) -> dict[str, Any]:
    if nodes > addresses.max_nodes:
        raise BenchError(f"at most {addresses.max_nodes} nodes fit an address block")
    service_range = str(addresses.service_range)
    raw = baseline(workdir, server_cpu, replicas, service_range)
    api = _start_apiserver(workdir, "kubemu-wl", server_cpu, service_range)
    servers: list[ServerProcess] = []
    plain: list[PlainProcess] = []
    pids: dict[str, int] = {"apiserver": api.pid}
    max_pods = math.ceil(max(replicas, rollout * 1.25) / nodes) + 20
    try:
        for name, module, extra in (
            ("controller-manager", "controllers.manager",
             ("--leader-elect=false", "--controllers=deployment,replicaset")),
            ("endpoints-controller", "controllers.endpoints", ("--leader-elect=false",)),
        ):
            port = free_port()
            proc = ServerProcess(name, python_module(module, "--server", api.url,
                                                     "--port", str(port), *extra),
                                 port, workdir / f"wl-{name}.log", load_cpu).start(timeout=60)
            servers.append(proc)
            pids[name] = proc.pid
        sched = PlainProcess(python_module("controllers.scheduler", "--server", api.url),
                       workdir / "wl-scheduler.log", load_cpu)
        plain.append(sched)
        pids["scheduler"] = sched.process.pid
        for i in range(1, nodes + 1):
            node = PlainProcess(python_module("controllers.node", "--server", api.url,
                                        "--node-name", f"bench-node-{i}",
                                        "--node-ip", addresses.node_ip(i),
                                        "--pod-cidr", addresses.pod_cidr(i),
                                        "--max-pods", str(max_pods)),
                          workdir / f"wl-node-{i}.log", load_cpu)
            plain.append(node)
            pids[f"node-{i}"] = node.process.pid
        _wait_nodes(api.url, nodes, plain)
        result = asyncio.run(_drive(api.url, replicas, rollout, pids))
    finally:
        for p in reversed(plain):
            p.stop()
        for s in reversed(servers):
            s.stop()
        api.stop()
    result.update(nodes=nodes, raw=raw)
    rate = raw["pods_per_second"]
    up = result["scale_up"]
    for key in ("ready_seconds", "endpoints_seconds", "endpointslices_seconds"):
        up[key.replace("seconds", "ratio")] = replicas / up[key] / rate
    ro = result["rollout"]
    ro["ratio"] = rollout / ro["seconds"] / rate
    return result


def table(results: dict[str, Any]) -> list[str]:
    """The report's section for the ``workloads`` scenario."""
    w = results["workloads"]
    cfg = results["config"]
    raw, up, ro = w["raw"], w["scale_up"], w["rollout"]
    rate = raw["pods_per_second"]

    def row(what: str, pods: int, secs: float) -> str:
        return (f"| {what} | {pods:,} | {secs:.1f} s | {pods / secs:,.1f} "
                f"| {pods / secs / rate:.1%} |")

    return [
        f"#### Workload controllers: {w['nodes']} node agents, agnhost netexec pods with an "
        f"HTTP readiness probe every {READINESS_PROBE['periodSeconds']} s; apiserver on CPU "
        f"{cfg['server_cpu']}, controller manager "
        f"(deployment, replicaset), endpoints controller, scheduler, node agents and driver "
        f"on CPU {cfg['load_cpu']}",
        "",
        "| measured | pods | time | pods/s | ÷ raw create pods/s |",
        "|---|---:|---:|---:|---:|",
        f"| raw create: {CONCURRENCY} clients POST pods to a fresh apiserver | {raw['pods']:,} "
        f"| {raw['seconds']:.1f} s | {rate:,.1f} | 100% |",
        row("scale-up 0 → N: Deployment readyReplicas = N", up["replicas"], up["ready_seconds"]),
        row("scale-up: Endpoints hold N ready addresses", up["replicas"],
            up["endpoints_seconds"]),
        row("scale-up: EndpointSlices hold N ready endpoints", up["replicas"],
            up["endpointslices_seconds"]),
        row("rollout (env change): `kubectl rollout status` criteria", ro["replicas"],
            ro["seconds"]),
        "",
        "Times run from the answer to the Deployment's PATCH to the first watch event after "
        "which the condition holds. The last column is the workload's pods/s as a share of "
        "the raw create rate (pods the apiserver accepts when nobody else writes). "
        f"Scaling back to 0 took {w['scale_down']['gone_seconds']:.1f} s (until the last pod "
        f"was deleted); the rollout Deployment's first {ro['replicas']:,} pods became "
        f"available in {ro['create_seconds']:.1f} s. CPU seconds during scale-up: "
        + ", ".join(f"{k} {v:.1f}" for k, v in up["cpu_seconds"].items())
        + "; during the rollout: "
        + ", ".join(f"{k} {v:.1f}" for k, v in ro["cpu_seconds"].items()) + ".",
    ]
