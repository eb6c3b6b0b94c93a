"""The cluster DNS add-on of ``kubemu up``: its process, its port and its Service.

``kubemu up`` runs ``python -m controllers.dns`` on the instance's DNS server address
(:attr:`~kubemu.addresses.Addresses.dns_server_ip`, ``127.B.2.53``) as its own identity,
and publishes it as kubeadm publishes CoreDNS: the Service ``kube-system/kube-dns``
(labels ``k8s-app: kube-dns``, ``kubernetes.io/cluster-service: "true"``,
``kubernetes.io/name: CoreDNS``) on the tenth address of the service range with the ports
``dns`` (UDP), ``dns-tcp`` (TCP) and ``metrics`` (9153/TCP). The DNS process is no pod, so
the Service has no selector: :func:`publish` writes its Endpoints (labelled
``endpointslice.kubernetes.io/skip-mirror``) and its EndpointSlice itself, both pointing at
the DNS process, and node 1's kube-proxy carries ``dig @<ClusterIP>`` to it over UDP and
TCP. :func:`publish` runs at every start and corrects what differs, as the apiserver does
for ``default/kubernetes``.

Port 53 needs root (or ``CAP_NET_BIND_SERVICE``) for the DNS process and for the
kube-proxy binding the ClusterIP; :func:`choose_port` takes 53 when this process may bind
it, else :data:`UNPRIVILEGED_PORT` (kube-dns's old port) and says why. The node agents are
told the cluster DNS address (``--cluster-dns``, ``--cluster-domain``) only on port 53: a
``resolv.conf`` cannot name a port.
"""

from __future__ import annotations

import socket
import ssl
from typing import TYPE_CHECKING, Any

import httpx

from kubemu.addresses import DNS_METRICS_PORT, Addresses

if TYPE_CHECKING:
    from kubemu.components import LaunchContext

__all__ = ["CLUSTER_DOMAIN", "DNS_PORT", "NAMESPACE", "SERVICE", "UNPRIVILEGED_PORT",
           "choose_port", "dns_args", "how_to_query", "manifests", "publish", "publish_manifests",
           "ready_url", "service_manifests"]

CLUSTER_DOMAIN = "cluster.local"
NAMESPACE = "kube-system"
SERVICE = "kube-dns"
DNS_PORT = 53
#: The port without privileges (kube-dns's own port behind its dnsmasq).
UNPRIVILEGED_PORT = 10053
_MANAGED_BY = "kubemu-up"


def choose_port(address: str, requested: int | None) -> tuple[int, str | None]:
    """The DNS port and, when it is not the one asked for or 53, why.

    ``requested`` (``kubemu up --dns-port``) is taken as given; without it, 53 when a UDP
    socket may bind ``address:53`` here, else :data:`UNPRIVILEGED_PORT`."""
    if requested is not None:
        return requested, None
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind((address, DNS_PORT))
    except PermissionError:
        return UNPRIVILEGED_PORT, (
            f"cluster DNS: port {DNS_PORT} needs root or CAP_NET_BIND_SERVICE; serving on "
            f"port {UNPRIVILEGED_PORT} instead (choose with --dns-port); pods keep the "
            "host's resolv.conf, which cannot name a port")
    except OSError:
        pass  # in use: the DNS process reports it when it starts
    finally:
        probe.close()
    return DNS_PORT, None


def dns_args(ctx: LaunchContext) -> list[str]:
    """Command line of the DNS process: UDP and TCP on the DNS server address, ``/readyz``
    and ``/metrics`` on its port 9153."""
    address = ctx.addresses.dns_server_ip
    return [ctx.python, "-m", "controllers.dns", "--kubeconfig", str(ctx.kubeconfig_for("dns")),
            "--cluster-domain", CLUSTER_DOMAIN, "--dns-address", address,
            "--dns-port", str(ctx.dns_port or DNS_PORT),
            "--metrics-bind-address", f"{address}:{DNS_METRICS_PORT}"]


def ready_url(ctx: LaunchContext) -> str:
    """The DNS process's readiness endpoint (200 once its caches synced)."""
    return f"http://{ctx.addresses.dns_server_ip}:{DNS_METRICS_PORT}/readyz"


def how_to_query(addresses: Addresses, port: int) -> str:
    """The ``dig`` command line asking the cluster DNS for the ``web`` Service."""
    return f"dig @{addresses.dns_ip} -p {port} web.default.svc.{CLUSTER_DOMAIN}"


def _ports(port: int) -> list[dict[str, Any]]:
    return [{"name": "dns", "port": port, "protocol": "UDP"},
            {"name": "dns-tcp", "port": port, "protocol": "TCP"},
            {"name": "metrics", "port": DNS_METRICS_PORT, "protocol": "TCP"}]


