"""Why a container cannot start yet, as the kubelet reports it, and its next attempt.

* Its volumes cannot be set up (:func:`mount_failed`): it waits as
  ``ContainerCreating``, a ``FailedMount`` Warning goes on the pod (no field path), and it
  is tried again after the volume back-off (:func:`.backoff.mount_retry_delay`).
* Its configuration, its environment, cannot be made (:func:`config_failed`): it waits
  with ``CreateContainerConfigError`` and the reason as message, a ``Failed`` Warning
  (``Error: …``) goes on the container, and the pod worker tries again after
  :data:`CONFIG_RETRY_SECONDS`.

The Event recorder folds the repeats into one Event's count.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from controllers.node.backoff import mount_retry_delay
from controllers.node.podapi import Pod

__all__ = ["CONFIG_RETRY_SECONDS", "Starting", "config_failed", "mount_failed"]

#: Seconds before a container whose configuration failed is tried again (the kubelet's
#: pod worker back-off).
CONFIG_RETRY_SECONDS = 10.0


class Starting(Protocol):
    """What of a container these steps use."""

    runner: Pod
    waiting: tuple[str, str] | None
    mount_failures: int
    tasks: list[asyncio.Task[None]]

    async def start(self) -> None:
        """Try to start the container again."""

    async def event(self, type_: str, reason: str, message: str) -> None:
        """Record an Event about the container."""


async def mount_failed(container: Starting, message: str) -> None:
    """The container's volumes failed (``mount_failures`` in a row); see the module."""
    container.waiting = ("ContainerCreating", "")
    await container.runner.event("Warning", "FailedMount", message, "")
    container.runner.changed()
    _retry(container, mount_retry_delay(container.mount_failures))


async def config_failed(container: Starting, message: str) -> None:
    """The container's configuration failed with ``message``; see the module."""
    container.waiting = ("CreateContainerConfigError", message)
    await container.event("Warning", "Failed", f"Error: {message}")
    container.runner.changed()
    _retry(container, CONFIG_RETRY_SECONDS)


def _retry(container: Starting, delay: float) -> None:
    async def retry() -> None:
        await asyncio.sleep(delay)
        container.tasks = [t for t in container.tasks if t is not asyncio.current_task()]
        if not container.runner.terminating:
            await container.start()
    container.tasks.append(asyncio.create_task(retry()))
