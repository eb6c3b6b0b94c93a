"""The node agent's exec and attach endpoints on a real uvicorn server, with real host
processes of a real :class:`PodRunner` (the end-to-end path through the apiserver is in
tests/integration/test_exec.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlencode

import pytest
import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from controllers.client.store import Store
from controllers.node.kubelet import attach
from controllers.node.kubelet import exec as exec_
from controllers.node.runtime import PodRunner

POD = {
    "metadata": {"name": "web-1", "namespace": "default", "uid": "u-1"},
    "spec": {"containers": [
        {"name": "main", "image": "busybox", "command": ["sleep", "1000"],
         "env": [{"name": "GREETING", "value": "hello"}], "workingDir": "/tmp"},
        {"name": "echo", "image": "busybox", "command": ["cat"], "stdin": True},
    ]},
}


class Pods:
    """The pods informer's part the kubelet API reads: its store."""

    def __init__(self) -> None:
        self.store = Store()
        self.store.add(POD)


class Host:
    """The node agent as the kubelet API sees it, running one pod."""

    node_name = "n1"

    def __init__(self, runner: PodRunner, allow: bool) -> None:
        self.allow_host_commands = allow
        self.pods = Pods()
        self.runners = {"default/web-1": runner}


async def _noop_event(*_args: str) -> None:
    return None


Body = Callable[[str, PodRunner], Awaitable[None]]


def run(body: Body, allow: bool = True) -> None:
    """Serve exec and attach for one pod on a real uvicorn server and run ``body``."""
    async def main() -> None:
        async with serve(allow) as (url, runner):
            await body(url, runner)
    asyncio.run(main())


@contextlib.asynccontextmanager
async def serve(allow: bool) -> AsyncIterator[tuple[str, PodRunner]]:
    runner = PodRunner(POD, "127.0.0.1", "127.0.0.1", True, lambda: None, _noop_event)
    await runner.start()
    host = Host(runner, allow)
    app = Starlette(routes=[*exec_.routes(host), *attach.routes(host)])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio")
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve(sockets=[sock]))
    while not srv.started:
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}", runner
    finally:
        srv.should_exit = True
        await task
        await runner.stop()


def _query(command: list[str], **flags: str) -> str:
    return urlencode([*flags.items(), *(("command", c) for c in command)])


async def _collect(ws: ClientConnection) -> dict[int, bytes]:
    """Every channel's bytes until the server closes."""
    out: dict[int, bytes] = {}
    async for message in ws:
        raw = message.encode() if isinstance(message, str) else message
        out[raw[0]] = out.get(raw[0], b"") + raw[1:]
    return out


def test_exec_exit_code_hostname_env_and_workdir() -> None:
    async def body(url: str, runner: PodRunner) -> None:
        cmd = ["sh", "-c", "echo $HOSTNAME $GREETING; pwd; echo oops >&2; exit 3"]
        async with connect(f"{url}/exec/default/web-1/main?{_query(cmd, output='1', error='1')}",
                           subprotocols=["v4.channel.k8s.io"]) as ws:
            assert ws.subprotocol == "v4.channel.k8s.io"
            first = await ws.recv()
            assert first == b"\x01"  # the ready signal
            out = await _collect(ws)
        assert out[1] == b"web-1 hello\n/tmp\n"
        assert out[2] == b"oops\n"
        status = json.loads(out[3])
        assert status["reason"] == "NonZeroExitCode"
        assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    run(body)


def test_exec_v5_stdin_and_close_signal() -> None:
    async def body(url: str, runner: PodRunner) -> None:
        q = _query(["cat"], stdin="true", stdout="true")  # the apiserver's names work too
        async with connect(f"{url}/exec/default/web-1/main?{q}",
                           subprotocols=["v5.channel.k8s.io", "v4.channel.k8s.io"]) as ws:
            assert ws.subprotocol == "v5.channel.k8s.io"
            await ws.send(b"\x00line one\n")
            await ws.send("\x00line two\n")  # a text frame, as the Python client sends str
            await ws.send(b"\xff\x00")  # stdin EOF
            out = await _collect(ws)
        assert out[1] == b"line one\nline two\n"
        assert json.loads(out[3]) == {"metadata": {}, "status": "Success"}
    run(body)


def test_exec_base64_protocol() -> None:
    async def body(url: str, runner: PodRunner) -> None:
        q = _query(["sh", "-c", "printf 'a\\0b'"], output="1")
        async with connect(f"{url}/exec/default/web-1/main?{q}",
                           subprotocols=["base64.channel.k8s.io"]) as ws:
            messages = [m async for m in ws]
        assert messages[0] == "1"
        assert "1YQBi" in messages
        assert not any(str(m).startswith("3") for m in messages)  # v1: nothing on success
    run(body)


