"""What both port-forward protocols share: finding the pod, dialling it, watching it go.

Contract:

* The serving context is anything with ``runners``: a mapping ``"<ns>/<name>"`` → the
  pod's runner (``ip``, ``uid``, ``terminating``), as :class:`controllers.node.agent.NodeAgent`
  keeps it. :func:`find_target` returns the running pod's :class:`Target` or ``None``.
* :func:`dial` opens a TCP connection to the pod's address and port; on failure it raises
  :class:`ForwardError` whose text is what upstream's kubelet writes on the error stream
  (``error forwarding port 8080 to pod web-1_default, uid …: dial tcp4 …: connect:
  connection refused``).
* :func:`until_gone` returns once the pod is deleted, replaced or terminating (checked
  every ``interval`` seconds); the handlers race it against the forwarding so that a
  deleted pod ends the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "ForwardError",
    "PodContext",
    "Target",
    "close_writer",
    "dial",
    "find_target",
    "pump",
    "until_gone",
]

#: Read size from a pod connection.
READ_SIZE = 64 * 1024


class _Runner(Protocol):
    @property
    def ip(self) -> str: ...

    @property
    def uid(self) -> str: ...

    @property
    def terminating(self) -> bool: ...


class PodContext(Protocol):
    """The node agent as the port-forward handlers see it."""

    @property
    def runners(self) -> Mapping[str, _Runner]: ...


@dataclass(frozen=True)
class Target:
    namespace: str
    name: str
    uid: str
    ip: str

    @property
    def full_name(self) -> str:
        """The kubelet's pod full name, ``<name>_<namespace>``."""
        return f"{self.name}_{self.namespace}"


class ForwardError(Exception):
    """A port could not be forwarded; ``str()`` is the upstream error-stream text."""


def find_target(ctx: PodContext, namespace: str, name: str) -> Target | None:
    """The running pod ``namespace/name`` on this node, or ``None``."""
    runner = ctx.runners.get(f"{namespace}/{name}")
    if runner is None or runner.terminating or not runner.ip:
        return None
    return Target(namespace, name, runner.uid, runner.ip)


def _reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return "connect: connection refused"
    if exc.errno:
        return f"connect: {os.strerror(exc.errno).lower()}"
    return str(exc)


async def dial(target: Target, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to ``target``'s address at ``port`` (TCP)."""
    try:
        return await asyncio.open_connection(target.ip, port)
    except OSError as exc:
        raise ForwardError(
            f"error forwarding port {port} to pod {target.full_name}, uid {target.uid}: "
            f"dial tcp4 {target.ip}:{port}: {_reason(exc)}") from None


async def until_gone(ctx: PodContext, target: Target, interval: float = 1.0) -> None:
    """Return once the pod that ``target`` names is no longer running here."""
    while True:
        current = find_target(ctx, target.namespace, target.name)
        if current is None or current.uid != target.uid:
            return
        await asyncio.sleep(interval)


async def pump(reader: asyncio.StreamReader, send: Callable[[bytes], Awaitable[None]]) -> None:
    """Copy ``reader`` to ``send`` until EOF."""
    while data := await reader.read(READ_SIZE):
        await send(data)


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close a pod connection, ignoring a peer that is already gone."""
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
