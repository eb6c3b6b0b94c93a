"""Connection counts per endpoint, read from the userspace kube-proxies' ``/metrics``.

The userspace proxier counts the connections it relays to each endpoint as

* ``kubemu_userspace_proxy_endpoint_connections_active`` (gauge) and
* ``kubemu_userspace_proxy_endpoint_connections_total`` (counter),

both labelled ``namespace``, ``service``, ``port``, ``protocol`` and ``endpoint``
(``IP:PORT``). :func:`parse_connections` reads them from the Prometheus text format with
``prometheus_client``'s parser and sums them per ``(namespace, service, endpoint)`` (a
Service's ports reach different endpoint ports, so the endpoint names the port);
:class:`MetricsPoller` polls any number of kube-proxies (one per node) and sums their
counts — each node's proxy relays its own clients' connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["ACTIVE", "TOTAL", "MetricsPoller", "parse_connections"]

log = logging.getLogger("controllers.console")

ACTIVE = "kubemu_userspace_proxy_endpoint_connections_active"
TOTAL = "kubemu_userspace_proxy_endpoint_connections_total"

Counts = dict[tuple[str, str, str], tuple[float, float]]

_FAMILY = "kubemu_userspace_proxy_endpoint_connections"


def _ours(line: str) -> bool:
    """A line of the two families (samples, HELP and TYPE), so that another family's
    quirks cannot hide the counts."""
    if line.startswith("#"):
        parts = line.split(None, 3)
        return len(parts) >= 3 and parts[2].startswith(_FAMILY)
    return line.startswith(_FAMILY)


def parse_connections(text: str) -> Counts:
    """``(namespace, service, endpoint) -> (active, total)`` from one exposition; other
    series are ignored. Raises ValueError when the two families are not well-formed."""
    active: dict[tuple[str, str, str], float] = defaultdict(float)
    total: dict[tuple[str, str, str], float] = defaultdict(float)
    ours = "".join(line + "\n" for line in text.splitlines() if _ours(line))
    for family in text_string_to_metric_families(ours):
        for sample in family.samples:
            if sample.name not in (ACTIVE, TOTAL):
                continue
            labels = sample.labels
            key = (labels.get("namespace", ""), labels.get("service", ""),
                   labels.get("endpoint", ""))
            (active if sample.name == ACTIVE else total)[key] += sample.value
    return {key: (active.get(key, 0.0), total.get(key, 0.0))
            for key in set(active) | set(total)}


def merge(parts: Sequence[Counts]) -> Counts:
    """The sum of several proxies' counts."""
    out: dict[tuple[str, str, str], tuple[float, float]] = {}
    for part in parts:
        for key, (active, total) in part.items():
            a, t = out.get(key, (0.0, 0.0))
            out[key] = (a + active, t + total)
    return out


class MetricsPoller:
    """Polls ``urls`` every ``interval`` seconds; ``counts`` is the latest sum, and
    ``on_change(namespaces)`` is called with the namespaces whose counts changed. A proxy
    that cannot be reached or answers garbage counts as empty (logged once per change of
    its state)."""

    def __init__(self, urls: Sequence[str], interval: float,
                 on_change: Callable[[set[str]], None]) -> None:
        self.urls = list(urls)
        self.interval = interval
        self.on_change = on_change
        self.counts: Counts = {}
        self._failing: set[str] = set()

    async def _fetch(self, http: httpx.AsyncClient, url: str) -> Counts:
        try:
            resp = await http.get(url)
            resp.raise_for_status()
            counts = parse_connections(resp.text)
        except (httpx.HTTPError, ValueError) as exc:
            if url not in self._failing:
                log.warning("cannot read connection counts from %s: %s", url, exc)
                self._failing.add(url)
            return {}
        if url in self._failing:
            log.info("reading connection counts from %s again", url)
            self._failing.discard(url)
        return counts

    async def poll_once(self, http: httpx.AsyncClient) -> None:
        """Read every proxy once and update ``counts``."""
        parts = await asyncio.gather(*(self._fetch(http, url) for url in self.urls))
        counts = merge(parts)
        if counts != self.counts:
            changed = {key[0] for key in counts.keys() ^ self.counts.keys()}
            changed.update(key[0] for key, value in counts.items()
                           if self.counts.get(key, value) != value)
            self.counts = counts
            self.on_change(changed)

    async def run(self) -> None:
        """Poll until cancelled (returns at once without URLs)."""
        if not self.urls:
            return
        async with httpx.AsyncClient(timeout=max(self.interval, 1.0)) as http:
            while True:
                await self.poll_once(http)
                await asyncio.sleep(self.interval)
