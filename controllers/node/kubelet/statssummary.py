"""``GET /stats/summary``: the kubelet's Summary API (``k8s.io/kubelet/pkg/apis/stats/
v1alpha1``), what ``kubectl get --raw /api/v1/nodes/<node>/proxy/stats/summary`` shows.

The figures are :mod:`controllers.node.usage`'s measurements, the same that
``/metrics/resource`` serves (:func:`~.resourcemetrics.measure`), in upstream's JSON shape::

    {"node": {"nodeName", "startTime", "cpu": CPU, "memory": MEMORY},
     "pods": [{"podRef": {"name", "namespace", "uid"}, "startTime",
               "containers": [{"name", "startTime", "cpu": CPU, "memory": MEMORY}],
               "cpu": CPU, "memory": MEMORY}]}
    CPU    = {"time", "usageNanoCores"?, "usageCoreNanoSeconds"}
    MEMORY = {"time", "usageBytes", "workingSetBytes", "rssBytes"?}

Only what is measured is written; upstream's optional (``omitempty``) fields that kubemu
cannot measure are left out, never zero-filled: ``systemContainers``, ``network``, ``fs``,
``runtime``, ``rlimit``, ``volume``, ``ephemeral-storage``, ``availableBytes`` (no memory
limit is enforced), page faults. In detail:

* **times** are the measurement's, RFC 3339 in seconds as ``metav1.Time`` writes them; the
  node's ``startTime`` is the agent process's start, a pod's its ``status.startTime``, a
  container's its running instance's start;
* **cpu**: ``usageCoreNanoSeconds`` is the cumulative CPU; ``usageNanoCores`` the rate
  since the previous request's measurement of the same node, pod or container *instance*
  (:class:`RateCache`). As cAdvisor and the CRI stats provider do, it is omitted until
  there are two samples: on the first request, after a restart (a new instance starts
  over), and for a pod whose set of running instances changed;
* **memory**: ``workingSetBytes`` and ``usageBytes`` are the measured working set (a
  process tree's resident set; a built-in container's queued send buffers, usually an
  honest 0). ``rssBytes`` is written where the figure is a resident set — the node and host
  processes — and for a pod only when all its running containers are host processes.

Only running containers are listed (``/metrics/resource``'s rule); every pod the agent runs
is, with ``"containers": []`` and no ``cpu``/``memory`` when none of its containers runs. A
pod's figures are the sums of its containers'. ``?only_cpu_and_memory=true`` (upstream's
parameter, exactly ``true``) asks for CPU and memory alone: that is all kubemu reports, so
the answer is the same document. When the node cannot be measured the answer is a 500.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from controllers.node.kubelet.pods import NodeHost
from controllers.node.kubelet.resourcemetrics import measure
from controllers.node.podapi import now_rfc3339
from controllers.node.runtime import PodRunner
from controllers.node.usage import Usage, process_start

__all__ = ["ContainerEntry", "Measurement", "PodEntry", "RateCache", "collect",
           "routes", "summary"]

log = logging.getLogger("controllers.node")

CONTENT_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class ContainerEntry:
    """One running container instance's measurement."""

    name: str
    #: The instance's start, seconds since the epoch.
    start: float
    usage: Usage
    #: The running instance (its :class:`~controllers.node.usage.InstanceUsage`): compared
    #: by identity, so a restarted container is a new instance whose rate starts over.
    instance: object
    #: A host process: its memory is a resident set (``rssBytes``).
    process: bool


@dataclass(frozen=True, slots=True)
class PodEntry:
    """A pod the agent runs and its running containers' measurements."""

    namespace: str
    name: str
    uid: str
    #: The pod's ``status.startTime`` (RFC 3339).
    start_time: str
    containers: list[ContainerEntry]


@dataclass(frozen=True, slots=True)
class Measurement:
    """The node's and its pods' usage measured at ``at``; ``node_start`` is the agent's
    start (both seconds since the epoch)."""

    at: float
    node_start: float
    node: Usage
    pods: list[PodEntry]


def collect(runners: Sequence[PodRunner], node_start: float,
            agent_pid: int | None = None) -> Measurement:
    """Measure the node (the agent is ``agent_pid``, by default this process) and the
    running containers of ``runners``. Raises OSError when ``/proc`` cannot be read."""
    snapshot = measure(runners, agent_pid)
    by_key = {(s.namespace, s.pod, s.container): s for s in snapshot.containers}
    pods: list[PodEntry] = []
    for runner in runners:
        entries: list[ContainerEntry] = []
        for container in (*runner.containers, *runner.ephemeral.items):
            sample = by_key.get((runner.namespace, runner.pod_name, container.name))
            if sample is not None:
                entries.append(ContainerEntry(container.name, sample.start, sample.usage,
                                              container.flags.usage,
                                              container.proc is not None))
        pods.append(PodEntry(runner.namespace, runner.pod_name, runner.uid,
                             runner.start_time, entries))
    return Measurement(snapshot.at, node_start, snapshot.node, pods)


@dataclass(slots=True)
class _Sample:
    instances: tuple[object, ...]
    at: float
    nanos: int
    rate: int | None


