"""One service port's iptables rules, with upstream's chain names (``syncProxyRules``' body).

:func:`service_fragment` renders what one service port contributes: its per-service nat
chains (``KUBE-SVC-``, ``KUBE-SVL-``, ``KUBE-EXT-``, ``KUBE-FW-``, ``KUBE-SEP-``) and its rules
in the fixed chains; the chain names hash the service port name as upstream does, so rules
written by upstream's kube-proxy and by this one name the same chains.
:mod:`controllers.proxy.iptables` assembles the fragments into one restore input.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from controllers.proxy.change_tracker import categorize_endpoints
from controllers.proxy.types import Endpoint, RuleConfig, ServicePort

__all__ = [
    "IPTablesConfig",
    "ServiceFragment",
    "compute_probability",
    "endpoint_chain_name",
    "port_proto_hash",
    "service_chain_names",
    "service_fragment",
]


_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#: Every 10-bit value as its two base32 digits.
_BASE32_PAIRS = tuple(_BASE32[i >> 5] + _BASE32[i & 31] for i in range(1024))


def _hash16(text: str) -> str:
    """The first 16 base32 digits of sha256(text): upstream's chain-name hash.

    16 digits are the first 80 bits of the digest; this spells them out as
    eight 10-bit pairs, several times faster than ``base64.b32encode`` (a
    full sync hashes one name per endpoint).
    """
    n = int.from_bytes(hashlib.sha256(text.encode()).digest()[:10], "big")
    p = _BASE32_PAIRS
    return (p[n >> 70] + p[(n >> 60) & 1023] + p[(n >> 50) & 1023] + p[(n >> 40) & 1023]
            + p[(n >> 30) & 1023] + p[(n >> 20) & 1023] + p[(n >> 10) & 1023] + p[n & 1023])


def port_proto_hash(service_port_name: str, protocol: str) -> str:
    """``portProtoHash``: base32(sha256(name + lower(protocol)))[:16]."""
    return _hash16(service_port_name + protocol.lower())


def endpoint_chain_name(service_port_name: str, protocol: str, endpoint: str) -> str:
    """``servicePortEndpointChainName``: ``KUBE-SEP-`` + hash of name + protocol + ip:port."""
    return "KUBE-SEP-" + _hash16(service_port_name + protocol.lower() + endpoint)


def service_chain_names(service_port_name: str, protocol: str) -> dict[str, str]:
    """The ``KUBE-SVC-``/``KUBE-SVL-``/``KUBE-EXT-``/``KUBE-FW-`` chains of a service port."""
    h = port_proto_hash(service_port_name, protocol)
    return {p: f"KUBE-{p}-{h}" for p in ("SVC", "SVL", "EXT", "FW")}


@lru_cache(maxsize=4096)
def compute_probability(n: int) -> str:
    """``computeProbability``: ``%0.10f`` of 1/n."""
    return f"{1.0 / n:0.10f}"


@dataclass(frozen=True)
class IPTablesConfig(RuleConfig):
    """Flags the ruleset depends on (empty ``nodeport_addresses``: every local address)."""


def _comment(text: str) -> str:
    return f'"{text}"' if " " in text else text


def _proto(protocol: str) -> str:
    p = protocol.lower()
    return f"-m {p} -p {p}"


@dataclass(slots=True)
class ServiceFragment:
    """Everything one service port contributes to the ruleset.

    Built from one ``(ServicePort, endpoints, large)`` triple and reused while
    the proxier hands over the very same objects (the change trackers replace a
    map value only when that Service or its endpoints changed). Never mutated
    once built (not frozen only because frozen dataclasses construct slower,
    and a full sync builds one per service port).
    """

    service: ServicePort
    endpoints: tuple[Endpoint, ...]
    large: bool
    #: Rules appended to the fixed chains, keyed ``table/chain``.
    fixed: dict[str, list[str]]
    #: ``:CHAIN`` declarations and ``-A`` rules of the per-service nat chains.
    chains: list[str]
    rules: list[str]
    active: frozenset[str]


def service_fragment(sp: ServicePort, all_eps: tuple[Endpoint, ...], config: IPTablesConfig,
              large: bool) -> ServiceFragment:
    """``syncProxyRules``' per-service-port body."""
    name = str(sp.name)
    proto = _proto(sp.protocol)
    chains = service_chain_names(name, sp.protocol)
    svc_chain, svl_chain, ext_chain, fw_chain = (chains["SVC"], chains["SVL"],
                                                 chains["EXT"], chains["FW"])
    cluster_eps, local_eps = categorize_endpoints(sp, all_eps)
    has_ext = sp.externally_accessible
    ext_eps = local_eps if sp.external_policy_local else cluster_eps
    uses_svc = bool(cluster_eps)
    uses_svl = sp.external_policy_local and has_ext and bool(local_eps)
    uses_ext = has_ext and (bool(ext_eps) or (sp.external_policy_local and bool(cluster_eps)))
    uses_fw = uses_ext and bool(sp.load_balancer_source_ranges) and bool(sp.load_balancer_ips)
    # Each endpoint's (ip, "ip:port", chain), computed once: a full sync renders
    # 50,000. Cluster endpoints come first, then local-only ones; usually there are
    # no local endpoints (or they are the cluster ones) and nothing needs hashing.
    separate_local = bool(local_eps) and local_eps != cluster_eps
    unique = tuple(dict.fromkeys(cluster_eps + local_eps)) if separate_local else cluster_eps
    ep_chains = [(e.ip, a, endpoint_chain_name(name, sp.protocol, a))
                 for e, a in zip(unique, map(str, unique), strict=True)]
    cluster_chains = ep_chains[:len(cluster_eps)]
    local_chains = cluster_chains
    if separate_local:
        by_endpoint = dict(zip(unique, ep_chains, strict=True))
        local_chains = [by_endpoint[e] for e in local_eps]
    active = {c for c, used in ((svc_chain, uses_svc), (svl_chain, uses_svl),
                                (ext_chain, uses_ext), (fw_chain, uses_fw)) if used}
    active.update(chain for _, _, chain in ep_chains)

    # Dispatch from KUBE-SERVICES / KUBE-NODEPORTS, or REJECT/DROP in filter.
    f_nodeports: list[str] = []
    f_services: list[str] = []
    f_ext: list[str] = []
    f_fw: list[str] = []
    n_services: list[str] = []
    n_nodeports: list[str] = []
    dst = f"-d {sp.cluster_ip} --dport {sp.port}"
    if uses_svc:
        n_services.append(f'-A KUBE-SERVICES -m comment --comment "{name} cluster IP" '
                          f"{proto} {dst} -j {svc_chain}")
    else:
        f_services.append(f'-A KUBE-SERVICES -m comment --comment "{name} has no endpoints" '
                          f"{proto} {dst} -j REJECT")
    for ip in sp.external_ips:
        d = f"-d {ip} --dport {sp.port}"
        if uses_ext:
            n_services.append(f'-A KUBE-SERVICES -m comment --comment "{name} external IP" '
                              f"{proto} {d} -j {ext_chain}")
        else:
            f_ext.append(_no_eps("KUBE-EXTERNAL-SERVICES", name, proto, d, cluster_eps, sp))
    for ip in sp.load_balancer_ips:
        d = f"-d {ip} --dport {sp.port}"
        if uses_ext:
            target = fw_chain if uses_fw else ext_chain
            n_services.append(f'-A KUBE-SERVICES -m comment --comment '
                              f'"{name} loadbalancer IP" {proto} {d} -j {target}')
            if uses_fw:
                f_fw.append(f'-A KUBE-PROXY-FIREWALL -m comment --comment '
                            f'"{name} traffic not accepted by {fw_chain}" {proto} {d} -j DROP')
        else:
            f_ext.append(_no_eps("KUBE-EXTERNAL-SERVICES", name, proto, d, cluster_eps, sp))
    if sp.node_port:
        if uses_ext:
            n_nodeports.append(f"-A KUBE-NODEPORTS -m comment --comment {_comment(name)} "
                               f"{proto} --dport {sp.node_port} -j {ext_chain}")
        else:
            f_ext.append(_no_eps("KUBE-EXTERNAL-SERVICES", name, proto,
                                 f"-m addrtype --dst-type LOCAL --dport {sp.node_port}",
                                 cluster_eps, sp))
    if sp.health_check_node_port:
        f_nodeports.append(f'-A KUBE-NODEPORTS -m comment --comment "{name} health check '
                           f'node port" -m tcp -p tcp --dport {sp.health_check_node_port} '
                           f"-j ACCEPT")

    # Per-service chains.
    n_chains: list[str] = []
    n_rules: list[str] = []
    if uses_svc:
        n_chains.append(f":{svc_chain} - [0:0]")
        if config.masquerade_all:
            n_rules.append(f'-A {svc_chain} -m comment --comment "{name} cluster IP" '
                           f"{proto} {dst} -j KUBE-MARK-MASQ")
        elif config.cluster_cidr:
            n_rules.append(f'-A {svc_chain} -m comment --comment "{name} cluster IP" '
                           f"{proto} {dst} ! -s {config.cluster_cidr} -j KUBE-MARK-MASQ")
        n_rules += _lb_rules(svc_chain, name, sp, cluster_chains, large)
    if uses_svl:
        n_chains.append(f":{svl_chain} - [0:0]")
        n_rules += _lb_rules(svl_chain, name, sp, local_chains, large)
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
    for ip, addr, chain in ep_chains:
        n_chains.append(f":{chain} - [0:0]")
        c = "" if large else f"-m comment --comment {_comment(name)} "
        n_rules.append(f"-A {chain} {c}-s {ip} -j KUBE-MARK-MASQ")
        recent = f"-m recent --name {chain} --set " if sp.affinity_seconds is not None else ""
        n_rules.append(f"-A {chain} {c}{recent}{proto} -j DNAT --to-destination {addr}")

    fixed = {key: lines for key, lines in (
        ("filter/KUBE-NODEPORTS", f_nodeports), ("filter/KUBE-SERVICES", f_services),
        ("filter/KUBE-EXTERNAL-SERVICES", f_ext), ("filter/KUBE-PROXY-FIREWALL", f_fw),
        ("nat/KUBE-NODEPORTS", n_nodeports), ("nat/KUBE-SERVICES", n_services)) if lines}
    return ServiceFragment(sp, all_eps, large, fixed, n_chains, n_rules, frozenset(active))


