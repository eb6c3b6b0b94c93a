# ruff: noqa: E501  (the golden lines are upstream's, verbatim)
"""The nftables renderer: upstream's names and rule text, full and partial transactions."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid

import pytest

from controllers.proxy.nftables import (
    NFTablesConfig,
    NFTablesState,
    chain_base,
    endpoint_chain_base,
    render,
)
from controllers.proxy.types import Endpoint, ServicePort, ServicePortName

CFG = NFTablesConfig(cluster_cidr="10.0.0.0/8", nodeport_addresses=("192.168.0.2",))


def _spn(ns: str, name: str) -> ServicePortName:
    return ServicePortName(ns, name, "p80", "TCP")


def _overall() -> tuple[dict[ServicePortName, ServicePort],
                        dict[ServicePortName, tuple[Endpoint, ...]]]:
    """upstream's TestOverallNFTablesRules services (svc1, svc3, svc4, svc5, svc6)."""
    svcs = {
        _spn("ns1", "svc1"): ServicePort(_spn("ns1", "svc1"), "172.30.0.41", 80),
        _spn("ns3", "svc3"): ServicePort(_spn("ns3", "svc3"), "172.30.0.43", 80,
                                         node_port=3003),
        _spn("ns4", "svc4"): ServicePort(_spn("ns4", "svc4"), "172.30.0.44", 80,
                                         external_ips=("192.168.99.33",)),
        _spn("ns5", "svc5"): ServicePort(_spn("ns5", "svc5"), "172.30.0.45", 80,
                                         node_port=3002, load_balancer_ips=("5.6.7.8",),
                                         load_balancer_source_ranges=(" 203.0.113.0/25",),
                                         affinity_seconds=10800),
        _spn("ns6", "svc6"): ServicePort(_spn("ns6", "svc6"), "172.30.0.46", 80),
    }
    eps = {
        _spn("ns1", "svc1"): (Endpoint("10.180.0.1", 80),),
        _spn("ns3", "svc3"): (Endpoint("10.180.0.3", 80),),
        _spn("ns4", "svc4"): (Endpoint("10.180.0.4", 80), Endpoint("10.180.0.5", 80)),
        _spn("ns5", "svc5"): (Endpoint("10.180.0.3", 80),),
    }
    return svcs, eps


#: Lines of upstream's expected ruleset (pkg/proxy/nftables/proxier_test.go) for those, in
#: the shape of controllers.proxy.nftables: the service chain's ``numgen random mod N 0``
#: ladder DNATs itself (upstream: ``numgen random mod N vmap { … }`` to one endpoint
#: chain each), endpoint chains only for ClientIP affinity, hairpin masquerade by the
#: ``hairpin-endpoints`` set and the ClusterIP masquerade rule once in ``services``.
GOLDEN = """
add rule ip kube-proxy services ip daddr @cluster-ips ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 meta l4proto tcp dnat to 10.180.0.1:80
add element ip kube-proxy hairpin-endpoints { 10.180.0.1 . 10.180.0.1 }
add element ip kube-proxy cluster-ips { 172.30.0.41 }
add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }
add rule ip kube-proxy external-4AT6LBPK-ns3/svc3/tcp/p80 jump mark-for-masquerade
add rule ip kube-proxy external-4AT6LBPK-ns3/svc3/tcp/p80 goto service-4AT6LBPK-ns3/svc3/tcp/p80
add element ip kube-proxy service-nodeports { tcp . 3003 : goto external-4AT6LBPK-ns3/svc3/tcp/p80 }
add rule ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80 numgen random mod 2 0 meta l4proto tcp dnat to 10.180.0.4:80
add rule ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80 meta l4proto tcp dnat to 10.180.0.5:80
add element ip kube-proxy service-ips { 192.168.99.33 . tcp . 80 : goto external-LAUZTJTB-ns4/svc4/tcp/p80 }
add set ip kube-proxy affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }
add rule ip kube-proxy service-HVFWP5L3-ns5/svc5/tcp/p80 ip saddr @affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 goto endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80
add rule ip kube-proxy service-HVFWP5L3-ns5/svc5/tcp/p80 goto endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80
add rule ip kube-proxy endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 update @affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 { ip saddr }
add rule ip kube-proxy endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 meta l4proto tcp dnat to 10.180.0.3:80
add rule ip kube-proxy firewall-HVFWP5L3-ns5/svc5/tcp/p80 ip saddr != { 203.0.113.0/25 } drop
add element ip kube-proxy service-ips { 5.6.7.8 . tcp . 80 : goto external-HVFWP5L3-ns5/svc5/tcp/p80 }
add element ip kube-proxy service-nodeports { tcp . 3002 : goto external-HVFWP5L3-ns5/svc5/tcp/p80 }
add element ip kube-proxy firewall-ips { 5.6.7.8 . tcp . 80 : goto firewall-HVFWP5L3-ns5/svc5/tcp/p80 }
add element ip kube-proxy no-endpoint-services { 172.30.0.46 . tcp . 80 comment "ns6/svc6:p80" : goto reject-chain }
add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips
add rule ip kube-proxy masquerading ct status dnat ip saddr . ip daddr @hairpin-endpoints jump mark-for-masquerade
add rule ip kube-proxy masquerading mark and 0x4000 == 0 return
add rule ip kube-proxy masquerading masquerade fully-random
add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000
add element ip kube-proxy nodeport-ips { 192.168.0.2 }
""".strip().splitlines()


