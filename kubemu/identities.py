"""Who each kubemu component is: its client certificate and its kubeconfig.

Every process of ``kubemu up`` talks to the apiserver with a client certificate of
its own, named as upstream's components are, so the authorizer (RBAC and the Node
authorizer) sees each one separately:

=====================  ======================================  ===================
component              user (CN)                               groups (O)
=====================  ======================================  ===================
controller-manager     ``system:kube-controller-manager``
scheduler              ``system:kube-scheduler``
kube-proxy (all)       ``system:kube-proxy``
node-N                 ``system:node:node-N``                  ``system:nodes``
endpoints              ``system:kubemu:endpoints-controller``
service-lb             ``system:kubemu:service-lb``
dns                    ``system:kubemu:dns``
console                ``system:kubemu:console``
=====================  ======================================  ===================

The user's own kubeconfig is ``kubernetes-admin`` in ``system:masters`` (as kubeadm's
``admin.conf``). Component kubeconfigs live in ``<data-dir>/kubeconfigs/<name>.conf``
and refer to the certificate files; the user's embeds them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from pathlib import Path

from kubemu.addresses import Addresses
from kubemu.kubeconfig import Credentials, write_kubeconfig
from kubemu.pki import Pki

ENDPOINTS_USER = "system:kubemu:endpoints-controller"
SERVICE_LB_USER = "system:kubemu:service-lb"
DNS_USER = "system:kubemu:dns"
#: The web console: get/list/watch Namespaces, Services, EndpointSlices, Pods and Nodes
#: (ClusterRole ``system:kubemu:console``), nothing else.
CONSOLE_USER = "system:kubemu:console"
_FIXED: dict[str, tuple[str, tuple[str, ...]]] = {
    "controller-manager": ("system:kube-controller-manager", ()),
    "scheduler": ("system:kube-scheduler", ()),
    "kube-proxy": ("system:kube-proxy", ()),
    "endpoints": (ENDPOINTS_USER, ()),
    "service-lb": (SERVICE_LB_USER, ()),
    "dns": (DNS_USER, ()),
    "console": (CONSOLE_USER, ()),
}


def identity(name: str) -> tuple[str, tuple[str, ...]]:
    """``(user, groups)`` of identity ``name`` (a component, or ``node-N``)."""
    if name in _FIXED:
        return _FIXED[name]
    if name.startswith("node-"):
        return f"system:node:{name}", ("system:nodes",)
    raise KeyError(f"no identity for {name!r}")


def serving_addresses(bind: str, node_ips: Sequence[str], service_range: str,
                      replicas: Sequence[str] = ()) -> list[str]:
    """The IPs the serving certificate must name: the node IPs, the ``kubernetes``
    ClusterIP (the first address of ``service_range``), the balancer and replica
    addresses of several apiservers (``replicas``) and a specific bind address (each
    once)."""
    cluster_ip = str(next(ipaddress.ip_network(service_range).hosts()))
    addresses = [*node_ips, cluster_ip, *replicas]
    try:
        ip = ipaddress.ip_address(bind)
    except ValueError:
        return addresses
    if not ip.is_unspecified and str(ip) not in addresses:
        addresses.append(str(ip))
    return addresses


def replica_addresses(addresses: Addresses, apiservers: int) -> list[str]:
    """The balancer's and each replica's IP when ``apiservers`` > 1 (else none)."""
    if apiservers <= 1:
        return []
    return [addresses.apiserver_balancer_ip,
            *(addresses.apiserver_ip(i) for i in range(1, apiservers + 1))]


def identity_names(plan_names: list[str]) -> list[str]:
    """The identity of each planned component (every kube-proxy shares one)."""
    names: list[str] = []
    for name in plan_names:
        identity = "kube-proxy" if name.startswith("kube-proxy") else name
        # The apiservers, their balancer and etcd are no clients of the API.
        if identity.partition("-")[0] not in ("apiserver", "etcd") and identity not in names:
            names.append(identity)
    return names


def write_component_kubeconfigs(pki: Pki, directory: Path, server: str,
                                names: Iterable[str]) -> dict[str, Path]:
    """Make each identity's client certificate (once) and write its kubeconfig."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for name in names:
        user, groups = identity(name)
        pki.ensure_client(name, user, groups)
        credentials = Credentials(pki.ca_cert, pki.client_cert(name), pki.client_key(name),
                                  embed=False)
        out[name] = write_kubeconfig(directory / f"{name}.conf", server, name=name,
                                     credentials=credentials)
    return out


def admin_credentials(pki: Pki) -> Credentials:
    """The user's credentials: ``kubernetes-admin`` (``system:masters``), embedded."""
    return Credentials(pki.ca_cert, pki.client_cert("admin"), pki.client_key("admin"))
