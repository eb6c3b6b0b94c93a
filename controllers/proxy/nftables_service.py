"""One service port's share of the nftables ruleset (``syncProxyRules``' per-service body).

:func:`service_fragment` renders, for one service port and its endpoints, the
per-service chains (``service-``, ``external-``, ``firewall-``, and ``endpoint-``
with ClientIP affinity) with their rules, the affinity sets and the elements the
port owns in the shared maps and sets (``service-ips``, ``no-endpoint-services``,
``hairpin-endpoints`` …). Chain names hash the service port name exactly as
upstream does, so a ruleset written by upstream's kube-proxy and one written by
this one name the same chains.

Load balancing differs from upstream's. Upstream's service chain holds ``numgen
random mod N vmap { 0 : goto endpoint-1, … }`` and each endpoint chain does the
hairpin check and the DNAT. Here the service chain holds a probability ladder
that DNATs itself::

    numgen random mod 3 0 meta l4proto tcp dnat to 10.0.0.1:8080
    numgen random mod 2 0 meta l4proto tcp dnat to 10.0.0.2:8080
    meta l4proto tcp dnat to 10.0.0.3:8080

(the iptables mode's scheme: each endpoint is picked with probability 1/N). An
inline vmap is an anonymous set in the kernel, and creating and binding one costs
time proportional to the sets of the table and to the transaction so far
(``nf_tables_set_alloc_name``, ``nft_set_trans_bind``): 10,000 Services took two
minutes to load. The ladder needs no set, and without endpoint chains the table
has one chain per service port instead of one per endpoint. With ClientIP
affinity the endpoint chains stay (``update @affinity-… { ip saddr }`` then the
DNAT); the service chain sends a known client to its endpoint's chain
(``ip saddr @affinity-… goto endpoint-…``) and the ladder sends the others there
(``goto endpoint-…``).
Hairpin masquerade is the table's ``hairpin-endpoints`` set (see
:mod:`controllers.proxy.nftables`), filled with ``IP . IP`` of every endpoint
this port programs.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from controllers.proxy.change_tracker import categorize_endpoints
from controllers.proxy.types import Endpoint, RuleConfig, ServicePort, ServicePortName

__all__ = [
    "HAIRPIN",
    "TABLE",
    "NFTablesConfig",
    "ServiceFragment",
    "chain_base",
    "endpoint_chain_base",
    "service_fragment",
]

TABLE = "ip kube-proxy"
#: ``endpoint IP . endpoint IP`` of every programmed endpoint (hairpin masquerade).
HAIRPIN = "hairpin-endpoints"


@dataclass(frozen=True)
class NFTablesConfig(RuleConfig):
    """Flags the ruleset depends on (empty ``nodeport_addresses``: every local address
    but 127/8)."""


def _hash(text: str) -> str:
    """``hashAndTruncate``: base32(sha256(text))[:8], i.e. the first 40 bits' 8 digits."""
    return base64.b32encode(hashlib.sha256(text.encode()).digest()[:5]).decode()


def chain_base(spn: ServicePortName, protocol: str) -> str:
    """``servicePortChainNameBase``: ``HASH-ns/name/proto/port`` (8 base32 digits of
    sha256 of the readable part)."""
    readable = f"{spn.namespace}/{spn.name}/{protocol.lower()}/{spn.port}"
    return f"{_hash(readable)}-{readable}"


def endpoint_chain_base(spn: ServicePortName, protocol: str, ep: Endpoint) -> str:
    """``servicePortEndpointChainNameBase``: ``HASH-ns/name/proto/port__ip/port``."""
    readable = f"{spn.namespace}/{spn.name}/{protocol.lower()}/{spn.port}__{ep.ip}/{ep.port}"
    return f"{_hash(readable)}-{readable}"


@dataclass(slots=True)
class ServiceFragment:
    """Everything one service port contributes to ``table ip kube-proxy``.

    Built from one ``(ServicePort, endpoints)`` pair and reused while the
    proxier hands over the very same objects (the change trackers replace a map
    value only when that Service or its endpoints changed). Never mutated once
    built.
    """

    service: ServicePort
    endpoints: tuple[Endpoint, ...]
    #: chain name -> the command appending its rules, ``add chain ip kube-proxy NAME
    #: { RULE ; RULE ; }`` (rules inside the chain command rather than ``add rule``
    #: lines: ``nft`` then needs no copy of the table's chain list, which at tens of
    #: thousands of chains costs more than the rest of a small transaction). A chain
    #: comes after the chains it jumps to, so a transaction needs no declarations.
    chains: dict[str, str] = field(default_factory=dict)
    #: affinity set name -> timeout seconds.
    affinity: dict[str, int] = field(default_factory=dict)
    #: ``(map or set, element key)`` -> element text.
    elements: dict[tuple[str, str], str] = field(default_factory=dict)
    rules: int = 0


def _ladder(actions: list[str]) -> list[str]:
    """Rules taking one of ``actions`` uniformly at random (see the module docstring)."""
    n = len(actions)
    return [f"numgen random mod {n - i} 0 {a}" if i < n - 1 else a
            for i, a in enumerate(actions)]


