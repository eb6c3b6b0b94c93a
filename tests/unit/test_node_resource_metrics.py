"""The kubelet's ``/metrics/resource`` at its lowest layers: Go's float spelling, the
exposition (against the upstream collector's expected text), and real measurements — the
CPU the built-in servers charge to their container, host process trees read from
``/proc``, the node, and a pod runner's containers (restarts start a new counter)."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from controllers.node.grpchealth import start_health_server
from controllers.node.kubelet.resourcemetrics import (
    ContainerSample,
    Snapshot,
    go_float,
    measure,
    render,
)
from controllers.node.probes import ProbeSpec, run_probe
from controllers.node.runtime import PodRunner
from controllers.node.servers import ContainerFlags, start_port_server
from controllers.node.usage import InstanceUsage, ProcessTable, Usage, epoch_of, node_usage
from kubemu.addresses import Addresses

# 2021-06-23 05:11:18.302091597 +0800, upstream's test timestamp.
AT = 1624396278.302091597


def _busy(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def _free_port(host: str, kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize(("value", "text"), [
    (10.0, "10"), (0.0, "0"), (1000.0, "1000"), (999999.0, "999999"), (1e6, "1e+06"),
    (14680064.0, "1.4680064e+07"), (0.012345, "0.012345"), (1e-05, "1e-05"),
    (0.0001, "0.0001"), (12.5, "12.5"), (123456.7, "123456.7"),
    (1.6243962483020916e+09, "1.6243962483020916e+09"), (1.5e16, "1.5e+16"),
    (-2.5, "-2.5"), (float("inf"), "+Inf"), (float("nan"), "NaN"),
])
def test_values_are_spelt_as_go_formats_them(value: float, text: str) -> None:
    assert go_float(value) == text


def test_exposition_is_the_kubelets() -> None:
    samples = [
        ContainerSample("namespace_a", "pod_a", "container_b", AT - 120, Usage(10.0, 1000)),
        ContainerSample("namespace_b", "pod_b", "container_a", AT - 600, Usage(0.5, 2048)),
        ContainerSample("namespace_a", "pod_a", "container_a", AT - 30, Usage(10.0, 1000)),
    ]
    text = render(Snapshot(AT, Usage(12.25, 15_000_000), samples))
    labels_aa = 'container="container_a",namespace="namespace_a",pod="pod_a"'
    labels_ab = 'container="container_a",namespace="namespace_b",pod="pod_b"'
    labels_ba = 'container="container_b",namespace="namespace_a",pod="pod_a"'
    assert text == f"""\
# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{{{labels_aa}}} 10 1624396278302
container_cpu_usage_seconds_total{{{labels_ab}}} 0.5 1624396278302
container_cpu_usage_seconds_total{{{labels_ba}}} 10 1624396278302
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{{{labels_aa}}} 1000 1624396278302
container_memory_working_set_bytes{{{labels_ab}}} 2048 1624396278302
container_memory_working_set_bytes{{{labels_ba}}} 1000 1624396278302
# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds
# TYPE container_start_time_seconds gauge
container_start_time_seconds{{{labels_aa}}} 1.6243962483020916e+09
container_start_time_seconds{{{labels_ab}}} 1.6243956783020916e+09
container_start_time_seconds{{{labels_ba}}} 1.6243961583020916e+09
# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 12.25 1624396278302
# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 1.5e+07 1624396278302
# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds
# TYPE pod_cpu_usage_seconds_total counter
pod_cpu_usage_seconds_total{{namespace="namespace_a",pod="pod_a"}} 20 1624396278302
pod_cpu_usage_seconds_total{{namespace="namespace_b",pod="pod_b"}} 0.5 1624396278302
# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes
# TYPE pod_memory_working_set_bytes gauge
pod_memory_working_set_bytes{{namespace="namespace_a",pod="pod_a"}} 2000 1624396278302
pod_memory_working_set_bytes{{namespace="namespace_b",pod="pod_b"}} 2048 1624396278302
# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE resource_scrape_error gauge
resource_scrape_error 0
"""  # noqa: E501  (the HELP lines are upstream's)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    cpu = families["container_cpu_usage_seconds"]
    assert cpu.type == "counter" and len(cpu.samples) == 3
    assert cpu.samples[0].timestamp == pytest.approx(1624396278.302)
    assert families["resource_scrape_error"].samples[0].value == 0


def test_a_node_without_running_containers_has_no_container_or_pod_families() -> None:
    text = render(Snapshot(AT, Usage(1.0, 4096), []))
    names = [f.name for f in text_string_to_metric_families(text)]
    assert names == ["node_cpu_usage_seconds", "node_memory_working_set_bytes",
                     "resource_scrape_error"]


def test_a_failed_measurement_is_a_scrape_error_alone() -> None:
    assert render(None) == (
        "# HELP resource_scrape_error [STABLE] 1 if there was an error while getting "
        "container metrics, 0 otherwise\n"
        "# TYPE resource_scrape_error gauge\n"
        "resource_scrape_error 1\n")


def test_instance_usage_charges_this_threads_cpu_only() -> None:
    usage = InstanceUsage(started=AT)
    started = time.thread_time()
    _busy(0.05)
    usage.charge(started)
    started = time.thread_time()
    time.sleep(0.1)  # waiting is not CPU
    usage.charge(started)
    assert 0.05 <= usage.cpu_seconds < 0.09
    assert usage.started == AT and usage.memory_bytes() == 0
    assert epoch_of("2021-06-22T21:11:18Z") == 1624396278.0 and epoch_of("") is None


def test_builtin_servers_charge_their_container() -> None:
    """HTTP requests, TCP echo chunks and UDP datagrams are each charged to the usage of
    the flags the server started with; the connections' send buffers are the memory."""
    async def scenario() -> tuple[float, float, float, int]:
        http_flags, tcp_flags, udp_flags = (ContainerFlags("web"), ContainerFlags("tcp"),
                                            ContainerFlags("udp"))
        http_port = _free_port("127.0.0.1")
        tcp_port = _free_port("127.0.0.1")
        udp_port = _free_port("127.0.0.1", socket.SOCK_DGRAM)
        servers = [await start_port_server("http", "127.0.0.1", http_port, http_flags),
                   await start_port_server("tcp", "127.0.0.1", tcp_port, tcp_flags),
                   await start_port_server("udp", "127.0.0.1", udp_port, udp_flags)]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", http_port)
            for i in range(300):
                writer.write(f"GET /echo?msg={i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(len(str(i)))
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", tcp_port)
            for _ in range(50):
                writer.write(b"x" * 1000)
                await reader.readexactly(1000)
            writer.close()
            loop = asyncio.get_running_loop()
            got: asyncio.Queue[bytes] = asyncio.Queue()

            class Client(asyncio.DatagramProtocol):
                def datagram_received(self, data: bytes, addr: object) -> None:
                    got.put_nowait(data)

            transport, _ = await loop.create_datagram_endpoint(
                Client, remote_addr=("127.0.0.1", udp_port))
            for _ in range(20):
                transport.sendto(b"ping")
                await asyncio.wait_for(got.get(), 5)
            transport.close()
            await asyncio.sleep(0.05)  # the connections' ends reach the servers
            memory = http_flags.usage.memory_bytes() + tcp_flags.usage.memory_bytes()
            return (http_flags.usage.cpu_seconds, tcp_flags.usage.cpu_seconds,
                    udp_flags.usage.cpu_seconds, memory)
        finally:
            for server in servers:
                await server.close()

    http_cpu, tcp_cpu, udp_cpu, memory = asyncio.run(scenario())
    assert 0 < http_cpu < 1 and 0 < tcp_cpu < 1 and 0 < udp_cpu < 1
    assert http_cpu > tcp_cpu  # parsing and answering 300 requests costs more
    assert memory == 0  # every answer was read: nothing is queued any more


def test_the_grpc_health_server_charges_its_container() -> None:
    port = _free_port("127.0.0.1")
    usage = InstanceUsage()

    async def scenario() -> list[bool]:
        server = await start_health_server("127.0.0.1", port, lambda _s: True, {"app"},
                                           lambda _line: None, usage)
        try:
            results = []
            for service in ("", "app", "other"):
                result = await run_probe(ProbeSpec("grpc", port, service=service),
                                         "127.0.0.1", False)
                results.append(result.ok)
            return results
        finally:
            await server.stop()

    assert asyncio.run(scenario()) == [True, True, False]
    assert 0 < usage.cpu_seconds < 1  # the three calls, unknown service included


BUSY_TREE = ("import subprocess, sys, time\n"
             "child = subprocess.Popen([sys.executable, '-c', "
             "'import time\\nend = time.process_time() + 0.3\\n"
             "while time.process_time() < end: pass\\ntime.sleep(60)'])\n"
             "print('started', flush=True)\n"
             "time.sleep(60)\n")


def test_a_process_tree_is_measured_from_proc() -> None:
    proc = subprocess.Popen([sys.executable, "-c", BUSY_TREE], stdout=subprocess.PIPE,
                            start_new_session=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"started\n"
        deadline = time.monotonic() + 10
        while True:
            table = ProcessTable(os.getpid())
            tree = table.tree(proc.pid)
            assert tree is not None
            if tree.cpu_seconds >= 0.3 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(table.children[proc.pid]) == 1  # the busy grandchild
        assert 0.3 <= tree.cpu_seconds < 5
        assert tree.memory_bytes > 2 * 1_000_000  # two Python interpreters resident
        node = node_usage(table)
        assert node.cpu_seconds >= time.process_time() + tree.cpu_seconds - 0.02
        assert node.memory_bytes > tree.memory_bytes
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the grandchild too
        proc.wait()
    assert ProcessTable(os.getpid()).tree(proc.pid) is None  # gone: not an error
    with pytest.raises(OSError):  # but a node that cannot be read is a scrape error
        node_usage(ProcessTable(proc.pid))


def _pod(containers: list[dict[str, Any]]) -> dict[str, Any]:
    # Never: the finite container stays terminated (a failed liveness, or kill(), still
    # restarts a container).
    return {"metadata": {"name": "web-1", "namespace": "default", "uid": "u1"},
            "spec": {"restartPolicy": "Never", "containers": containers}}


def test_a_runners_containers_and_restarts(address_block: Addresses) -> None:
    """Running containers are measured; a restarted container counts from 0 again."""
    ip = str(ipaddress.ip_network(address_block.pod_cidr(1))[247])
    port = _free_port(ip)
    pod = _pod([{"name": "web", "image": "nginx", "ports": [{"containerPort": port,
                                                             "name": "http"}]},
                {"name": "done", "image": "busybox", "command": ["true"]}])

    async def noop(*_args: str) -> None:
        return None

    async def scenario() -> tuple[Snapshot, Snapshot, float]:
        runner = PodRunner(pod, ip, "127.0.0.1", False, lambda: None, noop, finite_seconds=0)
        await runner.start()
        try:
            await asyncio.sleep(0.1)  # the finite container exits
            reader, writer = await asyncio.open_connection(ip, port)
            for _ in range(200):
                writer.write(b"GET /hostname HTTP/1.1\r\nHost: x\r\n\r\n")
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(len("web-1"))
            writer.close()
            before = measure([runner])
            web = runner.containers[0]
            began = time.time()
            await web.kill("test restart")
            while not web.running:
                await asyncio.sleep(0.05)
            return before, measure([runner]), began
        finally:
            await runner.stop()

    before, after, restarted = asyncio.run(scenario())
    assert [s.container for s in before.containers] == ["web"]  # "done" is not running
    (sample,) = before.containers
    assert (sample.namespace, sample.pod) == ("default", "web-1")
    assert 0 < sample.usage.cpu_seconds < 1 and sample.usage.memory_bytes == 0
    assert abs(sample.start - before.at) < 5
    assert before.node.cpu_seconds > sample.usage.cpu_seconds
    (again,) = after.containers
    assert again.usage.cpu_seconds < sample.usage.cpu_seconds and again.start >= restarted


def test_a_host_process_container_is_its_process_tree() -> None:
    pod = _pod([{"name": "busy", "image": "python", "command": [
        sys.executable, "-c", BUSY_TREE]}])

    async def noop(*_args: str) -> None:
        return None

    async def scenario() -> Snapshot:
        runner = PodRunner(pod, "127.0.0.1", "127.0.0.1", True, lambda: None, noop)
        await runner.start()
        try:
            deadline = time.monotonic() + 10
            while True:
                snapshot = measure([runner])
                cpu = sum(s.usage.cpu_seconds for s in snapshot.containers)
                if cpu >= 0.3 or time.monotonic() > deadline:
                    return snapshot
                await asyncio.sleep(0.1)
        finally:
            await runner.stop()

    snapshot = asyncio.run(scenario())
    (sample,) = snapshot.containers
    assert 0.3 <= sample.usage.cpu_seconds < 5
    assert sample.usage.memory_bytes > 2 * 1_000_000
    assert snapshot.node.cpu_seconds > sample.usage.cpu_seconds
    assert snapshot.node.memory_bytes > sample.usage.memory_bytes
