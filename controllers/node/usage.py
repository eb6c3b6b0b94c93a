"""Resource usage of containers and of the node, measured, never estimated.

What the kubelet's ``/metrics/resource`` reports (:mod:`.kubelet.resourcemetrics`) comes
from here:

* **Built-in containers** are served inside the agent's process (:mod:`.servers`,
  :mod:`.grpchealth`), so their CPU is the agent's CPU spent serving them: the servers
  wrap the synchronous work of each request, connection chunk or datagram (parsing,
  handling, the access log line, writing) in :meth:`InstanceUsage.charge`, which adds the
  ``time.thread_time()`` elapsed — CPU time of the event-loop thread only, so the gRPC
  core's own threads and other containers' work are never charged. The event loop's own
  socket callbacks between two charged sections are not attributed to any container (they
  are in the node's figure). The *working set* of a built-in container is the bytes the
  agent holds queued for sending on its open connections and UDP sockets (asyncio's
  ``get_write_buffer_size()`` of each tracked transport): the one piece of memory that
  exists for that container alone. Everything else it uses is the agent's shared heap,
  which no measure can split per container, so it is counted on the node only. That is
  usually 0 — an honest 0, not an estimate.
* **Host processes** (``--allow-host-commands``): the process and its descendants, read
  from ``/proc``: CPU is ``utime + stime + cutime + cstime`` of every live process of the
  tree (``cutime``/``cstime`` hold the reaped children, so the sum is cumulative over the
  tree's life), memory the sum of their resident set sizes. A process that ends mid-read is
  skipped, not an error.
* **The node**: the agent's process (``time.process_time()``, and ``RUSAGE_CHILDREN`` for
  its reaped children) plus its live descendants as above; memory the RSS of that tree.

A container's counters belong to one *instance*: :class:`InstanceUsage` is created anew
each time the container starts (a restarted container is a new container, its counter
starts from 0).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from controllers.runtime.objects import parse_time

__all__ = ["Buffered", "InstanceUsage", "ProcessTable", "Usage", "epoch_of", "node_usage",
           "process_start"]

_TICK = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
#: Whether ``/proc/PID/task/TID/children`` exists (CONFIG_PROC_CHILDREN); otherwise a
#: process's children are found by scanning every process's parent.
_CHILDREN_FILES = os.path.exists(f"/proc/self/task/{os.getpid()}/children")


class Buffered(Protocol):
    """A transport whose queued outgoing bytes can be counted."""

    def get_write_buffer_size(self) -> int: ...

    def is_closing(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU (cumulative core-seconds) and working set (bytes) at one instant."""

    cpu_seconds: float
    memory_bytes: int


class InstanceUsage:
    """The usage of one built-in container instance, kept by the servers serving it.

    ``started`` is the instance's start (seconds since the epoch); ``cpu_seconds`` grows by
    :meth:`charge`; :meth:`track`/:meth:`untrack` keep the open transports whose send
    buffers make the working set (:meth:`memory_bytes`).
    """

    __slots__ = ("_transports", "cpu_seconds", "started")

    def __init__(self, started: float | None = None) -> None:
        self.started = time.time() if started is None else started
        self.cpu_seconds = 0.0
        self._transports: set[Buffered] = set()

    def charge(self, since: float) -> None:
        """Add the CPU this thread spent since ``since`` (a ``time.thread_time()``)."""
        self.cpu_seconds += time.thread_time() - since

    def track(self, transport: Buffered) -> None:
        """Count ``transport``'s send buffer while it is open."""
        self._transports.add(transport)

    def untrack(self, transport: Buffered) -> None:
        """Stop counting ``transport`` (its connection ended)."""
        self._transports.discard(transport)

    def memory_bytes(self) -> int:
        """Bytes queued for sending on the tracked open transports."""
        total = 0
        for transport in self._transports:
            if not transport.is_closing():
                total += transport.get_write_buffer_size()
        return total

    def usage(self) -> Usage:
        """CPU and working set now."""
        return Usage(self.cpu_seconds, self.memory_bytes())


