"""The userspace proxier's partial syncs: only the changed service ports are touched, and a
full resync afterwards finds nothing to change (real listeners and TCP traffic on the
session's own loopback addresses)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from ipaddress import IPv4Network
from typing import Any

import pytest

from controllers.proxy.types import Endpoint, ServicePort, ServicePortName
from controllers.proxy.userspace import UserspaceProxier
from kubemu.addresses import Addresses

Ports = dict[ServicePortName, ServicePort]
Eps = dict[ServicePortName, tuple[Endpoint, ...]]
LOGGER = "controllers.proxy.userspace"
#: The Services' port (unprivileged: the test may run as any user).
PORT = 8080


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


@asynccontextmanager
async def backends(network: IPv4Network, count: int) -> AsyncIterator[list[Endpoint]]:
    """``count`` TCP servers on pod addresses, each answering its own ``IP:PORT``."""
    servers: list[asyncio.Server] = []
    found: list[Endpoint] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ip, port = writer.get_extra_info("sockname")[:2]
        writer.write(f"{ip}:{port}".encode())
        await writer.drain()
        writer.close()

    try:
        for host in list(network.hosts())[200:200 + count]:
            server = await asyncio.start_server(answer, str(host), 0)
            servers.append(server)
            found.append(Endpoint(str(host), server.sockets[0].getsockname()[1]))
        yield found
    finally:
        for server in servers:
            server.close()


async def fetch(ip: str, port: int) -> str:
    """What the endpoint behind ``ip:port`` answers ("" when the proxy resets)."""
    reader, writer = await asyncio.open_connection(ip, port)
    try:
        return (await reader.read()).decode()
    except ConnectionError:
        return ""
    finally:
        writer.close()


def service(name: str, ip: str, **fields: Any) -> tuple[ServicePortName, ServicePort]:
    spn = ServicePortName("default", name, "http", "TCP")
    return spn, ServicePort(spn, ip, PORT, **fields)


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    out = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    caplog.clear()
    return out


def series(proxier: UserspaceProxier) -> set[tuple[str, str]]:
    return {(s.labels["service"], s.labels["endpoint"]) for family in proxier.connections.collect()
            for s in family.samples if family.name.endswith("_active")}


@asynccontextmanager
async def userspace(**options: Any) -> AsyncIterator[UserspaceProxier]:
    proxier = UserspaceProxier(**options)
    try:
        yield proxier
    finally:
        await proxier.cleanup()


async def full_resync_changes_nothing(proxier: UserspaceProxier, ports: Ports, eps: Eps,
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    listening, counted = proxier.listening, series(proxier)
    await proxier.sync(ports, eps, set(), True)
    assert lines(caplog) == []
    assert proxier.listening == listening and series(proxier) == counted


def test_a_partial_sync_touches_only_the_changed_service_port(
        address_block: Addresses, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    ips = [str(ip) for ip in list(address_block.service_range.hosts())[300:304]]

    async def test() -> None:
        async with backends(address_block.cluster_cidr, 4) as (a1, a2, b1, c1):
            (a, svc_a), (b, svc_b) = service("a", ips[0]), service("b", ips[1])
            ports: Ports = {a: svc_a, b: svc_b}
            eps: Eps = {a: (a1,), b: (b1,)}
            async with userspace(nodeport_addresses=[]) as proxier:
                await proxier.sync(ports, eps, set(), True)
                assert await fetch(ips[0], PORT) == str(a1)
                lines(caplog)

                # One endpoint of a changes: its balancer, nothing else.
                eps = {**eps, a: (a2,)}
                await proxier.sync(ports, eps, {"default/a"}, False)
                assert lines(caplog) == [f"endpoints of {a}: {a2}"]
                assert await fetch(ips[0], PORT) == str(a2)
                assert await fetch(ips[1], PORT) == str(b1)
                assert series(proxier) == {("a", str(a2)), ("b", str(b1))}

                # c arrives and b leaves: c's listener opens, b's closes, b's series go.
                c, svc_c = service("c", ips[2])
                ports = {a: svc_a, c: svc_c}
                eps = {a: eps[a], c: (c1,)}
                await proxier.sync(ports, eps, {"default/b", "default/c"}, False)
                assert sorted(lines(caplog)) == sorted([
                    f"endpoints of {c}: {c1}", f"listening on {ips[2]}:{PORT}/TCP for {c}",
                    f"closed {ips[1]}:{PORT}/TCP ({b})"])
                assert await fetch(ips[2], PORT) == str(c1)
                assert series(proxier) == {("a", str(a2)), ("c", str(c1))}
                assert proxier.lb.service_ports() == [a, c]

                # a moves to another ClusterIP: its old listener closes, the new one opens.
                ports = {**ports, a: dataclasses.replace(svc_a, cluster_ip=ips[3])}
                await proxier.sync(ports, eps, {"default/a"}, False)
                assert sorted(lines(caplog)) == sorted([
                    f"closed {ips[0]}:{PORT}/TCP ({a})",
                    f"listening on {ips[3]}:{PORT}/TCP for {a}"])
                assert await fetch(ips[3], PORT) == str(a2)

                # Nothing changed: nothing is touched.
                await proxier.sync(ports, eps, set(), False)
                assert lines(caplog) == []
                await full_resync_changes_nothing(proxier, ports, eps, caplog)

    run(test)


def test_a_shared_external_ip_passes_to_the_next_service_claiming_it(
        address_block: Addresses, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    ips = [str(ip) for ip in list(address_block.service_range.hosts())[310:312]]
    shared = str(list(address_block.lb_pool.hosts())[200])

    async def test() -> None:
        async with backends(address_block.cluster_cidr, 2) as (a1, b1):
            (a, svc_a) = service("a", ips[0], external_ips=(shared,))
            (b, svc_b) = service("b", ips[1], external_ips=(shared,))
            ports: Ports = {a: svc_a, b: svc_b}
            eps: Eps = {a: (a1,), b: (b1,)}
            async with userspace(nodeport_addresses=[]) as proxier:
                await proxier.sync(ports, eps, set(), True)
                assert await fetch(shared, PORT) == str(a1)
                ports = {b: svc_b}
                await proxier.sync(ports, eps, {"default/a"}, False)
                assert await fetch(shared, PORT) == str(b1)
                # a comes back: b keeps the address it serves.
                ports = {b: svc_b, a: svc_a}
                await proxier.sync(ports, eps, {"default/a"}, False)
                assert await fetch(shared, PORT) == str(b1)
                await full_resync_changes_nothing(proxier, ports, eps, caplog)

    run(test)


def test_a_failed_bind_is_retried_by_a_partial_sync_of_other_services(
        address_block: Addresses) -> None:
    ip = str(list(address_block.service_range.hosts())[320])
    errors: list[str] = []

    async def test() -> None:
        async with backends(address_block.cluster_cidr, 1) as (a1,):
            a, svc_a = service("a", ip)
            ports: Ports = {a: svc_a}
            eps: Eps = {a: (a1,)}
            proxier = UserspaceProxier(nodeport_addresses=[],
                                       on_bind_error=lambda spn, addr, msg: errors.append(addr))
            blocker = await asyncio.start_server(lambda r, w: w.close(), ip, PORT)
            try:
                await proxier.sync(ports, eps, set(), True)
                assert errors == [f"{ip}:{PORT}/TCP"] and proxier.listening == []
                blocker.close()
                await blocker.wait_closed()
                await proxier.sync(ports, eps, set(), False)
                assert proxier.listening == [(ip, PORT, "TCP")]
                assert await fetch(ip, PORT) == str(a1)
                assert errors == [f"{ip}:{PORT}/TCP"], "reported once"
            finally:
                blocker.close()
                await proxier.cleanup()

    run(test)


def test_external_traffic_policy_local_follows_partial_syncs(
        address_block: Addresses, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    ip = str(list(address_block.service_range.hosts())[330])
    node_ip = address_block.node_ip(1)

    async def test() -> None:
        async with backends(address_block.cluster_cidr, 2) as (here, there):
            here = dataclasses.replace(here, is_local=True, node_name="node-1")
            a, svc_a = service("a", ip, node_port=30080)
            ports: Ports = {a: svc_a}
            eps: Eps = {a: (here, there)}
            async with userspace(nodeport_addresses=[node_ip]) as proxier:
                await proxier.sync(ports, eps, set(), True)
                # Local: the NodePort listener is replaced by one balancing local endpoints.
                ports = {a: dataclasses.replace(svc_a, external_policy_local=True)}
                await proxier.sync(ports, eps, {"default/a"}, False)
                for _ in range(3):
                    assert await fetch(node_ip, 30080) == str(here)
                await full_resync_changes_nothing(proxier, ports, eps, caplog)
                # The local endpoint leaves: external traffic is refused, cluster traffic not.
                eps = {a: (there,)}
                await proxier.sync(ports, eps, {"default/a"}, False)
                assert await fetch(node_ip, 30080) == ""
                assert await fetch(ip, PORT) == str(there)
                await full_resync_changes_nothing(proxier, ports, eps, caplog)

    run(test)