class RateCache:
    """The last CPU sample of each node, pod and container, for ``usageNanoCores``.

    A sample belongs to a key (``("node", name)``, ``("pod", uid)``, ``("container", uid,
    name)``) and to the instances measured (compared by identity): when they differ the
    rate starts over. Keys not seen in a summary are dropped by :meth:`keep`.
    """

    def __init__(self) -> None:
        self._samples: dict[tuple[str, ...], _Sample] = {}

    def rate(self, key: tuple[str, ...], instances: tuple[object, ...], at: float,
             nanos: int) -> int | None:
        """The nano-cores between the previous sample of ``key`` and this one (``nanos``
        cumulative CPU nanoseconds at ``at``), remembering this one; None without a
        previous sample of the same instances (or when the counter went back). A sample
        at the previous one's time repeats the previous rate."""
        last = self._samples.get(key)
        same = (last is not None and len(last.instances) == len(instances)
                and all(a is b for a, b in zip(last.instances, instances, strict=True)))
        if last is not None and same and at <= last.at:
            return last.rate
        rate: int | None = None
        if last is not None and same and nanos >= last.nanos:
            rate = round((nanos - last.nanos) / (at - last.at))
        self._samples[key] = _Sample(instances, at, nanos, rate)
        return rate

    def keep(self, keys: Iterable[tuple[str, ...]]) -> None:
        """Forget every key but ``keys`` (pods and containers that are gone)."""
        wanted = set(keys)
        for key in [k for k in self._samples if k not in wanted]:
            del self._samples[key]


def _nanos(cpu_seconds: float) -> int:
    return round(cpu_seconds * 1e9)


def _cpu(when: str, nanos: int, rate: int | None) -> dict[str, Any]:
    cpu: dict[str, Any] = {"time": when}
    if rate is not None:
        cpu["usageNanoCores"] = rate
    cpu["usageCoreNanoSeconds"] = nanos
    return cpu


def _memory(when: str, working_set: int, rss: bool) -> dict[str, Any]:
    memory: dict[str, Any] = {"time": when, "usageBytes": working_set,
                              "workingSetBytes": working_set}
    if rss:
        memory["rssBytes"] = working_set
    return memory


def summary(node_name: str, measurement: Measurement, rates: RateCache,
            only_cpu_and_memory: bool = False) -> dict[str, Any]:
    """The Summary document of ``measurement``, ``usageNanoCores`` from (and recorded in)
    ``rates``. ``only_cpu_and_memory`` trims to CPU and memory, which is all there is."""
    del only_cpu_and_memory  # everything written is CPU or memory
    at = measurement.at
    when = now_rfc3339(at)
    seen: list[tuple[str, ...]] = [("node", node_name)]
    node_nanos = _nanos(measurement.node.cpu_seconds)
    node = {"nodeName": node_name, "startTime": now_rfc3339(measurement.node_start),
            "cpu": _cpu(when, node_nanos, rates.rate(seen[0], (), at, node_nanos)),
            "memory": _memory(when, measurement.node.memory_bytes, True)}
    pods: list[dict[str, Any]] = []
    for pod in measurement.pods:
        containers: list[dict[str, Any]] = []
        total_nanos = total_memory = 0
        for entry in sorted(pod.containers, key=lambda e: e.name):
            key: tuple[str, ...] = ("container", pod.uid, entry.name)
            seen.append(key)
            nanos = _nanos(entry.usage.cpu_seconds)
            total_nanos += nanos
            total_memory += entry.usage.memory_bytes
            containers.append({
                "name": entry.name, "startTime": now_rfc3339(entry.start),
                "cpu": _cpu(when, nanos, rates.rate(key, (entry.instance,), at, nanos)),
                "memory": _memory(when, entry.usage.memory_bytes, entry.process)})
        document: dict[str, Any] = {
            "podRef": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
            "startTime": pod.start_time, "containers": containers}
        if pod.containers:
            key = ("pod", pod.uid)
            seen.append(key)
            instances = tuple(e.instance for e in sorted(pod.containers, key=lambda e: e.name))
            document["cpu"] = _cpu(when, total_nanos,
                                   rates.rate(key, instances, at, total_nanos))
            document["memory"] = _memory(when, total_memory,
                                         all(e.process for e in pod.containers))
        pods.append(document)
    rates.keep(seen)
    return {"node": node, "pods": pods}


def routes(host: NodeHost) -> list[BaseRoute]:
    """``GET /stats/summary`` of ``host``'s node and pods; the rates are kept per host."""
    rates = RateCache()
    started = process_start(os.getpid())
    node_start = time.time() if started is None else started

    async def stats_summary(request: Request) -> Response:
        only = request.query_params.getlist("only_cpu_and_memory") == ["true"]
        try:
            measurement = collect(list(host.runners.values()), node_start)
        except OSError as exc:
            log.warning("cannot measure the node's resource usage: %s", exc)
            return PlainTextResponse(f"Internal Error: failed to get node stats: {exc}\n",
                                     status_code=500)
        document = summary(host.node_name, measurement, rates, only)
        return Response(json.dumps(document, indent=2), media_type=CONTENT_TYPE)

    return [Route("/stats/summary", stats_summary)]
