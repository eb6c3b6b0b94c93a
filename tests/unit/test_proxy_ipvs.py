"""The ipvs renderer: virtual servers, ipsets and iptables rules for every Service type."""

from __future__ import annotations

from typing import Any

from controllers.proxy.change_tracker import service_ports
from controllers.proxy.ipvs import IPSETS, IPVSConfig, render
from controllers.proxy.types import Endpoint, ServicePort, ServicePortName

CFG = IPVSConfig(cluster_cidr="10.244.0.0/16", node_ips=("192.168.0.2", "192.168.1.2"))
EPS = (Endpoint("10.244.1.2", 8080), Endpoint("10.244.1.3", 8080))


def _svc(name: str, **spec: Any) -> dict[str, Any]:
    status = spec.pop("status", {})
    ports = spec.pop("ports", [{"name": "http", "port": 80, "protocol": "TCP",
                                "targetPort": 8080}])
    return {"metadata": {"namespace": "ns", "name": name},
            "spec": {"clusterIP": "10.96.0.10", "ports": ports, **spec}, "status": status}


def _render(obj: dict[str, Any], eps: tuple[Endpoint, ...] = EPS) -> Any:
    ports = service_ports(obj)
    return render(ports, {spn: eps for spn in ports}, CFG)


def test_cluster_ip_virtual_server_real_servers_ipsets_and_rules() -> None:
    r = _render(_svc("web"))
    assert r.ipvs == ["-A -t 10.96.0.10:80 -s rr",
                      "-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1",
                      "-a -t 10.96.0.10:80 -r 10.244.1.3:8080 -m -w 1"]
    assert r.addresses == ["10.96.0.10"]
    assert r.ipsets["KUBE-CLUSTER-IP"] == ["10.96.0.10,tcp:80"]
    assert r.ipsets["KUBE-LOOP-BACK"] == ["10.244.1.2,tcp:8080,10.244.1.2",
                                          "10.244.1.3,tcp:8080,10.244.1.3"]
    assert not r.ipsets["KUBE-NODE-PORT-TCP"] and not r.ipsets["KUBE-LOAD-BALANCER"]
    assert ('-A KUBE-SERVICES ! -s 10.244.0.0/16 -m comment --comment "Kubernetes service '
            'cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP '
            'dst,dst -j KUBE-MARK-MASQ') in r.iptables
    assert ('-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, '
            'source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK '
            'dst,dst,src -j MASQUERADE') in r.iptables
    assert "-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT" in r.iptables
    assert "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000" in r.iptables
    restore = r.ipset_restore()
    assert "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536" \
        in restore
    assert "create KUBE-NODE-PORT-TCP bitmap:port range 0-65535 comment" in restore
    assert set(IPSETS) <= {line.split()[1] for line in restore.splitlines()
                           if line.startswith("create ")}
    text = r.text()
    assert "# ipvsadm-restore" in text and "ip addr add 10.96.0.10/32 dev kube-ipvs0" in text


