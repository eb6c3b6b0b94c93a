"""``/exec/{namespace}/{pod}/{container}``: the kubelet's exec endpoint (WebSocket).

Before the upgrade, as the kubelet (plain text): 400 for bad options (no stream, no
command), 404 for a pod or container this node does not have (:mod:`.pods`), 500
``container not found ("<name>")`` for a container that is not running (kubectl shows
``unable to upgrade connection: …``).

After the upgrade (:mod:`.remotecommand`): with ``--allow-host-commands`` the command runs
as a host process (:mod:`.process`) in the container's environment — its variables and
working directory, and its volumes materialised under ``$KUBEMU_POD_ROOT``
(:mod:`controllers.node.podenv`) and, as root, at their ``mountPath`` in a private mount
namespace (:mod:`controllers.node.mountns`); the exit code travels on the error channel. Without
host commands nothing runs: the error channel gets a ``NonZeroExitCode`` Status with exit
code 126 (what a shell answers for a command it cannot execute) whose message names the
flag, and the same text goes to stderr (or stdout) so ``kubectl exec`` shows it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from controllers.node.container import Container
from controllers.node.kubelet.channels import STDERR, STDOUT, exit_status
from controllers.node.kubelet.pods import KubeletError, NodeHost, find_container
from controllers.node.kubelet.process import run_command
from controllers.node.kubelet.remotecommand import RemoteCommandStream, deny, parse_options
from controllers.node.runtime import PodRunner
from controllers.node.volumes import VolumeSetupError

__all__ = ["HOST_COMMANDS_DISABLED", "Serve", "open_stream", "routes", "stream_route"]

#: The exit code and message of an exec on a node that runs no host commands.
HOST_COMMANDS_DISABLED = (126, "exec is disabled on this node: the node agent runs no host "
                               "commands (start it with --allow-host-commands to run them)")


async def open_stream(websocket: WebSocket, host: NodeHost, *, exec_: bool
                      ) -> tuple[RemoteCommandStream, PodRunner, Container] | None:
    """The accepted stream, pod and container of a request, or None after refusing it
    as the kubelet does."""
    params = websocket.path_params
    opts = parse_options(websocket.query_params, exec_=exec_)
    try:
        if isinstance(opts, str):
            raise KubeletError(400, opts)
        _pod, runner, container = find_container(host, params["namespace"], params["pod"],
                                                 params["container"])
        if runner.terminating or not container.running:
            raise KubeletError(500, f'container not found ("{container.name}")')
    except KubeletError as exc:
        await deny(websocket, exc.status, exc.message + "\n")
        return None
    assert not isinstance(opts, str)
    stream = await RemoteCommandStream.accept(websocket, opts)
    return None if stream is None else (stream, runner, container)


async def refuse_host_commands(stream: RemoteCommandStream) -> None:
    """Say (on the output and the error channel) that this node runs no host commands."""
    await refuse(stream, *HOST_COMMANDS_DISABLED)


async def refuse(stream: RemoteCommandStream, code: int, message: str) -> None:
    """End ``stream`` without running anything: ``message`` on the output and the error
    channel, with exit code ``code``."""
    channel = STDERR if stream.opts.stderr else STDOUT if stream.opts.stdout else None
    if channel is not None:
        await stream.send(channel, f"{message}\n".encode())
    await stream.finish(exit_status(code, message))


Serve = Callable[[RemoteCommandStream, PodRunner, Container], Awaitable[None]]


def stream_route(path: str, host: NodeHost, serve: Serve, *, exec_: bool) -> BaseRoute:
    """A WebSocket route at ``path`` that opens the stream (:func:`open_stream`), then
    hands it to ``serve``."""

    async def handle(websocket: WebSocket) -> None:
        found = await open_stream(websocket, host, exec_=exec_)
        if found is not None:
            await serve(*found)

    return WebSocketRoute(path, handle)


def routes(host: NodeHost) -> list[BaseRoute]:
    """The exec route, served on the node agent's kubelet server."""

    async def serve(stream: RemoteCommandStream, pod: PodRunner, container: Container) -> None:
        if not host.allow_host_commands:
            await refuse_host_commands(stream)
            return
        try:
            env = await container.exec_env()
        except VolumeSetupError as exc:  # the container's volumes are not there (yet)
            await refuse(stream, 126, str(exc))
            return
        await run_command(stream, stream.opts.command, env, pod.track_exec)

    return [stream_route("/exec/{namespace}/{pod}/{container}", host, serve, exec_=True)]
