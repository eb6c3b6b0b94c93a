"""The scrape loop: every node's kubelet ``/metrics/resource``, each resolution.

Like metrics-server's scraper, every ``--metric-resolution`` it reads the Nodes (from the
watch cache), asks each node's kubelet for ``/metrics/resource`` concurrently with the
apiserver's kubelet-client identity, and hands one merged batch to the
:class:`~.points.PointStore`. A node that cannot be reached, answers an error, takes
longer than its deadline (the resolution, at most 10 s, for the whole scrape) or sends text
that does not parse is left out of that cycle (its points are forgotten, as
metrics-server forgets them) and logged; nothing a kubelet sends can stop the loop or
leave stale points behind. Bodies are parsed in a worker thread, so a large one does not
hold up the apiserver's requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import httpx

from apiserver.api.resources import NODES
from apiserver.handlers.connect.kubelet import KubeletClientConfig, kubelet_location
from apiserver.handlers.metricsapi.points import Batch, PointStore, decode_batch
from apiserver.registry.registry import Registry
from apiserver.registry.store.options import ListOptions

__all__ = ["DEFAULT_RESOLUTION", "MAX_BODY", "MetricsScraper"]

log = logging.getLogger(__name__)

#: Seconds between two scrapes: the ``--metric-resolution`` of metrics-server's manifest
#: (its binary defaults to 60 s). Below 10 s a new container's implied first point never
#: applies (:data:`~.points.FRESH_CONTAINER_MIN_AGE`).
DEFAULT_RESOLUTION = 15.0
#: The most a scrape may take (metrics-server's ``--kubelet-request-timeout`` default).
_MAX_TIMEOUT = 10.0
#: The largest ``/metrics/resource`` body read from a kubelet (a kubelet's is well under
#: 1 MiB).
MAX_BODY = 4 << 20


class MetricsScraper:
    """Scrapes the kubelets into ``store`` every ``store``'s resolution while running."""

    def __init__(self, registry: Registry, kubelet: KubeletClientConfig, store: PointStore,
                 clock: Callable[[], float] = time.time) -> None:
        self.registry = registry
        self.kubelet = kubelet
        self.store = store
        self.clock = clock
        self.resolution = store.resolution_ms / 1000
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        """Begin scraping in the background."""
        context = self.kubelet.ssl_context()
        self._client = httpx.AsyncClient(verify=context if context is not None else False,
                                         timeout=httpx.Timeout(self._deadline()))
        self._task = asyncio.create_task(self._loop(), name="metrics-scraper")

    async def stop(self) -> None:
        """Stop scraping and close the connections."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _deadline(self) -> float:
        return min(self.resolution, _MAX_TIMEOUT)

    async def _loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.scrape_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop outlives any one cycle's failure
                log.exception("scraping the kubelets failed")
            await asyncio.sleep(max(0.0, self.resolution - (time.monotonic() - started)))

    async def scrape_once(self) -> None:
        """One cycle: scrape every node and store what came back."""
        nodes = (await self.registry.store(NODES).list_objects(
            ListOptions(resource_version="0"))).items
        results = await asyncio.gather(*(self._scrape(node.name, node.obj) for node in nodes))
        batch = Batch()
        for result in results:
            if result is not None:
                batch.merge(result)
        self.store.store(batch)

    async def _scrape(self, name: str, node: dict[str, object]) -> Batch | None:
        """One node's points; None (logged) for anything but a good answer in time."""
        location = kubelet_location(node, self.kubelet)
        if location is None or self._client is None:
            return None
        url = location.url("/metrics/resource")
        try:
            async with asyncio.timeout(self._deadline()):
                body = await self._fetch(self._client, name, url)
            if body is None:
                return None
            return await asyncio.to_thread(decode_batch, body.decode("utf-8", "replace"),
                                           name, int(self.clock() * 1000))
        except TimeoutError:
            log.warning("scraping node %s at %s: no answer within %gs", name, url,
                        self._deadline())
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            log.warning("scraping node %s at %s failed: %s", name, url, exc)
        except ValueError as exc:
            log.warning("node %s sent resource metrics that do not parse: %s", name, exc)
        return None

    @staticmethod
    async def _fetch(client: httpx.AsyncClient, name: str, url: str) -> bytes | None:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                log.warning("scraping node %s: %s answered %d", name, url,
                            response.status_code)
                return None
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY:
                    log.warning("scraping node %s: more than %d bytes", name, MAX_BODY)
                    return None
        return bytes(body)