def test_node_port_on_every_node_address_tcp_and_udp() -> None:
    r = _render(_svc("np", type="NodePort", ports=[
        {"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080},
        {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053}]))
    for node_ip in ("192.168.0.2", "192.168.1.2"):
        assert f"-A -t {node_ip}:30080 -s rr" in r.ipvs
        assert f"-a -t {node_ip}:30080 -r 10.244.1.2:8080 -m -w 1" in r.ipvs
        assert f"-A -u {node_ip}:30053 -s rr" in r.ipvs
    assert "-A -u 10.96.0.10:53 -s rr" in r.ipvs
    assert r.ipsets["KUBE-NODE-PORT-TCP"] == ["30080"]
    assert r.ipsets["KUBE-NODE-PORT-UDP"] == ["30053"]
    assert ('-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port for '
            'masquerade purpose" -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ'
            ) in r.iptables
    assert "192.168.0.2" not in r.addresses  # node addresses are not bound to kube-ipvs0


def test_load_balancer_local_policy_source_ranges_and_health_check() -> None:
    obj = _svc("lb", type="LoadBalancer", externalTrafficPolicy="Local",
               healthCheckNodePort=32000, loadBalancerSourceRanges=["203.0.113.0/25"],
               ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30081}],
               status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}})
    local = (Endpoint("10.244.1.2", 8080, is_local=True), Endpoint("10.244.1.3", 8080))
    r = _render(obj, local)
    assert "-A -t 1.2.3.4:80 -s rr" in r.ipvs
    # External traffic of a Local policy only reaches this node's endpoints.
    assert "-a -t 1.2.3.4:80 -r 10.244.1.2:8080 -m -w 1" in r.ipvs
    assert "-a -t 1.2.3.4:80 -r 10.244.1.3:8080 -m -w 1" not in r.ipvs
    assert "-a -t 192.168.0.2:30081 -r 10.244.1.3:8080 -m -w 1" not in r.ipvs
    assert "-a -t 10.96.0.10:80 -r 10.244.1.3:8080 -m -w 1" in r.ipvs  # cluster traffic: all
    assert r.ipsets["KUBE-LOAD-BALANCER"] == ["1.2.3.4,tcp:80"]
    assert r.ipsets["KUBE-LOAD-BALANCER-LOCAL"] == ["1.2.3.4,tcp:80"]
    assert r.ipsets["KUBE-LOAD-BALANCER-FW"] == ["1.2.3.4,tcp:80"]
    assert r.ipsets["KUBE-LOAD-BALANCER-SOURCE-CIDR"] == ["1.2.3.4,tcp:80,203.0.113.0/25"]
    assert r.ipsets["KUBE-NODE-PORT-LOCAL-TCP"] == ["30081"]
    assert r.ipsets["KUBE-HEALTH-CHECK-NODE-PORT"] == ["32000"]
    assert "1.2.3.4" in r.addresses
    assert ('-A KUBE-SERVICES -m comment --comment "Kubernetes service lb portal" -m set '
            '--match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER') in r.iptables
    assert "-j KUBE-SOURCE-RANGES-FIREWALL" in r.iptables
    assert "--match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT" in r.iptables


def test_external_ips_and_client_ip_affinity_persistence() -> None:
    r = _render(_svc("ext", externalIPs=["192.168.99.11"], sessionAffinity="ClientIP",
                     sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}}))
    assert "-A -t 10.96.0.10:80 -s rr -p 600" in r.ipvs
    assert "-A -t 192.168.99.11:80 -s rr -p 600" in r.ipvs
    assert "-a -t 192.168.99.11:80 -r 10.244.1.3:8080 -m -w 1" in r.ipvs
    assert r.ipsets["KUBE-EXTERNAL-IP"] == ["192.168.99.11,tcp:80"]
    assert "192.168.99.11" in r.addresses
    assert "--match-set KUBE-EXTERNAL-IP dst,dst -j KUBE-MARK-MASQ" in r.iptables
    default = _render(_svc("aff", sessionAffinity="ClientIP"))
    assert "-A -t 10.96.0.10:80 -s rr -p 10800" in default.ipvs


def test_headless_and_external_name_services_are_ignored() -> None:
    for obj in (_svc("headless", clusterIP="None"),
                _svc("extname", type="ExternalName", externalName="example.com", clusterIP="")):
        r = _render(obj)
        assert r.ipvs == [] and r.addresses == []
        assert not any(r.ipsets.values())


def test_no_endpoints_keeps_the_virtual_server_without_real_servers() -> None:
    spn = ServicePortName("ns", "empty", "", "TCP")
    r = render({spn: ServicePort(spn, "10.96.0.11", 80)}, {}, IPVSConfig(masquerade_all=True))
    assert r.ipvs == ["-A -t 10.96.0.11:80 -s rr"]
    assert ('-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for '
            'masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ'
            ) in r.iptables
