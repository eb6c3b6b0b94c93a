"""The endpoints controller process against a real apiserver process.

Every test starts ``python -m controllers.endpoints`` as a subprocess pointed at
an apiserver subprocess and drives it only through the REST API (httpx, the
official client, kubectl), asserting what the controller wrote.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client, config

from tests.support.apiserver import ApiServerProcess
from tests.support.kubectl import Kubectl
from tests.support.process import ControllerFactory, Process

SLICES = "/apis/discovery.k8s.io/v1"


#: One controller subprocess (see :class:`tests.support.process.Process`).
Controller = Process


@pytest.fixture
def controller_factory(tmp_path: Path) -> Iterator[ControllerFactory]:
    factory = ControllerFactory("controllers.endpoints", tmp_path, "controller")
    try:
        yield factory
    finally:
        factory.stop_all()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Api:
    """Small httpx helpers for one namespace."""

    def __init__(self, server: ApiServerProcess, ns: str) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=10)
        self.ns = ns
        r = self.http.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
        assert r.status_code == 201, r.text

    def core(self, plural: str, name: str = "") -> str:
        return f"/api/v1/namespaces/{self.ns}/{plural}" + (f"/{name}" if name else "")

    def service(self, name: str, selector: dict[str, str] | None, ports: list[dict[str, Any]],
                **spec: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"metadata": {"name": name}, "spec": {"ports": ports, **spec}}
        if selector is not None:
            body["spec"]["selector"] = selector
        r = self.http.post(self.core("services"), json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def pod(self, name: str, ip: str, labels: dict[str, str], ready: bool = True,
            node: str | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {"containers": [{"name": "c", "image": "img", "ports": [
            {"name": "http", "containerPort": 8080}]}]}
        if node:
            spec["nodeName"] = node
        r = self.http.post(self.core("pods"), json={
            "metadata": {"name": name, "labels": labels}, "spec": spec})
        assert r.status_code == 201, r.text
        return self.set_ready(name, ready, ip)

    def set_ready(self, name: str, ready: bool, ip: str | None = None) -> dict[str, Any]:
        current = self.http.get(self.core("pods", name)).json()
        ip = ip or current["status"].get("podIP")
        current["status"] = {
            "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                            "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                time.gmtime())}],
        }
        r = self.http.put(self.core("pods", name) + "/status", json=current)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def delete(self, plural: str, name: str, grace: int | None = 0) -> None:
        body = None if grace is None else {"gracePeriodSeconds": grace}
        r = self.http.request("DELETE", self.core(plural, name), json=body)
        assert r.status_code in (200, 202), r.text

    def endpoints(self, name: str) -> dict[str, Any] | None:
        r = self.http.get(self.core("endpoints", name))
        return dict(r.json()) if r.status_code == 200 else None

    def slices(self, service: str) -> list[dict[str, Any]]:
        r = self.http.get(f"{SLICES}/namespaces/{self.ns}/endpointslices",
                          params={"labelSelector": f"kubernetes.io/service-name={service}"})
        assert r.status_code == 200, r.text
        return list(r.json()["items"])


def ips(ep: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """(ready IPs, not-ready IPs) of an Endpoints object."""
    ready: list[str] = []
    not_ready: list[str] = []
    for s in (ep or {}).get("subsets") or []:
        ready += [a["ip"] for a in s.get("addresses") or []]
        not_ready += [a["ip"] for a in s.get("notReadyAddresses") or []]
    return sorted(ready), sorted(not_ready)


def slice_ips(slices: list[dict[str, Any]]) -> dict[str, dict[str, bool]]:
    return {a: e["conditions"] for s in slices for e in s.get("endpoints") or []
            for a in e["addresses"]}


def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}: last={last!r}")


PORTS = [{"name": "web", "port": 80, "targetPort": "http"}]


def test_endpoints_follow_pods_selector_ports_and_service(
    apiserver: ApiServerProcess, controller_factory: Callable[..., Controller],
    kubectl: Kubectl,
) -> None:
    api = Api(apiserver, unique("epc"))
    controller_factory(apiserver)
    api.service("web", {"app": "web"}, PORTS)
    api.pod("a", "10.10.0.1", {"app": "web"})
    api.pod("b", "10.10.0.2", {"app": "web"}, ready=False)
    api.pod("c", "10.10.0.3", {"app": "other"})

    ep = eventually(lambda: (e := api.endpoints("web")) and
                    ips(e) == (["10.10.0.1"], ["10.10.0.2"]) and e, what="endpoints")
    [subset] = ep["subsets"]
    assert subset["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    assert subset["addresses"][0]["targetRef"]["name"] == "a"
    assert "endpoints.kubernetes.io/last-change-trigger-time" in ep["metadata"]["annotations"]
    sl = eventually(lambda: api.slices("web"), what="slice")
    assert sl[0]["metadata"]["generateName"] == "web-"
    assert sl[0]["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
        "endpointslice-controller.k8s.io"
    eventually(lambda: slice_ips(api.slices("web")).get("10.10.0.2") ==
               {"ready": False, "serving": False, "terminating": False})

    # Readiness follows /status writes.
    api.set_ready("b", True)
    api.set_ready("a", False)
    eventually(lambda: ips(api.endpoints("web")) == (["10.10.0.2"], ["10.10.0.1"]),
               what="readiness flip")

    # kubectl and the official client show the controller's output.
    out = kubectl("get", "endpoints", "web", "-n", api.ns, check=True).stdout
    assert "10.10.0.2:8080" in out
    out = kubectl("get", "endpointslices", "-n", api.ns, check=True).stdout
    assert "IPv4" in out and "8080" in out and "10.10.0.1,10.10.0.2" in out
    out = kubectl("describe", "svc", "web", "-n", api.ns, check=True).stdout
    assert "10.10.0.2:8080" in out, out
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(apiserver.kubeconfig),
                            client_configuration=configuration)
    with client.ApiClient(configuration) as api_client:
        official = client.CoreV1Api(api_client).read_namespaced_endpoints("web", api.ns)
        assert official.subsets[0].addresses[0].ip == "10.10.0.2"
        slices = client.DiscoveryV1Api(api_client).list_namespaced_endpoint_slice(api.ns)
        assert {e.addresses[0] for s in slices.items for e in s.endpoints} == \
            {"10.10.0.1", "10.10.0.2"}

    # Pod deletion.
    api.delete("pods", "a")
    eventually(lambda: ips(api.endpoints("web")) == (["10.10.0.2"], []), what="pod deletion")

    # Selector change.
    svc = api.http.get(api.core("services", "web")).json()
    svc["spec"]["selector"] = {"app": "other"}
    assert api.http.put(api.core("services", "web"), json=svc).status_code == 200
    eventually(lambda: ips(api.endpoints("web")) == (["10.10.0.3"], []), what="selector")
    eventually(lambda: set(slice_ips(api.slices("web"))) == {"10.10.0.3"})

    # Port change: a numeric targetPort.
    svc = api.http.get(api.core("services", "web")).json()
    svc["spec"]["ports"] = [{"name": "web", "port": 80, "targetPort": 9000, "protocol": "TCP"}]
    assert api.http.put(api.core("services", "web"), json=svc).status_code == 200
    eventually(lambda: ((api.endpoints("web") or {}).get("subsets") or [{}])[0].get("ports")
               == [{"name": "web", "port": 9000, "protocol": "TCP"}], what="port change")

    # Gone with the Service.
    api.delete("services", "web")
    eventually(lambda: api.endpoints("web") is None and not api.slices("web"),
               what="endpoints and slices removed")


def test_terminating_pod_and_mirroring(
    apiserver: ApiServerProcess, controller_factory: Callable[..., Controller]
) -> None:
    api = Api(apiserver, unique("term"))
    controller_factory(apiserver)
    api.service("web", {"app": "web"}, PORTS)
    api.pod("a", "10.11.0.1", {"app": "web"}, node="node-1")
    api.pod("b", "10.11.0.2", {"app": "web"}, node="node-1")
    eventually(lambda: ips(api.endpoints("web")) == (["10.11.0.1", "10.11.0.2"], []))
    api.delete("pods", "a", grace=None)  # graceful: the pod is terminating
    eventually(lambda: ips(api.endpoints("web")) == (["10.11.0.2"], []), what="terminating")
    eventually(lambda: slice_ips(api.slices("web")).get("10.11.0.1") ==
               {"ready": False, "serving": True, "terminating": True}, what="slice terminating")

    # A selector-less Service's hand-written Endpoints are mirrored.
    api.service("ext", None, [{"name": "db", "port": 5432}])
    r = api.http.post(api.core("endpoints"), json={
        "metadata": {"name": "ext"},
        "subsets": [{"addresses": [{"ip": "192.0.2.1"}],
                     "ports": [{"name": "db", "port": 5432, "protocol": "TCP"}]}]})
    assert r.status_code == 201, r.text
    mirrored = eventually(lambda: api.slices("ext"), what="mirrored slice")
    assert mirrored[0]["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
        "endpointslicemirroring-controller.k8s.io"
    assert slice_ips(mirrored) == {"192.0.2.1": {"ready": True}}
    time.sleep(0.3)
    assert ips(api.endpoints("ext")) == (["192.0.2.1"], []), "user Endpoints are left alone"


def test_kill_mid_churn_then_restart_converges(
    fresh_apiserver: ApiServerProcess, controller_factory: Callable[..., Controller]
) -> None:
    api = Api(fresh_apiserver, unique("churn"))
    # The killed leader cannot release its Lease: keep its expiry short for the restart.
    fast_lease = ("--leader-elect-lease-duration", "2s", "--leader-elect-renew-deadline",
                  "1500ms", "--leader-elect-retry-period", "500ms")
    first = controller_factory(fresh_apiserver, *fast_lease)
    for s in range(3):
        api.service(f"s{s}", {"svc": f"s{s}"}, PORTS)
    for i in range(12):
        api.pod(f"p{i}", f"10.12.0.{i + 1}", {"svc": f"s{i % 3}"})
    eventually(lambda: all(len(ips(api.endpoints(f"s{s}"))[0]) == 4 for s in range(3)))
    # Churn, and kill -9 in the middle of it.
    for i in range(6):
        api.set_ready(f"p{i}", False)
    first.kill()
    for i in range(6, 9):
        api.delete("pods", f"p{i}")
    api.delete("services", "s2")  # its Endpoints become an orphan
    api.pod("late", "10.12.1.1", {"svc": "s0"})
    controller_factory(fresh_apiserver, *fast_lease)

    def converged() -> bool:
        s0, s1 = ips(api.endpoints("s0")), ips(api.endpoints("s1"))
        return (
            s0 == (["10.12.0.10", "10.12.1.1"], ["10.12.0.1", "10.12.0.4"])
            and s1 == (["10.12.0.11"], ["10.12.0.2", "10.12.0.5"])
            and api.endpoints("s2") is None
            and not api.slices("s2")
        )

    eventually(converged, timeout=15, what="convergence after restart")


def test_forced_410_relists_without_losing_a_deletion(
    apiserver_factory: Callable[..., ApiServerProcess],
    controller_factory: Callable[..., Controller],
) -> None:
    server = apiserver_factory(extra_args=["--watch-cache-size", "5"])
    api = Api(server, unique("gone"))
    ctrl = controller_factory(server, "--watch-timeout", "1", "1")
    api.service("web", {"app": "web"}, PORTS)
    api.pod("a", "10.13.0.1", {"app": "web"})
    api.pod("b", "10.13.0.2", {"app": "web"})
    eventually(lambda: ips(api.endpoints("web")) == (["10.13.0.1", "10.13.0.2"], []))
    # Freeze the controller so its watches end (1 s timeout) and are not renewed; then
    # push more pod events than the 5-event window holds, the deletion first.
    ctrl.signal(signal.SIGSTOP)
    try:
        time.sleep(1.5)
        api.delete("pods", "a")
        for i in range(6):
            r = api.http.post(api.core("pods"), json={
                "metadata": {"name": f"filler{i}", "labels": {"app": "filler"}},
                "spec": {"containers": [{"name": "c", "image": "img"}]}})
            assert r.status_code == 201
    finally:
        ctrl.signal(signal.SIGCONT)
    eventually(lambda: ips(api.endpoints("web")) == (["10.13.0.2"], []), timeout=15,
               what="deletion seen through relist")
    eventually(lambda: set(slice_ips(api.slices("web"))) == {"10.13.0.2"})
    assert "watch expired" in ctrl.logs()
