"""The node agent's Node object and its Lease: registration and heartbeats.

:class:`NodeRegistration` creates the Node (or takes over one that exists: its conditions'
transition times and ``podCIDR`` are kept), renews the node Lease in ``kube-node-lease``
every ``lease_interval`` seconds (the kubelet's 25% of a 40 s lease) and reports the
Node's status every ``status_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import time
from collections.abc import Mapping
from typing import Any

import httpx

from apiserver.api.resources import LEASES, NODES
from controllers.client.errors import ApiError
from controllers.client.resourcelock import format_micro_time
from controllers.client.rest import RestClient
from controllers.node.podapi import now_rfc3339

__all__ = ["KUBELET_VERSION", "LEASE_DURATION", "NODE_LEASE_NAMESPACE", "NodeRegistration"]

log = logging.getLogger("controllers.node")

KUBELET_VERSION = "v1.33.0-kubemu"
NODE_LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION = 40
#: The kubelet's default ``memory.available`` hard eviction threshold (100Mi), in Ki.
EVICTION_MEMORY_KI = 100 << 10


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


def _memory_ki() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 8 << 20


_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}


class NodeRegistration:
    """One node's Node object and Lease."""

    def __init__(self, client: RestClient, node_name: str, node_ip: str, pod_cidr: str, *,
                 lease_interval: float = 10.0, status_interval: float = 60.0,
                 max_pods: int = 110) -> None:
        self.client = client
        self.node_name = node_name
        self.node_ip = node_ip
        self.pod_cidr = pod_cidr
        self.lease_interval = lease_interval
        self.status_interval = status_interval
        self.max_pods = max_pods
        self.node_uid = ""
        self.registered = False
        #: The kubelet API's port (``daemonEndpoints.kubeletEndpoint.Port``; 0: none).
        self.kubelet_port = 0
        self._transition: dict[str, str] = {}
        self._unschedulable = False

    def node_status(self) -> dict[str, Any]:
        """The Node's status (conditions, addresses, capacity, nodeInfo)."""
        now = now_rfc3339()
        memory_ki = _memory_ki()
        capacity = {"cpu": str(os.cpu_count() or 1), "ephemeral-storage": "100Gi",
                    "memory": f"{memory_ki}Ki", "pods": str(self.max_pods)}
        # The kubelet's default hard eviction thresholds (memory.available<100Mi,
        # nodefs.available<10%) are held back from what pods may be given.
        allocatable = {**capacity, "ephemeral-storage": "90Gi",
                       "memory": f"{max(memory_ki - EVICTION_MEMORY_KI, 0)}Ki"}

        def cond(ctype: str, status: str, reason: str, message: str) -> dict[str, Any]:
            return {"type": ctype, "status": status, "lastHeartbeatTime": now,
                    "lastTransitionTime": self._transition.get(ctype, now), "reason": reason,
                    "message": message}

        return {
            "capacity": capacity,
            "allocatable": allocatable,
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
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
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
                "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                "volumes.kubernetes.io/controller-managed-attach-detach":
                                "true"}},
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
                self.registered = True
                log.info("registered node %s (%s, pod CIDR %s)", self.node_name, self.node_ip,
                         self.pod_cidr)
                return
            except (ApiError, OSError, httpx.HTTPError) as exc:
                log.warning("registering node %s failed: %s; retrying", self.node_name, exc)
                await asyncio.sleep(2.0)

    @property
    def reference(self) -> dict[str, Any]:
        """The Node as the kubelet's Events name it (its UID is the node name, as the
        kubelet's ``nodeRef``)."""
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.node_name, "uid": self.node_name}}

    def startup_events(self) -> list[tuple[str, str]]:
        """(reason, message) of the Normal Events the kubelet records on its Node when it
        starts, in its order: ``Starting``, the allocatable limits, each pressure
        condition's state and ``NodeReady``."""
        def now_is(state: str) -> tuple[str, str]:
            return state, f"Node {self.node_name} status is now: {state}"
        return [("Starting", "Starting kubelet."),
                ("NodeAllocatableEnforced", "Updated Node Allocatable limit across pods"),
                now_is("NodeHasSufficientMemory"), now_is("NodeHasNoDiskPressure"),
                now_is("NodeHasSufficientPID"), now_is("NodeReady")]

    def schedulable_event(self, node: Mapping[str, Any]) -> tuple[str, str] | None:
        """(reason, message) of ``NodeNotSchedulable``/``NodeSchedulable`` when the Node's
        ``spec.unschedulable`` changed since the last call (the kubelet's
        ``recordNodeSchedulableEvent``), else None."""
        unschedulable = _m(node.get("spec")).get("unschedulable") is True
        if unschedulable == self._unschedulable:
            return None
        self._unschedulable = unschedulable
        state = "NodeNotSchedulable" if unschedulable else "NodeSchedulable"
        return state, f"Node {self.node_name} status is now: {state}"

    async def _patch_node_status(self) -> None:
        await self.client.patch(NODES, None, self.node_name, {"status": self.node_status()},
                                subresource="status")

    async def lease_loop(self) -> None:
        # httpx's transport errors are no OSErrors: an apiserver that is down or restarting
        # must cost a renewal (and a status update), never the agent.
        """Renew the node Lease (creating it when missing) until cancelled."""
        spec_base = {"holderIdentity": self.node_name, "leaseDurationSeconds": LEASE_DURATION}
        while True:
            now = format_micro_time(time.time())
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

    async def status_loop(self) -> None:
        """Report the Node's status every ``status_interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.status_interval)
            try:
                await self._patch_node_status()
            except (ApiError, OSError, httpx.HTTPError) as exc:
                log.warning("updating node status failed: %s", exc)
