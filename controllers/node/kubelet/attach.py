"""``/attach/{namespace}/{pod}/{container}``: the kubelet's attach endpoint (WebSocket).

Refusals before the upgrade are exec's (:func:`.exec.open_stream`). A container run as a host
process (``--allow-host-commands``) is attached to its streams
(:class:`controllers.node.stdio.ContainerIO`): its stdout and stderr from now on go to
channels 1 and 2 (both to 1 under ``tty``), and the client's stdin to the process when
the container spec has ``stdin: true`` (closed by the v5 close signal, or when the client
detaches from a ``stdinOnce`` container). A container served by the built-in runtime has
no process: the client receives the lines it writes to its log from now on (its access
log and lifecycle lines). When the container's process (or the built-in container)
stops, the stream ends with a Success Status; a client leaving just detaches.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.routing import BaseRoute

from controllers.node.container import Container
from controllers.node.kubelet.channels import STDIN, STDOUT, success_status
from controllers.node.kubelet.exec import stream_route
from controllers.node.kubelet.pods import NodeHost
from controllers.node.kubelet.remotecommand import RemoteCommandStream
from controllers.node.runtime import PodRunner
from controllers.node.stdio import Subscriber

__all__ = ["routes"]

async def _output(stream: RemoteCommandStream, container: Container, queue: Subscriber) -> None:
    """Copy the container's output (``queue``) to the client until it ends."""
    opts = stream.opts
    try:
        while (item := await queue.get()) is not None:
            channel, data = item
            if opts.tty:
                channel = STDOUT
            wanted = opts.stdout if channel == STDOUT else opts.stderr
            if wanted and not await stream.send(channel, data):
                return
    finally:
        container.io.unsubscribe(queue)


async def _input(stream: RemoteCommandStream, container: Container) -> None:
    """Feed the client's stdin to the container until the client leaves."""
    takes_stdin = stream.opts.stdin and bool(container.spec.get("stdin"))
    async for frame in stream.frames():
        if frame.channel != STDIN or not takes_stdin:
            continue
        if frame.closed:
            container.io.close_stdin()
        elif frame.data:
            await container.io.write_stdin(frame.data)
    if takes_stdin and container.spec.get("stdinOnce"):
        container.io.close_stdin()


def routes(host: NodeHost) -> list[BaseRoute]:
    """The attach route, served on the node agent's kubelet server."""

    async def serve(stream: RemoteCommandStream, _pod: PodRunner, container: Container) -> None:
        # Subscribed before the first await: nothing written after the client saw the
        # ready signal is missed.
        queue = container.io.subscribe()
        output = asyncio.create_task(_output(stream, container, queue))
        client = asyncio.create_task(_input(stream, container))
        try:
            done, _ = await asyncio.wait((output, client), return_when=asyncio.FIRST_COMPLETED)
            if output in done and not stream.closed:
                await stream.finish(success_status())
        finally:
            for task in (output, client):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(output, client, return_exceptions=True)
            await stream.close()

    return [stream_route("/attach/{namespace}/{pod}/{container}", host, serve, exec_=False)]
