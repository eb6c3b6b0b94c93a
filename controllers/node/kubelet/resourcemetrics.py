"""``GET /metrics/resource``: the kubelet's resource metrics, what ``metrics.k8s.io`` is
made of (metrics-server and kubemu's apiserver scrape it; ``kubectl top``, HPA read that).

The format is the kubelet's (``pkg/kubelet/metrics/collectors/resource_metrics.go`` as
exposed by client_golang): Prometheus text 0.0.4; families sorted by name and present only
when they have a sample; label pairs sorted by name and samples by label values; values
spelt as Go's ``strconv.FormatFloat(v, 'g', -1, 64)`` (``10``, ``1.6e+07``); CPU and memory
samples stamped with the measurement's time in milliseconds, the start time and the scrape
error not stamped. Only running containers are reported, and pods with at least one; a pod's
figures are the sums of its reported containers'. When the node cannot be measured at
all the answer is the kubelet's: ``resource_scrape_error 1`` alone.

The measurements are :mod:`controllers.node.usage`'s: a scrape reads ``/proc`` once for
the agent's process tree (see :class:`~controllers.node.usage.ProcessTable`) and sums
in-process counters for the built-in containers, synchronously and without I/O beside
that — well under a millisecond for tens of pods.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from controllers.node.container import Container
from controllers.node.kubelet.pods import NodeHost
from controllers.node.runtime import PodRunner
from controllers.node.usage import ProcessTable, Usage, node_usage

__all__ = ["CONTENT_TYPE", "ContainerSample", "Snapshot", "go_float", "measure", "render",
           "routes"]

log = logging.getLogger("controllers.node")

#: The highest node CPU reported, by agent pid.
_NODE_CPU_HIGH: dict[int, float] = {}

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_CONTAINER_CPU = ("container_cpu_usage_seconds_total", "counter",
                  "Cumulative cpu time consumed by the container in core-seconds")
_CONTAINER_MEMORY = ("container_memory_working_set_bytes", "gauge",
                     "Current working set of the container in bytes")
_CONTAINER_START = ("container_start_time_seconds", "gauge",
                    "Start time of the container since unix epoch in seconds")
_NODE_CPU = ("node_cpu_usage_seconds_total", "counter",
             "Cumulative cpu time consumed by the node in core-seconds")
_NODE_MEMORY = ("node_memory_working_set_bytes", "gauge",
                "Current working set of the node in bytes")
_POD_CPU = ("pod_cpu_usage_seconds_total", "counter",
            "Cumulative cpu time consumed by the pod in core-seconds")
_POD_MEMORY = ("pod_memory_working_set_bytes", "gauge",
               "Current working set of the pod in bytes")
_SCRAPE_ERROR = ("resource_scrape_error", "gauge",
                 "1 if there was an error while getting container metrics, 0 otherwise")


@dataclass(frozen=True, slots=True)
class ContainerSample:
    """One running container's usage."""

    namespace: str
    pod: str
    container: str
    #: The instance's start, seconds since the epoch.
    start: float
    usage: Usage


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The node's and its running containers' usage, measured at ``at`` (epoch seconds)."""

    at: float
    node: Usage
    containers: list[ContainerSample]


def _container_usage(container: Container, table: ProcessTable) -> Usage | None:
    """A running container's usage; None when it is not running (or its process ended)."""
    if not container.running:
        return None
    proc = container.proc
    instance = container.flags.usage
    if proc is not None:  # a host process: its process tree
        tree = table.tree(proc.pid) if proc.returncode is None else None
        if tree is None:
            return None
        # A counter never goes back, as a cgroup's does not: a descendant that left the
        # tree (daemonized, reparented) takes its CPU with it, so keep the high mark.
        instance.cpu_seconds = max(instance.cpu_seconds, tree.cpu_seconds)
        return Usage(instance.cpu_seconds, tree.memory_bytes)
    return instance.usage()


def measure(runners: Iterable[PodRunner], agent_pid: int | None = None) -> Snapshot:
    """Measure the node (the agent is ``agent_pid``, by default this process) and the
    running containers of ``runners``. Raises OSError when ``/proc`` cannot be read."""
    at = time.time()
    table = ProcessTable(os.getpid() if agent_pid is None else agent_pid)
    samples: list[ContainerSample] = []
    for runner in runners:
        for container in (*runner.containers, *runner.ephemeral.items):
            usage = _container_usage(container, table)
            if usage is not None:
                samples.append(ContainerSample(runner.namespace, runner.pod_name,
                                               container.name, container.flags.usage.started,
                                               usage))
    node = node_usage(table)
    # Reaping moves a child's CPU from /proc's clock ticks to getrusage's microseconds: keep
    # the node's counter from stepping back by that rounding.
    high = _NODE_CPU_HIGH[table.root] = max(_NODE_CPU_HIGH.get(table.root, 0.0),
                                            node.cpu_seconds)
    return Snapshot(at, Usage(high, node.memory_bytes), samples)


