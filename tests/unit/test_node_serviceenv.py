"""The kubelet's Service variables: which Services a container learns about, and their names."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from controllers.node import podenv
from controllers.node.serviceenv import from_services, service_env


def _svc(name: str, namespace: str, ip: str, *ports: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterIP": ip, "ports": list(ports)}}


KUBERNETES = _svc("kubernetes", "default", "10.96.0.1",
                  {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443})


def test_one_port_gives_upstreams_variables_in_upstreams_order() -> None:
    assert from_services([KUBERNETES]) == [
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("KUBERNETES_SERVICE_PORT", "443"),
        ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
        ("KUBERNETES_PORT", "tcp://10.96.0.1:443"),
        ("KUBERNETES_PORT_443_TCP", "tcp://10.96.0.1:443"),
        ("KUBERNETES_PORT_443_TCP_PROTO", "tcp"),
        ("KUBERNETES_PORT_443_TCP_PORT", "443"),
        ("KUBERNETES_PORT_443_TCP_ADDR", "10.96.0.1"),
    ]


def test_dashes_become_underscores_and_every_port_and_protocol_is_there() -> None:
    svc = _svc("my-web-app", "shop", "10.96.3.4",
               {"port": 80},  # the first port may be unnamed; protocol defaults to TCP
               {"name": "metrics-port", "port": 9090, "protocol": "TCP"},
               {"name": "dns", "port": 53, "protocol": "UDP"})
    env = dict(from_services([svc]))
    assert env["MY_WEB_APP_SERVICE_HOST"] == "10.96.3.4"
    assert env["MY_WEB_APP_SERVICE_PORT"] == "80"
    assert env["MY_WEB_APP_SERVICE_PORT_METRICS_PORT"] == "9090"
    assert env["MY_WEB_APP_SERVICE_PORT_DNS"] == "53"
    assert env["MY_WEB_APP_PORT"] == "tcp://10.96.3.4:80"  # the first port's
    assert env["MY_WEB_APP_PORT_9090_TCP"] == "tcp://10.96.3.4:9090"
    assert env["MY_WEB_APP_PORT_53_UDP"] == "udp://10.96.3.4:53"
    assert env["MY_WEB_APP_PORT_53_UDP_PROTO"] == "udp"
    assert env["MY_WEB_APP_PORT_53_UDP_PORT"] == "53"
    assert env["MY_WEB_APP_PORT_53_UDP_ADDR"] == "10.96.3.4"
    assert len(env) == 4 + 1 + 3 * 4  # host, 3 ports, the first port's URL, 4 per port
    ipv6 = dict(from_services([_svc("v6", "shop", "fd00::a", {"port": 80})]))
    assert ipv6["V6_PORT"] == ipv6["V6_PORT_80_TCP"] == "tcp://[fd00::a]:80"
    assert ipv6["V6_PORT_80_TCP_ADDR"] == "fd00::a"


def test_the_pods_namespace_and_default_kubernetes_only_with_a_cluster_ip() -> None:
    services = [
        KUBERNETES,
        _svc("web", "shop", "10.96.0.20", {"port": 80}),
        _svc("db", "other", "10.96.0.30", {"port": 5432}),
        _svc("headless", "shop", "None", {"port": 80}),
        {"metadata": {"name": "ext", "namespace": "shop"},
         "spec": {"type": "ExternalName", "externalName": "example.com"}},
        _svc("api", "default", "10.96.0.40", {"port": 8080}),
    ]
    env = service_env(services, "shop")
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert env["WEB_SERVICE_HOST"] == "10.96.0.20"
    assert not any(k.startswith(("DB_", "HEADLESS_", "EXT_", "API_")) for k in env)
    assert service_env(services, "default")["API_SERVICE_PORT"] == "8080"


def test_enable_service_links_false_leaves_only_the_kubernetes_service() -> None:
    services = [KUBERNETES, _svc("web", "shop", "10.96.0.20", {"port": 80})]
    env = service_env(services, "shop", enable_service_links=False)
    assert set(env) == {k for k, _ in from_services([KUBERNETES])}


def test_a_kubernetes_service_of_the_pods_namespace_wins() -> None:
    own = _svc("kubernetes", "shop", "10.96.0.99", {"port": 80})
    for order in ([KUBERNETES, own], [own, KUBERNETES]):
        assert service_env(order, "shop")["KUBERNETES_SERVICE_HOST"] == "10.96.0.99"
        assert service_env(order, "shop", False)["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"


async def _no_objects(_kind: str, _namespace: str, _name: str) -> Mapping[str, Any] | None:
    return None


def test_the_containers_own_variables_win_and_may_name_service_variables() -> None:
    pod = {"metadata": {"name": "p", "namespace": "shop"}, "spec": {}}
    container = {"env": [
        {"name": "WEB_SERVICE_PORT", "value": "8080"},
        {"name": "API", "value": "https://$(KUBERNETES_SERVICE_HOST):$(WEB_SERVICE_PORT)"},
    ]}
    services = service_env([KUBERNETES, _svc("web", "shop", "10.96.0.20", {"port": 80})],
                           "shop")
    env = asyncio.run(podenv.container_env(pod, container, _no_objects, "", services))
    assert env["WEB_SERVICE_PORT"] == "8080"
    assert env["API"] == "https://10.96.0.1:8080"
    assert env["WEB_SERVICE_HOST"] == "10.96.0.20"
    assert env["KUBERNETES_PORT_443_TCP_ADDR"] == "10.96.0.1"
    names = list(env)  # the container's own come first, then the Services'
    assert names.index("API") < names.index("WEB_SERVICE_HOST")