BLOCK = re.compile(r"^add chain ip kube-proxy (\S+) \{ (.*) ; \}$")
ELEMENTS = re.compile(r"^add element ip kube-proxy (\S+) \{ (.*) \}$")


def _rules(text: str) -> list[str]:
    """``text`` with each ``add chain ip kube-proxy C { R1 ; R2 ; }`` spelled as the
    ``add rule ip kube-proxy C R`` lines upstream's golden output uses, and each
    ``add element ip kube-proxy M { E1, E2 }`` as one line per element."""
    out = []
    for line in text.splitlines():
        m = BLOCK.match(line)
        e = ELEMENTS.match(line)
        if m and not m.group(2).startswith(("type ", "comment ")):
            out += [f"add rule ip kube-proxy {m.group(1)} {r}" for r in m.group(2).split(" ; ")]
        elif e:
            out += [f"add element ip kube-proxy {e.group(1)} {{ {x} }}"
                    for x in e.group(2).split(", ")]
        else:
            out.append(line)
    return out


def test_chain_names_follow_upstream_hashes() -> None:
    assert chain_base(_spn("ns1", "svc1"), "TCP") == "ULMVA6XW-ns1/svc1/tcp/p80"
    assert (endpoint_chain_base(_spn("ns1", "svc1"), "TCP", Endpoint("10.180.0.1", 80))
            == "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80")


def test_full_render_matches_upstream_golden_lines() -> None:
    svcs, eps = _overall()
    text = render(svcs, eps, CFG).text
    lines = set(_rules(text))
    missing = [g for g in GOLDEN if g not in lines]
    assert not missing, "\n".join(missing)
    # First sync: unknown table contents are dropped in the same transaction.
    assert text.startswith("add table ip kube-proxy\ndelete table ip kube-proxy\n")
    # Every chain is declared before a rule refers to it.
    first_rule = min(i for i, line in enumerate(text.splitlines())
                     if BLOCK.match(line) and "goto endpoint-" in line)
    last_chain = max(i for i, line in enumerate(text.splitlines())
                     if line.startswith("add chain ") and "{" not in line)
    assert last_chain < first_rule
    # A full sync fills each map or set with one command.
    filled = [line.split()[4] for line in text.splitlines() if line.startswith("add element")]
    assert sorted(filled) == sorted(set(filled))
    # Endpoint chains only where ClientIP affinity needs them (svc5).
    assert {line.split()[4].split("-")[1] for line in text.splitlines()
            if line.startswith("add chain ip kube-proxy endpoint-")} == {"GTK6MW7G"}