def epoch_of(rfc3339: str) -> float | None:
    """Seconds since the epoch of a Kubernetes time (``2024-12-06T00:00:00Z``); None for
    an empty or unreadable one."""
    parsed = parse_time(rfc3339)
    return parsed.timestamp() if parsed is not None else None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError):  # the process ended meanwhile
        return None
    except PermissionError:  # /proc mounted hidepid: a process we may not see is skipped
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` from the third on (the state), or None."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return text[text.rfind(")") + 2:].split()


def process_start(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), from ``/proc``; None when
    ``/proc`` cannot tell."""
    fields = _stat_fields(pid)
    boot = _read("/proc/stat")
    if fields is None or len(fields) < 20 or boot is None:
        return None
    btime = next((int(line.split()[1]) for line in boot.splitlines()
                  if line.startswith("btime ")), None)
    return None if btime is None else btime + int(fields[19]) / _TICK


def _stat(pid: int) -> tuple[float, int, int] | None:
    """(CPU seconds incl. reaped children, RSS bytes, parent pid) of ``pid``, or None."""
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 22:
        return None
    ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return ticks / _TICK, int(fields[21]) * _PAGE, int(fields[1])


class ProcessTable:
    """The live descendants of one process (the agent), read once per scrape.

    :meth:`tree` sums any process's subtree from what was read, so each ``/proc`` file is
    read once however many containers are measured.
    """

    def __init__(self, root: int) -> None:
        self.root = root
        #: pid → (CPU seconds incl. reaped children, RSS bytes).
        self.stats: dict[int, tuple[float, int]] = {}
        self.children: dict[int, list[int]] = {}
        parents = None if _CHILDREN_FILES else self._parents()
        pending = [root]
        while pending:
            pid = pending.pop()
            if pid in self.stats:  # a pid reused while the tree was read: no cycles
                continue
            stat = _stat(pid)
            if stat is None:
                continue
            self.stats[pid] = stat[0], stat[1]
            kids = self._children(pid) if parents is None else parents.get(pid, [])
            self.children[pid] = kids
            pending.extend(kids)

    @staticmethod
    def _children(pid: int) -> list[int]:
        # Each thread lists the children it forked, so every thread's file is read.
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            return []
        kids: list[int] = []
        for tid in tids:
            text = _read(f"/proc/{pid}/task/{tid}/children")
            if text:
                kids.extend(int(k) for k in text.split())
        return kids

    @staticmethod
    def _parents() -> dict[int, list[int]]:
        """Children by parent, from every process's ``stat`` (no children files)."""
        out: dict[int, list[int]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit() and (stat := _stat(int(name))) is not None:
                out.setdefault(stat[2], []).append(int(name))
        return out

    def _walk(self, pid: int) -> Iterable[tuple[float, int]]:
        pending, seen = [pid], set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            if (stat := self.stats.get(current)) is not None:  # None: ended mid-read
                yield stat
                pending.extend(self.children.get(current, ()))

    def tree(self, pid: int) -> Usage | None:
        """CPU and RSS of ``pid`` and its descendants; None when ``pid`` is gone. A process
        outside the table (not the agent's descendant) is read on its own."""
        if pid not in self.stats:
            if pid == self.root:
                return None
            return ProcessTable(pid).tree(pid)
        cpu, rss = 0.0, 0
        for member_cpu, member_rss in self._walk(pid):
            cpu += member_cpu
            rss += member_rss
        return Usage(cpu, rss)


def node_usage(table: ProcessTable) -> Usage:
    """The node's usage: the agent (``table.root`` is its pid) and its live descendants.

    The agent's own CPU comes from ``time.process_time()`` and ``getrusage`` (nanosecond
    and microsecond precision, rather than the clock ticks of ``/proc``), so the node's
    figure never trails a built-in container's ``thread_time()`` counter. Raises OSError
    when the agent's own ``/proc`` entry could not be read (no ``/proc``): the node cannot
    be measured, which the kubelet reports as a scrape error rather than as zeros.
    """
    if table.root not in table.stats:
        raise OSError(f"cannot read /proc/{table.root}/stat")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() + children.ru_utime + children.ru_stime
    rss = table.stats[table.root][1]
    for kid in table.children.get(table.root, ()):
        if kid in table.stats:  # not there: it ended before its stat was read
            sub = table.tree(kid)
            if sub is not None:
                cpu += sub.cpu_seconds
                rss += sub.memory_bytes
    return Usage(cpu, rss)
