"""The iptables ruleset renderer (``pkg/proxy/iptables/proxier.go`` ``syncProxyRules``).

:func:`render` turns the service-port and endpoints maps into one
``iptables-restore`` input (``*filter … COMMIT`` then ``*nat … COMMIT``) with
upstream's chain names, comments, probabilities and masquerade marks. On a
partial sync only the per-service chains of changed Services are written;
``KUBE-SERVICES``/``KUBE-NODEPORTS``/``KUBE-EXTERNAL-SERVICES`` and all filter
rules are always written in full; chains that no longer exist are flushed
(``:CHAIN - [0:0]``) and deleted (``-X``).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

from controllers.proxy.change_tracker import categorize_endpoints
from controllers.proxy.types import Endpoint, ServicePort, ServicePortName

__all__ = [
    "IPTablesConfig",
    "Rendered",
    "compute_probability",
    "endpoint_chain_name",
    "jump_rules",
    "port_proto_hash",
    "render",
    "service_chain_names",
]

LARGE_CLUSTER_ENDPOINTS = 1000

Endpoints = dict[ServicePortName, tuple[Endpoint, ...]]


def port_proto_hash(service_port_name: str, protocol: str) -> str:
    """``portProtoHash``: base32(sha256(name + lower(protocol)))[:16]."""
    digest = hashlib.sha256((service_port_name + protocol.lower()).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def endpoint_chain_name(service_port_name: str, protocol: str, endpoint: str) -> str:
    """``servicePortEndpointChainName``: ``KUBE-SEP-`` + hash of name + protocol + ip:port."""
    digest = hashlib.sha256(
        (service_port_name + protocol.lower() + endpoint).encode()
    ).digest()
    return "KUBE-SEP-" + base64.b32encode(digest).decode()[:16]


def service_chain_names(service_port_name: str, protocol: str) -> dict[str, str]:
    """The ``KUBE-SVC-``/``KUBE-SVL-``/``KUBE-EXT-``/``KUBE-FW-`` chains of a service port."""
    h = port_proto_hash(service_port_name, protocol)
    return {p: f"KUBE-{p}-{h}" for p in ("SVC", "SVL", "EXT", "FW")}


@lru_cache(maxsize=4096)
def compute_probability(n: int) -> str:
    """``computeProbability``: ``%0.10f`` of 1/n."""
    return f"{1.0 / n:0.10f}"


@dataclass(frozen=True)
class IPTablesConfig:
    """Flags the ruleset depends on."""

    cluster_cidr: str = ""
    masquerade_all: bool = False
    masquerade_bit: int = 14
    #: NodePort destination addresses; empty: every local address (``addrtype LOCAL``).
    nodeport_addresses: tuple[str, ...] = ()

    @property
    def mark(self) -> str:
        return f"{1 << self.masquerade_bit:#x}"


@dataclass
class Rendered:
    """One ``iptables-restore`` input and the per-service chains it leaves active."""

    text: str
    nat_chains: set[str] = field(default_factory=set)
    rules: int = 0


def _comment(text: str) -> str:
    return f'"{text}"' if " " in text else text


def _proto(protocol: str) -> str:
    p = protocol.lower()
    return f"-m {p} -p {p}"


#: ``iptablesJumpChains``: (table, from chain, to chain, comment, extra args).
JUMPS = (
    ("filter", "INPUT", "KUBE-EXTERNAL-SERVICES", "kubernetes externally-visible service portals",
     "-m conntrack --ctstate NEW"),
    ("filter", "FORWARD", "KUBE-EXTERNAL-SERVICES",
     "kubernetes externally-visible service portals", "-m conntrack --ctstate NEW"),
    ("filter", "INPUT", "KUBE-NODEPORTS", "kubernetes health check service ports", ""),
    ("filter", "FORWARD", "KUBE-SERVICES", "kubernetes service portals",
     "-m conntrack --ctstate NEW"),
    ("filter", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals",
     "-m conntrack --ctstate NEW"),
    ("filter", "FORWARD", "KUBE-FORWARD", "kubernetes forwarding rules", ""),
    ("filter", "INPUT", "KUBE-PROXY-FIREWALL", "kubernetes load balancer firewall",
     "-m conntrack --ctstate NEW"),
    ("filter", "OUTPUT", "KUBE-PROXY-FIREWALL", "kubernetes load balancer firewall",
     "-m conntrack --ctstate NEW"),
    ("filter", "FORWARD", "KUBE-PROXY-FIREWALL", "kubernetes load balancer firewall",
     "-m conntrack --ctstate NEW"),
    ("nat", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals", ""),
    ("nat", "PREROUTING", "KUBE-SERVICES", "kubernetes service portals", ""),
    ("nat", "POSTROUTING", "KUBE-POSTROUTING", "kubernetes postrouting rules", ""),
)


def jump_rules() -> list[tuple[str, str, list[str]]]:
    """``(table, chain, rule args)`` for the jump rules ensured with ``iptables -I``."""
    out = []
    for table, chain, target, comment, extra in JUMPS:
        args = [*extra.split(), "-m", "comment", "--comment", comment, "-j", target]
        out.append((table, chain, args))
    return out


FILTER_CHAINS = ("KUBE-NODEPORTS", "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD",
                 "KUBE-PROXY-FIREWALL")
NAT_CHAINS = ("KUBE-NODEPORTS", "KUBE-SERVICES", "KUBE-MARK-MASQ", "KUBE-POSTROUTING")


def render(
    services: dict[ServicePortName, ServicePort],
    endpoints: Endpoints,
    config: IPTablesConfig,
    *,
    previous_chains: set[str] | None = None,
    changed: set[str] | None = None,
) -> Rendered:
    """The ``iptables-restore --noflush`` input for the maps.

    ``changed`` (``ns/name`` keys) makes a partial sync: only those Services'
    chains are (re)written. ``previous_chains`` are the per-service nat chains
    of the last sync; those not active any more are deleted.
    """
    mark = config.mark
    total_eps = sum(len(e) for e in endpoints.values())
    large = total_eps > LARGE_CLUSTER_ENDPOINTS
    f_rules: list[str] = []
    f_ext: list[str] = []
    f_fw: list[str] = []
    n_chains: list[str] = []
    n_services: list[str] = []
    n_nodeports: list[str] = []
    n_rules: list[str] = []
    active: set[str] = set()

    for spn in sorted(services):
        sp = services[spn]
        name = str(spn)
        proto = _proto(sp.protocol)
        chains = service_chain_names(name, sp.protocol)
        svc_chain, svl_chain, ext_chain, fw_chain = (chains["SVC"], chains["SVL"],
                                                     chains["EXT"], chains["FW"])
        all_eps = endpoints.get(spn, ())
        cluster_eps, local_eps = categorize_endpoints(sp, all_eps)
        has_ext = sp.externally_accessible
        ext_eps = local_eps if sp.external_policy_local else cluster_eps
        uses_svc = bool(cluster_eps)
        uses_svl = sp.external_policy_local and has_ext and bool(local_eps)
        uses_ext = has_ext and (bool(ext_eps) or (sp.external_policy_local and bool(cluster_eps)))
        uses_fw = uses_ext and bool(sp.load_balancer_source_ranges) and bool(
            sp.load_balancer_ips)
        write = changed is None or spn.service_key in changed
        ep_chains = {str(e): endpoint_chain_name(name, sp.protocol, str(e))
                     for e in (set(cluster_eps) | set(local_eps))}
        for c, used in ((svc_chain, uses_svc), (svl_chain, uses_svl), (ext_chain, uses_ext),
                        (fw_chain, uses_fw)):
            if used:
                active.add(c)
        active.update(ep_chains.values())

        # Dispatch from KUBE-SERVICES / KUBE-NODEPORTS, or REJECT/DROP in filter.
        dst = f"-d {sp.cluster_ip} --dport {sp.port}"
        if uses_svc:
            n_services.append(f'-A KUBE-SERVICES -m comment --comment "{name} cluster IP" '
                              f"{proto} {dst} -j {svc_chain}")
        else:
            f_rules.append(f'-A KUBE-SERVICES -m comment --comment "{name} has no endpoints" '
                           f"{proto} {dst} -j REJECT")
        ext_target = ext_chain
        for ip in sp.external_ips:
            d = f"-d {ip} --dport {sp.port}"
            if uses_ext:
                n_services.append(f'-A KUBE-SERVICES -m comment --comment "{name} external IP" '
                                  f"{proto} {d} -j {ext_target}")
            else:
                f_ext.append(_no_eps("KUBE-EXTERNAL-SERVICES", name, proto, d, cluster_eps,
                                     sp))
        for ip in sp.load_balancer_ips:
            d = f"-d {ip} --dport {sp.port}"
            if uses_ext:
                target = fw_chain if uses_fw else ext_chain
                n_services.append(f'-A KUBE-SERVICES -m comment --comment '
                                  f'"{name} loadbalancer IP" {proto} {d} -j {target}')
                if uses_fw:
                    f_fw.append(f'-A KUBE-PROXY-FIREWALL -m comment --comment '
                                f'"{name} traffic not accepted by {fw_chain}" {proto} {d} '
                                f"-j DROP")
            else:
                f_ext.append(_no_eps("KUBE-EXTERNAL-SERVICES", name, proto, d, cluster_eps,
                                     sp))
        if sp.node_port:
            if uses_ext:
                n_nodeports.append(f"-A KUBE-NODEPORTS -m comment --comment {_comment(name)} "
                                   f"{proto} --dport {sp.node_port} -j {ext_chain}")
            else:
                f_ext.append(_no_eps("KUBE-EXTERNAL-SERVICES", name, proto,
                                     f"-m addrtype --dst-type LOCAL --dport {sp.node_port}",
                                     cluster_eps, sp))
        if sp.health_check_node_port:
            f_rules.insert(0, f'-A KUBE-NODEPORTS -m comment --comment "{name} health check '
                              f'node port" -m tcp -p tcp --dport {sp.health_check_node_port} '
                              f"-j ACCEPT")

        if not write:
            continue
        # Per-service chains.
        if uses_svc:
            n_chains.append(f":{svc_chain} - [0:0]")
            if config.masquerade_all:
                n_rules.append(f'-A {svc_chain} -m comment --comment "{name} cluster IP" '
                               f"{proto} {dst} -j KUBE-MARK-MASQ")
            elif config.cluster_cidr:
                n_rules.append(f'-A {svc_chain} -m comment --comment "{name} cluster IP" '
                               f"{proto} {dst} ! -s {config.cluster_cidr} -j KUBE-MARK-MASQ")
            n_rules += _lb_rules(svc_chain, name, sp, cluster_eps, ep_chains, large)
        if uses_svl:
            n_chains.append(f":{svl_chain} - [0:0]")
            n_rules += _lb_rules(svl_chain, name, sp, local_eps, ep_chains, large)
        if uses_ext:
            n_chains.append(f":{ext_chain} - [0:0]")
            if sp.external_policy_local:
                if config.cluster_cidr:
                    n_rules.append(f'-A {ext_chain} -m comment --comment "pod traffic for '
                                   f'{name} external destinations" -s {config.cluster_cidr} '
                                   f"-j {svc_chain}")
                n_rules.append(f'-A {ext_chain} -m comment --comment "masquerade LOCAL traffic '
                               f'for {name} external destinations" -m addrtype --src-type LOCAL '
                               f"-j KUBE-MARK-MASQ")
                n_rules.append(f'-A {ext_chain} -m comment --comment "route LOCAL traffic for '
                               f'{name} external destinations" -m addrtype --src-type LOCAL '
                               f"-j {svc_chain}")
                if uses_svl:
                    n_rules.append(f"-A {ext_chain} -j {svl_chain}")
            else:
                n_rules.append(f'-A {ext_chain} -m comment --comment "masquerade traffic for '
                               f'{name} external destinations" -j KUBE-MARK-MASQ')
                n_rules.append(f"-A {ext_chain} -j {svc_chain}")
        if uses_fw:
            n_chains.append(f":{fw_chain} - [0:0]")
            for src in sp.load_balancer_source_ranges:
                n_rules.append(f'-A {fw_chain} -m comment --comment "{name} loadbalancer IP" '
                               f"-s {src} -j {ext_chain}")
            n_rules.append(f'-A {fw_chain} -m comment --comment "other traffic to {name} '
                           f'will be dropped by KUBE-PROXY-FIREWALL"')
        for ep in sorted(set(cluster_eps) | set(local_eps)):
            chain = ep_chains[str(ep)]
            n_chains.append(f":{chain} - [0:0]")
            c = "" if large else f"-m comment --comment {_comment(name)} "
            n_rules.append(f"-A {chain} {c}-s {ep.ip} -j KUBE-MARK-MASQ")
            recent = (f"-m recent --name {chain} --set "
                      if sp.affinity_seconds is not None else "")
            n_rules.append(f"-A {chain} {c}{recent}{proto} -j DNAT --to-destination {ep}")

    # Stale per-service chains: flush, then delete.
    stale = sorted((previous_chains or set()) - active)
    for chain in stale:
        n_chains.append(f":{chain} - [0:0]")

    nodeports_rule = ('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; '
                      'NOTE: this must be the last rule in this chain" ')
    if config.nodeport_addresses:
        tail = [nodeports_rule + f"-d {a} -j KUBE-NODEPORTS" for a in config.nodeport_addresses]
    else:
        tail = [nodeports_rule + "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"]

    out: list[str] = ["*filter"]
    out += [f":{c} - [0:0]" for c in FILTER_CHAINS]
    out.append("-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP")
    out.append('-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" '
               f"-m mark --mark {mark}/{mark} -j ACCEPT")
    out.append('-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" '
               "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    out += f_rules + f_ext + f_fw
    out.append("COMMIT")
    out.append("*nat")
    out += [f":{c} - [0:0]" for c in NAT_CHAINS]
    out += n_chains
    out += n_nodeports
    out += n_services + tail
    out.append(f"-A KUBE-MARK-MASQ -j MARK --or-mark {mark}")
    out.append(f"-A KUBE-POSTROUTING -m mark ! --mark {mark}/{mark} -j RETURN")
    out.append(f"-A KUBE-POSTROUTING -j MARK --xor-mark {mark}")
    out.append('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic '
               'requiring SNAT" -j MASQUERADE --random-fully')
    out += n_rules
    out += [f"-X {chain}" for chain in stale]
    out.append("COMMIT")
    rules = sum(1 for line in out if line.startswith("-A "))
    return Rendered("\n".join(out) + "\n", active, rules)


def _no_eps(chain: str, name: str, proto: str, dst: str, cluster_eps: tuple[Endpoint, ...],
            sp: ServicePort) -> str:
    if sp.external_policy_local and cluster_eps:
        return (f'-A {chain} -m comment --comment "{name} has no local endpoints" '
                f"{proto} {dst} -j DROP")
    return f'-A {chain} -m comment --comment "{name} has no endpoints" {proto} {dst} -j REJECT'


def _lb_rules(chain: str, name: str, sp: ServicePort, eps: tuple[Endpoint, ...],
              ep_chains: dict[str, str], large: bool) -> list[str]:
    """``writeServiceToEndpointRules``: affinity checks, then the probability ladder."""
    rules: list[str] = []
    if sp.affinity_seconds is not None:
        for ep in eps:
            target = ep_chains[str(ep)]
            c = "" if large else f'-m comment --comment "{name} -> {ep}" '
            rules.append(f"-A {chain} {c}-m recent --name {target} --rcheck --seconds "
                         f"{sp.affinity_seconds} --reap -j {target}")
    n = len(eps)
    for i, ep in enumerate(eps):
        target = ep_chains[str(ep)]
        c = "" if large else f'-m comment --comment "{name} -> {ep}" '
        if i < n - 1:
            rules.append(f"-A {chain} {c}-m statistic --mode random --probability "
                         f"{compute_probability(n - i)} -j {target}")
        else:
            rules.append(f"-A {chain} {c}-j {target}")
    return rules