def manifests(addresses: Addresses, port: int) -> list[dict[str, Any]]:
    """The ``kube-dns`` Service (no selector), its Endpoints and its EndpointSlice."""
    return service_manifests(addresses.dns_ip, addresses.dns_server_ip, port)


def service_manifests(cluster_ip: str, server: str, port: int) -> list[dict[str, Any]]:
    """The ``kube-dns`` Service on ``cluster_ip``, its Endpoints and its EndpointSlice, both
    naming the DNS process on ``server`` (its ``port`` and :data:`DNS_METRICS_PORT`)."""
    meta = {"name": SERVICE, "namespace": NAMESPACE}
    ports = _ports(port)
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {**meta, "labels": {"k8s-app": "kube-dns",
                                        "kubernetes.io/cluster-service": "true",
                                        "kubernetes.io/name": "CoreDNS"},
                     "annotations": {"prometheus.io/port": str(DNS_METRICS_PORT),
                                     "prometheus.io/scrape": "true"}},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip,
                 "clusterIPs": [cluster_ip],
                 "ports": [{**p, "targetPort": p["port"]} for p in ports]},
    }
    endpoints = {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {**meta, "labels": {"k8s-app": "kube-dns",
                                        "endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": server}], "ports": ports}],
    }
    endpoint_slice = {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {**meta, "labels": {"k8s-app": "kube-dns",
                                        "kubernetes.io/service-name": SERVICE,
                                        "endpointslice.kubernetes.io/managed-by": _MANAGED_BY}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [server], "conditions": {"ready": True}}],
        "ports": ports,
    }
    return [service, endpoints, endpoint_slice]


#: The fields :func:`publish` keeps as it wants them, per kind.
_OWNED = {"Service": ("spec",), "Endpoints": ("subsets",),
          "EndpointSlice": ("addressType", "endpoints", "ports")}


def _path(obj: dict[str, Any]) -> str:
    group = "/api/v1" if obj["apiVersion"] == "v1" else f"/apis/{obj['apiVersion']}"
    plural = {"Service": "services", "Endpoints": "endpoints",
              "EndpointSlice": "endpointslices"}[obj["kind"]]
    return f"{group}/namespaces/{NAMESPACE}/{plural}"


def _differs(current: dict[str, Any], desired: dict[str, Any]) -> bool:
    for name in _OWNED[desired["kind"]]:
        want, have = desired[name], current.get(name)
        if isinstance(want, dict) and isinstance(have, dict):
            if any(have.get(k) != v for k, v in want.items()):
                return True
        elif have != want:
            return True
    labels = current["metadata"].get("labels") or {}
    return any(labels.get(k) != v for k, v in desired["metadata"]["labels"].items())


def _ensure(client: httpx.Client, desired: dict[str, Any]) -> None:
    collection = _path(desired)
    for _attempt in range(5):
        got = client.get(f"{collection}/{SERVICE}")
        if got.status_code == 404:
            created = client.post(collection, json=desired)
            if created.status_code != 409:
                created.raise_for_status()
                return
            continue
        got.raise_for_status()
        current: dict[str, Any] = got.json()
        if not _differs(current, desired):
            return
        for name in _OWNED[desired["kind"]]:
            want = desired[name]
            current[name] = ({**current.get(name, {}), **want} if isinstance(want, dict)
                             else want)
        current["metadata"]["labels"] = {**(current["metadata"].get("labels") or {}),
                                         **desired["metadata"]["labels"]}
        updated = client.put(f"{collection}/{SERVICE}", json=current)
        if updated.status_code != 409:
            updated.raise_for_status()
            return
    raise httpx.HTTPError(f"{collection}/{SERVICE}: conflicting writes")


def publish(server_url: str, addresses: Addresses, port: int,
            verify: ssl.SSLContext | bool) -> None:
    """Create or correct the ``kube-dns`` Service, Endpoints and EndpointSlice (as the
    admin: ``verify`` carries its client certificate). Raises httpx.HTTPError (an
    HTTPStatusError carries the apiserver's Status)."""
    publish_manifests(server_url, manifests(addresses, port), verify)


def publish_manifests(server_url: str, desired: list[dict[str, Any]],
                      verify: ssl.SSLContext | bool,
                      headers: dict[str, str] | None = None) -> None:
    """Create or correct each object of ``desired`` (:func:`service_manifests`); raises
    httpx.HTTPError as :func:`publish` does."""
    with httpx.Client(base_url=server_url, timeout=10.0, verify=verify,
                      headers=headers) as client:
        for obj in desired:
            _ensure(client, obj)
