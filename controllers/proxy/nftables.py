"""The nftables ruleset renderer (``pkg/proxy/nftables/proxier.go``); the proxier that
applies it is :class:`controllers.proxy.rules.NFTablesProxier`.

Everything lives in a private ``table ip kube-proxy`` with upstream's layout:

* base chains hooked at the nat and filter hooks (``nat-prerouting``,
  ``nat-output``, ``nat-postrouting``, ``filter-*``) jumping to ``services``,
  ``masquerading`` and the ``*-check`` chains;
* one dispatch rule ``ip daddr . meta l4proto . th dport vmap @service-ips`` in
  ``services`` (ClusterIPs, externalIPs, load-balancer IPs), then NodePorts via
  ``nodeports`` and the ``service-nodeports`` map;
* per service port a ``service-<HASH>-ns/name/proto/port`` chain (masquerade
  check, affinity checks, ``numgen random mod N vmap { 0 : goto endpoint-…, … }``),
  an ``external-…`` chain for external traffic, a ``firewall-…`` chain for
  ``loadBalancerSourceRanges``, and an ``endpoint-<HASH>-…__ip/port`` chain per
  endpoint (hairpin masquerade, affinity ``update``, ``dnat``);
* ClientIP affinity: one ``affinity-…`` set per endpoint with ``flags
  dynamic,timeout`` and the Service's timeout;
* no endpoints: an element of ``no-endpoint-services`` / ``no-endpoint-nodeports``
  (``goto reject-chain``, or ``drop`` for external traffic of a Local policy).

:func:`render` returns one ``nft -f`` transaction. A full sync recreates every
chain (``add chain`` + ``flush chain`` + rules) and flushes and refills the maps;
a partial sync rewrites only the chains of changed Services and diffs the map
elements against the previous sync (``delete element`` / ``add element``).
Chains and affinity sets no longer used are flushed and deleted in the same
transaction, so every sync is atomic.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from controllers.proxy.change_tracker import categorize_endpoints
from controllers.proxy.types import Endpoint, RuleConfig, ServicePort, ServicePortName

__all__ = [
    "TABLE",
    "NFTablesConfig",
    "NFTablesState",
    "Rendered",
    "chain_base",
    "endpoint_chain_base",
    "render",
]

TABLE = "ip kube-proxy"
Endpoints = dict[ServicePortName, tuple[Endpoint, ...]]

#: (map, key type, comment) of the verdict maps.
MAPS = (
    ("firewall-ips", "ipv4_addr . inet_proto . inet_service",
     "destinations that are subject to LoadBalancerSourceRanges"),
    ("no-endpoint-nodeports", "inet_proto . inet_service",
     "vmap to drop or reject packets to service nodeports with no endpoints"),
    ("no-endpoint-services", "ipv4_addr . inet_proto . inet_service",
     "vmap to drop or reject packets to services with no endpoints"),
    ("service-ips", "ipv4_addr . inet_proto . inet_service",
     "ClusterIP, ExternalIP and LoadBalancer IP traffic"),
    ("service-nodeports", "inet_proto . inet_service", "NodePort traffic"),
)
SETS = ("cluster-ips", "nodeport-ips")

#: (chain, hook spec or "") of the chains every sync writes in full.
BASE_CHAINS = (
    ("cluster-ips-check", ""),
    ("filter-prerouting-pre-dnat", "type filter hook prerouting priority -110 ;"),
    ("filter-output-pre-dnat", "type filter hook output priority -110 ;"),
    ("filter-forward", "type filter hook forward priority 0 ;"),
    ("filter-input", "type filter hook input priority 0 ;"),
    ("filter-output", "type filter hook output priority 0 ;"),
    ("firewall-check", ""),
    ("mark-for-masquerade", ""),
    ("masquerading", ""),
    ("nat-output", "type nat hook output priority -100 ;"),
    ("nat-postrouting", "type nat hook postrouting priority 100 ;"),
    ("nat-prerouting", "type nat hook prerouting priority -100 ;"),
    ("nodeport-endpoints-check", ""),
    ("nodeports", ""),
    ("reject-chain", 'comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ;'),
    ("services", ""),
    ("service-endpoints-check", ""),
)


def _hash(text: str) -> str:
    """``hashAndTruncate``: base32(sha256(text))[:8]."""
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:8]


def chain_base(spn: ServicePortName, protocol: str) -> str:
    """``servicePortChainNameBase``: ``HASH-ns/name/proto/port``."""
    readable = f"{spn.namespace}/{spn.name}/{protocol.lower()}/{spn.port}"
    return f"{_hash(readable)}-{readable}"


def endpoint_chain_base(spn: ServicePortName, protocol: str, ep: Endpoint) -> str:
    """``servicePortEndpointChainNameBase``: ``HASH-ns/name/proto/port__ip/port``."""
    readable = f"{spn.namespace}/{spn.name}/{protocol.lower()}/{spn.port}__{ep.ip}/{ep.port}"
    return f"{_hash(readable)}-{readable}"


@dataclass(frozen=True)
class NFTablesConfig(RuleConfig):
    """Flags the ruleset depends on (empty ``nodeport_addresses``: every local address
    but 127/8)."""


@dataclass
class NFTablesState:
    """What the last successful sync left in the table."""

    #: per-service chains (service-, external-, firewall-, endpoint-).
    chains: set[str] = field(default_factory=set)
    #: affinity set name -> timeout seconds.
    affinity_sets: dict[str, int] = field(default_factory=dict)
    #: map/set name -> element key -> full element text.
    elements: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Rendered:
    """One ``nft -f`` transaction and the state it leaves."""

    text: str
    state: NFTablesState
    rules: int = 0


@dataclass
class _Service:
    """The rendered pieces of one service port."""

    chains: dict[str, list[str]] = field(default_factory=dict)
    affinity: dict[str, int] = field(default_factory=dict)
    elements: list[tuple[str, str, str]] = field(default_factory=list)  # (map, key, text)


def _vmap(targets: list[str]) -> str:
    items = " , ".join(f"{i} : goto {t}" for i, t in enumerate(targets))
    return f"numgen random mod {len(targets)} vmap {{ {items} }}"


def _service(sp: ServicePort, all_eps: tuple[Endpoint, ...],
             config: NFTablesConfig) -> _Service:
    out = _Service()
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

    ep_chain: dict[Endpoint, str] = {}
    ep_set: dict[Endpoint, str] = {}
    for ep in sorted(set(cluster_eps) | set(local_eps)):
        eb = endpoint_chain_base(spn, sp.protocol, ep)
        ep_chain[ep] = f"endpoint-{eb}"
        ep_set[ep] = f"affinity-{eb}"

    def lb_rules(eps: tuple[Endpoint, ...]) -> list[str]:
        rules = []
        if affinity is not None:
            rules += [f"ip saddr @{ep_set[e]} goto {ep_chain[e]}" for e in eps]
        rules.append(_vmap([ep_chain[e] for e in eps]))
        return rules

    if uses_svc:
        rules: list[str] = []
        if config.masquerade_all:
            rules.append(f"ip daddr {sp.cluster_ip} jump mark-for-masquerade")
        elif config.cluster_cidr:
            rules.append(f"ip daddr {sp.cluster_ip} ip saddr != {config.cluster_cidr} "
                         "jump mark-for-masquerade")
        out.chains[svc_chain] = rules + lb_rules(cluster_eps)
    if uses_ext:
        rules = []
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
        out.chains[ext_chain] = rules
    if uses_fw:
        ranges = ", ".join(r.strip() for r in sp.load_balancer_source_ranges)
        out.chains[fw_chain] = [f"ip saddr != {{ {ranges} }} drop"]
    for ep, chain in ep_chain.items():
        rules = [f"ip saddr {ep.ip} jump mark-for-masquerade"]
        if affinity is not None:
            rules.append(f"update @{ep_set[ep]} {{ ip saddr }}")
            out.affinity[ep_set[ep]] = affinity
        rules.append(f"meta l4proto {proto} dnat to {ep.ip}:{ep.port}")
        out.chains[chain] = rules

    # Elements.
    def add(map_name: str, key: str, value: str = "", comment: str = "") -> None:
        c = f' comment "{comment}"' if comment else ""
        text = f"{key}{c} : {value}" if value else f"{key}{c}"
        out.elements.append((map_name, key, text))

    reject = "goto reject-chain"
    no_ext = ("drop" if sp.external_policy_local and cluster_eps else reject)
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
        if not uses_ext or not ext_eps:
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
        if not uses_ext or not ext_eps:
            add("no-endpoint-nodeports", key, no_ext, name)
    return out


def _base(config: NFTablesConfig) -> list[str]:
    """Declarations and rules of the base chains (written on every sync)."""
    t = TABLE
    mark = config.mark
    out = [f'add table {t} {{ comment "rules for kube-proxy" ; }}']
    interval = " flags interval ;" if any("/" in a for a in config.nodeport_addresses) else ""
    out.append(f'add set {t} cluster-ips {{ type ipv4_addr ; comment "Active ClusterIPs" ; }}')
    out.append(f"add set {t} nodeport-ips {{ type ipv4_addr ;{interval} "
               'comment "IPs that accept NodePort traffic" ; }')
    for name, key, comment in MAPS:
        out.append(f'add map {t} {name} {{ type {key} : verdict ; comment "{comment}" ; }}')
    for chain, spec in BASE_CHAINS:
        out.append(f"add chain {t} {chain}" + (f" {{ {spec} }}" if spec else ""))
        out.append(f"flush chain {t} {chain}")
    if config.nodeport_addresses:
        np_match = "ip daddr @nodeport-ips"
    else:
        np_match = "fib daddr type local ip daddr != 127.0.0.0/8"
    rules = [
        ("cluster-ips-check", 'ip daddr @cluster-ips reject comment '
                              '"Reject traffic to invalid ports of ClusterIPs"'),
        ("filter-prerouting-pre-dnat", "ct state new jump firewall-check"),
        ("filter-forward", "ct state new jump service-endpoints-check"),
        ("filter-forward", "ct state new jump cluster-ips-check"),
        ("filter-input", "ct state new jump nodeport-endpoints-check"),
        ("filter-input", "ct state new jump service-endpoints-check"),
        ("filter-output", "ct state new jump service-endpoints-check"),
        ("filter-output-pre-dnat", "ct state new jump firewall-check"),
        ("filter-output", "ct state new jump cluster-ips-check"),
        ("firewall-check", "ip daddr . meta l4proto . th dport vmap @firewall-ips"),
        ("mark-for-masquerade", f"mark set mark or {mark}"),
        ("masquerading", f"mark and {mark} == 0 return"),
        ("masquerading", f"mark set mark xor {mark}"),
        ("masquerading", "masquerade fully-random"),
        ("nat-output", "jump services"),
        ("nat-postrouting", "jump masquerading"),
        ("nat-prerouting", "jump services"),
        ("nodeport-endpoints-check",
         f"{np_match} meta l4proto . th dport vmap @no-endpoint-nodeports"),
        ("nodeports", "meta l4proto . th dport vmap @service-nodeports"),
        ("reject-chain", "reject"),
        ("services", "ip daddr . meta l4proto . th dport vmap @service-ips"),
        ("services", f"{np_match} jump nodeports"),
        ("service-endpoints-check",
         "ip daddr . meta l4proto . th dport vmap @no-endpoint-services"),
    ]
    out += [f"add rule {t} {chain} {rule}" for chain, rule in rules]
    return out


def render(
    services: dict[ServicePortName, ServicePort],
    endpoints: Endpoints,
    config: NFTablesConfig,
    *,
    previous: NFTablesState | None = None,
    changed: set[str] | None = None,
) -> Rendered:
    """The ``nft -f`` transaction for the maps.

    ``previous`` is the state of the last successful sync (``None``: unknown,
    the table is deleted and recreated). ``changed`` (``ns/name`` keys) makes a
    partial sync: only those Services' chains are rewritten and the map
    elements are diffed against ``previous``.
    """
    t = TABLE
    partial = changed is not None and previous is not None
    out: list[str] = []
    if previous is None:
        # Unknown table contents (first sync): start from an empty table.
        out += [f"add table {t}", f"delete table {t}"]
    out += _base(config)
    state = NFTablesState(elements={name: {} for name, _, _ in MAPS})
    state.elements.update({name: {} for name in SETS})
    for addr in config.nodeport_addresses:
        state.elements["nodeport-ips"][addr] = addr

    decl_lines: list[str] = []
    chain_lines: list[str] = []
    for spn in sorted(services):
        sp = services[spn]
        svc = _service(sp, endpoints.get(spn, ()), config)
        state.chains.update(svc.chains)
        state.affinity_sets.update(svc.affinity)
        for map_name, key, text in svc.elements:
            state.elements[map_name][key] = text
        if partial and spn.service_key not in (changed or set()):
            continue
        for set_name, timeout in svc.affinity.items():
            decl_lines.append(f"add set {t} {set_name} {{ type ipv4_addr ; flags "
                              f"dynamic,timeout ; timeout {timeout}s ; }}")
        for chain, rules in svc.chains.items():
            decl_lines.append(f"add chain {t} {chain}")
            decl_lines.append(f"flush chain {t} {chain}")
            chain_lines += [f"add rule {t} {chain} {r}" for r in rules]

    # Every chain and set is declared before any rule refers to it.
    out += decl_lines + chain_lines
    # Elements: refill (full) or diff (partial).
    element_lines: list[str] = []
    stale_element_lines: list[str] = []
    for name, wanted in state.elements.items():
        kind = "set" if name in SETS else "map"
        if not partial or previous is None:
            if previous is not None:
                out.append(f"flush {kind} {t} {name}")
            element_lines += [f"add element {t} {name} {{ {text} }}"
                              for text in wanted.values()]
            continue
        had = previous.elements.get(name, {})
        for key, text in had.items():
            if wanted.get(key) != text:
                stale_element_lines.append(f"delete element {t} {name} {{ {key} }}")
        element_lines += [f"add element {t} {name} {{ {text} }}"
                          for key, text in wanted.items() if had.get(key) != text]
    out += stale_element_lines + element_lines

    # Stale chains and affinity sets: nothing refers to them any more.
    if previous is not None:
        stale = sorted(previous.chains - state.chains)
        # Flush them all first: a stale chain may still jump to another one.
        for chain in stale:
            out += [f"add chain {t} {chain}", f"flush chain {t} {chain}"]
        out += [f"delete chain {t} {chain}" for chain in stale]
        for set_name in sorted(set(previous.affinity_sets) - set(state.affinity_sets)):
            timeout = previous.affinity_sets[set_name]
            out += [f"add set {t} {set_name} {{ type ipv4_addr ; flags dynamic,timeout ; "
                    f"timeout {timeout}s ; }}", f"delete set {t} {set_name}"]
    count = sum(1 for line in out if line.startswith("add rule "))
    return Rendered("\n".join(out) + "\n", state, count)