def service_fragment(sp: ServicePort, all_eps: tuple[Endpoint, ...],
                     config: NFTablesConfig) -> ServiceFragment:
    """``syncProxyRules``' per-service-port body for ``sp`` and its endpoints."""
    out = ServiceFragment(sp, all_eps)
    spn = sp.name
    name = str(spn)
    proto = sp.protocol.lower()
    base = chain_base(spn, sp.protocol)
    svc_chain, ext_chain, fw_chain = (f"service-{base}", f"external-{base}",
                                      f"firewall-{base}")
    cluster_eps, local_eps = categorize_endpoints(sp, all_eps)
    has_ext = sp.externally_accessible
    ext_eps = local_eps if sp.external_policy_local else cluster_eps
    uses_svc = bool(cluster_eps)
    uses_ext = has_ext and (bool(ext_eps) or (sp.external_policy_local and bool(cluster_eps)))
    uses_fw = (uses_ext and bool(sp.load_balancer_source_ranges)
               and bool(sp.load_balancer_ips))
    affinity = sp.affinity_seconds
    programmed = (*(cluster_eps if uses_svc else ()),
                  *(local_eps if uses_ext and sp.external_policy_local else ()))

    chains: dict[str, list[str]] = {}
    #: ClientIP affinity: endpoint -> (its affinity set, its chain recording the client).
    sticky: dict[Endpoint, tuple[str, str]] = {}
    if affinity is not None:
        for ep in dict.fromkeys(programmed):
            eb = endpoint_chain_base(spn, sp.protocol, ep)
            sticky[ep] = (f"affinity-{eb}", f"endpoint-{eb}")
            out.affinity[f"affinity-{eb}"] = affinity
            chains[f"endpoint-{eb}"] = [f"update @affinity-{eb} {{ ip saddr }}",
                                        f"meta l4proto {proto} dnat to {ep.ip}:{ep.port}"]

    def lb_rules(eps: tuple[Endpoint, ...]) -> list[str]:
        if not sticky:
            return _ladder([f"meta l4proto {proto} dnat to {e.ip}:{e.port}" for e in eps])
        return ([f"ip saddr @{sticky[e][0]} goto {sticky[e][1]}" for e in eps]
                + _ladder([f"goto {sticky[e][1]}" for e in eps]))

    if uses_svc:
        chains[svc_chain] = lb_rules(cluster_eps)
    if uses_ext:
        rules: list[str] = []
        if sp.external_policy_local:
            if config.cluster_cidr:
                rules.append(f"ip saddr {config.cluster_cidr} goto {svc_chain} "
                             'comment "short-circuit pod traffic"')
            rules.append('fib saddr type local jump mark-for-masquerade '
                         'comment "masquerade local traffic"')
            rules.append(f"fib saddr type local goto {svc_chain} "
                         'comment "short-circuit local traffic"')
            if local_eps:
                rules += lb_rules(local_eps)
        else:
            rules += ["jump mark-for-masquerade", f"goto {svc_chain}"]
        chains[ext_chain] = rules
    if uses_fw:
        ranges = ", ".join(r.strip() for r in sp.load_balancer_source_ranges)
        chains[fw_chain] = [f"ip saddr != {{ {ranges} }} drop"]
    out.chains = {c: f"add chain {TABLE} {c} {{ {' ; '.join(rules)} ; }}"
                  for c, rules in chains.items()}
    out.rules = sum(map(len, chains.values()))
    for ip in dict.fromkeys([ep.ip for ep in programmed]):
        out.elements[(HAIRPIN, f"{ip} . {ip}")] = f"{ip} . {ip}"
    _elements(out, sp, name, proto, (svc_chain, ext_chain, fw_chain),
              (uses_svc, uses_ext, uses_fw), bool(ext_eps), bool(cluster_eps))
    return out


def _elements(out: ServiceFragment, sp: ServicePort, name: str, proto: str,
              chains: tuple[str, str, str], uses: tuple[bool, bool, bool],
              has_ext_eps: bool, has_cluster_eps: bool) -> None:
    """The port's elements of the shared maps and sets."""
    svc_chain, ext_chain, fw_chain = chains
    uses_svc, uses_ext, uses_fw = uses

    def add(map_name: str, key: str, value: str = "", comment: str = "") -> None:
        c = f' comment "{comment}"' if comment else ""
        out.elements[(map_name, key)] = f"{key}{c} : {value}" if value else f"{key}{c}"

    reject = "goto reject-chain"
    no_ext = "drop" if sp.external_policy_local and has_cluster_eps else reject
    add("cluster-ips", sp.cluster_ip)
    key = f"{sp.cluster_ip} . {proto} . {sp.port}"
    if uses_svc:
        add("service-ips", key, f"goto {svc_chain}")
    else:
        add("no-endpoint-services", key, reject, name)
    for ip in (*sp.external_ips, *sp.load_balancer_ips):
        key = f"{ip} . {proto} . {sp.port}"
        if uses_ext:
            add("service-ips", key, f"goto {ext_chain}")
        if not uses_ext or not has_ext_eps:
            # Local policy without local endpoints: pod and node traffic is
            # short-circuited by the external chain; anything else is dropped.
            add("no-endpoint-services", key, no_ext, name)
    if uses_fw:
        for ip in sp.load_balancer_ips:
            add("firewall-ips", f"{ip} . {proto} . {sp.port}", f"goto {fw_chain}")
    if sp.node_port:
        key = f"{proto} . {sp.node_port}"
        if uses_ext:
            add("service-nodeports", key, f"goto {ext_chain}")
        if not uses_ext or not has_ext_eps:
            add("no-endpoint-nodeports", key, no_ext, name)
