"""Running one exec command as a host process, wired to a :class:`RemoteCommandStream`.

The process runs in its own session and process group (a TTY session gets a pty as its
controlling terminal, sized by the resize channel). Client frames go to its stdin
(channel 0; the v5 close signal for channel 0 closes stdin, or sends ^D to a TTY) and
resize the pty (channel 4); its stdout and stderr go to channels 1 and 2. When it exits
and its output is drained, the exit Status (:mod:`.channels`) is written on the error
channel and the stream closed. When the client goes away first, or the pod stops (its
runner kills the registered process groups), the whole process group is killed — nothing
of a session outlives it: no task, no descriptor, no process. Only children the command
itself left running in the background when it exited normally live on (the session, like a
container's runtime, does not hunt them down; their pipes are closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import termios
from collections.abc import Callable
from typing import Any

from controllers.node.kubelet.channels import (
    RESIZE,
    STDERR,
    STDIN,
    STDOUT,
    ResizeDecoder,
    exit_status,
    internal_error_status,
    success_status,
)
from controllers.node.kubelet.remotecommand import RemoteCommandStream
from controllers.node.mountns import HostEnv
from controllers.node.stdio import exited

__all__ = ["run_command"]

#: Seconds the output of an exited command may take to drain (a background child may hold
#: the pipe open; the command's own output is complete by then).
DRAIN_SECONDS = 2.0
_CHUNK = 32 * 1024


def _controlling_tty() -> None:  # runs in the child, after setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _set_size(fd: int, width: int, height: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


async def _pump_fd(fd: int, stream: RemoteCommandStream, channel: int) -> None:
    """Copy a non-blocking fd (the pty master) to ``channel`` until EOF/EIO."""
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()
    loop.add_reader(fd, ready.set)
    try:
        while True:
            await ready.wait()
            ready.clear()
            try:
                data = os.read(fd, _CHUNK)
            except BlockingIOError:
                continue
            except OSError:  # EIO: every slave end is closed
                return
            if not data or not await stream.send(channel, data):
                return
    finally:
        loop.remove_reader(fd)


async def _pump_reader(reader: asyncio.StreamReader, stream: RemoteCommandStream,
                       channel: int) -> None:
    while data := await reader.read(_CHUNK):
        if not await stream.send(channel, data):
            return


async def _write_fd(fd: int, data: bytes) -> None:
    loop = asyncio.get_running_loop()
    while data:
        try:
            written = os.write(fd, data)
        except BlockingIOError:
            ready = asyncio.Event()
            loop.add_writer(fd, ready.set)
            try:
                await ready.wait()
            finally:
                loop.remove_writer(fd)
            continue
        data = data[written:]


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


class _Session:
    def __init__(self, stream: RemoteCommandStream, proc: asyncio.subprocess.Process,
                 master: int | None) -> None:
        self.stream = stream
        self.proc = proc
        self.master = master
        self.resize = ResizeDecoder()

    async def client_frames(self) -> None:
        """Feed stdin and resizes until the client leaves; then kill the process group."""
        stdin = self.proc.stdin
        async for frame in self.stream.frames():
            if frame.channel == STDIN and frame.closed:
                if self.master is not None:
                    await _write_fd(self.master, b"\x04")
                elif stdin is not None:
                    stdin.close()
            elif frame.channel == STDIN and self.stream.opts.stdin and frame.data:
                try:
                    if self.master is not None:
                        await _write_fd(self.master, frame.data)
                    elif stdin is not None and not stdin.is_closing():
                        stdin.write(frame.data)
                        await stdin.drain()
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass  # the command stopped reading; its exit ends the session
            elif frame.channel == RESIZE and self.master is not None:
                for width, height in self.resize.feed(frame.data):
                    _set_size(self.master, width, height)
        _kill_group(self.proc)


async def run_command(stream: RemoteCommandStream, argv: list[str], host: HostEnv,
                      track: Callable[[int, bool], None]) -> None:
    """Run ``argv`` for ``stream`` until it exits (Status written) or the client leaves
    (process group killed). ``track(pid, running)`` registers the process group with its
    pod while it runs."""
    opts = stream.opts
    master: int | None = None
    pipe = asyncio.subprocess.PIPE
    try:
        if opts.tty:
            master, slave = os.openpty()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                    **host.spawn_options(_controlling_tty))
            finally:
                os.close(slave)
            os.set_blocking(master, False)
        else:
            proc = await asyncio.create_subprocess_exec(
                *argv, **host.spawn_options(), start_new_session=True,
                stdin=pipe if opts.stdin else asyncio.subprocess.DEVNULL,
                stdout=pipe if opts.stdout else asyncio.subprocess.DEVNULL,
                stderr=pipe if opts.stderr else asyncio.subprocess.DEVNULL)
    except OSError as exc:
        if master is not None:
            os.close(master)
        reason = (f'exec: "{argv[0]}": executable file not found in $PATH'
                  if isinstance(exc, FileNotFoundError) else str(exc))
        await stream.finish(internal_error_status(
            f"error executing command in container: failed to exec in container: {reason}"))
        return
    track(proc.pid, True)
    session = _Session(stream, proc, master)
    outputs: list[asyncio.Task[None]] = []
    if master is not None:
        outputs.append(asyncio.create_task(_pump_fd(master, stream, STDOUT)))
    else:
        for reader, channel in ((proc.stdout, STDOUT), (proc.stderr, STDERR)):
            if reader is not None:
                outputs.append(asyncio.create_task(_pump_reader(reader, stream, channel)))
    client = asyncio.create_task(session.client_frames())
    try:
        code = await exited(proc)
        if outputs:
            _, pending = await asyncio.wait(outputs, timeout=DRAIN_SECONDS)
            for task in pending:
                task.cancel()
        if code < 0:
            code = 128 - code  # killed by a signal: the shell's (and containerd's) 128+n
        status: dict[str, Any] = (success_status() if code == 0 else exit_status(
            code, f"error executing command [{' '.join(argv)}], exit code {code}"))
        await stream.finish(status)
    finally:
        track(proc.pid, False)
        _kill_group(proc)
        for task in (*outputs, client):
            task.cancel()
        await asyncio.gather(*outputs, client, return_exceptions=True)
        if proc.returncode is None:
            await exited(proc)
        # Close the pipes even when a background child still holds their other ends (the
        # asyncio Process exposes its SubprocessTransport only as ``_transport``).
        transport = getattr(proc, "_transport", None)
        if isinstance(transport, asyncio.SubprocessTransport):
            transport.close()
        if master is not None:
            os.close(master)
