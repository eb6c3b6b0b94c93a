"""The service-lb controller process against a real apiserver process.

Each test starts ``python -m controllers.servicelb`` as a subprocess and drives it
only through the REST API (httpx) and kubectl. Tests on the shared session
apiserver give their controller a unique ``--load-balancer-class`` so it never
touches other tests' LoadBalancer Services; the default-class behaviour runs on
a private apiserver.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.apiserver import ApiServerProcess
from tests.support.kubectl import Kubectl
from tests.support.process import ControllerFactory, Process

TIMEOUT = 10.0


#: One controller subprocess (see :class:`tests.support.process.Process`).
Controller = Process


@pytest.fixture
def controller_factory(tmp_path: Path) -> Iterator[ControllerFactory]:
    factory = ControllerFactory("controllers.servicelb", tmp_path, "servicelb")
    try:
        yield factory
    finally:
        factory.stop_all()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Api:
    """httpx helpers for one fresh namespace."""

    def __init__(self, server: ApiServerProcess, ns: str | None = None) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=10)
        self.ns = ns or unique("slb")
        r = self.http.post("/api/v1/namespaces", json={"metadata": {"name": self.ns}})
        assert r.status_code == 201, r.text

    def path(self, plural: str, name: str = "") -> str:
        return f"/api/v1/namespaces/{self.ns}/{plural}" + (f"/{name}" if name else "")

    def lb(self, name: str, cls: str | None = None, type_: str = "LoadBalancer",
           annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "metadata": {"name": name, "annotations": annotations or {}},
            "spec": {"type": type_, "ports": [{"port": 80, "protocol": "TCP"}], **spec},
        }
        if cls is not None:
            body["spec"]["loadBalancerClass"] = cls
        r = self.http.post(self.path("services"), json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def get(self, name: str) -> dict[str, Any]:
        r = self.http.get(self.path("services", name))
        assert r.status_code == 200, r.text
        return dict(r.json())

    def ingress(self, name: str) -> list[dict[str, Any]]:
        return list(self.get(name)["status"].get("loadBalancer", {}).get("ingress") or [])

    def delete(self, name: str) -> None:
        r = self.http.delete(self.path("services", name))
        assert r.status_code == 200, r.text

    def wait_ip(self, name: str, controller: Controller | None = None) -> str:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            ingress = self.ingress(name)
            if ingress:
                assert ingress == [{"ip": ingress[0]["ip"], "ipMode": "VIP"}], ingress
                return str(ingress[0]["ip"])
            time.sleep(0.05)
        logs = controller.logs() if controller else ""
        raise AssertionError(f"{self.ns}/{name} got no ingress IP\n{logs}")

    def events(self, name: str) -> list[dict[str, Any]]:
        r = self.http.get(self.path("events"),
                          params={"fieldSelector": f"involvedObject.name={name}"})
        assert r.status_code == 200, r.text
        return list(r.json()["items"])

    def wait_event(self, name: str, reason: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for event in self.events(name):
                if event["reason"] == reason:
                    return event
            time.sleep(0.05)
        raise AssertionError(f"no {reason} event for {name}: {self.events(name)}")


def test_default_class_assigns_releases_and_kubectl_shows_it(
    fresh_apiserver: ApiServerProcess, controller_factory: Callable[..., Controller],
    kubectl: Kubectl,
) -> None:
    api = Api(fresh_apiserver)
    api.lb("other", cls="example.com/other-lb")
    api.lb("plain", type_="ClusterIP")
    ctl = controller_factory(fresh_apiserver, "--address-pool", "127.240.7.10-127.240.7.20")
    api.lb("web")
    assert api.wait_ip("web", ctl) == "127.240.7.10"

    # kubectl shows the ingress IP as EXTERNAL-IP; the other class stays <pending>.
    out = kubectl("get", "svc", "-n", api.ns, kubeconfig=fresh_apiserver, check=True)
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:]}
    assert rows["web"][1:4:2] == ["LoadBalancer", "127.240.7.10"], out.stdout
    assert rows["other"][1:4:2] == ["LoadBalancer", "<pending>"], out.stdout
    assert rows["plain"][3] == "<none>", out.stdout

    # A later Service is handled, so the other class was seen and left alone on purpose.
    api.lb("second")
    assert api.wait_ip("second", ctl) == "127.240.7.11"
    assert api.ingress("other") == [] and api.ingress("plain") == []
    assert api.events("other") == []
    allocated = api.wait_event("web", "IPAllocated")
    assert allocated["type"] == "Normal" and allocated["source"]["component"] == "service-lb"

    # Deleting releases the IP: the next Service gets it (lowest free address).
    api.delete("web")
    api.lb("third")
    assert api.wait_ip("third", ctl) == "127.240.7.10"

    # Leaving type LoadBalancer releases too (the apiserver clears the status).
    svc = api.get("second")
    svc["spec"]["type"] = "ClusterIP"
    r = api.http.put(api.path("services", "second"), json=svc)
    assert r.status_code == 200, r.text
    assert r.json()["status"]["loadBalancer"] == {}
    api.lb("fourth")
    assert api.wait_ip("fourth", ctl) == "127.240.7.11"
    assert api.ingress("second") == []


def test_restart_keeps_ips_and_new_services_get_distinct_ones(
    apiserver: ApiServerProcess, controller_factory: Callable[..., Controller]
) -> None:
    api = Api(apiserver)
    cls = f"kubemu.test/{api.ns}"
    pool = ["--address-pool", "127.240.8.1-127.240.8.8", "--load-balancer-class", cls]
    ctl = controller_factory(apiserver, *pool)
    for name in ("a", "b", "c"):
        api.lb(name, cls=cls)
    before = {name: api.wait_ip(name, ctl) for name in ("a", "b", "c")}
    assert sorted(before.values()) == ["127.240.8.1", "127.240.8.2", "127.240.8.3"]

    ctl.kill()
    api.delete("a")  # deleted while the controller is down
    api.lb("d", cls=cls)  # created while the controller is down
    ctl2 = controller_factory(apiserver, *pool)
    ip_d = api.wait_ip("d", ctl2)
    api.lb("e", cls=cls)
    ip_e = api.wait_ip("e", ctl2)
    after = {name: api.wait_ip(name, ctl2) for name in ("b", "c")}
    assert after == {"b": before["b"], "c": before["c"]}
    assert len({ip_d, ip_e, *after.values()}) == 4
    # "a"'s address was free again, so the lowest-free allocation reuses it.
    assert ip_d == before["a"]
    assert "adopted 2 assigned addresses" in ctl2.logs()


def test_exhausted_pool_leaves_pending_with_a_warning_event(
    apiserver: ApiServerProcess, controller_factory: Callable[..., Controller],
    kubectl: Kubectl,
) -> None:
    api = Api(apiserver)
    cls = f"kubemu.test/{api.ns}"
    ctl = controller_factory(apiserver, "--address-pool", "127.240.9.1-127.240.9.2",
                             "--load-balancer-class", cls)
    api.lb("no-class")  # default class: not this controller's
    for name in ("one", "two", "three"):
        api.lb(name, cls=cls)
        if name != "three":
            api.wait_ip(name, ctl)
    event = api.wait_event("three", "AllocationFailed")
    three = api.get("three")
    assert event["type"] == "Warning"
    assert event["source"]["component"] == "service-lb"
    assert event["message"] == f'Failed to allocate IP for "{api.ns}/three": no available IPs'
    assert {k: event["involvedObject"][k] for k in ("kind", "namespace", "name", "uid")} == {
        "kind": "Service", "namespace": api.ns, "name": "three",
        "uid": three["metadata"]["uid"]}
    assert api.ingress("three") == [] and api.ingress("no-class") == []
    out = kubectl("get", "svc", "three", "-n", api.ns, check=True)
    assert out.stdout.splitlines()[1].split()[3] == "<pending>"
    ev = kubectl("get", "events", "-n", api.ns, "--field-selector",
                 "involvedObject.name=three", check=True)
    assert "AllocationFailed" in ev.stdout and "no available IPs" in ev.stdout

    # Freeing an address hands it to the pending Service.
    freed = api.wait_ip("one", ctl)
    api.delete("one")
    assert api.wait_ip("three", ctl) == freed
    assert api.ingress("no-class") == []


def test_requested_addresses(
    apiserver: ApiServerProcess, controller_factory: Callable[..., Controller]
) -> None:
    api = Api(apiserver)
    cls = f"kubemu.test/{api.ns}"
    ctl = controller_factory(apiserver, "--address-pool", "127.240.10.0/29,127.240.11.5",
                             "--load-balancer-class", cls)
    api.lb("by-spec", cls=cls, loadBalancerIP="127.240.10.6")
    api.lb("by-annotation", cls=cls,
           annotations={"metallb.universe.tf/loadBalancerIPs": "127.240.11.5"})
    assert api.wait_ip("by-spec", ctl) == "127.240.10.6"
    assert api.wait_ip("by-annotation", ctl) == "127.240.11.5"
    api.lb("taken", cls=cls, loadBalancerIP="127.240.10.6")
    api.lb("outside", cls=cls, loadBalancerIP="127.241.0.1")
    taken = api.wait_event("taken", "AllocationFailed")
    outside = api.wait_event("outside", "AllocationFailed")
    assert "already in use" in taken["message"]
    assert "is not allowed in config" in outside["message"]
    assert api.ingress("taken") == [] and api.ingress("outside") == []
    api.lb("free", cls=cls)
    assert api.wait_ip("free", ctl) == "127.240.10.1"  # never the network address


def test_leader_election_standby_takes_over_without_reassigning(
    apiserver: ApiServerProcess, controller_factory: Callable[..., Controller]
) -> None:
    api = Api(apiserver)
    cls = f"kubemu.test/{api.ns}"
    args = ["--address-pool", "127.240.12.1-127.240.12.8", "--load-balancer-class", cls,
            "--leader-elect", "--leader-elect-resource-name", f"service-lb-{api.ns}",
            "--leader-elect-lease-duration", "1s", "--leader-elect-renew-deadline", "800ms",
            "--leader-elect-retry-period", "100ms"]
    replicas = [controller_factory(apiserver, *args), controller_factory(apiserver, *args)]
    api.lb("a", cls=cls)
    ip_a = api.wait_ip("a", replicas[0])
    lease = api.http.get(f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"
                         f"service-lb-{api.ns}")
    assert lease.status_code == 200, lease.text
    holder = lease.json()["spec"]["holderIdentity"]
    deadline = time.monotonic() + TIMEOUT
    while not all("leader election identity" in r.logs() for r in replicas):
        assert time.monotonic() < deadline, [r.logs() for r in replicas]
        time.sleep(0.05)
    (leader,) = [r for r in replicas if f"leader election identity {holder}," in r.logs()]
    (standby,) = [r for r in replicas if r is not leader]
    assert "assigned" not in standby.logs()

    leader.kill()
    api.lb("b", cls=cls)
    ip_b = api.wait_ip("b", standby)  # after the standby took the expired lease over
    assert ip_b != ip_a and api.wait_ip("a", standby) == ip_a
    assert "adopted 1 assigned addresses" in standby.logs()
