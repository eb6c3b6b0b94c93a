"""Which addresses this kube-proxy may serve: NodePort addresses and external IPs.

Any API client that may write a Service can put any address in ``spec.externalIPs`` (and
a load-balancer controller any address in ``status.loadBalancer.ingress``). A proxy that
bound or programmed every such address would listen on, or capture traffic to, the
host's real external addresses (the CVE-2020-8554 family). So an external or
load-balancer IP is proxied only when it is an address of this node:

* a loopback address (kubemu's simulated networks: it never leaves the host), or
* inside ``--nodeport-addresses`` (the operator's explicit list of node addresses), or,
  in the rule modes when ``--nodeport-addresses`` is empty (upstream: every node
  address), an address of this host's interfaces.

Anything else is skipped, logged once and reported with a Warning Event (reason
:data:`REASON`) on its Service.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import subprocess
from collections.abc import Callable, Iterable, Mapping

from controllers.proxy.types import ServicePort, ServicePortName

__all__ = ["REASON", "NodeAddresses", "host_addresses", "nodeport_ips"]

log = logging.getLogger("controllers.proxy")

#: The Event reason of a skipped address (in the style of upstream's
#: ``KubeProxyIncorrectIPVersion``).
REASON = "KubeProxyNonLocalIP"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def host_addresses() -> list[str]:
    """This host's (or network namespace's) interface addresses, from ``ip -o addr``."""
    try:
        out = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True,
                             timeout=5, check=False).stdout
    except OSError:
        return []
    found = []
    for line in out.splitlines():
        parts = line.split()
        for family in ("inet", "inet6"):
            if family in parts:
                found.append(parts[parts.index(family) + 1].split("/")[0])
    return found


def nodeport_ips(spec: str) -> list[str]:
    """Addresses the userspace mode binds NodePorts (and health-check ports) on:
    ``--nodeport-addresses`` entries (a CIDR gives its address; ``0.0.0.0/0`` every
    address), 127.0.0.1 when empty."""
    out: list[str] = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        net = ipaddress.ip_network(item, strict=False)
        if net.prefixlen == 0:
            out.append("0.0.0.0" if net.version == 4 else "::")
        else:
            out.append(str(net.network_address if net.num_addresses == 1 else
                           ipaddress.ip_interface(item).ip))
    return out or ["127.0.0.1"]


class NodeAddresses:
    """The node-address policy of one proxy (see the module docstring).

    ``nodeport_addresses`` is the flag's text; ``all_host_addresses`` says that an empty
    flag means every address of the host (the rule modes) rather than loopback only
    (userspace); ``local`` lists the host's addresses (injectable for tests).
    """

    def __init__(self, nodeport_addresses: str, *, all_host_addresses: bool,
                 local: Callable[[], Iterable[str]] = host_addresses) -> None:
        self.networks: list[Network] = [
            ipaddress.ip_network(s.strip(), strict=False)
            for s in nodeport_addresses.split(",") if s.strip()]
        self.local: set[str] = set(local()) if all_host_addresses and not self.networks \
            else set()
        self._reported: set[tuple[str, str, str]] = set()
        #: Last filtered copy per service port, reused while the input is the same object
        #: (the iptables renderer reuses a service port's rules while it gets the same one).
        self._filtered: dict[ServicePortName, tuple[ServicePort, ServicePort]] = {}

    def allowed(self, ip: str) -> bool:
        """Whether ``ip`` is an address of this node that may be proxied."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if addr.is_loopback or ip in self.local:
            return True
        return any(addr in net for net in self.networks)

    def filter(
        self, services: Mapping[ServicePortName, ServicePort],
        report: Callable[[ServicePortName, str], None],
    ) -> dict[ServicePortName, ServicePort]:
        """``services`` without the external and load-balancer IPs that are not allowed;
        ``report(spn, message)`` is called once per Service, field and address."""
        out: dict[ServicePortName, ServicePort] = {}
        if self._reported:  # forget what was said of Services that are gone
            present = {spn.service_key for spn in services}
            self._reported = {k for k in self._reported if k[0] in present}
        for spn, sp in services.items():
            if not sp.external_ips and not sp.load_balancer_ips:
                out[spn] = sp
                continue
            ext = self._keep(spn, sp.external_ips, "spec.externalIPs", report)
            lbs = self._keep(spn, sp.load_balancer_ips, "status.loadBalancer.ingress", report)
            if ext == sp.external_ips and lbs == sp.load_balancer_ips:
                out[spn] = sp
                continue
            cached = self._filtered.get(spn)
            if cached is None or cached[0] is not sp:
                cached = (sp, dataclasses.replace(sp, external_ips=ext, load_balancer_ips=lbs))
                self._filtered[spn] = cached
            out[spn] = cached[1]
        if self._filtered:
            for spn in [k for k in self._filtered if k not in services]:
                del self._filtered[spn]
        return out

    def _keep(self, spn: ServicePortName, ips: tuple[str, ...], field: str,
              report: Callable[[ServicePortName, str], None]) -> tuple[str, ...]:
        kept = tuple(ip for ip in ips if self.allowed(ip))
        for ip in ips:
            key = (spn.service_key, field, ip)
            if ip in kept or key in self._reported:
                continue
            self._reported.add(key)
            msg = (f"{ip} in {field} is not an address of this node (neither loopback nor "
                   "inside --nodeport-addresses): not proxied")
            log.warning("service %s: %s", spn.service_key, msg)
            report(spn, msg)
        return kept