def go_float(value: float) -> str:
    """``value`` as Go's ``strconv.FormatFloat(value, 'g', -1, 64)`` spells it, which is
    how client_golang writes sample values: the shortest digits that read back exactly,
    in exponent form when the exponent is below -4 or at least 6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and -1e6 < value < 1e6:
        return str(int(value)) if value or math.copysign(1, value) > 0 else "-0"
    text = repr(value)  # Python's repr is the shortest round-tripping form too
    sign = "-" if text[0] == "-" else ""
    mantissa, _, exponent = text.lstrip("-").partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    stripped = digits.lstrip("0")
    # Go's decimal point position: the value is 0.<digits> * 10**point.
    point = len(whole) - (len(digits) - len(stripped)) + (int(exponent) if exponent else 0)
    digits = stripped.rstrip("0") or "0"
    exp = point - 1
    if exp < -4 or exp >= 6:
        tail = "." + digits[1:] if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{tail}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _label(value: str) -> str:
    """A label value escaped as the text format wants (names rarely need it)."""
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _family(out: list[str], family: tuple[str, str, str], samples: list[str]) -> None:
    name, kind, text = family
    out.append(f"# HELP {name} [STABLE] {text}\n# TYPE {name} {kind}\n")
    out.extend(f"{name}{sample}\n" for sample in samples)


def render(snapshot: Snapshot | None) -> str:
    """The exposition of ``snapshot``; None: the measurement failed (a scrape error)."""
    out: list[str] = []
    if snapshot is None:
        _family(out, _SCRAPE_ERROR, [" 1"])
        return "".join(out)
    ms = int(snapshot.at * 1000)
    containers = sorted(snapshot.containers, key=lambda s: (s.container, s.namespace, s.pod))
    labels = [f'{{container="{_label(s.container)}",namespace="{_label(s.namespace)}",'
              f'pod="{_label(s.pod)}"}}' for s in containers]
    pods: dict[tuple[str, str], tuple[float, int]] = {}
    for sample in snapshot.containers:
        cpu, memory = pods.get((sample.namespace, sample.pod), (0.0, 0))
        pods[sample.namespace, sample.pod] = (cpu + sample.usage.cpu_seconds,
                                              memory + sample.usage.memory_bytes)
    pod_keys = sorted(pods)
    pod_labels = [f'{{namespace="{_label(ns)}",pod="{_label(pod)}"}}' for ns, pod in pod_keys]
    if containers:  # client_golang writes no family without samples
        _family(out, _CONTAINER_CPU, [f"{label} {go_float(s.usage.cpu_seconds)} {ms}"
                                      for label, s in zip(labels, containers, strict=True)])
        _family(out, _CONTAINER_MEMORY,
                [f"{label} {go_float(float(s.usage.memory_bytes))} {ms}"
                 for label, s in zip(labels, containers, strict=True)])
        # Not stamped: upstream dropped the timestamp (Prometheus rejects old samples).
        _family(out, _CONTAINER_START, [f"{label} {go_float(s.start)}"
                                        for label, s in zip(labels, containers, strict=True)])
    node = snapshot.node
    _family(out, _NODE_CPU, [f" {go_float(node.cpu_seconds)} {ms}"])
    _family(out, _NODE_MEMORY, [f" {go_float(float(node.memory_bytes))} {ms}"])
    if pod_keys:
        _family(out, _POD_CPU, [f"{label} {go_float(pods[key][0])} {ms}"
                                for label, key in zip(pod_labels, pod_keys, strict=True)])
        _family(out, _POD_MEMORY, [f"{label} {go_float(float(pods[key][1]))} {ms}"
                                   for label, key in zip(pod_labels, pod_keys, strict=True)])
    _family(out, _SCRAPE_ERROR, [" 0"])
    return "".join(out)


def routes(host: NodeHost) -> list[BaseRoute]:
    """``GET /metrics/resource`` of ``host``'s running pods."""

    async def resource_metrics(request: Request) -> Response:
        del request
        try:
            snapshot: Snapshot | None = measure(list(host.runners.values()))
        except OSError as exc:
            log.warning("cannot measure the node's resource usage: %s", exc)
            snapshot = None
        return Response(render(snapshot), media_type=CONTENT_TYPE)

    return [Route("/metrics/resource", resource_metrics)]
