"""The DNS scenario's load generator: closed-loop UDP clients in one process.

:func:`run_load` keeps ``clients`` UDP sockets each with exactly one query in flight (a
client sends its next query as soon as the answer to its last one arrived) for
``seconds``, cycling through pre-encoded :class:`Query` wires with a fresh 16-bit id
each time. Answers are checked from their header only (id, rcode, answer count), so a
query costs the generator two system calls and a few byte operations, far less than the
server's parsing and answering: the server, not the generator, is the limit (the result
carries the generator's own CPU time to show it). A query unanswered after
:data:`LOST_AFTER` seconds is counted lost and its client moves on.
"""

from __future__ import annotations

import selectors
import socket
import time
from dataclasses import dataclass
from typing import Any

import dns.message
import dns.rcode

__all__ = ["LOST_AFTER", "Query", "percentiles", "run_load"]

LOST_AFTER = 1.0


@dataclass(frozen=True)
class Query:
    """One query's wire form (id 0) and what its answer must show: the rcode and the
    least number of answer records."""

    wire: bytes
    rcode: int = dns.rcode.NOERROR
    min_answers: int = 1

    @classmethod
    def make(cls, name: str, rdtype: str, rcode: int = dns.rcode.NOERROR,
             min_answers: int = 1) -> Query:
        """The query of ``name``/``rdtype`` (recursion desired, no EDNS, as stub
        resolvers send)."""
        msg = dns.message.make_query(name, rdtype)
        msg.id = 0
        return cls(msg.to_wire(), rcode, min_answers)


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p90, p99, p99.9 and max of ``values`` (milliseconds), {} for none."""
    if not values:
        return {}
    ordered = sorted(values)
    last = len(ordered) - 1

    def at(p: float) -> float:
        return ordered[min(last, round(p * last))]

    return {"p50_ms": at(0.5), "p90_ms": at(0.9), "p99_ms": at(0.99), "p999_ms": at(0.999),
            "max_ms": ordered[-1]}


@dataclass
class _Client:
    sock: socket.socket
    qid: int = 0
    index: int = 0
    sent: float = 0.0


def run_load(port: int, queries: list[Query], clients: int,
             seconds: float) -> dict[str, Any]:
    """Query ``127.0.0.1:port`` with ``clients`` closed-loop clients for ``seconds``."""
    sel = selectors.DefaultSelector()
    pool: list[_Client] = []
    latencies: list[float] = []
    wrong = lost = 0
    position = 0
    perf = time.perf_counter

    def send(c: _Client) -> None:
        nonlocal position
        c.qid = (c.qid + 1) & 0xFFFF
        c.index = position % len(queries)
        position += 1
        c.sent = perf()
        c.sock.send(c.qid.to_bytes(2, "big") + queries[c.index].wire[2:])

    for _ in range(clients):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        client = _Client(sock)
        pool.append(client)
        sel.register(sock, selectors.EVENT_READ, client)
    cpu0 = time.process_time()
    start = perf()
    deadline = start + seconds
    for client in pool:
        send(client)
    try:
        while (now := perf()) < deadline:
            for key, _ in sel.select(0.1):
                c = key.data
                try:
                    data = c.sock.recv(4096)
                except (BlockingIOError, ConnectionRefusedError):
                    continue
                got = perf()
                if len(data) < 12 or int.from_bytes(data[:2], "big") != c.qid:
                    continue  # a late answer to a query counted lost
                expect = queries[c.index]
                if (data[3] & 0xF != expect.rcode
                        or int.from_bytes(data[6:8], "big") < expect.min_answers):
                    wrong += 1
                latencies.append((got - c.sent) * 1000)
                send(c)
            for c in pool:
                if now - c.sent > LOST_AFTER:
                    lost += 1
                    send(c)
        elapsed = perf() - start
    finally:
        sel.close()
        for c in pool:
            c.sock.close()
    return {"clients": clients, "seconds": elapsed, "answered": len(latencies),
            "qps": len(latencies) / elapsed if elapsed else 0.0, "wrong": wrong,
            "lost": lost, "latency": percentiles(latencies),
            "load_cpu": (time.process_time() - cpu0) / elapsed if elapsed else None}
