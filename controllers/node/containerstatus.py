"""A container's ``ContainerStatus`` as the kubelet reports it.

:func:`container_status` renders the entry of ``status.containerStatuses`` from what a
:class:`~controllers.node.container.Container` knows: the image and its ID, the current
state (``running``, ``terminated`` for good, or ``waiting`` with its reason and message,
``ContainerCreating`` by default), the last termination, readiness, restarts and
``started``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from controllers.node.images import image_ref

if TYPE_CHECKING:  # the container renders its status with this module
    from controllers.node.container import Container

__all__ = ["container_status"]


def container_status(c: Container) -> dict[str, Any]:
    """``c``'s ``ContainerStatus``."""
    image, image_id = image_ref(str(c.spec.get("image") or ""))
    out: dict[str, Any] = {"name": c.name, "image": image, "imageID": image_id}
    if c.running:
        out["state"] = {"running": {"startedAt": c.started_at}}
        out["containerID"] = c.container_id
    elif c.terminated is not None:
        out["state"] = {"terminated": dict(c.terminated)}
        out["containerID"] = c.container_id
    elif c.waiting is not None:
        waiting = {"reason": c.waiting[0]}
        if c.waiting[1]:
            waiting["message"] = c.waiting[1]
        out["state"] = {"waiting": waiting}
        # Waiting to restart (CrashLoopBackOff): the kubelet names the last container.
        if c.last_terminated and c.last_terminated.get("containerID"):
            out["containerID"] = c.last_terminated["containerID"]
    else:
        out["state"] = {"waiting": {"reason": "ContainerCreating"}}
    out["lastState"] = {"terminated": c.last_terminated} if c.last_terminated else {}
    out["ready"] = c.ready
    out["restartCount"] = c.restart_count
    out["started"] = c.started
    return out
