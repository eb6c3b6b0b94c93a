"""The ``kubernetes`` Service's endpoints with several apiservers on one storage (no HTTP).

Each replica renews its master lease and writes every live replica's IP; one that stops
removes itself; the last one leaves its endpoint, as upstream's lease reconciler.
"""

from __future__ import annotations

import asyncio
import dataclasses

from apiserver.api.resources import served
from apiserver.registry.registry import Registry
from apiserver.registry.service.rest import ServiceOptions
from apiserver.storage.cache import WatchCache
from apiserver.storage.memory import MemoryStorage

ENDPOINTS = served("", "v1", "endpoints")
SLICES = served("discovery.k8s.io", "v1", "endpointslices")


def _options(ip: str) -> ServiceOptions:
    options = ServiceOptions.parse("127.7.64.0/18", advertise_ip=ip, advertise_port=6443)
    return dataclasses.replace(options, reconcile_interval=0)


def test_replicas_list_each_other_and_leave_cleanly() -> None:
    async def run() -> None:
        storage = MemoryStorage()
        await storage.start()
        replicas = [Registry(storage, WatchCache(storage), services=_options(ip))
                    for ip in ("127.7.2.22", "127.7.2.21", "127.7.2.23")]
        for registry in replicas:
            await registry.start()

        def listed(registry: Registry) -> tuple[list[str], list[str]]:
            ep = registry.store(ENDPOINTS).cache.get(
                registry.store(ENDPOINTS).key("default", "kubernetes"))
            eps = registry.store(SLICES).cache.get(
                registry.store(SLICES).key("default", "kubernetes"))
            assert ep is not None and eps is not None
            subsets = ep.obj["subsets"]
            assert [p["port"] for p in subsets[0]["ports"]] == [6443]
            return ([a["ip"] for a in subsets[0]["addresses"]],
                    [e["addresses"][0] for e in eps.obj["endpoints"]])

        try:
            # The first replica started alone; a reconcile after the others started
            # lists all three, sorted.
            await replicas[0].services.reconcile()
            everyone = ["127.7.2.21", "127.7.2.22", "127.7.2.23"]
            assert listed(replicas[0]) == (everyone, everyone)
            await replicas[2].stop()
            assert listed(replicas[0]) == (everyone[:2], everyone[:2])
            await replicas[1].stop()
            assert listed(replicas[0]) == (["127.7.2.22"], ["127.7.2.22"])
            # The last one leaves its endpoint rather than none.
            await replicas[0].stop()
            assert listed(replicas[0])[0] == ["127.7.2.22"]
        finally:
            await storage.close()

    asyncio.run(run())
