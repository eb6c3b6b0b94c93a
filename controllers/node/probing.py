"""A container's probe workers: startup, then readiness and liveness (the kubelet's prober).

As the kubelet's ``prober`` workers do:

* A ``startupProbe`` runs first. Until it succeeds the container is not ``started``, not
  ready, and its readiness and liveness probes are not run; once it succeeds it is never
  run again for this container instance. ``failureThreshold`` consecutive failures kill the
  container (``Container X failed startup probe, will be restarted``), as liveness does.
* Readiness starts as failure and liveness as success; both count from the container's
  start for ``initialDelaySeconds`` and begin no earlier than the startup probe's success.
* Every failing attempt that changes the result, and the first of a run, is an
  ``Unhealthy`` Warning event (``Startup probe failed: …``).

:class:`ContainerProbes` belongs to one container instance (a restart builds a new one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

from controllers.node.mountns import HostEnv
from controllers.node.probes import ProbeResult, ProbeSpec, ProbeState, run_probe
from controllers.node.volumes import VolumeSetupError

__all__ = ["ContainerProbes", "ProbeTarget"]


class ProbeTarget(Protocol):
    """What the probes need of their container."""

    name: str
    spec: Mapping[str, Any]

    @property
    def field_path(self) -> str:
        """The container's Event ``fieldPath``."""

    @property
    def pod_ip(self) -> str:
        """Where network probes connect."""

    @property
    def allow_exec(self) -> bool:
        """Whether exec probes may run host processes."""

    async def exec_env(self) -> HostEnv:
        """How an exec probe's process starts."""

    async def event(self, type_: str, reason: str, message: str) -> None:
        """Record an Event about the container."""

    def changed(self) -> None:
        """Ask for the pod's status to be written."""

    async def kill(self, reason: str) -> None:
        """Stop the container instance after a failed startup or liveness probe; restart
        it as its pod's policy says."""


class ContainerProbes:
    """The probe tasks of one container instance."""

    def __init__(self, target: ProbeTarget, startup: ProbeSpec | None,
                 readiness: ProbeSpec | None, liveness: ProbeSpec | None) -> None:
        self.target = target
        self.startup = ProbeState(startup, False) if startup is not None else None
        self.readiness = ProbeState(readiness, False) if readiness is not None else None
        self.liveness = ProbeState(liveness, True) if liveness is not None else None
        self._started = asyncio.Event()
        if self.startup is None:
            self._started.set()
        self._loop = asyncio.get_running_loop()
        self._began = self._loop.time()

    @property
    def started(self) -> bool:
        """The startup probe succeeded (or there is none)."""
        return self._started.is_set()

    @property
    def ready(self) -> bool:
        """Started and the readiness probe passing (if any)."""
        if not self.started:
            return False
        return self.readiness.result if self.readiness is not None else True

    def tasks(self) -> list[asyncio.Task[None]]:
        """Start the workers; the caller cancels them when the instance stops."""
        workers: list[tuple[ProbeState, str]] = [
            (state, what) for state, what in ((self.startup, "Startup"),
                                              (self.readiness, "Readiness"),
                                              (self.liveness, "Liveness"))
            if state is not None]
        return [asyncio.create_task(self._work(state, what), name=f"probe-{what.lower()}")
                for state, what in workers]

    async def _work(self, state: ProbeState, what: str) -> None:
        spec = state.spec
        delay = self._began + spec.initial_delay - self._loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if what != "Startup":
            await self._started.wait()
        while True:
            if await self._attempt(state, what):
                return
            await asyncio.sleep(spec.period)

    async def _attempt(self, state: ProbeState, what: str) -> bool:
        """One probe run and its consequences; True when this worker is done."""
        target = self.target
        allowed = target.allow_exec
        try:
            env = await target.exec_env() if state.spec.kind == "exec" and allowed else None
        except VolumeSetupError as exc:  # the container's volumes are not there (yet)
            result = ProbeResult(False, str(exc))
        else:
            result = await run_probe(state.spec, target.pod_ip, allowed, env)
        changed = state.record(result.ok, result.message)
        if not result.ok and (changed or state.failures == 1):
            await target.event("Warning", "Unhealthy", f"{what} probe failed: {result.message}")
        if what == "Startup":
            if state.result:
                self._started.set()
                target.changed()
                return True
            if state.failures >= state.spec.failure_threshold:
                await self._kill(what, result.message)
                return True
            return False
        if changed:
            if what == "Liveness" and not state.result:
                await self._kill(what, result.message)
                return True
            target.changed()
        return False

    async def _kill(self, what: str, message: str) -> None:
        target = self.target
        await target.event("Normal", "Killing",
                           f"Container {target.name} failed {what.lower()} probe, "
                           "will be restarted")
        await target.kill(f"{what.lower()} probe failed ({message}): stopping")
