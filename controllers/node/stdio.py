"""The standard streams of a host-command container, shared with attached clients.

A container run as a host process (``--allow-host-commands``) has its stdout and stderr
piped through :class:`ContainerIO`: every chunk is handed to a sink (the container's log)
and to each attached client's queue (``kubectl attach``); its
stdin is a pipe when the container spec says ``stdin: true``, written by attached clients
(and closed after the first one detaches when ``stdinOnce`` is set).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

__all__ = ["STDERR", "STDOUT", "ContainerIO", "Subscriber", "exited"]

STDOUT, STDERR = 1, 2
#: Chunks an attached client may lag behind before it is dropped (a slow client must not
#: hold the container's output or grow without bound).
QUEUE_CHUNKS = 1024

#: An attached client's queue: (stream, chunk), then None at the end.
Subscriber = asyncio.Queue[tuple[int, bytes] | None]


class ContainerIO:
    """Fan-out of one container process's output; its stdin writer."""

    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.stdin: asyncio.StreamWriter | None = None
        self.ended = False

    def subscribe(self) -> Subscriber:
        """A new queue receiving the output from now on (None at once if it ended)."""
        queue: Subscriber = asyncio.Queue(QUEUE_CHUNKS)
        if self.ended:
            queue.put_nowait(None)
        else:
            self.subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: Subscriber) -> None:
        """Stop sending to ``queue``."""
        self.subscribers.discard(queue)

    def publish(self, stream: int, data: bytes) -> None:
        """Send one chunk to every subscriber (dropping those too far behind)."""
        for queue in list(self.subscribers):
            try:
                queue.put_nowait((stream, data))
            except asyncio.QueueFull:
                self.subscribers.discard(queue)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)

    def end(self) -> None:
        """The process is gone: every subscriber gets None."""
        self.ended = True
        for queue in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self.subscribers.clear()

    async def pump(self, reader: asyncio.StreamReader, stream: int,
                   sink: Callable[[int, bytes], None]) -> None:
        """Copy ``reader`` (``stream``: :data:`STDOUT` or :data:`STDERR`) to ``sink`` and to
        the subscribers until EOF."""
        while data := await reader.read(64 * 1024):
            sink(stream, data)
            self.publish(stream, data)

    async def write_stdin(self, data: bytes) -> bool:
        """Write to the process's stdin; False when it has none or it is closed."""
        stdin = self.stdin
        if stdin is None or stdin.is_closing():
            return False
        try:
            stdin.write(data)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError, OSError):
            return False
        return True

    def close_stdin(self) -> None:
        """Close the process's stdin (``stdinOnce`` after a detach, or a close signal)."""
        if self.stdin is not None:
            self.stdin.close()


#: Seconds between looks at a process's exit status in :func:`exited`.
EXIT_POLL_SECONDS = 0.1


async def exited(proc: asyncio.subprocess.Process) -> int:
    """The exit code of ``proc`` once it has exited. Unlike ``proc.wait()`` (which, on
    Python 3.11, also waits until its pipes are closed) this returns while a background
    child still holds the pipes open."""
    waiter = asyncio.ensure_future(proc.wait())
    try:
        while proc.returncode is None:
            await asyncio.wait((waiter,), timeout=EXIT_POLL_SECONDS)
    finally:
        waiter.cancel()
    return proc.returncode