def test_exec_tty_with_resize() -> None:
    async def body(url: str, runner: PodRunner) -> None:
        q = _query(["sh"], input="1", output="1", tty="1")
        async with connect(f"{url}/exec/default/web-1/main?{q}",
                           subprotocols=["v4.channel.k8s.io"]) as ws:
            await ws.send(b'\x04{"Width":91,"Height":17}')
            await ws.send(b"\x00stty size; tty; exit 5\n")
            out = await _collect(ws)
        assert b"17 91" in out[1]
        assert b"/dev/pts/" in out[1]
        assert json.loads(out[3])["details"]["causes"][0]["message"] == "5"
    run(body)


@pytest.mark.parametrize(("path", "query", "protocols", "status", "text"), [
    ("/exec/default/nope/main", "output=1&command=true", None, 404,
     'pod "nope" does not exist'),
    ("/exec/default/web-1/nope", "output=1&command=true", None, 404,
     'container "nope" not found in pod "web-1"'),
    ("/exec/default/web-1/main", "command=true", None, 400,
     "you must specify at least 1 of stdin, stdout, stderr"),
    ("/exec/default/web-1/main", "output=1", None, 400,
     "you must specify at least one command for the container"),
    ("/exec/default/web-1/main", "output=1&command=true", ["v9.channel.k8s.io"], 400,
     "requested protocol(s) are not supported: [v9.channel.k8s.io]"),
])
def test_refusals_before_the_upgrade(path: str, query: str, protocols: list[str] | None,
                                     status: int, text: str) -> None:
    async def body(url: str, runner: PodRunner) -> None:
        with pytest.raises(InvalidStatus) as info:
            async with connect(f"{url}{path}?{query}", subprotocols=protocols):  # type: ignore[arg-type]
                pass
        assert info.value.response.status_code == status
        assert info.value.response.body is not None
        assert info.value.response.body.decode().startswith(text)
    run(body)


def test_exec_without_host_commands_says_so() -> None:
    async def body(url: str, runner: PodRunner) -> None:
        async with connect(f"{url}/exec/default/web-1/main?{_query(['ls'], output='1', error='1')}",
                           subprotocols=["v4.channel.k8s.io"]) as ws:
            out = await _collect(ws)
        assert b"--allow-host-commands" in out[2]
        status = json.loads(out[3])
        assert status["details"]["causes"][0]["message"] == "126"
        assert "--allow-host-commands" in status["message"]
    run(body, allow=False)


def test_client_leaving_kills_the_process_group() -> None:
    async def body(url: str, runner: PodRunner) -> None:
        q = _query(["sh", "-c", "sleep 300 & echo $!; wait"], output="1")
        async with connect(f"{url}/exec/default/web-1/main?{q}",
                           subprotocols=["v4.channel.k8s.io"]) as ws:
            await ws.recv()
            child = int((await ws.recv())[1:])
            assert runner.exec_groups
        while runner.exec_groups:
            await asyncio.sleep(0.05)
        with pytest.raises(ProcessLookupError):
            while True:  # gone once reaped by its (killed) parent's reaper
                os.kill(child, 0)
                await asyncio.sleep(0.05)
    run(body)


def test_pod_stop_ends_an_open_stream_with_the_exit_status() -> None:
    async def body(url: str, runner: PodRunner) -> None:
        async with connect(f"{url}/exec/default/web-1/main?{_query(['sleep', '300'], output='1')}",
                           subprotocols=["v4.channel.k8s.io"]) as ws:
            await ws.recv()
            while not runner.exec_groups:
                await asyncio.sleep(0.05)
            await runner.stop()
            out = await _collect(ws)
        assert json.loads(out[3])["details"]["causes"][0]["message"] == "137"
    run(body)


def test_attach_to_a_host_process_with_stdin() -> None:
    async def body(url: str, runner: PodRunner) -> None:
        async with connect(f"{url}/attach/default/web-1/echo?input=1&output=1&error=1",
                           subprotocols=["v5.channel.k8s.io"]) as ws:
            assert await ws.recv() == b"\x01"
            await ws.send(b"\x00ping\n")
            assert await ws.recv() == b"\x01ping\n"
    run(body)



def test_a_background_child_holding_the_output_does_not_hold_the_session() -> None:
    async def body(url: str, runner: PodRunner) -> None:
        before = len(os.listdir("/proc/self/fd"))
        q = _query(["sh", "-c", "sleep 600 & echo $!"], output="1")
        async with connect(f"{url}/exec/default/web-1/main?{q}",
                           subprotocols=["v4.channel.k8s.io"]) as ws:
            out = await _collect(ws)  # ends long before the background sleep
        assert json.loads(out[3])["status"] == "Success"
        os.kill(int(out[1]), 9)
        while len(os.listdir("/proc/self/fd")) > before:
            await asyncio.sleep(0.05)
    run(body)


def test_attach_ends_with_success_when_the_container_stops() -> None:
    async def body(url: str, runner: PodRunner) -> None:
        async with connect(f"{url}/attach/default/web-1/echo?output=1",
                           subprotocols=["v4.channel.k8s.io"]) as ws:
            assert await ws.recv() == b"\x01"
            await runner.stop()
            out = await _collect(ws)
        assert json.loads(out[3]) == {"metadata": {}, "status": "Success"}
    run(body)
