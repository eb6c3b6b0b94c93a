"""Each kubemu instance its own loopback addresses: a /16 block of 127.0.0.0/8.

Every address of 127.0.0.0/8 is local on Linux, so a kubemu instance can give
its nodes, pods, Services and load balancers real, bindable addresses without
privileges. Two instances on one machine must not share any of them (a pod of
one would answer for a pod of the other), so each instance owns a *block*
``127.B.0.0/16`` (``B`` in 1-254, minus :data:`RESERVED_INDEXES`) laid out as:

==================  ===================  ===========================================
range               default              used for
==================  ===================  ===========================================
node IPs            ``127.B.0.0/24``     node N is ``127.B.0.N``: NodePorts, kube-proxy
                                         ``/healthz`` (``:10256``) and ``/metrics``
                                         (``:10249``), the kubelet API (``:10250``)
load-balancer pool  ``127.B.1.0/24``     service-lb hands out ``.1``-``.254``
control address     ``127.B.2.1``        the instance's own servers (etcd ``:2379``,
                                         ``:2380``, the web console ``:9090``)
HA control plane    ``127.B.2.11``-      etcd member N of ``--etcd-members`` is
                    ``127.B.2.29``       ``127.B.2.(10+N)`` (``:2379``, ``:2380``); the
                                         apiserver balancer is ``127.B.2.20``, apiserver
                                         replica N of ``--apiservers`` ``127.B.2.(20+N)``
DNS server          ``127.B.2.53``       the cluster DNS process (``:53`` UDP and TCP,
                                         ``/metrics`` on ``:9153``), the endpoint of the
                                         ``kube-dns`` Service
service range       ``127.B.64.0/18``    ClusterIPs; ``kubernetes`` is ``127.B.64.1``,
                                         the cluster DNS address ``127.B.64.10``
cluster CIDR        ``127.B.128.0/17``   node N's pod CIDR is its N-th /24:
                                         ``127.B.(127+N).0/24``
==================  ===================  ===========================================

:class:`Addresses` is that plan (pure; each range may be overridden), and
``<data-dir>/addresses.json`` its record (:func:`record`, :func:`load`,
:func:`recorded_block`). Taking a block so that no other instance uses it is
:mod:`kubemu.blocks`' job.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address

#: Second octets never handed out: 0 holds 127.0.0.1 (and Debian's 127.0.1.1);
#: 96, 240 and 244 were kubemu's fixed service, load-balancer and pod ranges, so
#: an older kubemu or a hand-written flag may still use them; 255 holds the
#: broadcast address of 127.0.0.0/8.
RESERVED_INDEXES = frozenset({0, 96, 240, 244, 255})

#: The file in a data directory that records its block.
RECORD_FILE = "addresses.json"

#: Ports on a node IP (upstream kube-proxy's and the kubelet's) and on the control address
#: (etcd's).
KUBELET_PORT = 10250
PROXY_HEALTHZ_PORT = 10256
PROXY_METRICS_PORT = 10249
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
#: CoreDNS's metrics port (the ``metrics`` port of kubeadm's ``kube-dns`` Service).
DNS_METRICS_PORT = 9153
#: The web console's port on the control address (the Kubernetes Dashboard's HTTP port).
CONSOLE_PORT = 9090

#: Most etcd members and apiserver replicas an instance gives addresses to.
MAX_REPLICAS = 9

#: How long :func:`reserve` waits for listeners on a *recorded* block to go away
#: (the children of a killed predecessor get SIGTERM and exit on their own).
SETTLE_SECONDS = 5.0


def block_network(index: int) -> IPv4Network:
    """``127.index.0.0/16``."""
    if not 0 <= index <= 255:
        raise ValueError(f"block index {index} is not 0-255")
    return IPv4Network(f"127.{index}.0.0/16")


def parse_block(text: str) -> int:
    """The index of a block written as ``127.B.0.0/16`` (or ``127.B``, or ``B``).

    Raises ValueError naming the accepted forms.
    """
    candidates = [text, f"{text}.0.0/16" if text.count(".") == 1 else "",
                  f"127.{text}.0.0/16" if text.isdigit() else ""]
    for candidate in filter(None, candidates):
        try:
            net = IPv4Network(candidate)
        except ValueError:
            continue
        if net.prefixlen == 16 and net.subnet_of(IPv4Network("127.0.0.0/8")):
            return int(net.network_address) >> 16 & 0xFF
    raise ValueError(f"invalid address block {text!r}: must be 127.B.0.0/16 with B 0-255")


@dataclass(frozen=True)
class Addresses:
    """The loopback addresses of one instance (see the module docstring).

    Built from a block by :meth:`for_block`; any range may then be replaced with
    :meth:`with_overrides`. ``node_cidr_mask`` is the prefix length of each node's
    pod CIDR within ``cluster_cidr``.
    """

    block: IPv4Network
    node_ip_range: IPv4Network
    lb_pool: IPv4Network
    control_ip: IPv4Address
    service_range: IPv4Network
    cluster_cidr: IPv4Network
    node_cidr_mask: int = 24

    @classmethod
    def for_block(cls, index: int) -> Addresses:
        """The default layout of block ``127.index.0.0/16``."""
        net = block_network(index)
        base = int(net.network_address)
        return cls(
            block=net,
            node_ip_range=IPv4Network((base, 24)),
            lb_pool=IPv4Network((base + (1 << 8), 24)),
            control_ip=IPv4Address(base + (2 << 8) + 1),
            service_range=IPv4Network((base + (64 << 8), 18)),
            cluster_cidr=IPv4Network((base + (128 << 8), 17)),
        )

    def with_overrides(
        self,
        *,
        node_ip_range: str | None = None,
        lb_pool: str | None = None,
        service_range: str | None = None,
        cluster_cidr: str | None = None,
    ) -> Addresses:
        """This plan with the given ranges replaced (``None`` keeps one).

        Raises ValueError (naming the range) for a value that is not an IPv4 CIDR.
        """
        def pick(name: str, value: str | None, current: IPv4Network) -> IPv4Network:
            return current if value is None else _cidr(name, value)

        updated = replace(
            self,
            node_ip_range=pick("node IP range", node_ip_range, self.node_ip_range),
            lb_pool=pick("load-balancer pool", lb_pool, self.lb_pool),
            service_range=pick("service range", service_range, self.service_range),
            cluster_cidr=pick("cluster CIDR", cluster_cidr, self.cluster_cidr),
        )
        if updated.cluster_cidr.prefixlen > updated.node_cidr_mask:
            raise ValueError(f"cluster CIDR {updated.cluster_cidr} is smaller than one "
                             f"node's /{updated.node_cidr_mask}")
        return updated

    @property
    def index(self) -> int:
        """The block's second octet ``B``."""
        return int(self.block.network_address) >> 16 & 0xFF

    @property
    def max_nodes(self) -> int:
        """How many nodes get a node IP and a pod CIDR of their own."""
        node_ips = self.node_ip_range.num_addresses - 2
        pod_cidrs = 1 << (self.node_cidr_mask - self.cluster_cidr.prefixlen)
        return max(0, min(node_ips, pod_cidrs))

    def _check_node(self, index: int) -> None:
        if not 1 <= index <= self.max_nodes:
            raise ValueError(f"node {index} is outside 1-{self.max_nodes}")

    def node_ip(self, index: int) -> str:
        """Node ``index``'s (1-based) IP: the index-th host address of the node range."""
        self._check_node(index)
        return str(self.node_ip_range.network_address + index)

    def pod_cidr(self, index: int) -> str:
        """Node ``index``'s pod CIDR: the index-th ``/node_cidr_mask`` of the cluster CIDR."""
        self._check_node(index)
        size = 1 << (32 - self.node_cidr_mask)
        first = self.cluster_cidr.network_address + (index - 1) * size
        return str(IPv4Network((first, self.node_cidr_mask)))

    def proxy_healthz(self, index: int) -> str:
        """``host:port`` of node ``index``'s kube-proxy ``/healthz``."""
        return f"{self.node_ip(index)}:{PROXY_HEALTHZ_PORT}"

    def proxy_metrics(self, index: int) -> str:
        """``host:port`` of node ``index``'s kube-proxy ``/metrics``."""
        return f"{self.node_ip(index)}:{PROXY_METRICS_PORT}"

    @property
    def kubernetes_ip(self) -> str:
        """The ClusterIP of the ``default/kubernetes`` Service (first of the range)."""
        return str(self.service_range.network_address + 1)

    @property
    def dns_ip(self) -> str:
        """The cluster DNS Service's ClusterIP (the tenth of the range, as kubeadm's)."""
        return str(self.service_range.network_address + 10)

    @property
    def dns_server_ip(self) -> str:
        """The address the cluster DNS process listens on (the control address's /24,
        host 53); the ``kube-dns`` Service's endpoint."""
        return str(self.control_ip + 52)

    @property
    def etcd_client_url(self) -> str:
        """Client URL of an etcd this instance runs itself."""
        return f"http://{self.control_ip}:{ETCD_CLIENT_PORT}"

    @property
    def console_url(self) -> str:
        """Where ``kubemu up`` serves the web console."""
        return f"http://{self.control_ip}:{CONSOLE_PORT}/"

    @property
    def etcd_peer_url(self) -> str:
        """Peer URL of an etcd this instance runs itself."""
        return f"http://{self.control_ip}:{ETCD_PEER_PORT}"

    def etcd_member_ip(self, index: int) -> str:
        """Member ``index`` (1-based) of a multi-member etcd: ``127.B.2.(10+index)``."""
        return str(self._control_host(10, _replica(index)))

    def etcd_member_client_url(self, index: int) -> str:
        """Client URL of etcd member ``index``."""
        return f"http://{self.etcd_member_ip(index)}:{ETCD_CLIENT_PORT}"

    def etcd_member_peer_url(self, index: int) -> str:
        """Peer URL of etcd member ``index``."""
        return f"http://{self.etcd_member_ip(index)}:{ETCD_PEER_PORT}"

    @property
    def apiserver_balancer_ip(self) -> str:
        """Where the load balancer in front of several apiservers listens: ``127.B.2.20``."""
        return str(self._control_host(20, 0))

    def apiserver_ip(self, index: int) -> str:
        """Apiserver replica ``index`` (1-based) behind the balancer: ``127.B.2.(20+index)``."""
        return str(self._control_host(20, _replica(index)))

    def _control_host(self, base: int, index: int) -> IPv4Address:
        network = IPv4Network((int(self.control_ip), 24), strict=False)
        return network.network_address + base + index

    def describe(self) -> dict[str, str]:
        """The ranges as strings (what :func:`record` writes)."""
        return {
            "block": str(self.block), "nodeIPs": str(self.node_ip_range),
            "loadBalancerPool": str(self.lb_pool), "controlIP": str(self.control_ip),
            "serviceClusterIPRange": str(self.service_range),
            "clusterCIDR": str(self.cluster_cidr),
        }

    @classmethod
    def from_record(cls, doc: dict[str, str]) -> Addresses:
        """The inverse of :meth:`describe`; ValueError/KeyError for a broken record."""
        return cls(
            block=IPv4Network(doc["block"]), node_ip_range=IPv4Network(doc["nodeIPs"]),
            lb_pool=IPv4Network(doc["loadBalancerPool"]),
            control_ip=IPv4Address(doc["controlIP"]),
            service_range=IPv4Network(doc["serviceClusterIPRange"]),
            cluster_cidr=IPv4Network(doc["clusterCIDR"]),
        )

    def summary(self) -> str:
        """One line for a log: block and the main ranges."""
        d = self.describe()
        return (f"addresses: block {d['block']}, nodes {d['nodeIPs']}, services "
                f"{d['serviceClusterIPRange']}, pods {d['clusterCIDR']}, "
                f"load balancers {d['loadBalancerPool']}")


