"""Ephemeral containers: the debug containers ``kubectl debug`` adds to a running pod.

The apiserver adds them to ``spec.ephemeralContainers`` through the
``pods/ephemeralcontainers`` subresource; the agent's pod watch brings the new spec here
(:meth:`EphemeralContainers.sync`). As the kubelet does, each new ephemeral container is
started once, in spec order, and never restarted: when its process exits it stays
terminated, whatever the pod's ``restartPolicy``. It runs as any other container of the
built-in runtime does (:class:`~controllers.node.container.Container`): with
``--allow-host-commands`` its command and args as a host process with the pod's
environment, stdin a pipe when ``stdin: true`` (``kubectl debug -i``); without, a container
with a command exits 0 after the agent's ``--finite-container-seconds``.

Its Events carry the field path ``spec.ephemeralContainers{NAME}``, and the pod status
lists it in ``ephemeralContainerStatuses`` (spec order), never ready and without
``started``: the kubelet's probe manager reports those for regular and init containers
only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from controllers.node.container import Container, Pod

__all__ = ["EphemeralContainer", "EphemeralContainers"]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class EphemeralContainer(Container):
    """One ephemeral container: a container that never restarts and is never ready."""

    spec_list = "ephemeralContainers"

    @property
    def restart_policy(self) -> str:
        """Ephemeral containers are not restarted (upstream: an implicit ``Never``)."""
        return "Never"

    @property
    def ready(self) -> bool:
        """Never ready: readiness is not reported for ephemeral containers."""
        return False

    def status(self) -> dict[str, Any]:
        """The ``ContainerStatus`` of an ephemeral container (no ``started``)."""
        out = super().status()
        out.pop("started", None)
        return out


class EphemeralContainers:
    """The ephemeral containers of one pod, in spec order."""

    def __init__(self, runner: Pod) -> None:
        self.runner = runner
        self.items: list[EphemeralContainer] = []
        #: Statuses a previous agent wrote, by name (see :meth:`adopt`).
        self._adopted: dict[str, Mapping[str, Any]] = {}
        self._lock = asyncio.Lock()

    def adopt(self, statuses: Any) -> None:
        """Keep what a previous agent reported of ephemeral containers: one that already
        terminated is not started again (it would be a restart)."""
        for status in statuses if isinstance(statuses, list) else []:
            name = _m(status).get("name")
            if isinstance(name, str):
                self._adopted[name] = _m(status)

    def find(self, name: str) -> EphemeralContainer | None:
        """The ephemeral container called ``name``."""
        return next((c for c in self.items if c.name == name), None)

    async def sync(self, pod: Mapping[str, Any]) -> bool:
        """Start each ephemeral container of ``pod``'s spec this pod has not started yet;
        whether any was added. Concurrent calls start each container once."""
        async with self._lock:
            added = False
            for spec in _m(pod.get("spec")).get("ephemeralContainers") or []:
                spec = _m(spec)
                name = str(spec.get("name") or "")
                if not name or self.find(name) is not None or self.runner.terminating:
                    continue
                container = EphemeralContainer(self.runner, spec)
                self.items.append(container)
                added = True
                previous = self._adopted.get(name)
                if previous is not None:
                    container.adopt(previous)
                    terminated = _m(_m(previous.get("state")).get("terminated"))
                    if terminated:
                        container.terminated = dict(terminated)
                        container.waiting = None
                        continue
                await self._host_commands_note(container)
                await container.start()
            if added:
                self.runner.changed()
            return added

    async def _host_commands_note(self, container: EphemeralContainer) -> None:
        """Say on the pod's Events why a debug command does not run (as the pod's own
        containers do when it starts)."""
        if self.runner.allow_host_commands or not container.spec.get("command"):
            return
        await self.runner.event(
            "Normal", "HostCommandsDisabled",
            "container commands are not run (the node agent runs without "
            "--allow-host-commands); the ephemeral container exits 0 after "
            "--finite-container-seconds", container.field_path)

    def statuses(self) -> list[dict[str, Any]]:
        """``ephemeralContainerStatuses``, in spec order."""
        return [c.status() for c in self.items]

    async def stop(self, grace: float = 0.0) -> None:
        """Stop every ephemeral container (the pod is stopping)."""
        await asyncio.gather(*(c.stop(grace) for c in self.items))
