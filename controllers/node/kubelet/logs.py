"""``GET /containerLogs/{namespace}/{pod}/{container}``: a container's log, as the kubelet
serves it.

Parameters (the apiserver passes them on from ``PodLogOptions``): ``follow``,
``previous``, ``timestamps``, ``tailLines``, ``limitBytes``, ``sinceSeconds``,
``sinceTime`` (RFC3339). Which instance is read follows the kubelet's
``validateContainerLogStatus``: the running (or terminated) instance, or the one before
it with ``previous``; a container waiting to start has no log yet. Errors are the
kubelet's texts with 400 (404 for an unknown pod or container, see :mod:`.pods`).

``tailLines`` picks the last lines first, then lines older than ``since…`` are skipped;
``timestamps`` prefixes each line with its fixed-width RFC3339Nano time and a space;
``limitBytes`` counts everything written and may cut a line. ``follow`` keeps reading the
live file (across rotations) until the instance stops running or the pod goes away.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from controllers.node.container import Container
from controllers.node.kubelet.pods import KubeletError, NodeHost, error_response, find_container
from controllers.node.podlogs import instance_files, timestamp_ns

__all__ = ["LogOptions", "LogReader", "choose_instance", "routes"]

#: How often a follower looks for new lines and checks that the instance still runs.
_POLL = 0.2
#: Bytes of log lines sent in one write.
_BATCH = 64 << 10


class LogOptions:
    """The parsed query of a ``containerLogs`` request."""

    def __init__(self, query: Mapping[str, str]) -> None:
        self.follow = _flag(query.get("follow"))
        self.previous = _flag(query.get("previous"))
        self.timestamps = _flag(query.get("timestamps"))
        self.tail = _int(query, "tailLines")
        self.limit = _int(query, "limitBytes")
        since_ns: int | None = None
        seconds = _int(query, "sinceSeconds")
        if seconds is not None:
            since_ns = time.time_ns() - seconds * 1_000_000_000
        text = query.get("sinceTime")
        if text:
            try:
                when = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise KubeletError(400, f'invalid sinceTime "{text}"') from None
            at = int(when.timestamp() * 1_000_000) * 1000
            since_ns = at if since_ns is None else max(since_ns, at)
        self.since_ns = since_ns


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() not in ("0", "false", "f")


def _int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise KubeletError(400, f'invalid {name} "{value}"') from None


def choose_instance(container: Container, pod_name: str, previous: bool) -> int:
    """The restart count of the instance to read (the kubelet's
    ``validateContainerLogStatus``)."""
    name = container.name
    if previous:
        if container.last_terminated is None or container.restart_count == 0:
            raise KubeletError(400, f'previous terminated container "{name}" in pod '
                                    f'"{pod_name}" not found')
        return container.restart_count - 1
    if container.running or container.terminated is not None:
        return container.restart_count
    if container.last_terminated is not None and container.restart_count > 0:
        return container.restart_count - 1
    reason = container.waiting[0] if container.waiting is not None else "ContainerCreating"
    raise KubeletError(400, f'container "{name}" in pod "{pod_name}" is waiting to start: '
                            f"{reason}")


def _format(line: bytes, opts: LogOptions) -> bytes | None:
    """One CRI line (with its newline) as the client sees it (None: skipped)."""
    parts = line.split(b" ", 3)
    if len(parts) != 4 or parts[2] not in (b"F", b"P"):
        return None
    if opts.since_ns is not None:
        stamp = timestamp_ns(parts[0])
        if stamp is None or stamp < opts.since_ns:
            return None
    out = parts[3] if parts[2] == b"F" else parts[3][:-1]
    return parts[0] + b" " + out if opts.timestamps else out


def _lines(fh: BinaryIO) -> Iterator[bytes]:
    while line := fh.readline():
        if not line.endswith(b"\n"):  # being written: read it again later
            fh.seek(-len(line), os.SEEK_CUR)
            return
        yield line


class LogReader:
    """Reads one instance's files: the history, then (following) the live file."""

    def __init__(self, directory: Path, instance: int, opts: LogOptions) -> None:
        self.directory = directory
        self.instance = instance
        self.opts = opts
        self.live: BinaryIO | None = None
        self.sent = 0

    def _take(self, chunk: bytes) -> bytes:
        if self.opts.limit is not None:
            chunk = chunk[:max(self.opts.limit - self.sent, 0)]
        self.sent += len(chunk)
        return chunk

    @property
    def exhausted(self) -> bool:
        return self.opts.limit is not None and self.sent >= self.opts.limit

    def history(self) -> Iterator[bytes]:
        """Formatted lines already written, ``tailLines`` applied; opens the live file."""
        files = instance_files(self.directory, self.instance)
        raw: deque[bytes] | list[bytes] = (deque(maxlen=self.opts.tail)
                                           if self.opts.tail is not None else [])
        for path in files:
            try:
                fh = open(path, "rb")  # noqa: SIM115 (the live file stays open)
            except FileNotFoundError:
                continue
            if path.name == f"{self.instance}.log":
                self.live = fh
                raw.extend(_lines(fh))
            else:
                with fh:
                    raw.extend(fh.readlines())
        for line in raw:
            formatted = _format(line, self.opts)
            if formatted is not None:
                yield self._take(formatted)
                if self.exhausted:
                    return

    def more(self) -> Iterator[bytes]:
        """Lines written since the last call (switching to a new live file once the old
        one was rotated away and read to its end)."""
        while self.live is not None:
            for line in _lines(self.live):
                formatted = _format(line, self.opts)
                if formatted is not None:
                    yield self._take(formatted)
                    if self.exhausted:
                        return
            path = self.directory / f"{self.instance}.log"
            try:
                if os.stat(path).st_ino == os.fstat(self.live.fileno()).st_ino:
                    return
                fresh = open(path, "rb")  # noqa: SIM115
            except FileNotFoundError:
                return
            self.live.close()
            self.live = fresh

    def close(self) -> None:
        if self.live is not None:
            self.live.close()
            self.live = None