def _replica(index: int) -> int:
    if not 1 <= index <= MAX_REPLICAS:
        raise ValueError(f"replica {index} is outside 1-{MAX_REPLICAS}")
    return index


def _cidr(what: str, text: str) -> IPv4Network:
    try:
        return IPv4Network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"invalid {what} {text!r}: must be an IPv4 CIDR") from None


def recorded_block(data_dir: Path) -> int | None:
    """The block index recorded in ``data_dir`` (``None`` when none is, or unreadable)."""
    try:
        doc = json.loads((data_dir / RECORD_FILE).read_text(encoding="utf-8"))
        return parse_block(str(doc["block"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load(data_dir: Path) -> Addresses:
    """The addresses recorded in ``data_dir`` (what a running instance uses).

    Raises OSError, ValueError or KeyError when there is no usable record.
    """
    doc = json.loads((data_dir / RECORD_FILE).read_text(encoding="utf-8"))
    return Addresses.from_record(doc)


def record(data_dir: Path, addresses: Addresses) -> None:
    """Atomically write ``addresses`` to ``<data_dir>/addresses.json`` (the block decides
    a restart's addresses; the ranges, flags applied, are for people and tests)."""
    tmp = data_dir / f".{RECORD_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(addresses.describe(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, data_dir / RECORD_FILE)
