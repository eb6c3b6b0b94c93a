"""kube-proxy's backend-independent parts: runner, change trackers, iptables renderer."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from typing import Any

from controllers.proxy.change_tracker import (
    EndpointsChangeTracker,
    EndpointsMap,
    ServiceChangeTracker,
    ServicePortMap,
)
from controllers.proxy.iptables import (
    IPTablesConfig,
    IPTablesRenderer,
    compute_probability,
    endpoint_chain_name,
    port_proto_hash,
    render,
)
from controllers.proxy.roundrobin import LoadBalancerRR, NoEndpoints
from controllers.proxy.runner import BoundedFrequencyRunner, FakeClock
from controllers.proxy.types import Endpoint, ServicePort, ServicePortName

# -- BoundedFrequencyRunner -------------------------------------------------------------


def test_runner_min_interval_coalesces_max_interval_resyncs_and_failures_retry() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        calls: list[float] = []
        fail = [False]

        async def fn() -> None:
            calls.append(clock.now())
            if fail[0]:
                fail[0] = False
                raise RuntimeError("boom")

        r = BoundedFrequencyRunner("t", fn, min_interval=1.0, max_interval=10.0,
                                   retry_interval=3.0, clock=clock)
        task = asyncio.ensure_future(r.loop())

        async def settle() -> None:
            for _ in range(10):
                await asyncio.sleep(0)

        await settle()
        assert calls == [1000.0]  # first run at once
        r.run()
        r.run()
        await settle()
        assert len(calls) == 1  # within min_interval: coalesced and deferred
        clock.advance(0.5)
        await settle()
        assert len(calls) == 1
        clock.advance(0.5)
        await settle()
        assert calls == [1000.0, 1001.0]  # one run for two requests
        clock.advance(9.9)
        await settle()
        assert len(calls) == 2
        clock.advance(0.1)
        await settle()
        assert calls[-1] == 1011.0  # max_interval resync without requests
        fail[0] = True
        clock.advance(1.0)
        r.run()
        await settle()
        assert calls[-1] == 1012.0  # failed
        clock.advance(2.9)
        await settle()
        assert len(calls) == 4
        clock.advance(0.1)
        await settle()
        assert calls[-1] == 1015.0  # retried after retry_interval
        task.cancel()

    asyncio.run(scenario())


# -- change trackers -----------------------------------------------------------------------


def svc(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("clusterIP", "10.96.0.10")
    spec.setdefault("ports", [{"name": "p80", "port": 80, "protocol": "TCP"}])
    return {"metadata": {"namespace": "ns1", "name": name}, "spec": spec}


def test_service_tracker_drops_noops_and_ignores_headless_and_external_name() -> None:
    t = ServiceChangeTracker()
    m = ServicePortMap()
    assert t.update(None, svc("a"))
    assert not t.update(svc("a"), None)  # add then delete before a sync: nothing to do
    assert not t.update(None, svc("h", clusterIP="None"))
    assert not t.update(None, svc("x", type="ExternalName", externalName="example.com"))
    assert t.update(None, svc("b", sessionAffinity="ClientIP"))
    assert m.update(t) == {"ns1/b"}
    (port,) = m.values()
    assert str(port.name) == "ns1/b:p80" and port.affinity_seconds == 10800
    assert not t.update(svc("b", sessionAffinity="ClientIP"), svc("b", sessionAffinity="ClientIP"))
    assert t.update(svc("b"), None)
    assert m.update(t) == {"ns1/b"} and not m


def slice_(name: str, eps: list[tuple[str, dict[str, bool]]], trigger: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"namespace": "ns1", "name": name,
                            "labels": {"kubernetes.io/service-name": "web"}}
    if trigger:
        meta["annotations"] = {"endpoints.kubernetes.io/last-change-trigger-time": trigger}
    return {"metadata": meta, "addressType": "IPv4",
            "ports": [{"name": "p80", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": c, "nodeName": "n1"}
                          for ip, c in eps]}


def test_endpoints_tracker_merges_slices_and_keeps_conditions() -> None:
    t = EndpointsChangeTracker(hostname="n1")
    m = EndpointsMap()
    assert t.endpoint_slice_update(slice_("web-a", [("10.0.0.1", {"ready": True})],
                                          "2026-01-01T00:00:00Z"), False)
    assert t.endpoint_slice_update(slice_("web-b", [
        ("10.0.0.2", {"ready": False, "serving": True, "terminating": True})]), False)
    update = m.update(t)
    assert update.services == {"ns1/web"} and "ns1/web" in update.trigger_times
    (eps,) = m.values()
    assert [(e.ip, e.ready, e.serving, e.terminating, e.is_local) for e in eps] == [
        ("10.0.0.1", True, True, False, True), ("10.0.0.2", False, True, True, True)]
    # Re-delivering the same slice is a no-op; deleting one slice updates the map.
    assert not t.endpoint_slice_update(slice_("web-a", [("10.0.0.1", {"ready": True})]), False)
    assert t.endpoint_slice_update(slice_("web-a", []), True)
    m.update(t)
    assert [e.ip for e in next(iter(m.values()))] == ["10.0.0.2"]


def test_terminating_serving_endpoints_are_the_fallback() -> None:
    from controllers.proxy.change_tracker import categorize_endpoints

    sp = ServicePort(ServicePortName("ns", "s"), "10.96.0.1", 80)
    ready = Endpoint("10.0.0.1", 80)
    term = Endpoint("10.0.0.2", 80, ready=False, serving=True, terminating=True)
    dead = Endpoint("10.0.0.3", 80, ready=False, serving=False)
    assert categorize_endpoints(sp, [ready, term, dead])[0] == (ready,)
    assert categorize_endpoints(sp, [term, dead])[0] == (term,)
    assert categorize_endpoints(sp, [dead])[0] == ()


def test_round_robin_affinity_and_reshuffle() -> None:
    now = [0.0]
    lb = LoadBalancerRR(clock=lambda: now[0])
    spn = ServicePortName("ns", "s")
    try:
        lb.next_endpoint(spn, "1.1.1.1")
        raise AssertionError("expected NoEndpoints")
    except NoEndpoints:
        pass
    assert lb.update(spn, ["a:1", "b:1", "c:1"], None)
    seen = [lb.next_endpoint(spn, "x") for _ in range(6)]
    assert seen[:3] == seen[3:] and sorted(seen[:3]) == ["a:1", "b:1", "c:1"]
    assert not lb.update(spn, ["c:1", "a:1", "b:1"], 10)  # same set: no reshuffle
    first = lb.next_endpoint(spn, "client")
    now[0] = 9.9
    assert lb.next_endpoint(spn, "client") == first
    now[0] = 20.0
    assert lb.next_endpoint(spn, "client") != first  # expired: round robin moves on


# -- iptables renderer -----------------------------------------------------------------------


def upstream_hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def test_chain_hashes_match_upstream_values() -> None:
    assert port_proto_hash("ns1/svc1:p80", "TCP") == "XPGD46QRK7WJZT7O"
    assert port_proto_hash("default/kubernetes:https", "TCP") == "NPX46M4PTMTKRN6Y"
    assert port_proto_hash("kube-system/kube-dns:dns", "UDP") == "TCOU7JCQXEZGVUNU"
    assert endpoint_chain_name("ns1/svc1:p80", "TCP", "10.180.0.1:80") == \
        "KUBE-SEP-SXIVWICOYRO3J4NJ"
    assert [compute_probability(n) for n in (3, 2, 7)] == [
        "0.3333333333", "0.5000000000", "0.1428571429"]


def test_render_probabilities_masquerade_affinity_and_reject() -> None:
    spn = ServicePortName("ns1", "svc1", "p80", "TCP")
    eps = tuple(Endpoint(f"10.180.0.{i}", 80) for i in range(1, 6))
    empty = ServicePortName("ns2", "svc2", "", "UDP")
    text = render(
        {spn: ServicePort(spn, "172.30.0.41", 80, node_port=3001, affinity_seconds=60),
         empty: ServicePort(empty, "172.30.0.42", 53, "UDP")},
        {spn: eps}, IPTablesConfig(cluster_cidr="10.0.0.0/8")).text
    svc_chain = "KUBE-SVC-" + upstream_hash("ns1/svc1:p80tcp")
    probs = re.findall(rf"-A {svc_chain} .*--probability (\S+) -j (KUBE-SEP-\w+)", text)
    n = len(eps)
    assert [p for p, _ in probs] == [f"{1.0 / (n - i):0.10f}" for i in range(n - 1)]
    assert [c for _, c in probs] == [
        "KUBE-SEP-" + upstream_hash(f"ns1/svc1:p80tcp{e}") for e in eps[:-1]]
    assert f'-A {svc_chain} -m comment --comment "ns1/svc1:p80 -> 10.180.0.5:80" -j ' \
           f'KUBE-SEP-{upstream_hash("ns1/svc1:p80tcp10.180.0.5:80")}' in text
    assert (f'-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp '
            f"-d 172.30.0.41 --dport 80 -j {svc_chain}") in text
    assert "! -s 10.0.0.0/8 -j KUBE-MARK-MASQ" in text
    assert "--rcheck --seconds 60 --reap" in text and "--set -m tcp -p tcp -j DNAT" in text
    assert ("-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 "
            f"-j KUBE-EXT-{upstream_hash('ns1/svc1:p80tcp')}") in text
    assert ('-A KUBE-SERVICES -m comment --comment "ns2/svc2 has no endpoints" -m udp -p udp '
            "-d 172.30.0.42 --dport 53 -j REJECT") in text
    filt, nat = text.split("COMMIT\n")[:2]
    assert "REJECT" in filt and "REJECT" not in nat and "svc2" not in nat
    assert "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000" in nat
    assert "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN" in nat
    assert nat.rstrip().splitlines()[0] == "*nat"


def test_nat_rule_counts_follow_upstream_scaling() -> None:
    # number_generated_rules_test.go: 5 base + 2/service + 3/endpoint... (ClusterIP only,
    # cluster CIDR set); our base has 1 nodeports + 1 mark + 3 postrouting = 5.
    for services, per in ((1, 1), (1, 10), (10, 10)):
        ports = {}
        eps = {}
        for s in range(services):
            spn = ServicePortName("ns", f"s{s}", "p", "TCP")
            ports[spn] = ServicePort(spn, f"10.96.0.{s + 1}", 80)
            eps[spn] = tuple(Endpoint(f"10.244.{s}.{i}", 80) for i in range(per))
        text = render(ports, eps, IPTablesConfig(cluster_cidr="10.244.0.0/16")).text
        nat = text.split("*nat\n")[1]
        rules = sum(1 for line in nat.splitlines() if line.startswith("-A "))
        assert rules == 5 + 2 * services + 3 * services * per, (services, per, rules)


def test_partial_sync_writes_only_changed_chains_and_deletes_stale() -> None:
    a, b = ServicePortName("ns", "a", "", "TCP"), ServicePortName("ns", "b", "", "TCP")
    ports = {a: ServicePort(a, "10.96.0.1", 80), b: ServicePort(b, "10.96.0.2", 80)}
    eps = {a: (Endpoint("10.244.0.1", 80),), b: (Endpoint("10.244.0.2", 80),)}
    renderer = IPTablesRenderer(IPTablesConfig())
    first = renderer.render(ports, eps, full=False)  # nothing committed yet: full
    assert first.full and "*filter" in first.text
    renderer.commit(first)
    del ports[b], eps[b]
    second = renderer.render(ports, eps, full=False)
    b_svc = "KUBE-SVC-" + port_proto_hash("ns/b", "TCP")
    a_svc = "KUBE-SVC-" + port_proto_hash("ns/a", "TCP")
    assert f"-X {b_svc}" in second.text
    assert f":{a_svc} - [0:0]" not in second.text  # unchanged: not rewritten
    assert f"-j {a_svc}" in second.text  # KUBE-SERVICES changed: rewritten in full
    assert "*filter" not in second.text  # the filter table did not change
    assert second.nat_chains == {c for c in first.nat_chains if "SVC" not in c or c == a_svc
                                 } - {endpoint_chain_name("ns/b", "TCP", "10.244.0.2:80")}
    renderer.commit(second)
    unchanged = renderer.render(ports, eps, full=False)
    assert unchanged.text == ""  # nothing changed: nothing to restore
    renderer.commit(unchanged)

    # One endpoint replaced: only that service port's chains and the new/old SEP chains.
    eps[a] = (Endpoint("10.244.0.9", 80),)
    third = renderer.render(ports, eps, full=False)
    new_sep = endpoint_chain_name("ns/a", "TCP", "10.244.0.9:80")
    old_sep = endpoint_chain_name("ns/a", "TCP", "10.244.0.1:80")
    assert third.text.splitlines() == [
        "*nat", f":{a_svc} - [0:0]", f":{new_sep} - [0:0]", f":{old_sep} - [0:0]",
        f'-A {a_svc} -m comment --comment "ns/a -> 10.244.0.9:80" -j {new_sep}',
        f"-A {new_sep} -m comment --comment ns/a -s 10.244.0.9 -j KUBE-MARK-MASQ",
        f"-A {new_sep} -m comment --comment ns/a -m tcp -p tcp -j DNAT "
        "--to-destination 10.244.0.9:80",
        f"-X {old_sep}", "COMMIT"]
    # Not committed (the restore failed): the next render is full again.
    assert renderer.render(ports, eps, full=False).full


def test_external_traffic_policy_local_chains() -> None:
    spn = ServicePortName("ns", "lb", "", "TCP")
    local = Endpoint("10.244.0.1", 80, is_local=True)
    remote = (Endpoint("10.244.1.1", 80), Endpoint("10.244.1.2", 80))
    sp = ServicePort(spn, "10.96.0.9", 80, node_port=30009, external_policy_local=True,
                     health_check_node_port=32000)
    text = render({spn: sp}, {spn: (remote[0], local, remote[1])},
                  IPTablesConfig(cluster_cidr="10.244.0.0/16")).text
    h = port_proto_hash("ns/lb", "TCP")
    sep = {e: endpoint_chain_name("ns/lb", "TCP", str(e)) for e in (local, *remote)}
    # Cluster traffic balances over all three; external traffic only over the local one.
    assert re.findall(rf"-A KUBE-SVC-{h} .*-j (KUBE-SEP-\w+)", text) == [
        sep[remote[0]], sep[local], sep[remote[1]]]
    assert re.findall(rf"-A KUBE-SVL-{h} .*-j (KUBE-SEP-\w+)", text) == [sep[local]]
    assert re.findall(rf"-A KUBE-EXT-{h} .*-j (\S+)", text) == [
        f"KUBE-SVC-{h}", "KUBE-MARK-MASQ", f"KUBE-SVC-{h}", f"KUBE-SVL-{h}"]
    assert ('-A KUBE-NODEPORTS -m comment --comment "ns/lb health check node port" -m tcp '
            "-p tcp --dport 32000 -j ACCEPT") in text.split("COMMIT")[0]
    # Every endpoint chain is written once.
    assert sorted(re.findall(r"^:(KUBE-SEP-\w+)", text, re.M)) == sorted(sep.values())

    # internalTrafficPolicy Local too: cluster traffic also stays on this node.
    sp = ServicePort(spn, "10.96.0.9", 80, node_port=30009, external_policy_local=True,
                     internal_policy_local=True)
    text = render({spn: sp}, {spn: (remote[0], local, remote[1])}, IPTablesConfig()).text
    assert re.findall(rf"-A KUBE-SVC-{h} .*-j (KUBE-SEP-\w+)", text) == [sep[local]]
    assert re.findall(r"^:(KUBE-SEP-\w+)", text, re.M) == [sep[local]]

    # The only local endpoint is terminating but serving: external traffic still
    # reaches it (KEP-1669) while cluster traffic uses the ready remote ones.
    leaving = Endpoint("10.244.0.1", 80, ready=False, terminating=True, is_local=True)
    sp = ServicePort(spn, "10.96.0.9", 80, node_port=30009, external_policy_local=True)
    text = render({spn: sp}, {spn: (remote[0], leaving, remote[1])}, IPTablesConfig()).text
    assert re.findall(rf"-A KUBE-SVC-{h} .*-j (KUBE-SEP-\w+)", text) == [
        sep[remote[0]], sep[remote[1]]]
    assert re.findall(rf"-A KUBE-SVL-{h} .*-j (KUBE-SEP-\w+)", text) == [sep[local]]
    assert sorted(re.findall(r"^:(KUBE-SEP-\w+)", text, re.M)) == sorted(sep.values())
