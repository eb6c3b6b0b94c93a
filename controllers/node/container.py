"""One container of a pod on the built-in runtime: its servers, host process and probes.

A :class:`Container` serves its ports on the pod IP (see :mod:`controllers.node.servers`;
without declared ports, the ports its image listens on: :mod:`controllers.node.images`)
— or, only with ``--allow-host-commands``, runs its ``command`` as a host process — runs
its probes (:mod:`controllers.node.probing`), restarts as its pod's ``restartPolicy``
says, and renders its ``containerStatuses`` entry. A container with a command and no
ports (declared or its image's) that the runtime cannot run is *finite*: it exits 0 after
the pod's ``finite_seconds``. Restarts wait as the kubelet's back-off says
(:mod:`controllers.node.backoff`: ``CrashLoopBackOff``). What it needs of its pod is the
:class:`~controllers.node.podapi.Pod` protocol (:class:`controllers.node.runtime.PodRunner`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import time
from collections.abc import Mapping
from typing import Any

from controllers.node.backoff import RestartBackoff
from controllers.node.containerports import serve_ports
from controllers.node.containerstatus import container_status
from controllers.node.images import (
    NO_ENTRYPOINT,
    image_ref,
    implied_ports,
    process_argv,
    pull_events,
    repository,
    start_error_message,
)
from controllers.node.mountns import HostEnv
from controllers.node.podapi import EventFn, Pod, now_rfc3339
from controllers.node.podlogs import ContainerLog
from controllers.node.probes import ProbeSpec, parse_probe
from controllers.node.probing import ContainerProbes
from controllers.node.servers import ContainerFlags, PortServer
from controllers.node.startfailure import config_failed, mount_failed
from controllers.node.stdio import STDERR, STDOUT, ContainerIO, exited
from controllers.node.usage import InstanceUsage, epoch_of
from controllers.node.volumes import VolumeSetupError

__all__ = ["FINITE_CONTAINER_SECONDS", "Container", "EventFn", "Pod", "image_ref",
           "now_rfc3339"]

log = logging.getLogger("controllers.node")

#: Seconds between a container's stop and its restart (beside any back-off).
RESTART_DELAY = 1.0
#: Seconds an exited host process's output may take to drain from its pipes.
OUTPUT_DRAIN_SECONDS = 2.0
#: Default seconds a finite container (command/args, no ports) runs before exiting 0.
FINITE_CONTAINER_SECONDS = 2.0

def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class Container:
    """One container of a running pod."""

    #: The pod spec list this container is in (Event field paths).
    spec_list = "containers"

    def __init__(self, runner: Pod, spec: Mapping[str, Any]) -> None:
        self.runner = runner
        self.spec = spec
        self.name = str(spec.get("name") or "")
        self.log = (ContainerLog(runner.log_dir / self.name, max_size=runner.logs.max_size,
                                 max_files=runner.logs.max_files)
                    if runner.log_dir is not None and runner.logs is not None else None)
        self.flags = ContainerFlags(runner.pod_name, on_change=runner.changed,
                                    log=self.log_line)
        self.servers: list[PortServer] = []
        self.container_id = ""
        self.started_at = ""
        self.restart_count = 0
        self.last_terminated: dict[str, Any] | None = None
        self.backoff = RestartBackoff()
        #: Volume set-ups failed in a row (the FailedMount back-off).
        self.mount_failures = 0
        #: The running host process's environment (what its execs get).
        self.host_env: HostEnv | None = None
        #: The current ``terminated`` state once the container exited for good.
        self.terminated: dict[str, Any] | None = None
        self.running = False
        self.waiting: tuple[str, str] | None = ("ContainerCreating", "")
        self.proc: asyncio.subprocess.Process | None = None
        #: The host process's streams (attach); a new one per process.
        self.io = ContainerIO()
        self.tasks: list[asyncio.Task[None]] = []
        #: The probes of the running instance (None before the first start).
        self.probes: ContainerProbes | None = None
        self.startup_spec: ProbeSpec | None = parse_probe(spec.get("startupProbe"), spec)
        self.readiness_spec: ProbeSpec | None = parse_probe(spec.get("readinessProbe"), spec)
        self.liveness_spec: ProbeSpec | None = parse_probe(spec.get("livenessProbe"), spec)

    @property
    def ready(self) -> bool:
        """Running, started, readiness probe passing (if any) and not switched off."""
        if not self.running or not self.flags.ready or self.runner.terminating:
            return False
        return self.probes.ready if self.probes is not None else True

    @property
    def started(self) -> bool:
        """Running and past its startup probe (if any): ``ContainerStatus.started``."""
        return self.running and (self.probes is None or self.probes.started)

    def adopt(self, status: Mapping[str, Any]) -> None:
        """Take over identity and counters from a status written by a previous agent."""
        self.container_id = str(status.get("containerID") or "")
        self.started_at = str(_m(_m(status.get("state")).get("running")).get("startedAt") or "")
        self.restart_count = int(status.get("restartCount") or 0)
        term = _m(_m(status.get("lastState")).get("terminated"))
        self.last_terminated = dict(term) if term else None

    async def start(self) -> None:
        """Start serving (or the host process) and the probes. A host process whose volumes
        cannot be set up stays ``ContainerCreating``, with the kubelet's ``FailedMount``
        Event on its pod, and is tried again (see :mod:`.startfailure`)."""
        argv = process_argv(self.spec) if self.runner.allow_host_commands else []
        host: HostEnv | None = None
        try:
            await self.runner.check_volumes()
            if argv:  # the volumes are written for it
                host = self.host_env = await self.runner.process_env(self.spec)
        except VolumeSetupError as exc:
            self.mount_failures += 1
            await mount_failed(self, str(exc))
            return
        self.mount_failures = 0
        for reason, message in pull_events(self.spec):
            await self.event("Normal", reason, message)
        error = await self.runner.config_error(self.spec)
        if error is not None:
            await config_failed(self, error)
            return
        if not self.container_id:
            self.container_id = f"kubemu://{secrets.token_hex(32)}"
        # A new instance, a new usage (:mod:`.usage`); an adopted one started under an
        # earlier agent, at its ``startedAt``.
        self.flags.usage = InstanceUsage(epoch_of(self.started_at))
        if not self.started_at:
            self.started_at = now_rfc3339(self.flags.usage.started)
        self.flags.ready = self.flags.healthy = True
        self.io = ContainerIO()
        if self.log is not None:
            self.log.start_instance(self.restart_count)
        await self.event("Normal", "Created", f"Created container: {self.name}")
        try:
            if host is not None:
                await self._start_process(argv, host)
            elif self.default_command_exits:
                # What the shell does on a kubelet: reads end of input, exits 0, logs nothing.
                self.tasks.append(asyncio.create_task(self._finish_later(0.0)))
            elif self.finite:
                self.log_line("the command is not run (the node agent runs without "
                              "--allow-host-commands); exiting 0 after "
                              f"{self.runner.finite_seconds:g}s")
                self.tasks.append(asyncio.create_task(
                    self._finish_later(self.runner.finite_seconds)))
            else:
                await self._start_servers()
        except OSError as exc:
            await self._close_servers()
            self.running = False
            if argv:
                # In a task of its own: the failure restarts (after the back-off) through
                # start() again, and the caller (the agent's pod worker) must not wait.
                self.tasks.append(asyncio.create_task(self._start_failed(argv[0], exc)))
                self.runner.changed()
                return
            self.waiting = ("RunContainerError", f"cannot serve the container's ports: {exc}")
            await self.runner.event("Warning", "Failed", f"Error: {exc}", self.field_path)
            self.tasks.append(asyncio.create_task(self._restart_later()))
            self.runner.changed()
            return
        self.running = True
        self.waiting = None
        self.probes = ContainerProbes(self, self.startup_spec, self.readiness_spec,
                                      self.liveness_spec)
        self.tasks.extend(self.probes.tasks())
        await self.runner.event("Normal", "Started", f"Started container {self.name}",
                                self.field_path)
        self.runner.changed()

    def log_line(self, text: str, stream: str = "stdout") -> None:
        """Append one line to the current instance's log (see :mod:`.podlogs`)."""
        if self.log is not None:
            self.log.line(text, stream)
        self.io.publish(STDOUT if stream == "stdout" else STDERR, f"{text}\n".encode())

    @property
    def finite(self) -> bool:
        """Whether this container is a finite one (see the module docstring)."""
        if self.spec.get("ports") or implied_ports(self.spec):
            return False
        if self.runner.allow_host_commands:
            return not process_argv(self.spec) and self.default_command_exits
        return bool(self.spec.get("command") or self.spec.get("args")) \
            or self.default_command_exits

    @property
    def default_command_exits(self) -> bool:
        """Whether the container runs its image's default command, a shell or REPL
        (busybox's ``sh``, python's ``python3``: :data:`~.images.NO_ENTRYPOINT`), without
        ``stdin`` or a ``tty``: it reads end of input and exits 0 at once, so ``kubectl run t
        --image=busybox`` crash-loops as on a kubelet, and ``kubectl run -i`` (or ``tty:
        true``) keeps it."""
        # Declared ports are served by the built-in servers whatever the image (see the
        # module docstring), so only a container without them runs the default command.
        return (not self.spec.get("command") and not self.spec.get("args")
                and not self.spec.get("ports")
                and repository(str(self.spec.get("image") or "")) in NO_ENTRYPOINT
                and self.spec.get("stdin") is not True and self.spec.get("tty") is not True)

    async def _finish_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._exited(0)

    @property
    def field_path(self) -> str:
        """The Event ``involvedObject.fieldPath`` of this container."""
        return f"spec.{self.spec_list}{{{self.name}}}"

    @property
    def restart_policy(self) -> str:
        """When this container restarts after it exits: its pod's ``restartPolicy``."""
        return self.runner.restart_policy

    # -- what the probes need (controllers.node.probing.ProbeTarget) -----------------

    @property
    def pod_ip(self) -> str:
        """Where network probes connect."""
        return self.runner.ip

    @property
    def allow_exec(self) -> bool:
        """Whether exec probes may run host processes."""
        return self.runner.allow_host_commands

    async def exec_env(self) -> HostEnv:
        """How an exec (or exec probe) process starts: with the environment of the
        container's running host process, fixed when it was created, as the kubelet's
        execs inherit it; otherwise as such a process would start now."""
        if self.host_env is not None and self.running:
            return self.host_env
        return await self.runner.process_env(self.spec)

    async def event(self, type_: str, reason: str, message: str) -> None:
        """Record an Event about this container."""
        await self.runner.event(type_, reason, message, self.field_path)

    def changed(self) -> None:
        """Ask for the pod's status to be written."""
        self.runner.changed()

    async def kill(self, reason: str) -> None:
        """Stop this instance after a failed startup or liveness probe, then restart it
        (the probe task calling this is spared by :meth:`stop` and ends here)."""
        self._terminated(137, "Error")
        self.log_line(reason)
        await self._restart_after_backoff()

    async def _start_servers(self) -> None:
        await serve_ports(self.spec, self.runner.ip, self.flags,
                          (self.startup_spec, self.readiness_spec, self.liveness_spec),
                          self.servers, self.log_line)

    async def _start_process(self, argv: list[str], host: HostEnv) -> None:
        host.env.update({"POD_NAME": self.runner.pod_name, "POD_IP": self.runner.ip})
        pipe = asyncio.subprocess.PIPE
        self.proc = await asyncio.create_subprocess_exec(
            *argv, **host.spawn_options(), stdout=pipe, stderr=pipe,
            stdin=pipe if self.spec.get("stdin") else asyncio.subprocess.DEVNULL,
            start_new_session=True)
        self.io.stdin = self.proc.stdin
        # The readers start now, waiting before the process writes its first line.
        pumps = [asyncio.create_task(self.io.pump(reader, stream, self._log_output))
                 for reader, stream in ((self.proc.stdout, STDOUT), (self.proc.stderr, STDERR))
                 if reader is not None]
        self.tasks.append(asyncio.create_task(self._watch_process(self.proc, self.io, pumps)))

    def _log_output(self, stream: int, data: bytes) -> None:
        if self.log is not None:
            self.log.write("stdout" if stream == STDOUT else "stderr", data)

    async def _watch_process(self, proc: asyncio.subprocess.Process, io: ContainerIO,
                             pumps: list[asyncio.Task[None]]) -> None:
        try:
            code = await exited(proc)
            # A background child may hold the pipes open; the process's own output is in.
            await asyncio.wait(pumps, timeout=OUTPUT_DRAIN_SECONDS)
        finally:
            for pump in pumps:
                pump.cancel()
            io.end()
            if self.log is not None:
                self.log.flush()
        if self.runner.terminating or self.proc is not proc:
            return
        await self._exited(code)

    async def _start_failed(self, program: str, exc: OSError) -> None:
        """The process could not be started: a ``StartError`` exit, in containerd's words."""
        message = start_error_message(program, exc)
        await self.event("Warning", "Failed", f"Error: {message}")
        await self._exited(128, "StartError", message)

    async def _exited(self, code: int, reason: str = "", message: str = "") -> None:
        """The container's main process ended with ``code``: restart or stay terminated."""
        if self.runner.terminating:
            return
        self._terminated(code, reason or ("Completed" if code == 0 else "Error"), message)
        self.running = False
        policy = self.restart_policy
        if policy == "Always" or (policy == "OnFailure" and code != 0):
            await self._restart_after_backoff()
            return
        await self.stop()
        self.terminated, self.last_terminated = self.last_terminated, None
        self.runner.changed()

    def _terminated(self, code: int, reason: str, message: str = "") -> None:
        self.last_terminated = {
            "exitCode": code, "reason": reason, "startedAt": self.started_at,
            "finishedAt": now_rfc3339(), "containerID": self.container_id,
        }
        if message:
            self.last_terminated["message"] = message

    async def _restart_after_backoff(self) -> None:
        """Restart an instance that just ended, after the back-off due now (if any)."""
        wait = self.backoff.wait_after_exit(time.monotonic())
        if wait > 0:
            await self.stop()
            if (current := asyncio.current_task()) is not None:
                self.tasks.append(current)  # a pod stopping meanwhile cancels the wait
            pod = f"{self.runner.pod_name}_{self.runner.namespace}({self.runner.uid})"
            self.waiting = ("CrashLoopBackOff", self.backoff.message(self.name, pod))
            self.runner.changed()
            await self.event("Warning", "BackOff",
                             f"Back-off restarting failed container {self.name} in pod {pod}")
            await asyncio.sleep(wait)
            self.backoff.restarting()
        self.runner.changed()
        await self._restart_now()

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
        self.io.end()  # attached clients of a built-in container; a process's end on exit
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
        """The container's ``ContainerStatus`` (see :mod:`.containerstatus`)."""
        return container_status(self)
