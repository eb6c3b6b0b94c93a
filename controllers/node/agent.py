"""The node agent: runs the pods bound to its node (its Node and Lease: :mod:`.registration`).

Built on the shared agent runtime (:mod:`controllers.runtime.agent`): the pods informer
(``spec.nodeName=<node>``) comes from the runtime's informer factory, the runtime waits for
it to sync before :meth:`NodeAgent.run`, and serves :meth:`NodeAgent.http_servers`
(``/healthz``, ``/livez``, ``/readyz`` — ready once the Node is registered — and
``/metrics`` on ``--healthz-bind-address``:``--healthz-port``, like the kubelet's healthz
port). Before registering it starts its kubelet API (:mod:`controllers.node.kubelet.server`)
and advertises the bound port in the Node's ``daemonEndpoints``; containers keep their logs
as :mod:`controllers.node.podlogs` describes, removed with their pod. A host process in a
mount namespace sees its pod's ``resolv.conf`` (:mod:`controllers.node.resolvconf`, written
once per pod) at ``/etc/resolv.conf``; host processes get the kubelet's Service variables
(:mod:`controllers.node.serviceenv`) from an informer on all Services.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from apiserver.api.resources import NODES, PODS, SERVICES
from controllers.client.errors import ApiError
from controllers.client.informer import SharedInformerFactory
from controllers.client.rest import RestClient
from controllers.client.store import DeletedFinalStateUnknown, Obj, meta_namespace_key, split_key
from controllers.client.workqueue import RateLimitingQueue
from controllers.node import mountns, podenv, serviceenv
from controllers.node.etchosts import pod_hostname, write_hosts_file
from controllers.node.ipam import IPAllocator
from controllers.node.kubelet.server import KubeletServer, KubeletServing
from controllers.node.mountns import HostEnv, Mount
from controllers.node.podlogs import LogSettings
from controllers.node.registration import NodeRegistration
from controllers.node.resolvconf import ClusterDNS
from controllers.node.runtime import FINITE_CONTAINER_SECONDS, PodRunner, StartChecks
from controllers.node.volumemanager import DEFAULT_SYNC_FREQUENCY, VolumeManager
from controllers.runtime.agent import Endpoint
from controllers.runtime.events import EventRecorder
from controllers.runtime.health import health_routes, routes

__all__ = ["NodeAgent", "default_node_name"]

log = logging.getLogger("controllers.node")

#: Pod status fields the agent owns (compared before writing).
_OWNED = ("phase", "conditions", "hostIP", "hostIPs", "podIP", "podIPs", "startTime",
          "containerStatuses", "ephemeralContainerStatuses")


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class NodeAgent:
    """One node: its Node object and Lease (:attr:`node`) and its pods."""

    def __init__(self, client: RestClient, informers: SharedInformerFactory, node_name: str,
                 node_ip: str, pod_cidr: str, *, allow_host_commands: bool = False,
                 lease_interval: float = 10.0, status_interval: float = 60.0,
                 max_pods: int = 110,
                 finite_container_seconds: float = FINITE_CONTAINER_SECONDS,
                 healthz: tuple[str, int] | None = None,
                 logs: LogSettings | None = None,
                 kubelet: KubeletServing | None = None, pods_dir: str = "",
                 dns: ClusterDNS | None = None,
                 sync_frequency: float = DEFAULT_SYNC_FREQUENCY) -> None:
        self.client = client
        self.node = NodeRegistration(client, node_name, node_ip, pod_cidr,
                                     lease_interval=lease_interval,
                                     status_interval=status_interval, max_pods=max_pods)
        self.node_name = node_name
        self.node_ip = node_ip
        self.events = EventRecorder(client, "kubelet", host=node_name)
        self.allow_host_commands = allow_host_commands
        #: Host processes get a private mount namespace with the volumes at their mountPath
        #: (root only; see :mod:`.mountns`), else find them under ``$KUBEMU_POD_ROOT``.
        self.mount_namespaces = allow_host_commands and mountns.available()
        self.finite_container_seconds = finite_container_seconds
        self.healthz = healthz
        #: Where the volumes of pods run as host processes are written (per pod uid).
        self.pods_dir = pods_dir or os.path.join(tempfile.gettempdir(),
                                                 f"kubemu-node-{node_name}", "pods")
        self.volumes = VolumeManager(client, self.pods_dir, sync_frequency)
        #: The pods' resolver settings (``--cluster-dns``, ``--cluster-domain``,
        #: ``--resolv-conf``).
        self.dns = dns or ClusterDNS()
        #: How container logs are kept (None: not at all; see :mod:`.podlogs`).
        self.logs = logs
        self.kubelet = KubeletServer(self, kubelet) if kubelet is not None else None
        self.ipam = IPAllocator(pod_cidr)
        self.pods = informers.informer_for(PODS, field_selector=f"spec.nodeName={node_name}")
        #: Every Service, for the containers' Service variables (as the kubelet's lister;
        #: the runtime waits for it to sync before any pod starts, so no container misses
        #: ``KUBERNETES_SERVICE_HOST``).
        self.services = informers.informer_for(SERVICES)
        self.queue: RateLimitingQueue[str] = RateLimitingQueue(name="node")
        self.runners: dict[str, PodRunner] = {}
        self.terminating: dict[str, asyncio.Task[None]] = {}
        #: Pods terminated and deleted by this agent, by key: the uid of each.
        self.deleted: dict[str, str] = {}
        #: This node's own object: the kubelet reports a cordon with an Event.
        self.node_object = informers.informer_for(
            NODES, field_selector=f"metadata.name={node_name}")
        self.node_object.add_event_handler(self._on_node, lambda _o, n: self._on_node(n),
                                           lambda _n: None)
        self._recording: set[asyncio.Task[None]] = set()
        self.pods.add_event_handler(self._enqueue, lambda _o, n: self._enqueue(n),
                                    self._enqueue)

    def _on_node(self, node: Obj) -> None:
        """The kubelet's Event when the Node is cordoned or uncordoned."""
        if (event := self.node.schedulable_event(node)) is not None:
            task = asyncio.create_task(self.events.event(self.node.reference, "Normal", *event))
            self._recording.add(task)
            task.add_done_callback(self._recording.discard)

    def _enqueue(self, pod: Obj | DeletedFinalStateUnknown) -> None:
        self.queue.add(meta_namespace_key(pod))

    def http_servers(self) -> Sequence[Endpoint]:
        """The healthz server, when ``--healthz-port`` asks for one."""
        if self.healthz is None:
            return []
        return [(self.healthz, routes(health_routes(lambda: self.node.registered,
                                                    self.metrics_text)))]

    def metrics_text(self) -> str:
        """``/metrics``: the kubelet's running-pods gauge, the pod work queue, the open
        exec sessions, and this process's open descriptors and asyncio tasks (what a
        leaking stream would grow)."""
        running = sum(1 for r in self.runners.values() if not r.terminating)
        sessions = sum(len(r.exec_groups) for r in self.runners.values())
        try:
            fds = len(os.listdir("/proc/self/fd"))
        except OSError:
            fds = -1
        return (
            "# HELP process_open_fds Number of open file descriptors.\n"
            "# TYPE process_open_fds gauge\n"
            f"process_open_fds {fds}\n"
            "# HELP kubemu_asyncio_tasks Number of asyncio tasks of the node agent.\n"
            "# TYPE kubemu_asyncio_tasks gauge\n"
            f"kubemu_asyncio_tasks {len(asyncio.all_tasks())}\n"
            "# HELP kubemu_exec_sessions Number of exec sessions with a running command.\n"
            "# TYPE kubemu_exec_sessions gauge\n"
            f"kubemu_exec_sessions {sessions}\n"
            "# HELP kubelet_running_pods Number of pods that have a running pod sandbox\n"
            "# TYPE kubelet_running_pods gauge\n"
            f"kubelet_running_pods {running}\n"
            "# HELP workqueue_depth Current depth of workqueue\n"
            "# TYPE workqueue_depth gauge\n"
            f'workqueue_depth{{name="node"}} {len(self.queue)}\n'
            "# HELP workqueue_adds_total Total number of adds handled by workqueue\n"
            "# TYPE workqueue_adds_total counter\n"
            f'workqueue_adds_total{{name="node"}} {self.queue.adds}\n'
        )

    # -- host processes (exec, --allow-host-commands) ------------------------------------

    def _pod_view(self, runner: PodRunner) -> dict[str, Any]:
        """``runner``'s pod as its host processes see it: the cached object with the
        addresses this agent gave it (the status written may lag)."""
        pod = dict(self.pods.store.get_by_key(f"{runner.namespace}/{runner.pod_name}") or {})
        status = dict(_m(pod.get("status")))
        status.update({"podIP": runner.ip, "podIPs": [{"ip": runner.ip}],
                       "hostIP": self.node_ip, "hostIPs": [{"ip": self.node_ip}]})
        pod["status"] = status
        return pod

    async def _process_env(self, runner: PodRunner, container: Mapping[str, Any]) -> HostEnv:
        """How a host process of one of ``runner``'s containers starts: its environment and
        working directory, and — as root — its mount namespace."""
        pod = self._pod_view(runner)
        root = await self.volumes.materialise(pod)
        links = _m(pod.get("spec")).get("enableServiceLinks") is not False  # default true
        services = serviceenv.service_env(self.services.store.list(), runner.namespace, links)
        env = await podenv.container_env(pod, container, self.volumes.fetch, root, services,
                                         pod_hostname(pod, self.dns.domain))
        if self.mount_namespaces:
            cwd = str(container.get("workingDir") or "") or None
            namespace = podenv.namespace(pod, container, self.pods_dir)
            mounts = [*namespace.mounts,
                      Mount(await self._resolv_conf(runner, pod), "/etc/resolv.conf", False)]
            hostname = ""
            if _m(pod.get("spec")).get("hostNetwork") is not True:  # else the host's
                hostname = pod_hostname(pod, self.dns.domain)
                mounts.append(Mount(self._etc_hosts(runner, pod), "/etc/hosts", False))
            return HostEnv(env, cwd, replace(namespace, mounts=tuple(mounts),
                                             hostname=hostname))
        return HostEnv(env, podenv.working_dir(container, root))

    def _etc_hosts(self, runner: PodRunner, pod: Mapping[str, Any]) -> str:
        return write_hosts_file(Path(self.pods_dir, runner.uid, "hosts"), pod, [runner.ip],
                                self.dns.domain)

    async def _volume_error(self, runner: PodRunner) -> str | None:
        return await self.volumes.mount_error(self._pod_view(runner))

    async def _config_error(self, runner: PodRunner, container: Mapping[str, Any]) \
            -> str | None:
        return await podenv.config_error(self._pod_view(runner), container,
                                         self.volumes.fetch)

    async def _resolv_conf(self, runner: PodRunner, pod: Mapping[str, Any]) -> str:
        """The pod's resolv.conf, written at its first host process (warnings forming it
        become the pod's events, as the kubelet's)."""
        path = Path(self.pods_dir, runner.uid, "resolv.conf")
        if not path.exists():
            formed = self.dns.write(pod, path)
            for reason, message in formed.warnings:
                await runner.event("Warning", reason, message, "")
        return str(path)

    # -- pods --------------------------------------------------------------------------

    async def run(self) -> None:
        """Register, adopt the pods of an earlier agent, then run until cancelled (the
        runtime has synced the pods cache)."""
        if self.kubelet is not None:
            self.node.kubelet_port = await self.kubelet.start()
        await self.node.register()
        for reason, message in self.node.startup_events():  # best effort, as any Event
            await self.events.event(self.node.reference, "Normal", reason, message)
        tasks = [asyncio.create_task(self.node.lease_loop()),
                 asyncio.create_task(self.node.status_loop()),
                 asyncio.create_task(self.volumes.run(
                     lambda: [(r, self._pod_view(r)) for r in self.runners.values()]))]
        try:
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
            for runner in list(self.runners.values()):
                await runner.stop()
            if self.kubelet is not None:
                await self.kubelet.stop()

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
        await self.events.event(pod, type_, reason, message, field_path=field_path)

    async def sync(self, key: str) -> None:
        """Bring one pod's runtime in line with its object, then write its status."""
        pod = self.pods.store.get_by_key(key)
        runner = self.runners.get(key)
        uid = str(_m(_m(pod).get("metadata")).get("uid") or "") if pod else ""
        if pod is None:
            self.deleted.pop(key, None)
        if runner is not None and (pod is None or runner.uid != uid):
            if key not in self.terminating:
                del self.runners[key]
                await runner.stop()
                self.ipam.release(runner.uid)
                runner.remove_logs()
                self.volumes.remove(runner.uid)
            if pod is None:
                return
            runner = None
        if pod is None:
            return
        md, status = _m(pod.get("metadata")), _m(pod.get("status"))
        if md.get("deletionTimestamp"):
            # Once terminated and deleted, a pod a finalizer keeps is left alone (asking
            # again would only repeat the same delete).
            if key not in self.terminating and self.deleted.get(key) != uid:
                self.terminating[key] = asyncio.create_task(self._terminate(key, pod, runner))
            return
        self.deleted.pop(key, None)
        if status.get("phase") in ("Succeeded", "Failed"):
            return
        if runner is None:
            ip = self.ipam.allocate(uid)

            def changed() -> None:
                self.queue.add(key)

            async def event(type_: str, reason: str, message: str, field_path: str) -> None:
                await self._event(pod, type_, reason, message, field_path)

            runner = PodRunner(pod, ip, self.node_ip, self.allow_host_commands, changed, event,
                               self.finite_container_seconds, self.logs, self._process_env,
                               StartChecks(self._volume_error, self._config_error))
            if str(status.get("podIP") or "") == ip:
                runner.adopt(pod)
            self.runners[key] = runner
            log.info("starting pod %s on %s", key, ip)
            await runner.start(pod)
        else:
            # A spec change of a running pod the kubelet acts on: ephemeral containers.
            await runner.ephemeral.sync(pod)
        await self._write_status(key, pod, runner)

    async def _write_status(self, key: str, pod: Mapping[str, Any], runner: PodRunner) -> None:
        desired = runner.status(pod)
        current = _m(pod.get("status"))
        if all(current.get(k) == desired.get(k) for k in _OWNED):
            return
        namespace, name = split_key(key)
        # The status replaces the conditions list whole: written only over the version it
        # was computed from, so a condition another writer added meanwhile (the scheduler's
        # DisruptionTarget) is never lost; a conflict is retried on the informer's update.
        rv = str(_m(pod.get("metadata")).get("resourceVersion") or "")
        metadata = {"uid": runner.uid, **({"resourceVersion": rv} if rv else {})}
        try:
            await self.client.patch(PODS, namespace, name, {
                "metadata": metadata, "status": desired}, subresource="status")
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
                running = [c for c in runner.ephemeral.items if c.running]
                for container in [*runner.containers, *running]:
                    await runner.event("Normal", "Killing",
                                       f"Stopping container {container.name}",
                                       container.field_path)
                await self._pre_stop(pod, runner, deadline)
                await runner.stop(max(deadline - time.monotonic(), 0.0))
                self.ipam.release(runner.uid)
                runner.remove_logs()
                self.volumes.remove(runner.uid)
            try:
                await self.client.delete(PODS, namespace, name, grace_period_seconds=0,
                                         preconditions={"uid": str(md.get("uid") or "")})
                self.deleted[key] = str(md.get("uid") or "")
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


def default_node_name() -> str:
    """The host name, lower-cased (the kubelet's default node name)."""
    return socket.gethostname().lower()
