"""The node agent: registers its Node, heartbeats a Lease, runs the pods bound to it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import socket
import time
from collections.abc import Mapping
from typing import Any

import httpx

from apiserver.api.resources import EVENTS, LEASES, NODES, PODS
from controllers.client.errors import ApiError
from controllers.client.informer import SharedInformer
from controllers.client.rest import RestClient
from controllers.client.store import DeletedFinalStateUnknown, Obj, meta_namespace_key, split_key
from controllers.client.workqueue import RateLimitingQueue
from controllers.node.ipam import IPAllocator
from controllers.node.runtime import FINITE_CONTAINER_SECONDS, PodRunner, now_rfc3339

__all__ = ["KUBELET_VERSION", "NODE_LEASE_NAMESPACE", "NodeAgent"]

log = logging.getLogger("controllers.node")

KUBELET_VERSION = "v1.33.0-kubemu"
NODE_LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION = 40
#: Pod status fields the agent owns (compared before writing).
_OWNED = ("phase", "conditions", "hostIP", "hostIPs", "podIP", "podIPs", "startTime",
          "containerStatuses")


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _read(path: str) -> str:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def _memory_ki() -> str:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return line.split()[1] + "Ki"
    return "8Gi"


_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}


class NodeAgent:
    """One node: its Node object, its Lease and its pods."""

    def __init__(self, client: RestClient, node_name: str, node_ip: str, pod_cidr: str, *,
                 allow_host_commands: bool = False, lease_interval: float = 10.0,
                 status_interval: float = 60.0, max_pods: int = 110,
                 finite_container_seconds: float = FINITE_CONTAINER_SECONDS) -> None:
        self.client = client
        self.node_name = node_name
        self.node_ip = node_ip
        self.pod_cidr = pod_cidr
        self.allow_host_commands = allow_host_commands
        self.lease_interval = lease_interval
        self.status_interval = status_interval
        self.max_pods = max_pods
        self.finite_container_seconds = finite_container_seconds
        self.ipam = IPAllocator(pod_cidr)
        self.pods = SharedInformer(client, PODS, field_selector=f"spec.nodeName={node_name}")
        self.queue: RateLimitingQueue[str] = RateLimitingQueue(name="node")
        self.runners: dict[str, PodRunner] = {}
        self.terminating: dict[str, asyncio.Task[None]] = {}
        self.node_uid = ""
        self.pods.add_event_handler(self._enqueue, lambda _o, n: self._enqueue(n),
                                    self._enqueue)

    def _enqueue(self, pod: Obj | DeletedFinalStateUnknown) -> None:
        self.queue.add(meta_namespace_key(pod))

    # -- the Node and its Lease ----------------------------------------------------------

    def node_status(self) -> dict[str, Any]:
        """The Node's status (conditions, addresses, capacity, nodeInfo)."""
        now = now_rfc3339()
        capacity = {"cpu": str(os.cpu_count() or 1), "ephemeral-storage": "100Gi",
                    "memory": _memory_ki(), "pods": str(self.max_pods)}

        def cond(ctype: str, status: str, reason: str, message: str) -> dict[str, Any]:
            return {"type": ctype, "status": status, "lastHeartbeatTime": now,
                    "lastTransitionTime": self._transition.get(ctype, now), "reason": reason,
                    "message": message}

        return {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory",
                     "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure",
                     "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID",
                     "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [{"type": "InternalIP", "address": self.node_ip},
                          {"type": "Hostname", "address": self.node_name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
            "nodeInfo": {
                "machineID": _read("/etc/machine-id"),
                "systemUUID": _read("/sys/class/dmi/id/product_uuid"),
                "bootID": _read("/proc/sys/kernel/random/boot_id"),
                "kernelVersion": platform.release(),
                "osImage": _os_image(),
                "containerRuntimeVersion": "kubemu://0.1.0",
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": _ARCH.get(platform.machine(), platform.machine()),
            },
        }

    _transition: dict[str, str] = {}

    async def register(self) -> None:
        """Create the Node, or take it over (status, podCIDR) if it exists."""
        now = now_rfc3339()
        self._transition = {t: now for t in ("MemoryPressure", "DiskPressure", "PIDPressure",
                                             "Ready")}
        arch = _ARCH.get(platform.machine(), platform.machine())
        node = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": self.node_name, "labels": {
                "beta.kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch, "kubernetes.io/hostname": self.node_name,
                "kubernetes.io/os": "linux"},
                "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
            "spec": {"podCIDR": self.pod_cidr, "podCIDRs": [self.pod_cidr]},
            "status": self.node_status(),
        }
        while True:
            try:
                try:
                    created = await self.client.create(NODES, None, node)
                    self.node_uid = str(created["metadata"].get("uid") or "")
                except ApiError as exc:
                    if exc.code != 409:
                        raise
                    existing = await self.client.get(NODES, None, self.node_name)
                    self.node_uid = str(existing["metadata"].get("uid") or "")
                    for c in _m(existing.get("status")).get("conditions") or []:
                        c = _m(c)
                        same = "True" if c.get("type") == "Ready" else "False"
                        if c.get("status") == same and c.get("lastTransitionTime"):
                            self._transition[str(c["type"])] = str(c["lastTransitionTime"])
                    spec = dict(_m(existing.get("spec")))
                    if not spec.get("podCIDR"):
                        await self.client.patch(NODES, None, self.node_name, {
                            "spec": {"podCIDR": self.pod_cidr, "podCIDRs": [self.pod_cidr]}})
                    await self._patch_node_status()
                log.info("registered node %s (%s, pod CIDR %s)", self.node_name, self.node_ip,
                         self.pod_cidr)
                return
            except (ApiError, OSError, httpx.HTTPError) as exc:
                log.warning("registering node %s failed: %s; retrying", self.node_name, exc)
                await asyncio.sleep(2.0)

    async def _patch_node_status(self) -> None:
        await self.client.patch(NODES, None, self.node_name, {"status": self.node_status()},
                                subresource="status")

    async def _lease_loop(self) -> None:
        # httpx's transport errors are no OSErrors: an apiserver that is down or restarting
        # must cost a renewal (and a status update), never the agent.
        spec_base = {"holderIdentity": self.node_name, "leaseDurationSeconds": LEASE_DURATION}
        while True:
            now = datetime_micro()
            try:
                try:
                    await self.client.patch(LEASES, NODE_LEASE_NAMESPACE, self.node_name,
                                            {"spec": {**spec_base, "renewTime": now}})
                except ApiError as exc:
                    if exc.code != 404:
                        raise
                    await self.client.create(LEASES, NODE_LEASE_NAMESPACE, {
                        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                        "metadata": {"name": self.node_name, "namespace": NODE_LEASE_NAMESPACE,
                                     "ownerReferences": [{
                                         "apiVersion": "v1", "kind": "Node",
                                         "name": self.node_name, "uid": self.node_uid}]},
                        "spec": {**spec_base, "renewTime": now},
                    })
            except (ApiError, OSError, httpx.HTTPError) as exc:
                log.warning("renewing lease failed: %s", exc)
            await asyncio.sleep(self.lease_interval)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.status_interval)
            try:
                await self._patch_node_status()
            except (ApiError, OSError, httpx.HTTPError) as exc:
                log.warning("updating node status failed: %s", exc)

    # -- pods --------------------------------------------------------------------------

    async def run(self) -> None:
        """Register, sync the pod cache, adopt existing pods, then run until cancelled."""
        await self.register()
        self.pods.start()
        tasks = [asyncio.create_task(self._lease_loop()),
                 asyncio.create_task(self._status_loop())]
        try:
            while not await self.pods.wait_for_sync(timeout=10.0):
                log.info("waiting for the pod cache to sync")
            for pod in self.pods.store.list():
                ip = str(_m(pod.get("status")).get("podIP") or "")
                uid = str(_m(pod.get("metadata")).get("uid") or "")
                if ip and uid and self.ipam.restore(uid, ip):
                    log.info("adopting pod %s with IP %s", meta_namespace_key(pod), ip)
            tasks.append(asyncio.create_task(self._worker()))
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            self.queue.shutdown()
            await self.pods.stop()
            for runner in list(self.runners.values()):
                await runner.stop()

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.sync(key)
                self.queue.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("syncing pod %s failed: %s", key, exc)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    async def _event(self, pod: Mapping[str, Any], type_: str, reason: str, message: str,
                     field_path: str) -> None:
        md = _m(pod.get("metadata"))
        namespace = str(md.get("namespace") or "default")
        now = now_rfc3339()
        involved = {"apiVersion": "v1", "kind": "Pod", "namespace": namespace,
                    "name": md.get("name"), "uid": md.get("uid")}
        if field_path:
            involved["fieldPath"] = field_path
        body = {"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": f"{md.get('name')}.{time.time_ns():x}",
                             "namespace": namespace},
                "involvedObject": involved, "reason": reason, "message": message,
                "type": type_, "source": {"component": "kubelet", "host": self.node_name},
                "firstTimestamp": now, "lastTimestamp": now, "count": 1,
                "reportingComponent": "kubelet", "reportingInstance": self.node_name}
        try:
            await self.client.create(EVENTS, namespace, body)
        except Exception as exc:  # best effort
            log.debug("could not record event %s: %s", reason, exc)

    async def sync(self, key: str) -> None:
        """Bring one pod's runtime in line with its object, then write its status."""
        pod = self.pods.store.get_by_key(key)
        runner = self.runners.get(key)
        uid = str(_m(_m(pod).get("metadata")).get("uid") or "") if pod else ""
        if runner is not None and (pod is None or runner.uid != uid):
            if key not in self.terminating:
                del self.runners[key]
                await runner.stop()
                self.ipam.release(runner.uid)
            if pod is None:
                return
            runner = None
        if pod is None:
            return
        md, status = _m(pod.get("metadata")), _m(pod.get("status"))
        if md.get("deletionTimestamp"):
            if key not in self.terminating:
                self.terminating[key] = asyncio.create_task(self._terminate(key, pod, runner))
            return
        if status.get("phase") in ("Succeeded", "Failed"):
            return
        if runner is None:
            ip = self.ipam.allocate(uid)

            def changed() -> None:
                self.queue.add(key)

            async def event(type_: str, reason: str, message: str, field_path: str) -> None:
                await self._event(pod, type_, reason, message, field_path)

            runner = PodRunner(pod, ip, self.node_ip, self.allow_host_commands, changed, event,
                               self.finite_container_seconds)
            if str(status.get("podIP") or "") == ip:
                runner.adopt(pod)
            self.runners[key] = runner
            log.info("starting pod %s on %s", key, ip)
            await runner.start()
        await self._write_status(key, pod, runner)

    async def _write_status(self, key: str, pod: Mapping[str, Any], runner: PodRunner) -> None:
        desired = runner.status(pod)
        current = _m(pod.get("status"))
        if all(current.get(k) == desired.get(k) for k in _OWNED):
            return
        namespace, name = split_key(key)
        try:
            await self.client.patch(PODS, namespace, name, {
                "metadata": {"uid": runner.uid}, "status": desired}, subresource="status")
        except ApiError as exc:
            if exc.code not in (404, 409):
                raise

    async def _terminate(self, key: str, pod: Mapping[str, Any],
                         runner: PodRunner | None) -> None:
        """Graceful termination: not ready, preStop, stop within the grace period, delete."""
        md = _m(pod.get("metadata"))
        grace = md.get("deletionGracePeriodSeconds")
        if not isinstance(grace, int):
            grace = int(_m(pod.get("spec")).get("terminationGracePeriodSeconds") or 30)
        deadline = time.monotonic() + grace
        namespace, name = split_key(key)
        try:
            if runner is not None:
                runner.terminating = True
                with contextlib.suppress(ApiError, OSError, httpx.HTTPError):
                    await self._write_status(key, pod, runner)
                for container in runner.containers:
                    await runner.event("Normal", "Killing",
                                       f"Stopping container {container.name}",
                                       container.field_path)
                await self._pre_stop(pod, runner, deadline)
                await runner.stop(max(deadline - time.monotonic(), 0.0))
                self.ipam.release(runner.uid)
            try:
                await self.client.delete(PODS, namespace, name, grace_period_seconds=0,
                                         preconditions={"uid": str(md.get("uid") or "")})
                log.info("pod %s terminated and deleted", key)
            except ApiError as exc:
                if exc.code not in (404, 409):
                    raise
        finally:
            self.terminating.pop(key, None)
            if self.runners.get(key) is runner:
                self.runners.pop(key, None)
            self.queue.add(key)

    async def _pre_stop(self, pod: Mapping[str, Any], runner: PodRunner,
                        deadline: float) -> None:
        """Run ``lifecycle.preStop`` hooks (sleep, httpGet) within the grace period."""
        hooks = []
        for container in runner.containers:
            hook = _m(_m(container.spec.get("lifecycle")).get("preStop"))
            if "sleep" in hook:
                hooks.append(asyncio.sleep(float(_m(hook["sleep"]).get("seconds") or 0)))
            elif "httpGet" in hook:
                get = _m(hook["httpGet"])
                hooks.append(_http_hook(runner.ip, get))
        if hooks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*hooks, return_exceptions=True),
                                       max(deadline - time.monotonic(), 0.0))


async def _http_hook(ip: str, get: Mapping[str, Any]) -> None:
    import httpx

    port = get.get("port")
    url = f"http://{get.get('host') or ip}:{port}{get.get('path') or '/'}"
    async with httpx.AsyncClient(timeout=30.0) as client:
        with contextlib.suppress(httpx.HTTPError):
            await client.get(url)


def datetime_micro() -> str:
    """A MicroTime (RFC 3339 with microseconds), as Lease renewTime uses."""
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_node_name() -> str:
    """The host name, lower-cased (the kubelet's default node name)."""
    return socket.gethostname().lower()