def _no_eps(chain: str, name: str, proto: str, dst: str, cluster_eps: tuple[Endpoint, ...],
            sp: ServicePort) -> str:
    if sp.external_policy_local and cluster_eps:
        return (f'-A {chain} -m comment --comment "{name} has no local endpoints" '
                f"{proto} {dst} -j DROP")
    return f'-A {chain} -m comment --comment "{name} has no endpoints" {proto} {dst} -j REJECT'


def _lb_rules(chain: str, name: str, sp: ServicePort, eps: list[tuple[str, str, str]],
              large: bool) -> list[str]:
    """``writeServiceToEndpointRules``: affinity checks, then the probability ladder
    over ``eps``, ``(ip, "ip:port", endpoint chain)`` each."""
    rules: list[str] = []
    if sp.affinity_seconds is not None:
        for _, addr, target in eps:
            c = "" if large else f'-m comment --comment "{name} -> {addr}" '
            rules.append(f"-A {chain} {c}-m recent --name {target} --rcheck --seconds "
                         f"{sp.affinity_seconds} --reap -j {target}")
    n = len(eps)
    for i, (_, addr, target) in enumerate(eps):
        c = "" if large else f'-m comment --comment "{name} -> {addr}" '
        if i < n - 1:
            rules.append(f"-A {chain} {c}-m statistic --mode random --probability "
                         f"{compute_probability(n - i)} -j {target}")
        else:
            rules.append(f"-A {chain} {c}-j {target}")
    return rules
