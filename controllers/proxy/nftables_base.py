"""The fixed part of ``table ip kube-proxy``: its sets, verdict maps and base chains.

:func:`base` renders what every full sync declares and writes besides the service
ports' fragments: the table, the shared sets (``cluster-ips``, ``nodeport-ips``,
``hairpin-endpoints``) and verdict maps, and the base and helper chains with
their rules. :mod:`controllers.proxy.nftables` explains where these rules differ
from upstream's (hairpin and ClusterIP masquerading).
"""

from __future__ import annotations

from controllers.proxy.nftables_service import HAIRPIN, TABLE, NFTablesConfig

__all__ = ["BASE_CHAINS", "KINDS", "MAPS", "SETS", "SPECS", "base"]

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
SETS = ("cluster-ips", "nodeport-ips", HAIRPIN)
#: ``set`` or ``map`` of each, and its type (the declaration a partial sync adds elements with).
KINDS = {**{m: "map" for m, _, _ in MAPS}, **{s: "set" for s in SETS}}
SPECS = {**{m: f"type {key} : verdict ;" for m, key, _ in MAPS},
          "cluster-ips": "type ipv4_addr ;", HAIRPIN: "type ipv4_addr . ipv4_addr ;"}

#: (chain, hook spec or "") of the chains every full sync writes.
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


def base(config: NFTablesConfig, fresh: bool) -> tuple[list[str], list[str], int]:
    """Declarations and rules of the table, its maps and base chains."""
    t = TABLE
    mark = config.mark
    decls = [f'add table {t} {{ comment "rules for kube-proxy" ; }}']
    interval = " flags interval ;" if any("/" in a for a in config.nodeport_addresses) else ""
    decls.append(f'add set {t} cluster-ips {{ type ipv4_addr ; comment "Active ClusterIPs" ; }}')
    decls.append(f"add set {t} nodeport-ips {{ type ipv4_addr ;{interval} "
                 'comment "IPs that accept NodePort traffic" ; }')
    decls.append(f"add set {t} {HAIRPIN} {{ type ipv4_addr . ipv4_addr ; "
                 'comment "endpoint IP . endpoint IP: connections DNATed to their source" ; }')
    for name, key, comment in MAPS:
        decls.append(f'add map {t} {name} {{ type {key} : verdict ; comment "{comment}" ; }}')
    for chain, spec in BASE_CHAINS:
        decls.append(f"add chain {t} {chain}" + (f" {{ {spec} }}" if spec else ""))
        if not fresh:
            decls.append(f"flush chain {t} {chain}")
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
        ("masquerading", f"ct status dnat ip saddr . ip daddr @{HAIRPIN} "
                         "jump mark-for-masquerade"),
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
        *_cluster_ip_masquerade(config),
        ("services", "ip daddr . meta l4proto . th dport vmap @service-ips"),
        ("services", f"{np_match} jump nodeports"),
        ("service-endpoints-check",
         "ip daddr . meta l4proto . th dport vmap @no-endpoint-services"),
    ]
    return decls, [f"add rule {t} {chain} {rule}" for chain, rule in rules], len(rules)


def _cluster_ip_masquerade(config: NFTablesConfig) -> list[tuple[str, str]]:
    """Upstream's first rule of every service chain (``ip daddr CLUSTER-IP [ip saddr !=
    CIDR] jump mark-for-masquerade``) as one rule in ``services`` matching every
    ClusterIP: a packet to a ClusterIP that no service chain takes is rejected by the
    filter chains and never masqueraded, so the mark changes nothing for it."""
    if config.masquerade_all:
        return [("services", "ip daddr @cluster-ips jump mark-for-masquerade")]
    if config.cluster_cidr:
        return [("services", f"ip daddr @cluster-ips ip saddr != {config.cluster_cidr} "
                             "jump mark-for-masquerade")]
    return []
