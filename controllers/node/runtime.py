"""Running one pod: its containers' built-in servers, host processes and probes.

A :class:`PodRunner` owns the containers of one pod (by uid). Each
:class:`Container` serves its ports on the pod IP (see
:mod:`controllers.node.servers`) — or, only with ``--allow-host-commands``,
runs the container's ``command`` as a host process — and runs its readiness
and liveness probes. :meth:`PodRunner.status` renders the pod status the way
the kubelet reports it.

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
(all exit codes 0) or ``Failed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import signal
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from controllers.node.probes import ProbeSpec, ProbeState, parse_probe, run_probe
from controllers.node.servers import ContainerFlags, PortServer, start_port_server

__all__ = ["Container", "PodRunner", "now_rfc3339", "port_kind"]

log = logging.getLogger("controllers.node")

#: Seconds before a container whose process exited (or that failed liveness) restarts.
RESTART_DELAY = 1.0
#: Default seconds a finite container (command/args, no ports) runs before exiting 0.
FINITE_CONTAINER_SECONDS = 2.0

EventFn = Callable[[str, str, str, str], Awaitable[None]]  # (type, reason, message, fieldPath)


def now_rfc3339() -> str:
    """The current time as Kubernetes writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def port_kind(port: Mapping[str, Any], http_ports: set[int]) -> str | None:
    """``http``, ``tcp`` or ``udp`` for a container port (None: not served)."""
    protocol = str(port.get("protocol") or "TCP").upper()
    number = port.get("containerPort")
    if protocol == "UDP":
        return "udp"
    if protocol != "TCP":
        return None
    name = str(port.get("name") or "").lower()
    if "http" in name or number in (80, 8080) or number in http_ports:
        return "http"
    return "tcp"


def image_ref(image: str) -> tuple[str, str]:
    """(image, imageID) as containerd reports them for ``image``."""
    ref = image
    first = ref.split("/", 1)[0]
    if "/" not in ref:
        ref = "docker.io/library/" + ref
    elif "." not in first and ":" not in first and first != "localhost":
        ref = "docker.io/" + ref
    repo = ref.split("@", 1)[0]
    if ":" not in repo.rsplit("/", 1)[-1] and "@" not in ref:
        ref += ":latest"
    digest = hashlib.sha256(ref.encode()).hexdigest()
    base = ref.split("@", 1)[0]
    if ":" in base.rsplit("/", 1)[-1]:
        base = base.rsplit(":", 1)[0]
    return ref, f"{base}@sha256:{digest}"


