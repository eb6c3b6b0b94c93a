"""What a container needs of its pod (:class:`Pod`), and the node's clock for status times.

:class:`controllers.node.runtime.PodRunner` is the :class:`Pod` of every
:class:`controllers.node.container.Container`; the protocol keeps the container module
from depending on the runner that owns it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from controllers.node.mountns import HostEnv
from controllers.node.podlogs import LogSettings

__all__ = ["EventFn", "Pod", "now_rfc3339"]

EventFn = Callable[[str, str, str, str], Awaitable[None]]  # (type, reason, message, fieldPath)


def now_rfc3339(epoch: float | None = None) -> str:
    """The current time (or ``epoch``, seconds since the epoch) as Kubernetes writes it."""
    when = datetime.now(UTC) if epoch is None else datetime.fromtimestamp(epoch, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class Pod(Protocol):
    """What a container needs of its pod."""

    pod_name: str
    namespace: str
    uid: str
    ip: str
    allow_host_commands: bool
    finite_seconds: float
    restart_policy: str
    terminating: bool
    event: EventFn
    #: How the pod's container logs are kept (None: not kept) and its log directory.
    logs: LogSettings | None
    log_dir: Path | None

    def changed(self) -> None:
        """Ask the agent to write the pod's status."""

    async def process_env(self, container: Mapping[str, Any]) -> HostEnv:
        """How a host process of ``container`` starts (environment, directory, mounts)."""

    async def check_volumes(self) -> None:
        """Raise :class:`~controllers.node.volumes.VolumeSetupError` while a volume of the
        pod cannot be set up (its ConfigMap or Secret is missing)."""

    async def config_error(self, container: Mapping[str, Any]) -> str | None:
        """Why ``container``'s configuration cannot be made now (the kubelet's
        ``CreateContainerConfigError`` message), or None."""
