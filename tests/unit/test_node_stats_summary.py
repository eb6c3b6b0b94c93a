"""The kubelet's ``/stats/summary``: the Summary document built from measurements, the
``usageNanoCores`` rate between two measurements (a restart starts it over), the route, and
a real pod runner measured (its running containers only, a restarted one a new instance)."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import time
from types import SimpleNamespace
from typing import Any

from starlette.applications import Starlette
from starlette.testclient import TestClient

from controllers.node.kubelet import statssummary
from controllers.node.kubelet.statssummary import (
    ContainerEntry,
    Measurement,
    PodEntry,
    RateCache,
    collect,
    summary,
)
from controllers.node.runtime import PodRunner
from controllers.node.usage import Usage, process_start
from kubemu.addresses import Addresses

AT = 1624396278.302091597  # 2021-06-22T21:11:18Z
WHEN = "2021-06-22T21:11:18Z"


def _measurement(at: float, web: object, sidecar: object, web_cpu: float,
                 sidecar_cpu: float, node_cpu: float) -> Measurement:
    pod = PodEntry("default", "web-1", "u1", "2021-06-22T21:00:00Z", [
        ContainerEntry("web", AT - 60, Usage(web_cpu, 0), web, False),
        ContainerEntry("sidecar", AT - 30, Usage(sidecar_cpu, 4096), sidecar, True)])
    idle = PodEntry("kube-system", "done", "u2", "2021-06-22T20:00:00Z", [])
    return Measurement(at, AT - 3600, Usage(node_cpu, 50_000_000), [pod, idle])


def test_the_document_is_upstreams_shape_without_a_rate_at_first() -> None:
    web, sidecar = object(), object()
    doc = summary("node-1", _measurement(AT, web, sidecar, 1.5, 0.25, 10.0), RateCache())
    assert doc == {
        "node": {
            "nodeName": "node-1", "startTime": "2021-06-22T20:11:18Z",
            "cpu": {"time": WHEN, "usageCoreNanoSeconds": 10_000_000_000},
            "memory": {"time": WHEN, "usageBytes": 50_000_000,
                       "workingSetBytes": 50_000_000, "rssBytes": 50_000_000}},
        "pods": [
            {"podRef": {"name": "web-1", "namespace": "default", "uid": "u1"},
             "startTime": "2021-06-22T21:00:00Z",
             "containers": [  # by name
                 {"name": "sidecar", "startTime": "2021-06-22T21:10:48Z",
                  "cpu": {"time": WHEN, "usageCoreNanoSeconds": 250_000_000},
                  "memory": {"time": WHEN, "usageBytes": 4096, "workingSetBytes": 4096,
                             "rssBytes": 4096}},
                 {"name": "web", "startTime": "2021-06-22T21:10:18Z",
                  "cpu": {"time": WHEN, "usageCoreNanoSeconds": 1_500_000_000},
                  # A built-in container: its (honest) 0, no resident set of its own.
                  "memory": {"time": WHEN, "usageBytes": 0, "workingSetBytes": 0}}],
             "cpu": {"time": WHEN, "usageCoreNanoSeconds": 1_750_000_000},
             "memory": {"time": WHEN, "usageBytes": 4096, "workingSetBytes": 4096}},
            {"podRef": {"name": "done", "namespace": "kube-system", "uid": "u2"},
             "startTime": "2021-06-22T20:00:00Z", "containers": []}],
    }


def _rates(doc: dict[str, Any]) -> dict[str, int | None]:
    out = {"node": doc["node"]["cpu"].get("usageNanoCores")}
    for pod in doc["pods"]:
        if "cpu" in pod:
            out[pod["podRef"]["name"]] = pod["cpu"].get("usageNanoCores")
        for c in pod["containers"]:
            out[c["name"]] = c["cpu"].get("usageNanoCores")
    return out


def test_the_rate_is_taken_between_two_measurements_and_a_restart_starts_over() -> None:
    rates = RateCache()
    web, sidecar = object(), object()
    summary("n", _measurement(AT, web, sidecar, 1.5, 0.25, 10.0), rates)
    doc = summary("n", _measurement(AT + 10, web, sidecar, 2.0, 0.5, 13.0), rates)
    assert _rates(doc) == {"node": 300_000_000, "web-1": 75_000_000, "web": 50_000_000,
                           "sidecar": 25_000_000}
    # A request at the same instant repeats the rates.
    again = summary("n", _measurement(AT + 10, web, sidecar, 2.0, 0.5, 13.0), rates)
    assert _rates(again) == _rates(doc)
    # web restarts: a new instance counts from 0; its rate and its pod's start over.
    restarted = object()
    doc = summary("n", _measurement(AT + 20, restarted, sidecar, 0.1, 1.0, 14.0), rates)
    assert _rates(doc) == {"node": 100_000_000, "web-1": None, "web": None,
                           "sidecar": 50_000_000}
    assert "usageNanoCores" not in doc["pods"][0]["containers"][1]["cpu"]
    doc = summary("n", _measurement(AT + 30, restarted, sidecar, 0.3, 1.0, 15.0), rates)
    assert _rates(doc) == {"node": 100_000_000, "web-1": 20_000_000, "web": 20_000_000,
                           "sidecar": 0}


def test_gone_containers_are_forgotten() -> None:
    rates = RateCache()
    web, sidecar = object(), object()
    summary("n", _measurement(AT, web, sidecar, 1.0, 1.0, 1.0), rates)
    summary("n", Measurement(AT + 5, AT - 3600, Usage(2.0, 1), []), rates)  # pods gone
    doc = summary("n", _measurement(AT + 10, web, sidecar, 2.0, 2.0, 3.0), rates)
    assert _rates(doc) == {"node": 200_000_000, "web-1": None, "web": None,
                           "sidecar": None}


def test_the_route_serves_json_and_accepts_only_cpu_and_memory(
        monkeypatch: Any) -> None:
    host = SimpleNamespace(node_name="node-1", runners={}, allow_host_commands=False)
    app = Starlette(routes=statssummary.routes(host))
    with TestClient(app) as client:
        first = client.get("/stats/summary")
        assert first.status_code == 200
        assert first.headers["content-type"] == "application/json"
        doc = first.json()
        assert doc["pods"] == [] and doc["node"]["nodeName"] == "node-1"
        assert "usageNanoCores" not in doc["node"]["cpu"]
        assert doc["node"]["memory"]["workingSetBytes"] > 1_000_000  # this process's RSS
        time.sleep(0.05)
        trimmed = client.get("/stats/summary", params={"only_cpu_and_memory": "true"})
        assert trimmed.status_code == 200
        assert set(trimmed.json()["node"]) == {"nodeName", "startTime", "cpu", "memory"}
        assert trimmed.json()["node"]["cpu"]["usageNanoCores"] >= 0  # the second sample

        def unreadable(*_args: Any) -> None:
            raise OSError("cannot read /proc")

        monkeypatch.setattr(statssummary, "measure", unreadable)
        failed = client.get("/stats/summary")
        assert failed.status_code == 500 and "cannot read /proc" in failed.text


def test_the_agents_start_is_read_from_proc() -> None:
    started = process_start(os.getpid())
    assert started is not None and time.time() - 3600 < started <= time.time()


def test_a_runner_is_measured_and_a_restart_is_a_new_instance(
        address_block: Addresses) -> None:
    ip = str(ipaddress.ip_network(address_block.pod_cidr(1))[246])
    with socket.socket() as s:
        s.bind((ip, 0))
        port = s.getsockname()[1]
    pod = {"metadata": {"name": "web-1", "namespace": "default", "uid": "u1"},
           "spec": {"restartPolicy": "Never", "containers": [
               {"name": "web", "image": "nginx", "ports": [{"containerPort": port}]},
               {"name": "done", "image": "busybox", "command": ["true"]}]}}

    async def noop(*_args: str) -> None:
        return None

    async def scenario() -> tuple[Measurement, Measurement]:
        runner = PodRunner(pod, ip, "127.0.0.1", False, lambda: None, noop, finite_seconds=0)
        await runner.start()
        try:
            await asyncio.sleep(0.1)  # the finite container exits
            before = collect([runner], AT)
            web = runner.containers[0]
            await web.kill("test restart")
            while not web.running:
                await asyncio.sleep(0.05)
            return before, collect([runner], AT)
        finally:
            await runner.stop()

    before, after = asyncio.run(scenario())
    (pod_before,) = before.pods
    assert (pod_before.namespace, pod_before.name, pod_before.uid) == ("default", "web-1", "u1")
    assert [c.name for c in pod_before.containers] == ["web"]  # "done" is not running
    (web_before,) = pod_before.containers
    (web_after,) = after.pods[0].containers
    assert not web_before.process and web_after.instance is not web_before.instance
    rates = RateCache()
    summary("n", before, rates)
    doc = summary("n", after, rates)
    assert "usageNanoCores" not in doc["pods"][0]["containers"][0]["cpu"]
    assert "usageNanoCores" not in doc["pods"][0]["cpu"]