class Container:
    """One container of a running pod."""

    def __init__(self, runner: PodRunner, spec: Mapping[str, Any]) -> None:
        self.runner = runner
        self.spec = spec
        self.name = str(spec.get("name") or "")
        self.flags = ContainerFlags(runner.pod_name, on_change=runner.changed)
        self.servers: list[PortServer] = []
        self.container_id = ""
        self.started_at = ""
        self.restart_count = 0
        self.last_terminated: dict[str, Any] | None = None
        #: The current ``terminated`` state once the container exited for good.
        self.terminated: dict[str, Any] | None = None
        self.running = False
        self.waiting: tuple[str, str] | None = ("ContainerCreating", "")
        self.proc: asyncio.subprocess.Process | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.readiness: ProbeState | None = None
        self.liveness: ProbeState | None = None
        ready = parse_probe(spec.get("readinessProbe"), spec)
        live = parse_probe(spec.get("livenessProbe"), spec)
        self.readiness_spec: ProbeSpec | None = ready
        self.liveness_spec: ProbeSpec | None = live

    @property
    def ready(self) -> bool:
        """Running, readiness probe passing (if any) and not switched off."""
        if not self.running or not self.flags.ready or self.runner.terminating:
            return False
        return self.readiness.result if self.readiness is not None else True

    def adopt(self, status: Mapping[str, Any]) -> None:
        """Take over identity and counters from a status written by a previous agent."""
        self.container_id = str(status.get("containerID") or "")
        self.started_at = str(_m(_m(status.get("state")).get("running")).get("startedAt") or "")
        self.restart_count = int(status.get("restartCount") or 0)
        term = _m(_m(status.get("lastState")).get("terminated"))
        self.last_terminated = dict(term) if term else None

    async def start(self) -> None:
        """Start serving (or the host process) and the probes."""
        if not self.container_id:
            self.container_id = f"kubemu://{secrets.token_hex(32)}"
        if not self.started_at:
            self.started_at = now_rfc3339()
        self.flags.ready = self.flags.healthy = True
        command = list(self.spec.get("command") or [])
        try:
            if command and self.runner.allow_host_commands:
                await self._start_process(command + list(self.spec.get("args") or []))
            elif self.finite:
                self.tasks.append(asyncio.create_task(self._finish_later()))
            else:
                await self._start_servers()
        except OSError as exc:
            await self._close_servers()
            self.running = False
            self.waiting = ("RunContainerError", f"cannot serve the container's ports: {exc}")
            await self.runner.event("Warning", "Failed", f"Error: {exc}", self.field_path)
            self.tasks.append(asyncio.create_task(self._restart_later()))
            self.runner.changed()
            return
        self.running = True
        self.waiting = None
        if self.readiness_spec is not None:
            self.readiness = ProbeState(self.readiness_spec, False)
            self.tasks.append(asyncio.create_task(self._probe(self.readiness, "Readiness")))
        if self.liveness_spec is not None:
            self.liveness = ProbeState(self.liveness_spec, True)
            self.tasks.append(asyncio.create_task(self._probe(self.liveness, "Liveness")))
        await self.runner.event("Normal", "Started", f"Started container {self.name}",
                                self.field_path)
        self.runner.changed()

    @property
    def finite(self) -> bool:
        """Whether this container is a finite one (see the module docstring)."""
        if self.runner.allow_host_commands or self.spec.get("ports"):
            return False
        return bool(self.spec.get("command") or self.spec.get("args"))

    async def _finish_later(self) -> None:
        await asyncio.sleep(self.runner.finite_seconds)
        await self._exited(0)

    @property
    def field_path(self) -> str:
        """The Event ``involvedObject.fieldPath`` of this container."""
        return f"spec.containers{{{self.name}}}"

    async def _start_servers(self) -> None:
        http_ports = {s.port for s in (self.readiness_spec, self.liveness_spec)
                      if s is not None and s.kind == "http"}
        for port in self.spec.get("ports") or []:
            kind = port_kind(_m(port), http_ports)
            number = _m(port).get("containerPort")
            if kind is None or not isinstance(number, int):
                continue
            server = await start_port_server(kind, self.runner.ip, number, self.flags)
            self.servers.append(server)

    async def _start_process(self, argv: list[str]) -> None:
        env = dict(os.environ)
        for var in self.spec.get("env") or []:
            if isinstance(var.get("value"), str):
                env[str(var["name"])] = var["value"]
        env.update({"POD_NAME": self.runner.pod_name, "POD_IP": self.runner.ip,
                    "HOSTNAME": self.runner.pod_name})
        self.proc = await asyncio.create_subprocess_exec(
            *argv, env=env, cwd=self.spec.get("workingDir") or None,
            stdin=asyncio.subprocess.DEVNULL, start_new_session=True)
        self.tasks.append(asyncio.create_task(self._watch_process(self.proc)))

    async def _watch_process(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if self.runner.terminating or self.proc is not proc:
            return
        await self._exited(code)

    async def _exited(self, code: int) -> None:
        """The container's main process ended with ``code``: restart or stay terminated."""
        if self.runner.terminating:
            return
        self._terminated(code, "Completed" if code == 0 else "Error")
        self.running = False
        policy = self.runner.restart_policy
        if policy == "Always" or (policy == "OnFailure" and code != 0):
            self.runner.changed()
            await asyncio.sleep(RESTART_DELAY)
            await self._restart_now()
            return
        await self.stop()
        self.terminated, self.last_terminated = self.last_terminated, None
        await self.runner.event("Normal", "Completed" if code == 0 else "Failed",
                                f"Container {self.name} exited with code {code}",
                                self.field_path)
        self.runner.changed()

    def _terminated(self, code: int, reason: str) -> None:
        self.last_terminated = {
            "exitCode": code, "reason": reason, "startedAt": self.started_at,
            "finishedAt": now_rfc3339(), "containerID": self.container_id,
        }

    async def _probe(self, state: ProbeState, what: str) -> None:
        spec = state.spec
        await asyncio.sleep(spec.initial_delay)
        while True:
            result = await run_probe(spec, self.runner.ip, self.runner.allow_host_commands)
            changed = state.record(result.ok, result.message)
            if not result.ok and (changed or state.failures == 1):
                await self.runner.event("Warning", "Unhealthy",
                                        f"{what} probe failed: {result.message}",
                                        self.field_path)
            if changed:
                if what == "Liveness" and not state.result:
                    await self.runner.event(
                        "Normal", "Killing",
                        f"Container {self.name} failed liveness probe, will be restarted",
                        self.field_path)
                    self._terminated(137, "Error")
                    await self._restart_now()  # stop() spares this task; it ends here
                    return
                self.runner.changed()
            await asyncio.sleep(spec.period)

    async def _restart_later(self) -> None:
        await asyncio.sleep(RESTART_DELAY * 5)
        await self._restart_now()

    async def _restart_now(self) -> None:
        if self.runner.terminating:
            return
        await self.stop()
        self.restart_count += 1
        self.container_id = ""
        self.started_at = ""
        self.runner.changed()
        await asyncio.sleep(RESTART_DELAY)
        if not self.runner.terminating:
            await self.start()

    async def _close_servers(self) -> None:
        servers, self.servers = self.servers, []
        for server in servers:
            await server.close()

    async def stop(self, grace: float = 0.0) -> None:
        """Stop probes, servers and the host process (SIGTERM, then SIGKILL after ``grace``)."""
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        self.tasks = []
        self.running = False
        await self._close_servers()
        proc, self.proc = self.proc, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), max(grace, 0.1))
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()

    def status(self) -> dict[str, Any]:
        """The container's ``ContainerStatus``."""
        image, image_id = image_ref(str(self.spec.get("image") or ""))
        out: dict[str, Any] = {"name": self.name, "image": image, "imageID": image_id}
        if self.running:
            out["state"] = {"running": {"startedAt": self.started_at}}
            out["containerID"] = self.container_id
        elif self.terminated is not None:
            out["state"] = {"terminated": dict(self.terminated)}
            out["containerID"] = self.container_id
        elif self.waiting is not None:
            waiting = {"reason": self.waiting[0]}
            if self.waiting[1]:
                waiting["message"] = self.waiting[1]
            out["state"] = {"waiting": waiting}
        else:
            out["state"] = {"waiting": {"reason": "ContainerCreating"}}
        out["lastState"] = {"terminated": self.last_terminated} if self.last_terminated else {}
        out["ready"] = self.ready
        out["restartCount"] = self.restart_count
        out["started"] = self.running
        return out


