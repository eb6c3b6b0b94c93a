"""Partial nftables syncs, applied to real tables, converge to what one full sync writes.

As root, two scratch network namespaces: one follows a chain of partial syncs
(an endpoint replaced, a service port losing every endpoint, one gaining a
NodePort and a load-balancer IP with source ranges, one deleted, a new one
added, affinity endpoints shrinking) applied as kube-proxy applies them
(``nft -f``); the other gets a single full sync of the final maps. Their
rulesets (``nft -j list table``, handles dropped, set elements sorted) must be
identical but for what partial syncs leave for the next full one (empty chains,
hairpin pairs of endpoints that are gone), and identical after it. Skipped only
when not root and ``CI`` is unset.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from controllers.proxy.nftables import (
    NFTablesConfig,
    NFTablesRenderer,
    Rendered,
    chain_base,
    endpoint_chain_base,
)
from controllers.proxy.types import Endpoint, ServicePort
from tests.support.proxy import partial_sync_maps as maps
from tests.support.proxy import partial_sync_port as spn
from tests.support.proxy import require_root_and_tools, scratch_namespaces, sh

CONFIG = NFTablesConfig(cluster_cidr="10.244.0.0/16", nodeport_addresses=("192.168.0.2",))

@pytest.fixture
def namespaces() -> Iterator[tuple[str, ...]]:
    require_root_and_tools(("ip", "nft"))
    with scratch_namespaces("knp", "knf") as names:
        yield names


def apply(ns: str, rendered: Rendered) -> None:
    if rendered.text:
        done = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"],
                              input=rendered.text, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items() if k != "handle"}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def ruleset(ns: str) -> list[str]:
    """The table as sorted JSON lines: one per chain, rule, set or map (elements sorted)."""
    items = json.loads(sh("nft", "-j", "list", "table", "ip", "kube-proxy", ns=ns))["nftables"]
    out = []
    for item in items:
        (kind, body), = item.items()
        if kind == "metainfo":
            continue
        body = _normalized(body)
        if kind in ("set", "map") and "elem" in body:
            body["elem"] = sorted(json.dumps(e, sort_keys=True) for e in body["elem"])
        out.append(json.dumps({kind: body}, sort_keys=True))
    # Rules stay in chain order (a stable sort by chain), everything else sorted.
    rules = [line for line in out if line.startswith('{"rule"')]
    rules.sort(key=lambda line: json.loads(line)["rule"]["chain"])
    return sorted(line for line in out if not line.startswith('{"rule"')) + rules


def hairpin_pairs(lines: list[str]) -> tuple[list[str], set[str]]:
    """``lines`` without the ``hairpin-endpoints`` set, and the addresses of its pairs."""
    rest, pairs = [], set()
    for line in lines:
        item = json.loads(line)
        if item.get("set", {}).get("name") != "hairpin-endpoints":
            rest.append(line)
            continue
        for elem in item["set"].get("elem", []):
            a, b = json.loads(elem)["concat"]
            assert a == b
            pairs.add(a)
    return rest, pairs


def test_partial_syncs_converge_to_the_full_sync(namespaces: tuple[str, ...]) -> None:
    partial_ns, full_ns = namespaces
    ports, eps = maps()
    renderer = NFTablesRenderer(CONFIG)

    def sync() -> Rendered:
        rendered = renderer.render(ports, eps, full=False)
        apply(partial_ns, rendered)
        renderer.commit(rendered)
        return rendered

    first = sync()
    assert first.full and "delete table ip kube-proxy" in first.text
    # One endpoint replaced: only that service port's chain is written (its ladder
    # DNATs itself), and the new endpoint's hairpin pair is added; nothing is deleted.
    eps[spn("s0")] = (Endpoint("10.244.9.9", 8080), *eps[spn("s0")][1:])
    rendered = sync()
    assert not rendered.full
    base = chain_base(spn("s0"), "TCP")
    assert {line.split()[4] for line in rendered.text.splitlines()
            if line.startswith("add chain")} == {f"service-{base}"}
    assert ("add set ip kube-proxy hairpin-endpoints { type ipv4_addr . ipv4_addr ; "
            "elements = { 10.244.9.9 . 10.244.9.9 } ; }") in rendered.text
    assert "delete" not in rendered.text
    assert "services" not in {line.split()[4] for line in rendered.text.splitlines()}
    # Every endpoint of s1 gone: its dispatch moves to no-endpoint-services.
    eps[spn("s1")] = ()
    text = sync().text
    assert ("add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . "
            "inet_service : verdict ; elements = { 10.96.0.2 . tcp . 80") in text
    assert "delete element ip kube-proxy service-ips { 10.96.0.2 . tcp . 80 }" in text
    # s3 becomes a LoadBalancer Service; s4 is deleted; s6 appears.
    ports[spn("s3")] = ServicePort(spn("s3"), "10.96.0.4", 80, node_port=30080,
                                   load_balancer_ips=("5.6.7.8",),
                                   load_balancer_source_ranges=("203.0.113.0/25",))
    del ports[spn("s4")], eps[spn("s4")]
    ports[spn("s6")] = ServicePort(spn("s6"), "10.96.0.7", 80)
    eps[spn("s6")] = (Endpoint("10.244.6.1", 8080),)
    text = sync().text
    assert "flush chain ip kube-proxy service-" in text and "add chain ip kube-proxy firewall-" \
        in text
    # s1 gets endpoints back, s2's affinity endpoints shrink: their endpoint chains are
    # flushed (the next full sync deletes them) and their affinity sets deleted.
    eps[spn("s1")] = (Endpoint("10.244.1.7", 8080),)
    old_ep = "endpoint-" + endpoint_chain_base(spn("s2"), "TCP", eps[spn("s2")][1])
    eps[spn("s2")] = eps[spn("s2")][:1]
    text = sync().text
    assert "delete set ip kube-proxy affinity-" in text
    assert f"flush chain ip kube-proxy {old_ep}" in text and "delete chain" not in text
    assert sync().text == ""  # nothing changed since

    full = NFTablesRenderer(CONFIG).render(ports, eps)
    apply(full_ns, full)
    # The same ruleset, but for the empty chains left for the next full sync to delete
    # and the hairpin pairs of endpoints that are gone.
    stale = renderer.state.stale if renderer.state is not None else set()
    assert old_ep in stale and f"service-{chain_base(spn('s4'), 'TCP')}" in stale
    after_partial, pairs = hairpin_pairs(ruleset(partial_ns))
    left = [line for line in after_partial if json.loads(line).get("chain", {}).get("name")
            in stale]
    assert len(left) == len(stale)
    expected, full_pairs = hairpin_pairs(ruleset(full_ns))
    assert [line for line in after_partial if line not in left] == expected
    assert pairs - full_pairs == {"10.244.0.1", "10.244.1.1", "10.244.1.2", "10.244.1.3",
                                  "10.244.2.2", "10.244.2.3", "10.244.4.1", "10.244.4.2",
                                  "10.244.4.3"}
    assert full_pairs <= pairs and "10.244.9.9" in full_pairs
    listing = sh("nft", "list", "table", "ip", "kube-proxy", ns=partial_ns)
    assert "dnat to 10.244.9.9:8080" in listing
    assert "dnat to 10.244.4." not in listing  # only empty chains are left
    assert "dnat to 10.244.0.1:" not in listing
    # The periodic full sync deletes them: then the tables are identical.
    rendered = renderer.render(ports, eps, full=True)
    apply(partial_ns, rendered)
    renderer.commit(rendered)
    assert f"delete chain ip kube-proxy {old_ep}" in rendered.text
    assert ruleset(partial_ns) == ruleset(full_ns)
