"""Partial iptables syncs, applied to real tables, converge to what one full sync writes.

As root, two scratch network namespaces: one follows a chain of partial syncs
(endpoints replaced, a service port losing every endpoint, one gaining a
NodePort, one deleted, a new one added) the way kube-proxy applies them
(``iptables-restore --noflush``); the other gets a single full sync of the
final maps. Their ``iptables-save`` output must be identical, on both iptables
backends. The tests skip
only when not root and ``CI`` is unset.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from controllers.proxy.iptables import IPTablesConfig, IPTablesRenderer, Rendered
from controllers.proxy.types import Endpoint, ServicePort, ServicePortName
from tests.support.apiserver import REPO_ROOT
from tests.support.proxy import partial_sync_maps as maps
from tests.support.proxy import partial_sync_port as spn
from tests.support.proxy import require_root_and_tools, scratch_namespaces, sh

#: The two iptables 1.8 backends (the Debian ``iptables`` package ships both).
BACKENDS = ("iptables-nft", "iptables-legacy")
CONFIG = IPTablesConfig(cluster_cidr="10.244.0.0/16")

Ports = dict[ServicePortName, ServicePort]
Eps = dict[ServicePortName, tuple[Endpoint, ...]]


@pytest.fixture(params=BACKENDS)
def iptables(request: pytest.FixtureRequest) -> str:
    binary: str = request.param
    require_root_and_tools(("ip", binary + "-restore", binary + "-save"))
    return binary


@pytest.fixture
def namespaces(iptables: str) -> Iterator[tuple[str, ...]]:
    with scratch_namespaces("kpp", "kpf") as names:
        yield names


def apply(iptables: str, ns: str, rendered: Rendered) -> None:
    if rendered.text:
        subprocess.run(["ip", "netns", "exec", ns, iptables + "-restore", "-w", "--noflush",
                        "--counters"], input=rendered.text, text=True, check=True)


def tables(iptables: str, ns: str) -> str:
    """``iptables-save`` of nat and filter without counters and chain order (a chain
    created later is listed later)."""
    out = []
    for table in ("nat", "filter"):
        text = sh(iptables + "-save", "-t", table, ns=ns)
        lines = [re.sub(r" \[\d+:\d+\]$", "", line) for line in text.splitlines()
                 if line and not line.startswith("#")]
        out += sorted(line for line in lines if line.startswith(":"))
        # A stable sort by chain: each chain's rules keep their order.
        out += sorted((line for line in lines if line.startswith("-A ")),
                      key=lambda line: line.split()[1])
    return "\n".join(out)


def test_partial_syncs_converge_to_the_full_sync(iptables: str,
                                                 namespaces: tuple[str, ...]) -> None:
    partial_ns, full_ns = namespaces
    ports, eps = maps()
    renderer = IPTablesRenderer(CONFIG)

    def sync() -> Rendered:
        rendered = renderer.render(ports, eps, full=False)
        apply(iptables, partial_ns, rendered)
        renderer.commit(rendered)
        return rendered

    assert sync().full  # the first sync is always full
    # One endpoint replaced: only nat is written, and only that service port's chains.
    eps[spn("s0")] = (Endpoint("10.244.9.9", 8080), *eps[spn("s0")][1:])
    rendered = sync()
    assert "*filter" not in rendered.text and "KUBE-SERVICES" not in rendered.text
    # Every endpoint of s1 gone: its dispatch moves to a filter REJECT.
    eps[spn("s1")] = ()
    assert "-j REJECT" in sync().text
    # s3 becomes a NodePort Service; s4 is deleted; s6 appears.
    ports[spn("s3")] = ServicePort(spn("s3"), "10.96.0.4", 80, node_port=30080)
    del ports[spn("s4")], eps[spn("s4")]
    ports[spn("s6")] = ServicePort(spn("s6"), "10.96.0.7", 80)
    eps[spn("s6")] = (Endpoint("10.244.6.1", 8080),)
    assert "-X KUBE-SVC-" in sync().text
    # s1 gets endpoints back, s2's affinity endpoint set shrinks.
    eps[spn("s1")] = (Endpoint("10.244.1.7", 8080),)
    eps[spn("s2")] = eps[spn("s2")][:1]
    sync()
    assert sync().text == ""  # nothing changed since

    full = IPTablesRenderer(CONFIG).render(ports, eps)
    apply(iptables, full_ns, full)
    after_partial = tables(iptables, partial_ns)
    assert after_partial == tables(iptables, full_ns)
    assert "10.244.9.9:8080" in after_partial
    assert "10.244.4." not in after_partial  # the deleted Service's chains are gone


PROXIER_SCRIPT = """
import asyncio, sys
from controllers.proxy.iptables import IPTablesConfig
from controllers.proxy.rules import IptablesProxier
from controllers.proxy.types import Endpoint, ServicePort, ServicePortName

ports, eps = {}, {}
for i in range(int(sys.argv[1])):
    p = ServicePortName("big", f"s{i}", "http", "TCP")
    ports[p] = ServicePort(p, f"10.96.{i // 250}.{i % 250 + 1}", 80)
    eps[p] = tuple(Endpoint(f"10.244.{i // 50}.{i % 50 * 5 + j + 1}", 8080) for j in range(5))
proxier = IptablesProxier(IPTablesConfig(cluster_cidr="10.244.0.0/16"), iptables=sys.argv[2])
asyncio.run(proxier.sync(ports, eps, set(), True))
print(proxier.nf_tables)
"""


def test_proxier_applies_a_large_full_sync(iptables: str, namespaces: tuple[str, ...]) -> None:
    # 300 Services x 5 endpoints: 1,800 chains, past the point where the nf_tables
    # backend's restore gets its whole-table-cache ``-S``.
    ns = namespaces[0]
    done = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", PROXIER_SCRIPT,
                           "300", iptables], capture_output=True, text=True, timeout=120,
                          cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(iptables == "iptables-nft")
    nat = sh(iptables + "-save", "-t", "nat", ns=ns)
    assert len(re.findall(r"^:KUBE-SEP-", nat, re.M)) == 1500
    assert len(re.findall(r"^-A KUBE-SERVICES .* -j KUBE-SVC-", nat, re.M)) == 300
    assert "-j DNAT --to-destination 10.244.5.250:8080" in nat  # the last one