class PodRunner:
    """The containers of one pod, on one pod IP."""

    def __init__(self, pod: Mapping[str, Any], ip: str, host_ip: str, allow_host_commands: bool,
                 on_change: Callable[[], None], event: EventFn,
                 finite_seconds: float = FINITE_CONTAINER_SECONDS) -> None:
        md = _m(pod.get("metadata"))
        spec = _m(pod.get("spec"))
        self.uid = str(md.get("uid") or "")
        self.pod_name = str(md.get("name") or "")
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
        #: Condition type → (status, lastTransitionTime).
        self._conditions: dict[str, tuple[str, str]] = {}

    def changed(self) -> None:
        """Ask the agent to write this pod's status."""
        self._on_change()

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

    async def start(self) -> None:
        """Start every container."""
        if self.allow_host_commands is False and any(c.spec.get("command")
                                                     for c in self.containers):
            await self.event("Normal", "HostCommandsDisabled",
                             "container commands are not run (the node agent runs without "
                             "--allow-host-commands); serving built-in ports instead, or "
                             "exiting 0 after --finite-container-seconds when the container "
                             "has no ports", "")
        for container in self.containers:
            await container.start()

    async def stop(self, grace: float = 0.0) -> None:
        """Stop every container."""
        self.terminating = True
        await asyncio.gather(*(c.stop(grace) for c in self.containers))

    def _condition(self, ctype: str, ok: bool, now: str) -> dict[str, Any]:
        status = "True" if ok else "False"
        prev = self._conditions.get(ctype)
        when = prev[1] if prev is not None and prev[0] == status and prev[1] else now
        self._conditions[ctype] = (status, when)
        cond: dict[str, Any] = {"type": ctype, "status": status, "lastProbeTime": None,
                                "lastTransitionTime": when}
        if not ok and ctype in ("Ready", "ContainersReady") and self.phase() != "Running":
            cond["reason"] = "PodCompleted"
        elif not ok and ctype in ("Ready", "ContainersReady"):
            cond["reason"] = "ContainersNotReady"
            names = " ".join(sorted(c.name for c in self.containers if not c.ready))
            cond["message"] = f"containers with unready status: [{names}]"
        return cond

    def phase(self) -> str:
        """``Running``, or ``Succeeded``/``Failed`` once every container terminated for good."""
        done = [c.terminated for c in self.containers]
        if not done or any(t is None for t in done):
            return "Running"
        return "Succeeded" if all(t and t.get("exitCode") == 0 for t in done) else "Failed"

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
        for gate in gates:
            if gate in current:
                conditions.append(dict(current[gate]))
        return {
            "phase": phase,
            "conditions": conditions,
            "hostIP": self.host_ip,
            "hostIPs": [{"ip": self.host_ip}],
            "podIP": self.ip,
            "podIPs": [{"ip": self.ip}],
            "startTime": self.start_time,
            "containerStatuses": [c.status() for c in self.containers],
        }