def test_partial_sync_rewrites_changed_chains_and_diffs_elements() -> None:
    svcs, eps = _overall()
    first = render(svcs, eps, CFG)
    assert isinstance(first.state, NFTablesState)
    eps[_spn("ns4", "svc4")] = (Endpoint("10.180.0.4", 80),)
    del svcs[_spn("ns1", "svc1")]
    second = render(svcs, eps, CFG, previous=first.state, changed={"ns4/svc4", "ns1/svc1"})
    text = second.text
    assert "delete table" not in text
    # Only the changed Services' chains are rewritten.
    assert "flush chain ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80" in text
    assert [r for r in _rules(text) if "service-LAUZTJTB" in r and "dnat" in r] == [
        "add rule ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80 meta l4proto tcp "
        "dnat to 10.180.0.4:80"]
    assert "service-HVFWP5L3-ns5" not in text
    # Elements are diffed, not refilled; hairpin pairs are only ever added (another
    # service port may still DNAT to that address; the next full sync drops them).
    assert "flush map" not in text and "flush set" not in text
    assert "delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }" in text
    assert "delete element ip kube-proxy cluster-ips { 172.30.0.41 }" in text
    assert "add element ip kube-proxy service-ips { 5.6.7.8" not in text
    assert "hairpin-endpoints" not in text
    # Stale chains are flushed after the elements referring to them are deleted, and
    # left for the next full sync to delete.
    lines = text.splitlines()
    gone = "service-ULMVA6XW-ns1/svc1/tcp/p80"
    assert f"flush chain ip kube-proxy {gone}" in lines
    assert "delete chain" not in text
    assert max(i for i, x in enumerate(lines) if x.startswith("delete element")) < lines.index(
        f"flush chain ip kube-proxy {gone}")
    assert gone in second.state.stale
    # A later full sync flushes and refills every map and set and deletes the stale chains.
    third = render(svcs, eps, CFG, previous=second.state)
    assert "flush map ip kube-proxy service-ips" in third.text
    assert "flush set ip kube-proxy hairpin-endpoints" in third.text
    pairs = {r for r in _rules(third.text)
             if r.startswith("add element ip kube-proxy hairpin-endpoints")}
    assert pairs == {f"add element ip kube-proxy hairpin-endpoints {{ {ip} . {ip} }}"
                     for ip in ("10.180.0.3", "10.180.0.4")}
    assert f"delete chain ip kube-proxy {gone}" in third.text
    assert not third.state.stale


def test_cluster_ip_stays_while_another_port_holds_it() -> None:
    """Ports of one Service share its ClusterIP in ``cluster-ips``: deleting one port
    keeps the element; deleting the last removes it."""
    a, b = (ServicePortName("ns", "multi", p, "TCP") for p in ("a", "b"))
    svcs = {a: ServicePort(a, "172.30.0.50", 80), b: ServicePort(b, "172.30.0.50", 81)}
    eps = {k: (Endpoint("10.180.5.1", 8080),) for k in svcs}
    first = render(svcs, eps, CFG)
    del svcs[a]
    second = render(svcs, eps, CFG, previous=first.state, changed={"ns/multi"})
    assert "delete element ip kube-proxy service-ips { 172.30.0.50 . tcp . 80 }" in second.text
    assert "cluster-ips" not in second.text
    del svcs[b]
    third = render(svcs, eps, CFG, previous=second.state, changed={"ns/multi"})
    assert "delete element ip kube-proxy cluster-ips { 172.30.0.50 }" in third.text


def test_local_policy_masquerade_all_and_no_local_endpoints() -> None:
    spn = _spn("ns2", "svc2")
    sp = ServicePort(spn, "172.30.0.42", 80, node_port=3001, external_ips=("192.168.99.22",),
                     load_balancer_ips=("1.2.3.4",), external_policy_local=True)
    text = render({spn: sp}, {spn: (Endpoint("10.180.0.2", 80),)}, CFG).text
    assert ("add rule ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80 ip saddr 10.0.0.0/8 "
            'goto service-42NFTM6N-ns2/svc2/tcp/p80 comment "short-circuit pod traffic"') \
        in _rules(text)
    assert ('add element ip kube-proxy no-endpoint-nodeports { tcp . 3001 comment '
            '"ns2/svc2:p80" : drop }') in _rules(text)
    assert ('add element ip kube-proxy no-endpoint-services { 1.2.3.4 . tcp . 80 comment '
            '"ns2/svc2:p80" : drop }') in _rules(text)
    local = render({spn: sp}, {spn: (Endpoint("10.180.0.2", 80, is_local=True),)},
                   NFTablesConfig(masquerade_all=True)).text
    assert "add rule ip kube-proxy services ip daddr @cluster-ips jump mark-for-masquerade" \
        in _rules(local)
    assert ("add rule ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80 meta l4proto tcp dnat "
            "to 10.180.0.2:80") in _rules(local)
    assert "tcp . 3001 : goto external-42NFTM6N-ns2/svc2/tcp/p80" in local
    assert "fib daddr type local ip daddr != 127.0.0.0/8 jump nodeports" in local


