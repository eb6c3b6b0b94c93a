"""CPU time of kubemu's own request handling, without HTTP or a load generator.

``python -m bench.inprocess create|list [--count N]`` builds the apiserver's ASGI app on
memory storage in this process, sends it the bench's requests directly (the create
scenario's pod POSTed to a namespace, or a GET of the list scenario's 10,000 pods) and
prints the process CPU time per request. No socket, HTTP parser or other process takes
part, so the number moves only with kubemu's own code: compare two trees with the same
command, run alternately (``PYTHONPATH=<tree>``). The admission chain is upstream's default
one, ServiceAccount included (each namespace gets its ``default`` account).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import MutableMapping
from typing import Any

import orjson

from apiserver.app import ApiServer, ServerConfig
from bench.populate import pod

_LIST_SIZE = 10_000
_WARMUP = 100


class _Client:
    """Requests straight into the ASGI app; the answer's status is kept, its body dropped
    (as a socket would take it)."""

    def __init__(self, app: ApiServer) -> None:
        self.app = app

    async def call(self, method: str, path: str, body: bytes = b"") -> int:
        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 2), "extensions": {},
            "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())],
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status: list[int] = []

        async def receive() -> MutableMapping[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))

        await self.app(scope, receive, send)
        return status[0]

    async def create(self, path: str, obj: dict[str, Any]) -> None:
        code = await self.call("POST", path, orjson.dumps(obj))
        if code != 201:
            raise SystemExit(f"POST {path}: HTTP {code}")


async def _measure(scenario: str, count: int) -> float:
    server = ApiServer(ServerConfig(storage="memory"))
    async with server.lifespan():
        client = _Client(server)
        for ns in ("bench", "bench-create"):
            await client.create("/api/v1/namespaces", {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            await client.create(f"/api/v1/namespaces/{ns}/serviceaccounts", {
                "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
        if scenario == "list":
            for index in range(_LIST_SIZE):
                await client.create("/api/v1/namespaces/bench/pods",
                                    pod(f"pod-{index:05d}", "bench"))

        async def one(index: int) -> None:
            if scenario == "list":
                code = await client.call("GET", "/api/v1/namespaces/bench/pods")
                if code != 200:
                    raise SystemExit(f"list: HTTP {code}")
            else:
                await client.create("/api/v1/namespaces/bench-create/pods",
                                    pod(f"c-{index:07d}", "bench-create"))

        for index in range(_WARMUP):
            await one(count + index)
        started = time.process_time()
        for index in range(count):
            await one(index)
        return (time.process_time() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=("create", "list"))
    parser.add_argument("--count", type=int, default=0,
                        help="measured requests (default 3000 creates, 40 lists)")
    args = parser.parse_args()
    count = args.count or (3000 if args.scenario == "create" else 40)
    seconds = asyncio.run(_measure(args.scenario, count))
    print(f"{args.scenario}: {seconds * 1e6:,.0f} µs CPU per request ({count} requests)")


if __name__ == "__main__":
    main()
