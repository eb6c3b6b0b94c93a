"""Running one pod: its containers (:mod:`controllers.node.container`), phase and conditions.

A :class:`PodRunner` owns the containers of one pod (by uid), on one pod IP.
:meth:`PodRunner.status` renders the pod status the way the kubelet reports it.

Finite containers: the built-in runtime cannot run arbitrary images, so a
container it cannot serve — one with a ``command`` or ``args`` and no
``ports``, run without ``--allow-host-commands`` — "runs" for
``finite_seconds`` (the agent's ``--finite-container-seconds``, default
:data:`FINITE_CONTAINER_SECONDS`) and then exits 0, as kwok's pod stages do.
Its status says so honestly: ``terminated`` with reason ``Completed``, exit
code 0, ``startedAt``/``finishedAt``. A container that exited (finite, or a
host process) restarts under ``restartPolicy: Always`` (and under
``OnFailure`` when its exit code was not 0); otherwise it stays terminated,
and once every container has terminated the pod's phase is ``Succeeded``
(all exit codes 0) or ``Failed``. Ephemeral containers (:mod:`controllers.node.ephemeral`)
count for neither phase nor readiness.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controllers.node.container import (
    FINITE_CONTAINER_SECONDS,
    Container,
    EventFn,
    now_rfc3339,
)
from controllers.node.ephemeral import EphemeralContainers
from controllers.node.etchosts import pod_hostname
from controllers.node.mountns import HostEnv
from controllers.node.podlogs import LogSettings, pod_log_dir
from controllers.node.servers import port_kind
from controllers.node.volumes import VolumeSetupError

__all__ = ["FINITE_CONTAINER_SECONDS", "Container", "EnvFn", "PodRunner", "StartChecks",
           "now_rfc3339",
           "port_kind"]

#: The pod conditions the kubelet owns and writes itself (upstream ``PodConditionsByKubelet``).
_KUBELET_CONDITIONS = frozenset({"PodReadyToStartContainers", "Initialized", "Ready",
                                 "ContainersReady"})

#: ``env(pod runner, container spec)``: how a host process of the container starts.
EnvFn = Callable[["PodRunner", Mapping[str, Any]], Awaitable[HostEnv]]


@dataclass(frozen=True)
class StartChecks:
    """What the agent checks before a container starts, in the kubelet's words (None:
    nothing missing): ``volumes(runner)`` the ``FailedMount`` message of the pod's
    volumes, ``config(runner, container spec)`` the ``CreateContainerConfigError``
    message of the container's environment."""

    volumes: Callable[[PodRunner], Awaitable[str | None]]
    config: Callable[[PodRunner, Mapping[str, Any]], Awaitable[str | None]]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class PodRunner:
    """The containers of one pod, on one pod IP."""

    def __init__(self, pod: Mapping[str, Any], ip: str, host_ip: str, allow_host_commands: bool,
                 on_change: Callable[[], None], event: EventFn,
                 finite_seconds: float = FINITE_CONTAINER_SECONDS,
                 logs: LogSettings | None = None, env: EnvFn | None = None,
                 checks: StartChecks | None = None) -> None:
        md = _m(pod.get("metadata"))
        self.namespace = str(md.get("namespace") or "default")
        spec = _m(pod.get("spec"))
        self.uid = str(md.get("uid") or "")
        self.pod_name = str(md.get("name") or "")
        #: The containers' host name.
        self.hostname = pod_hostname(pod)
        self.logs = logs
        self.log_dir = (pod_log_dir(logs.root, self.namespace, self.pod_name, self.uid)
                        if logs is not None else None)
        self.ip = ip
        self.host_ip = host_ip
        self.allow_host_commands = allow_host_commands
        self.finite_seconds = finite_seconds
        self.restart_policy = str(spec.get("restartPolicy") or "Always")
        self.terminating = False
        self._on_change = on_change
        self.event = event
        self.start_time = now_rfc3339()
        self.containers = [Container(self, _m(c)) for c in spec.get("containers") or []]
        #: The debug containers added to the running pod (``kubectl debug``).
        self.ephemeral = EphemeralContainers(self)
        #: Condition type → (status, lastTransitionTime).
        self._conditions: dict[str, tuple[str, str]] = {}
        self._env = env
        self._checks = checks
        #: Process groups of running exec sessions, killed when the pod stops.
        self.exec_groups: set[int] = set()

    def changed(self) -> None:
        """Ask the agent to write this pod's status."""
        self._on_change()

    def track_exec(self, pid: int, running: bool) -> None:
        """Register (``running``) or forget an exec session's process group."""
        if running:
            self.exec_groups.add(pid)
        else:
            self.exec_groups.discard(pid)

    async def process_env(self, container: Mapping[str, Any]) -> HostEnv:
        """How a host process of ``container`` starts: from the
        agent's resolver (:mod:`controllers.node.podenv`), else this process's environment
        with the container's literal values."""
        if self._env is not None:
            return await self._env(self, container)
        env = dict(os.environ)
        for var in container.get("env") or []:
            if isinstance(_m(var).get("value"), str):
                env[str(var["name"])] = var["value"]
        env["HOSTNAME"] = self.hostname
        return HostEnv(env, str(container.get("workingDir") or "") or None)

    async def check_volumes(self) -> None:
        """Raise :class:`VolumeSetupError` while the agent's check finds a volume of the
        pod that cannot be set up."""
        error = await self._checks.volumes(self) if self._checks is not None else None
        if error is not None:
            raise VolumeSetupError(error)

    async def config_error(self, container: Mapping[str, Any]) -> str | None:
        """Why ``container``'s configuration cannot be made (the agent's check of its
        ConfigMap and Secret references), or None."""
        if self._checks is None:
            return None
        return await self._checks.config(self, container)

    def adopt(self, pod: Mapping[str, Any]) -> None:
        """Keep what a previous agent reported: start time, conditions, container ids."""
        status = _m(pod.get("status"))
        if status.get("startTime"):
            self.start_time = str(status["startTime"])
        for cond in status.get("conditions") or []:
            cond = _m(cond)
            self._conditions[str(cond.get("type"))] = (str(cond.get("status")),
                                                       str(cond.get("lastTransitionTime") or ""))
        by_name = {_m(c).get("name"): _m(c) for c in status.get("containerStatuses") or []}
        for container in self.containers:
            if container.name in by_name:
                container.adopt(by_name[container.name])
        self.ephemeral.adopt(status.get("ephemeralContainerStatuses"))

    async def start(self, pod: Mapping[str, Any] | None = None) -> None:
        """Start every container, then the ephemeral containers ``pod`` has already."""
        if self.allow_host_commands is False and any(c.spec.get("command")
                                                     for c in self.containers):
            await self.event("Normal", "HostCommandsDisabled",
                             "container commands are not run (the node agent runs without "
                             "--allow-host-commands); serving built-in ports instead, or "
                             "exiting 0 after --finite-container-seconds when the container "
                             "has no ports", "")
        for container in self.containers:
            await container.start()
        if pod is not None:
            await self.ephemeral.sync(pod)

    async def stop(self, grace: float = 0.0) -> None:
        """Stop every container."""
        self.terminating = True
        await asyncio.gather(*(c.stop(grace) for c in self.containers),
                             self.ephemeral.stop(grace))
        for pid in list(self.exec_groups):  # a container's end ends the commands run in it
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

    def container(self, name: str) -> Container | None:
        """The container called ``name``, regular or ephemeral (names are unique across
        both, as the kubelet's lookups for logs, attach and exec assume)."""
        found = next((c for c in self.containers if c.name == name), None)
        return found if found is not None else self.ephemeral.find(name)

    def remove_logs(self) -> None:
        """Delete this pod's log directory (the pod is gone)."""
        if self.log_dir is not None:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def _condition(self, ctype: str, ok: bool, now: str) -> dict[str, Any]:
        status = "True" if ok else "False"
        prev = self._conditions.get(ctype)
        when = prev[1] if prev is not None and prev[0] == status and prev[1] else now
        self._conditions[ctype] = (status, when)
        cond: dict[str, Any] = {"type": ctype, "status": status, "lastProbeTime": None,
                                "lastTransitionTime": when}
        if not ok and ctype in ("Ready", "ContainersReady") and \
                (phase := self.phase()) in ("Succeeded", "Failed"):
            cond["reason"] = "PodCompleted" if phase == "Succeeded" else "PodFailed"
        elif not ok and ctype in ("Ready", "ContainersReady"):
            cond["reason"] = "ContainersNotReady"
            names = " ".join(sorted(c.name for c in self.containers if not c.ready))
            cond["message"] = f"containers with unready status: [{names}]"
        return cond

    def phase(self) -> str:
        """As the kubelet's ``getPhase``: ``Succeeded``/``Failed`` once every container
        terminated for good; ``Pending`` while a container waits that never ran
        (``ContainerCreating``, ``CreateContainerConfigError``); else ``Running``."""
        done = [c.terminated for c in self.containers]
        if done and all(t is not None for t in done):
            return "Succeeded" if all(t and t.get("exitCode") == 0 for t in done) \
                else "Failed"
        if any(not c.running and c.terminated is None and c.last_terminated is None
               for c in self.containers):
            return "Pending"
        return "Running"

    def status(self, pod: Mapping[str, Any]) -> dict[str, Any]:
        """The pod status the kubelet would report now."""
        now = now_rfc3339()
        phase = self.phase()
        ready = bool(self.containers) and all(c.ready for c in self.containers)
        gates = [_m(g).get("conditionType") for g in _m(pod.get("spec")).get("readinessGates")
                 or []]
        current = {_m(c).get("type"): _m(c) for c in _m(pod.get("status")).get("conditions")
                   or []}
        gates_ok = all(current.get(g, {}).get("status") == "True" for g in gates)
        conditions = [
            self._condition("PodReadyToStartContainers", True, now),
            self._condition("Initialized", True, now),
            self._condition("Ready", ready and gates_ok, now),
            self._condition("ContainersReady", ready, now),
        ]
        scheduled = dict(current.get("PodScheduled") or {
            "type": "PodScheduled", "status": "True", "lastProbeTime": None,
            "lastTransitionTime": self.start_time})
        conditions.append(scheduled)
        # The conditions others own (readiness gates, DisruptionTarget …) are kept, as the
        # kubelet copies every condition it does not own.
        conditions += [dict(c) for ctype, c in current.items()
                       if ctype not in _KUBELET_CONDITIONS and ctype != "PodScheduled"]
        out: dict[str, Any] = {
            "phase": phase,
            "conditions": conditions,
            "hostIP": self.host_ip,
            "hostIPs": [{"ip": self.host_ip}],
            "podIP": self.ip,
            "podIPs": [{"ip": self.ip}],
            "startTime": self.start_time,
            "containerStatuses": [c.status() for c in self.containers],
        }
        if self.ephemeral.items:
            out["ephemeralContainerStatuses"] = self.ephemeral.statuses()
        return out