def test_transactions_are_accepted_by_nft() -> None:
    """The full, partial and second full transactions load into a scratch namespace."""
    if shutil.which("nft") is None or shutil.which("ip") is None:
        pytest.skip("nft / ip not installed")
    ns = f"kpnu{uuid.uuid4().hex[:6]}"
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
        pytest.skip("cannot create a network namespace (not root)")
    try:
        svcs, eps = _overall()
        first = render(svcs, eps, CFG)
        eps[_spn("ns4", "svc4")] = (Endpoint("10.180.0.4", 80),)
        del svcs[_spn("ns1", "svc1")]
        second = render(svcs, eps, CFG, previous=first.state, changed={"ns4/svc4", "ns1/svc1"})
        third = render(svcs, eps, CFG, previous=second.state)
        for r in (first, second, third):
            done = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"],
                                  input=r.text, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
        listing = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "table", "ip",
                                  "kube-proxy"], capture_output=True, text=True).stdout
        assert "ns1/svc1" not in listing and "10.180.0.5" not in listing
        assert "\t\tmeta l4proto tcp dnat to 10.180.0.4:80\n" in listing
        assert "numgen random mod 2" not in listing
        assert "10.180.0.3 . 10.180.0.3" in listing and "10.180.0.4 . 10.180.0.4" in listing
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_ladder_picks_each_endpoint_with_equal_probability() -> None:
    """``numgen random mod N 0`` takes 1/N of what reaches it: endpoint k of N is picked
    with probability (1 - 1/N)(1 - 1/(N-1))…(1/(N-k)) = 1/N."""
    spn = _spn("ns7", "svc7")
    eps = tuple(Endpoint(f"10.180.7.{i}", 80) for i in range(1, 4))
    text = render({spn: ServicePort(spn, "172.30.0.47", 80)}, {spn: eps}, CFG).text
    chain = "service-" + chain_base(spn, "TCP")

    def ladder(text: str) -> list[str]:
        return [r.split(f"{chain} ", 1)[1] for r in _rules(text)
                if r.startswith(f"add rule ip kube-proxy {chain} ")]

    assert ladder(text) == ["numgen random mod 3 0 meta l4proto tcp dnat to 10.180.7.1:80",
                            "numgen random mod 2 0 meta l4proto tcp dnat to 10.180.7.2:80",
                            "meta l4proto tcp dnat to 10.180.7.3:80"]
    # With ClientIP affinity the ladder picks the endpoint chains that record the client.
    sticky = ServicePort(spn, "172.30.0.47", 80, affinity_seconds=60)
    targets = ["endpoint-" + endpoint_chain_base(spn, "TCP", e) for e in eps]
    sets = ["affinity-" + endpoint_chain_base(spn, "TCP", e) for e in eps]
    assert ladder(render({spn: sticky}, {spn: eps}, CFG).text) == [
        *(f"ip saddr @{s} goto {t}" for s, t in zip(sets, targets, strict=True)),
        f"numgen random mod 3 0 goto {targets[0]}",
        f"numgen random mod 2 0 goto {targets[1]}", f"goto {targets[2]}"]


def test_equal_objects_are_not_rewritten() -> None:
    """A partial sync compares the service port and endpoints by identity, then by value:
    objects rebuilt equal (e.g. after a resync of the informer) write nothing."""
    svcs, eps = _overall()
    first = render(svcs, eps, CFG)
    copies = {k: ServicePort(**vars(v)) for k, v in svcs.items()}
    again = render(copies, {k: tuple(v) for k, v in eps.items()}, CFG, previous=first.state,
                   changed={"ns1/svc1"})
    assert again.text == "" and not again.full
