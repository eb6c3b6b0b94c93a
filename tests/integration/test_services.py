"""Service semantics over HTTP: defaults, allocation, validation, transitions, repair, kubectl."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.support.apiserver import ApiServerProcess


def _ns(client: httpx.Client) -> str:
    name = f"svc-{uuid.uuid4().hex[:8]}"
    r = client.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


@pytest.fixture
def client(apiserver: ApiServerProcess) -> httpx.Client:
    with httpx.Client(base_url=apiserver.url, timeout=10) as c:
        yield c


def svc(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("ports", [{"port": 80}])
    spec.setdefault("selector", {"app": name})
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def create(client: httpx.Client, ns: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"/api/v1/namespaces/{ns}/services", json=body)


def created(client: httpx.Client, ns: str, body: dict[str, Any]) -> dict[str, Any]:
    r = create(client, ns, body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def causes(r: httpx.Response) -> list[tuple[str, str]]:
    return [(c.get("field", ""), c["message"]) for c in r.json()["details"]["causes"]]


# -- defaults ---------------------------------------------------------------------------


def test_defaults_clusterip(client: httpx.Client) -> None:
    ns = _ns(client)
    spec = created(client, ns, svc("web"))["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"protocol": "TCP", "port": 80, "targetPort": 80}]
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert "externalTrafficPolicy" not in spec
    assert "allocateLoadBalancerNodePorts" not in spec
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["ipFamilies"] == ["IPv4"]
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network("10.0.0.0/24")
    assert list(spec)[:5] == ["ports", "selector", "clusterIP", "clusterIPs", "type"]


def test_defaults_client_ip_affinity_and_external_types(client: httpx.Client) -> None:
    ns = _ns(client)
    spec = created(client, ns, svc("aff", sessionAffinity="ClientIP"))["spec"]
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    np = created(client, ns, svc("np", type="NodePort"))["spec"]
    assert np["externalTrafficPolicy"] == "Cluster"
    assert 30000 <= np["ports"][0]["nodePort"] <= 32767
    lb = created(client, ns, svc("lb", type="LoadBalancer"))["spec"]
    assert lb["allocateLoadBalancerNodePorts"] is True
    assert lb["externalTrafficPolicy"] == "Cluster"
    ext = created(client, ns, svc("ext", type="ClusterIP", externalIPs=["192.0.2.10"]))["spec"]
    assert ext["externalTrafficPolicy"] == "Cluster"
    tp = created(client, ns, svc("named", ports=[{"port": 81, "targetPort": "http"}]))["spec"]
    assert tp["ports"][0]["targetPort"] == "http"


def test_headless_and_external_name(client: httpx.Client) -> None:
    ns = _ns(client)
    headless = created(client, ns, svc("hl", clusterIP="None"))["spec"]
    assert headless["clusterIPs"] == ["None"]
    assert headless["ipFamilyPolicy"] == "SingleStack"
    selectorless = created(client, ns, svc("hl2", clusterIP="None", selector=None,
                                            ports=None))["spec"]
    assert selectorless["ipFamilyPolicy"] == "RequireDualStack"
    assert selectorless["ipFamilies"] == ["IPv4", "IPv6"]
    ext = created(client, ns, svc("en", type="ExternalName", externalName="example.com",
                                  ports=None))["spec"]
    assert "clusterIP" not in ext and "ipFamilies" not in ext and "ipFamilyPolicy" not in ext


def test_kubernetes_service_and_endpoints(client: httpx.Client, apiserver: ApiServerProcess) \
        -> None:
    spec = client.get("/api/v1/namespaces/default/services/kubernetes").json()["spec"]
    assert spec["clusterIP"] == "10.0.0.1"
    assert spec["ports"] == [{"name": "https", "protocol": "TCP", "port": 443,
                              "targetPort": apiserver.port}]
    ep = client.get("/api/v1/namespaces/default/endpoints/kubernetes").json()
    assert ep["subsets"] == [{"addresses": [{"ip": "127.0.0.1"}],
                              "ports": [{"name": "https", "port": apiserver.port,
                                         "protocol": "TCP"}]}]


# -- allocation --------------------------------------------------------------------------


def test_requested_values_honoured_or_rejected(client: httpx.Client) -> None:
    ns = _ns(client)
    # Find a free address and port by creating and deleting.
    first = created(client, ns, svc("probe", type="NodePort"))
    ip, port = first["spec"]["clusterIP"], first["spec"]["ports"][0]["nodePort"]
    assert client.delete(f"/api/v1/namespaces/{ns}/services/probe").status_code == 200
    got = created(client, ns, svc("want", type="NodePort", clusterIP=ip,
                                  ports=[{"port": 80, "nodePort": port}]))["spec"]
    assert got["clusterIP"] == ip and got["ports"][0]["nodePort"] == port
    r = create(client, ns, svc("again", clusterIP=ip))
    assert r.status_code == 422 and r.json()["reason"] == "Invalid"
    assert causes(r) == [("spec.clusterIPs", f'Invalid value: []string{{"{ip}"}}: failed to '
                          f"allocate IP {ip}: provided IP is already allocated")]
    r = create(client, ns, svc("again", type="NodePort", ports=[{"port": 80, "nodePort": port}]))
    assert r.status_code == 422
    assert causes(r) == [("spec.ports[0].nodePort",
                          f"Invalid value: {port}: provided port is already allocated")]
    r = create(client, ns, svc("again", clusterIP="10.9.0.1"))
    assert causes(r) == [("spec.clusterIPs", 'Invalid value: []string{"10.9.0.1"}: failed to '
                          "allocate IP 10.9.0.1: provided IP is not in the valid range. The "
                          "range of valid IPs is 10.0.0.0/24")]
    r = create(client, ns, svc("again", type="NodePort", ports=[{"port": 80, "nodePort": 80}]))
    assert causes(r) == [("spec.ports[0].nodePort", "Invalid value: 80: provided port is not "
                          "in the valid range. The range of valid ports is 30000-32767")]
    # The failed creates released what they took. A static-band address is used:
    # dynamic allocation prefers the upper band, so no other test's Service holds it.
    assert created(client, ns, svc("last", clusterIP="10.0.0.13"))["spec"]["clusterIP"] \
        == "10.0.0.13"


def test_node_port_shared_by_same_port_number(client: httpx.Client) -> None:
    ns = _ns(client)
    spec = created(client, ns, svc("dns", type="NodePort", ports=[
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        {"name": "other", "port": 54, "protocol": "TCP"}]))["spec"]
    a, b, c = (p["nodePort"] for p in spec["ports"])
    assert a == b and c != a


def _spam(url: str, ns: str, count: int, spec: dict[str, Any]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:
            return await asyncio.gather(*(
                c.post(f"/api/v1/namespaces/{ns}/services", json=svc(f"s{i}", **spec))
                for i in range(count)))

    return asyncio.run(run())


def test_concurrent_creates_exhaust_small_ip_range(apiserver_factory: Any) -> None:
    server = apiserver_factory(extra_args=["--service-cluster-ip-range", "10.0.0.0/28"])
    with httpx.Client(base_url=server.url, timeout=30) as client:
        ns = _ns(client)
        results = _spam(server.url, ns, 200, {})
        ok = [r for r in results if r.status_code == 201]
        failed = [r for r in results if r.status_code != 201]
        ips = [r.json()["spec"]["clusterIP"] for r in ok]
        # 14 usable addresses, one taken by the kubernetes Service.
        assert len(ips) == 13 == len(set(ips))
        assert "10.0.0.1" not in ips
        for r in failed:
            assert r.status_code == 500, r.text
            assert r.json()["reason"] == "InternalError"
            assert r.json()["message"] == ("Internal error occurred: failed to allocate a "
                                           "serviceIP: range is full")
        for r in ok:
            name = r.json()["metadata"]["name"]
            assert client.delete(f"/api/v1/namespaces/{ns}/services/{name}").status_code == 200
        again = _spam(server.url, ns, 13, {})
        assert [r.status_code for r in again] == [201] * 13
        assert len({r.json()["spec"]["clusterIP"] for r in again}) == 13


def test_concurrent_failed_creates_release_their_ips(apiserver_factory: Any) -> None:
    # Creates allocate before they validate and write: those that fail give their IP
    # back, also when their allocations shared a map write with creates that succeeded.
    server = apiserver_factory(extra_args=["--service-cluster-ip-range", "10.0.0.0/28"])
    with httpx.Client(base_url=server.url, timeout=30) as client:
        ns = _ns(client)

        async def burst() -> list[httpx.Response]:
            # 12 creates, never more than the free addresses: none finds the range full.
            async with httpx.AsyncClient(base_url=server.url, timeout=60,
                                         limits=httpx.Limits(max_connections=50)) as c:
                path = f"/api/v1/namespaces/{ns}/services"
                return await asyncio.gather(
                    *(c.post(path, json=svc("same")) for _ in range(9)),
                    *(c.post(path, json=svc("bad", selector={"app": "-x-"}))
                      for _ in range(3)))

        first = asyncio.run(burst())
        assert sorted(r.status_code for r in first) == [201] + [409] * 8 + [422] * 3
        kept = next(r for r in first if r.status_code == 201).json()["spec"]["clusterIP"]
        for _ in range(3):
            again = asyncio.run(burst())
            assert sorted(r.status_code for r in again) == [409] * 9 + [422] * 3
        # 14 addresses: the kubernetes Service and "same" hold two, the rest is free.
        rest = _spam(server.url, ns, 12, {})
        assert [r.status_code for r in rest] == [201] * 12
        ips = {r.json()["spec"]["clusterIP"] for r in rest}
        assert len(ips) == 12 and kept not in ips
        full = create(client, ns, svc("one-more"))
        assert full.status_code == 500 and "range is full" in full.json()["message"]


def test_concurrent_creates_exhaust_small_port_range(apiserver_factory: Any) -> None:
    server = apiserver_factory(extra_args=["--service-node-port-range", "30000-30019"])
    with httpx.Client(base_url=server.url, timeout=30) as client:
        ns = _ns(client)
        results = _spam(server.url, ns, 200, {"type": "NodePort"})
        ok = [r for r in results if r.status_code == 201]
        ports = [r.json()["spec"]["ports"][0]["nodePort"] for r in ok]
        ips = [r.json()["spec"]["clusterIP"] for r in ok]
        assert len(ports) == 20 == len(set(ports)) and len(set(ips)) == 20
        assert set(ports) == set(range(30000, 30020))
        for r in results:
            if r.status_code != 201:
                assert r.status_code == 500
                assert r.json()["message"] == ("Internal error occurred: failed to allocate a "
                                               "nodePort: range is full")
        client.delete(f"/api/v1/namespaces/{ns}/services")  # deletecollection
        left = client.get(f"/api/v1/namespaces/{ns}/services").json()["items"]
        assert left == []
        again = _spam(server.url, ns, 20, {"type": "NodePort"})
        assert [r.status_code for r in again] == [201] * 20


def _rewrite_range(data_dir: Any, name: str, change: Any) -> None:
    """Offline, through the storage interface: rewrite one stored allocation map."""
    from apiserver.registry.service.allocator import decode_range, encode_range
    from apiserver.registry.service.bitmap import Bitmap
    from apiserver.storage.sqlite import SQLiteStorage

    async def run() -> None:
        storage = SQLiteStorage(data_dir / "kubemu.db")
        await storage.start()
        try:
            key = f"/registry/ranges/{name}"
            current = await storage.get(key)
            assert current is not None
            spec, bits = decode_range(current.value)
            await storage.update(key, encode_range(spec, Bitmap(1 << 16, 0, change(bits))),
                                 current.mod_revision)
        finally:
            await storage.close()

    asyncio.run(run())


def test_restart_keeps_allocations_and_repairs(apiserver_factory: Any) -> None:
    # Pinned to sqlite: the test rewrites the allocation document in the SQLite file.
    server: ApiServerProcess = apiserver_factory(
        "sqlite", extra_args=["--service-cluster-ip-range", "10.0.0.0/28"])
    with httpx.Client(base_url=server.url, timeout=10) as client:
        ns = _ns(client)
        kept = created(client, ns, svc("kept", type="NodePort"))["spec"]
    ip, port = kept["clusterIP"], kept["ports"][0]["nodePort"]
    server.restart()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        # Intact after a clean restart: both values are still taken.
        assert create(client, ns, svc("clash", clusterIP=ip)).status_code == 422
        r = create(client, ns, svc("clash", type="NodePort",
                                   ports=[{"port": 80, "nodePort": port}]))
        assert r.status_code == 422
    server.stop()
    ip_index = int(ipaddress.ip_address(ip)) - int(ipaddress.ip_address("10.0.0.1"))
    leaked_index = next(i for i in range(1, 14) if i != ip_index)
    # Forget the Service's IP and node port; mark an IP nobody holds.
    _rewrite_range(server.data_dir, "serviceips",
                   lambda bits: (bits & ~(1 << ip_index)) | (1 << leaked_index))
    _rewrite_range(server.data_dir, "servicenodeports", lambda bits: 0)
    server.start()
    leaked_ip = str(ipaddress.ip_address("10.0.0.1") + leaked_index)
    logs = server.logs()
    assert f"the cluster IP [IPv4]:{ip} for service kept/{ns} is not allocated; repairing" \
        in logs
    assert f"the node port {port} for service kept/{ns} is not allocated; repairing" in logs
    assert f"the cluster IP [IPv4]:{leaked_ip} appears to have leaked: cleaning up" in logs
    with httpx.Client(base_url=server.url, timeout=10) as client:
        r = create(client, ns, svc("clash", clusterIP=ip))
        assert r.status_code == 422, r.text
        r = create(client, ns, svc("clash2", type="NodePort",
                                   ports=[{"port": 80, "nodePort": port}]))
        assert r.status_code == 422, r.text
        assert created(client, ns, svc("free", clusterIP=leaked_ip))["spec"]["clusterIP"] \
            == leaked_ip


# -- validation ----------------------------------------------------------------------------

_INVALID = [
    (svc("Bad"), "metadata.name", "Invalid value: \"Bad\": a DNS-1035 label must consist of"),
    (svc("p", ports=[]), "spec.ports", "Required value"),
    (svc("p", ports=[{"port": 80}, {"port": 81}]), "spec.ports[0].name", "Required value"),
    (svc("p", ports=[{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]),
     "spec.ports[1].name", 'Duplicate value: "a"'),
    (svc("p", ports=[{"port": 0}]), "spec.ports[0].port",
     "Invalid value: 0: must be between 1 and 65535, inclusive"),
    (svc("p", ports=[{"port": 80, "protocol": "ICMP"}]), "spec.ports[0].protocol",
     'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'),
    (svc("p", ports=[{"port": 80, "targetPort": "http--x"}]), "spec.ports[0].targetPort",
     'Invalid value: "http--x": must not contain consecutive hyphens'),
    (svc("p", ports=[{"port": 80, "targetPort": "12345"}]), "spec.ports[0].targetPort",
     'Invalid value: "12345": must contain at least one letter (a-z)'),
    (svc("p", ports=[{"port": 80, "targetPort": 70000}]), "spec.ports[0].targetPort",
     "Invalid value: 70000: must be between 1 and 65535, inclusive"),
    (svc("p", ports=[{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]), "spec.ports[1]",
     'Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), '
     'Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'),
    # Upstream allocates before validating, so a repeated nodePort fails in the allocator.
    (svc("p", type="NodePort", ports=[{"port": 80, "name": "a", "nodePort": 30077},
                                      {"port": 81, "name": "b", "nodePort": 30077}]),
     "spec.ports[1].nodePort", "Invalid value: 30077: provided port is already allocated"),
    (svc("p", ports=[{"port": 80, "nodePort": 30001}]), "spec.ports[0].nodePort",
     "Forbidden: may not be used when `type` is 'ClusterIP'"),
    (svc("p", type="NodePort", clusterIP="None"), "spec.clusterIPs[0]",
     "Invalid value: \"None\": may not be set to 'None' for NodePort services"),
    (svc("p", type="ExternalName", ports=None), "spec.externalName", "Required value"),
    (svc("p", type="ExternalName", externalName="bad_name"), "spec.externalName",
     'Invalid value: "bad_name": a lowercase RFC 1123 subdomain must consist of'),
    (svc("p", type="ExternalName", externalName="x.com", clusterIP="10.0.0.9"),
     "spec.clusterIPs", "Forbidden: may not be set for ExternalName services"),
    (svc("p", type="NodePort", healthCheckNodePort=30005), "spec.healthCheckNodePort",
     "Invalid value: 30005: may only be set when `type` is 'LoadBalancer' and "
     "`externalTrafficPolicy` is 'Local'"),
    (svc("p", type="Weird"), "spec.type",
     'Unsupported value: "Weird": supported values: "ClusterIP", "ExternalName", '
     '"LoadBalancer", "NodePort"'),
    (svc("p", sessionAffinity="ClientIP",
         sessionAffinityConfig={"clientIP": {"timeoutSeconds": 90000}}),
     "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
     "Invalid value: 90000: must be greater than 0 and less than 86400"),
    (svc("p", ipFamilyPolicy="RequireDualStack"), "spec.ipFamilyPolicy",
     'Invalid value: "RequireDualStack": this cluster is not configured for dual-stack '
     "services"),
    (svc("p", externalTrafficPolicy="Local"), "spec.externalTrafficPolicy",
     'Invalid value: "Local": may only be set for externally-accessible services'),
]


@pytest.mark.parametrize(("body", "field", "message"), _INVALID)
def test_validation(client: httpx.Client, body: dict[str, Any], field: str, message: str) \
        -> None:
    ns = _ns(client) if body["metadata"]["name"] == "Bad" else "default"
    body = json.loads(json.dumps(body).replace('"p"', f'"{uuid.uuid4().hex[:6]}p"'))
    body["spec"] = {k: v for k, v in body["spec"].items() if v is not None}
    r = create(client, ns, body)
    assert r.status_code == 422, r.text
    assert r.json()["reason"] == "Invalid"
    found = causes(r)
    assert any(f == field and m.startswith(message) for f, m in found), found


def test_health_check_node_port_for_local_lb(client: httpx.Client) -> None:
    ns = _ns(client)
    spec = created(client, ns, svc("lbl", type="LoadBalancer",
                                   externalTrafficPolicy="Local"))["spec"]
    assert 30000 <= spec["healthCheckNodePort"] <= 32767
    assert spec["healthCheckNodePort"] != spec["ports"][0]["nodePort"]


# -- updates and transitions ----------------------------------------------------------------


def _put(client: httpx.Client, ns: str, obj: dict[str, Any]) -> httpx.Response:
    return client.put(f"/api/v1/namespaces/{ns}/services/{obj['metadata']['name']}", json=obj)


def test_cluster_ip_immutable(client: httpx.Client) -> None:
    ns = _ns(client)
    obj = created(client, ns, svc("imm"))
    ip = obj["spec"]["clusterIP"]
    other = "10.0.0.251" if ip != "10.0.0.251" else "10.0.0.252"
    obj["spec"]["clusterIP"] = other
    obj["spec"]["clusterIPs"] = [other]
    r = _put(client, ns, obj)
    assert r.status_code == 422
    assert ("spec.clusterIPs[0]", f'Invalid value: []string{{"{other}"}}: may not change once '
            "set") in causes(r)
    # PUT without clusterIP keeps the allocated one.
    obj["spec"].pop("clusterIP")
    obj["spec"].pop("clusterIPs")
    obj["metadata"].pop("resourceVersion")
    r = _put(client, ns, obj)
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["clusterIP"] == ip


def test_type_transitions_both_ways(client: httpx.Client) -> None:
    ns = _ns(client)
    url = f"/api/v1/namespaces/{ns}/services/tr"
    patch = {"content-type": "application/merge-patch+json"}
    obj = created(client, ns, svc("tr", type="LoadBalancer", externalTrafficPolicy="Local"))
    ip = obj["spec"]["clusterIP"]
    node_port = obj["spec"]["ports"][0]["nodePort"]
    hc = obj["spec"]["healthCheckNodePort"]
    # LoadBalancer -> ClusterIP: node ports, health check, LB-only fields dropped.
    r = client.patch(url, headers=patch, content=json.dumps({"spec": {"type": "ClusterIP"}}))
    assert r.status_code == 200, r.text
    spec = r.json()["spec"]
    assert "nodePort" not in spec["ports"][0]
    assert "healthCheckNodePort" not in spec and "externalTrafficPolicy" not in spec
    assert "allocateLoadBalancerNodePorts" not in spec
    assert spec["clusterIP"] == ip
    # The released node ports can be requested again.
    taken = created(client, ns, svc("np2", type="NodePort", ports=[
        {"port": 80, "name": "a", "nodePort": node_port},
        {"port": 81, "name": "b", "nodePort": hc}]))
    assert [p["nodePort"] for p in taken["spec"]["ports"]] == [node_port, hc]
    # ClusterIP -> ExternalName: the IP fields are wiped and the IP released.
    r = client.patch(url, headers=patch, content=json.dumps(
        {"spec": {"type": "ExternalName", "externalName": "example.com"}}))
    assert r.status_code == 200, r.text
    spec = r.json()["spec"]
    assert "clusterIP" not in spec and "ipFamilies" not in spec and "ipFamilyPolicy" not in spec
    assert created(client, ns, svc("reuse", clusterIP=ip))["spec"]["clusterIP"] == ip
    # ExternalName -> NodePort: a new IP and node port are allocated.
    r = client.patch(url, headers=patch, content=json.dumps(
        {"spec": {"type": "NodePort", "externalName": None}}))
    assert r.status_code == 200, r.text
    spec = r.json()["spec"]
    assert spec["clusterIP"] not in ("", ip) and spec["ports"][0]["nodePort"] >= 30000
    assert spec["externalTrafficPolicy"] == "Cluster"


def test_load_balancer_status_only_through_status(client: httpx.Client, kubectl: Any) -> None:
    ns = _ns(client)
    obj = created(client, ns, svc("lbs", type="LoadBalancer"))
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
    r = _put(client, ns, obj)
    assert r.status_code == 200 and r.json()["status"] == {"loadBalancer": {}}
    out = kubectl("get", "svc", "lbs", "-n", ns, "--no-headers").stdout
    assert "<pending>" in out
    r = client.put(f"/api/v1/namespaces/{ns}/services/lbs/status", json={
        **r.json(), "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}})
    assert r.status_code == 200, r.text
    assert r.json()["status"]["loadBalancer"]["ingress"] == [{"ip": "192.0.2.1",
                                                              "ipMode": "VIP"}]
    out = kubectl("get", "svc", "lbs", "-n", ns, "--no-headers").stdout
    assert "192.0.2.1" in out
    r = client.put(f"/api/v1/namespaces/{ns}/services/lbs/status", json={
        **r.json(), "status": {"loadBalancer": {"ingress": [{"ip": "nope"}]}}})
    assert r.status_code == 422
    assert causes(r)[0][0] == "status.loadBalancer.ingress[0].ip"


# -- kubectl ------------------------------------------------------------------------------------


def test_kubectl_get_svc_columns(client: httpx.Client, kubectl: Any) -> None:
    ns = _ns(client)
    c = created(client, ns, svc("c"))["spec"]
    n = created(client, ns, svc("n", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    h = created(client, ns, svc("h", clusterIP="None"))
    created(client, ns, svc("e", type="ExternalName", externalName="example.com", ports=None))
    assert n["spec"]["ports"][0]["nodePort"] == 30080 and h
    out = kubectl("get", "svc", "-n", ns).stdout.splitlines()
    assert out[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    rows = {line.split()[0]: line.split()[1:5] for line in out[1:]}
    assert rows["c"] == ["ClusterIP", c["clusterIP"], "<none>", "80/TCP"]
    assert rows["n"] == ["NodePort", n["spec"]["clusterIP"], "<none>", "80:30080/TCP"]
    assert rows["h"] == ["ClusterIP", "None", "<none>", "80/TCP"]
    assert rows["e"] == ["ExternalName", "<none>", "example.com", "<none>"]


def test_kubectl_expose(client: httpx.Client, kubectl: Any) -> None:
    ns = _ns(client)
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web", "labels": {"app": "web"}},
           "spec": {"containers": [{"name": "c", "image": "nginx",
                                    "ports": [{"containerPort": 8080}]}]}}
    assert client.post(f"/api/v1/namespaces/{ns}/pods", json=pod).status_code == 201
    r = kubectl("expose", "pod", "web", "-n", ns, "--port", "80", "--target-port", "8080")
    assert r.returncode == 0, r.stderr
    spec = client.get(f"/api/v1/namespaces/{ns}/services/web").json()["spec"]
    assert spec["selector"] == {"app": "web"}
    assert spec["ports"] == [{"protocol": "TCP", "port": 80, "targetPort": 8080}]
    r = kubectl("expose", "service", "web", "-n", ns, "--name", "web-np", "--type", "NodePort")
    assert r.returncode == 0, r.stderr
    spec = client.get(f"/api/v1/namespaces/{ns}/services/web-np").json()["spec"]
    assert spec["type"] == "NodePort" and spec["ports"][0]["nodePort"] >= 30000
    assert spec["selector"] == {"app": "web"}


def test_dual_stack_when_v6_range_configured(apiserver_factory: Any) -> None:
    server = apiserver_factory(extra_args=["--service-cluster-ip-range",
                                           "10.0.0.0/24,fd00:10::/108"])
    with httpx.Client(base_url=server.url, timeout=10) as client:
        ns = _ns(client)
        single = created(client, ns, svc("single"))["spec"]
        assert single["ipFamilies"] == ["IPv4"] and len(single["clusterIPs"]) == 1
        dual = created(client, ns, svc("dual", ipFamilyPolicy="PreferDualStack"))["spec"]
        assert dual["ipFamilies"] == ["IPv4", "IPv6"]
        v4, v6 = dual["clusterIPs"]
        assert dual["clusterIP"] == v4
        assert ipaddress.ip_address(v6) in ipaddress.ip_network("fd00:10::/108")
        six = created(client, ns, svc("six", ipFamilies=["IPv6"]))["spec"]
        assert six["ipFamilies"] == ["IPv6"] and ":" in six["clusterIP"]
        # Downgrade releases the secondary IP.
        r = client.patch(f"/api/v1/namespaces/{ns}/services/dual",
                         headers={"content-type": "application/merge-patch+json"},
                         content=json.dumps({"spec": {"ipFamilyPolicy": "SingleStack"}}))
        assert r.status_code == 200, r.text
        assert r.json()["spec"]["clusterIPs"] == [v4]
        again = created(client, ns, svc("again", ipFamilies=["IPv6"], clusterIP=v6))["spec"]
        assert again["clusterIP"] == v6
