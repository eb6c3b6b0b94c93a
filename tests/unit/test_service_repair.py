"""Unit tests of the start-up repair pass over many Services (real storage, no stubs)."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from apiserver.registry.service.alloc import Allocators, ServiceNetwork
from apiserver.registry.service.allocator import decode_range
from apiserver.registry.service.bitmap import Bitmap, parse_port_range, parse_service_cidrs
from apiserver.registry.service.repair import repair
from apiserver.storage.memory import MemoryStorage

CIDR = "10.96.0.0/12"
SERVICES = 2_000
IPS_KEY = "/registry/ranges/serviceips"
PORTS_KEY = "/registry/ranges/servicenodeports"


def _svc(name: str, ips: list[str], node_port: int = 0) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "NodePort" if node_port else "ClusterIP",
                            "clusterIP": ips[0], "clusterIPs": ips,
                            "ports": [{"port": 80, **({"nodePort": node_port}
                                                      if node_port else {})}]}
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": spec}


def _spread_ips() -> list[str]:
    """``SERVICES`` addresses spread over the whole /12 (as random allocation leaves them)."""
    net = ipaddress.ip_network(CIDR)
    step = (net.num_addresses - 64) // SERVICES
    return [str(net.network_address + 17 + i * step) for i in range(SERVICES)]


def test_many_unrecorded_services_are_recorded_in_one_write_per_map() -> None:
    async def scenario() -> None:
        storage = MemoryStorage()
        await storage.start()
        network = ServiceNetwork(parse_service_cidrs(CIDR), parse_port_range("30000-32767"))
        allocators = Allocators(storage, network)
        ips = _spread_ips()
        services = [_svc(f"svc-{i}", [ip], 30000 + i if i < 100 else 0)
                    for i, ip in enumerate(ips)]
        services += [
            _svc("dup", [ips[7]], 30003),
            _svc("outside", ["10.200.0.1"]),
            _svc("v6", ["fd00::10"]),
            _svc("bogus", ["not-an-ip"]),
            _svc("far-port", ["10.96.0.5"], 40000),
        ]
        ip_range = allocators.ip_ranges["IPv4"]
        leaked = ip_range.index_of("10.96.0.9")
        # The maps exist (an earlier start) and record one IP nobody holds.
        await allocators.ip_stores["IPv4"].apply(lambda b: b.allocate(leaked))
        await allocators.ports.load()
        ips_before = await storage.get(IPS_KEY)
        ports_before = await storage.get(PORTS_KEY)
        assert ips_before is not None and ports_before is not None
        revision = storage.current_revision()

        messages = await repair(allocators, services)

        # One write of each map, nothing else.
        assert storage.current_revision() == revision + 2
        ips_after, ports_after = await storage.get(IPS_KEY), await storage.get(PORTS_KEY)
        assert ips_after is not None and ports_after is not None
        assert ips_after.mod_revision > ips_before.mod_revision
        assert ports_after.mod_revision > ports_before.mod_revision
        _, bits = decode_range(ips_after.value)
        held = Bitmap(ip_range.size)
        held.set_all(ip_range.index_of(ip) for ip in [*ips, "10.96.0.5"])
        assert bits == held.bits and held.count == SERVICES + 1
        _, port_bits = decode_range(ports_after.value)
        assert Bitmap(2768, 0, port_bits).offsets() == list(range(100))
        not_allocated = [m for m in messages if m.endswith("is not allocated; repairing")]
        assert len(not_allocated) == SERVICES + 1 + 100
        assert f"the cluster IP [IPv4]:{ips[0]} for service svc-0/ns is not allocated; " \
            "repairing" in messages
        assert set(messages) - set(not_allocated) == {
            f"the cluster IP [IPv4]:{ips[7]} for service dup/ns was assigned to multiple "
            "services; please recreate",
            "the node port 30003 for service dup/ns was assigned to multiple services; "
            "please recreate",
            "the cluster IP [IPv4]:10.200.0.1 for service outside/ns is not within the "
            f"service CIDR {CIDR}; please recreate",
            "the cluster IP fd00::10(IPv6) for service v6/ns is of ip family that is no "
            "longer configured on cluster; please recreate",
            "the cluster IP not-an-ip for service bogus/ns is not a valid IP; please recreate",
            "the node port 40000 for service far-port/ns is not within the port range "
            "30000-32767; please recreate",
            "the cluster IP [IPv4]:10.96.0.9 appears to have leaked: cleaning up",
        }
        # A second pass finds nothing to fix and writes nothing.
        revision = storage.current_revision()
        again = await repair(allocators, services)
        assert storage.current_revision() == revision
        assert not [m for m in again if "repairing" in m or "leaked" in m]
        await storage.close()

    asyncio.run(scenario())