def _still_running(host: NodeHost, key: str, uid: str, container: str, instance: int) -> bool:
    runner = host.runners.get(key)
    if runner is None or runner.uid != uid or runner.terminating:
        return False
    found = runner.container(container)
    return found is not None and found.running and found.restart_count == instance


def _batches(lines: Iterator[bytes]) -> Iterator[bytes]:
    """``lines`` joined into writes of about :data:`_BATCH` bytes (one write per line
    would cost a send each)."""
    batch: list[bytes] = []
    size = 0
    for line in lines:
        batch.append(line)
        size += len(line)
        if size >= _BATCH:
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        yield b"".join(batch)


async def _stream(host: NodeHost, key: str, uid: str, container: str, reader: LogReader,
                  follow: bool) -> AsyncIterator[bytes]:
    try:
        for chunk in _batches(reader.history()):
            yield chunk
        if not follow:
            return
        while not reader.exhausted:
            running = _still_running(host, key, uid, container, reader.instance)
            for chunk in _batches(reader.more()):
                yield chunk
            if not running or reader.exhausted:
                return
            await asyncio.sleep(_POLL)
    finally:
        reader.close()


async def container_logs(host: NodeHost, request: Request) -> Response:
    """The handler of ``/containerLogs/{namespace}/{pod}/{container}``."""
    params: dict[str, Any] = request.path_params
    namespace, name, cname = params["namespace"], params["pod"], params["container"]
    try:
        opts = LogOptions(request.query_params)
        _pod, runner, container = find_container(host, namespace, name, cname)
        instance = choose_instance(container, name, opts.previous)
    except KubeletError as exc:
        return error_response(exc)
    if container.log is None:
        return Response(b"", media_type="text/plain")
    reader = LogReader(container.log.directory, instance, opts)
    follow = opts.follow and not opts.previous
    stream = _stream(host, f"{namespace}/{name}", runner.uid, cname, reader, follow)
    return StreamingResponse(stream, media_type="text/plain")


def routes(host: NodeHost) -> list[BaseRoute]:
    """The container log route, bound to ``host``."""

    async def handler(request: Request) -> Response:
        return await container_logs(host, request)

    return [Route("/containerLogs/{namespace}/{pod}/{container}", handler, methods=["GET"])]
