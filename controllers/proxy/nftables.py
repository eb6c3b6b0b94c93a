"""The nftables ruleset renderer (``pkg/proxy/nftables/proxier.go``); the proxier that
applies it is :class:`controllers.proxy.rules.NFTablesProxier`.

Everything lives in a private ``table ip kube-proxy`` with upstream's layout:

* base chains hooked at the nat and filter hooks (``nat-prerouting``,
  ``nat-output``, ``nat-postrouting``, ``filter-*``) jumping to ``services``,
  ``masquerading`` and the ``*-check`` chains;
* one dispatch rule ``ip daddr . meta l4proto . th dport vmap @service-ips`` in
  ``services`` (ClusterIPs, externalIPs, load-balancer IPs), then NodePorts via
  ``nodeports`` and the ``service-nodeports`` map;
* per service port the chains of :mod:`controllers.proxy.nftables_service`
  (``service-``, ``external-``, ``firewall-``, one ``endpoint-`` chain per
  endpoint, ``affinity-`` sets for ClientIP affinity);
* no endpoints: an element of ``no-endpoint-services`` / ``no-endpoint-nodeports``
  (``goto reject-chain``, or ``drop`` for external traffic of a Local policy).

:class:`NFTablesRenderer` keeps every service port's rendered fragment and what
the last applied sync left in the table. A sync is one ``nft -f`` transaction,
so the kernel applies it atomically: packets see the old ruleset or the new one.
The transaction declares every chain and set before any rule or map element
refers to it, then writes rules, then map elements (deletions before
additions, so a key moving between Services or maps never collides), then
flushes the chains nothing refers to any more and deletes the affinity sets
nothing updates any more.

* first sync (table contents unknown): ``add table`` + ``delete table`` and the
  whole ruleset, so leftovers of an earlier run vanish in the same transaction;
* full sync: every chain is flushed and rewritten, every map flushed and
  refilled, and the chains left unused by earlier partial syncs are deleted;
* partial sync: only the service ports whose ``ServicePort`` or endpoints
  objects were replaced are rendered, only their chains whose rules changed are
  flushed and rewritten, and only their map elements are diffed; the base chains
  are left alone. Unused chains are flushed but not deleted, as upstream defers
  it: ``delete chain``, ``add rule`` and ``add element`` make ``nft`` 1.0.6 fetch
  the table's whole chain list (at 60,000 chains, several times the cost of the
  rest of a small sync), while ``flush chain``, ``add chain NAME { RULES }`` and
  ``add map NAME { … elements = { … } }`` do not. A partial sync that removes map
  elements still pays for that fetch.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

from controllers.proxy.nftables_service import (
    HAIRPIN,
    TABLE,
    NFTablesConfig,
    ServiceFragment,
    chain_base,
    endpoint_chain_base,
    service_fragment,
)
from controllers.proxy.types import Endpoint, ServicePort, ServicePortName

__all__ = [
    "TABLE",
    "NFTablesConfig",
    "NFTablesRenderer",
    "NFTablesState",
    "Rendered",
    "chain_base",
    "endpoint_chain_base",
    "render",
]

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
SETS = ("cluster-ips", "nodeport-ips", HAIRPIN)
#: ``set`` or ``map`` of each, and its type (the declaration a partial sync adds elements with).
_KINDS = {**{m: "map" for m, _, _ in MAPS}, **{s: "set" for s in SETS}}
_SPECS = {**{m: f"type {key} : verdict ;" for m, key, _ in MAPS},
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


@dataclass
class NFTablesState:
    """What a sync leaves in the table: every service port's fragment and the
    configuration the base chains were written for."""

    fragments: dict[ServicePortName, ServiceFragment] = field(default_factory=dict)
    config: NFTablesConfig | None = None
    #: chains no longer used, flushed by a partial sync and deleted by the next full one.
    stale: set[str] = field(default_factory=set)


@dataclass
class Rendered:
    """One ``nft -f`` transaction and the state it leaves (``text`` is empty when a
    partial sync found nothing to change)."""

    text: str
    state: NFTablesState
    #: rules in the table after the transaction (not only the written ones).
    rules: int = 0
    full: bool = True


def _base(config: NFTablesConfig, fresh: bool) -> tuple[list[str], list[str], int]:
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


def _deletable(gone: dict[tuple[str, str], None],
               fragments: dict[ServicePortName, ServiceFragment]) -> list[tuple[str, str]]:
    """The elements of ``gone`` a partial sync deletes.

    Hairpin pairs stay (an endpoint IP may serve other service ports, and a pair is
    only ever matched by a connection DNATed to its own source, so a stale one is
    harmless; the next full sync drops it). A ClusterIP stays while another port of
    its Service still holds it.
    """
    out = [k for k in gone if k[0] != HAIRPIN]
    if any(m == "cluster-ips" for m, _ in out):
        held = {k for f in fragments.values() for k in f.elements if k[0] == "cluster-ips"}
        out = [k for k in out if k not in held]
    return out


def _affinity_decl(name: str, timeout: int) -> str:
    return (f"add set {TABLE} {name} {{ type ipv4_addr ; flags dynamic,timeout ; "
            f"timeout {timeout}s ; }}")


class NFTablesRenderer:
    """Renders syncs for one proxier, remembering what the last applied sync wrote.

    :meth:`render` builds a transaction; :meth:`commit` records that it was
    applied. While a rendered sync is not committed (or after :meth:`reset`),
    the next render starts from an unknown table (``delete table`` first).
    """

    def __init__(self, config: NFTablesConfig) -> None:
        self.config = config
        self.state: NFTablesState | None = None

    def reset(self) -> None:
        """Forget the table's contents (a sync failed): the next render starts afresh."""
        self.state = None

    def render(self, services: dict[ServicePortName, ServicePort], endpoints: Endpoints,
               *, full: bool = True) -> Rendered:
        """The transaction bringing the table to ``services``/``endpoints``.

        The cyclic garbage collector is paused meanwhile: a full render of
        10,000 Services allocates a few hundred thousand acyclic strings and
        lists, and the collections they would trigger cost as much as the
        rendering itself.
        """
        paused = gc.isenabled()
        gc.disable()
        try:
            return _render(services, endpoints, self.config, self.state, full)
        finally:
            if paused:
                gc.enable()

    def commit(self, rendered: Rendered) -> None:
        """Record that ``rendered`` was applied; later partial renders diff against it."""
        self.state = rendered.state


def _render(services: dict[ServicePortName, ServicePort], endpoints: Endpoints,
            config: NFTablesConfig, previous: NFTablesState | None, full: bool) -> Rendered:
    t = TABLE
    if previous is not None and previous.config != config:
        previous = None  # written for other flags: start afresh
    fresh = previous is None
    partial = not full and previous is not None
    old_frags = previous.fragments if previous is not None else {}
    fragments: dict[ServicePortName, ServiceFragment] = {}
    written: list[tuple[ServiceFragment | None, ServiceFragment]] = []
    kept = 0  # service ports that were in the previous sync too
    for spn, sp in services.items():
        eps = endpoints.get(spn, ())
        old = old_frags.get(spn)
        if old is not None:
            kept += 1
        if old is not None and ((old.service is sp and old.endpoints is eps) or
                                (old.service == sp and old.endpoints == eps)):
            frag = old
            if not partial:
                written.append((old, old))
        else:
            frag = service_fragment(sp, eps, config)
            written.append((old, frag))
        fragments[spn] = frag
    removed = [] if kept == len(old_frags) else [
        f for spn, f in old_frags.items() if spn not in fragments]

    stale_before = previous.stale if previous is not None else set()
    out: list[str] = []
    decls: list[str] = []
    rules: list[str] = []
    base_decls, base_rules, base_count = _base(config, fresh)
    if fresh:
        out += [f"add table {t}", f"delete table {t}"]
    if not partial:
        decls += base_decls
        rules += base_rules
    for old, frag in written:
        was = old.chains if old is not None else {}
        for name, timeout in frag.affinity.items():
            if old is None or name not in old.affinity:
                decls.append(_affinity_decl(name, timeout))
        for chain, command in frag.chains.items():
            if partial and was.get(chain) == command:
                continue  # e.g. the endpoint chains of endpoints that stay
            decls.append(f"add chain {t} {chain}")
            if not fresh and (not partial or chain in was or chain in stale_before):
                decls.append(f"flush chain {t} {chain}")
            rules.append(command)

    # Elements: refill (full) or diff the rewritten service ports (partial).
    deletes: list[str] = []
    adds: list[str] = []
    added: dict[str, dict[str, None]] = {}
    if not partial:
        if not fresh:
            deletes += [f"flush {'set' if n in SETS else 'map'} {t} {n}"
                        for n in (*SETS, *(m for m, _, _ in MAPS))]
        adds += [f"add element {t} nodeport-ips {{ {a} }}" for a in config.nodeport_addresses]
        every: dict[tuple[str, str], str] = {}
        for frag in fragments.values():
            every.update(frag.elements)  # shared keys (hairpin pairs, ClusterIPs) once
        by_map: dict[str, list[str]] = {}
        for (m, _), text in every.items():
            by_map.setdefault(m, []).append(text)
        # One command per map: nft parses, evaluates and sends them as one batch each.
        adds += [f"add element {t} {m} {{ {', '.join(texts)} }}" for m, texts in by_map.items()]
    else:
        gone: dict[tuple[str, str], None] = {}
        for old, frag in written:
            had = old.elements if old is not None else {}
            for k, text in had.items():
                if frag.elements.get(k) != text:
                    gone[k] = None
            for k, text in frag.elements.items():
                if had.get(k) != text:
                    added.setdefault(k[0], {})[text] = None
        for frag in removed:
            gone.update(dict.fromkeys(frag.elements))
        deletes += [f"delete element {t} {m} {{ {key} }}"
                    for m, key in _deletable(gone, fragments)]
        # Elements as part of a map declaration: unlike ``add element``, that makes
        # nft fetch no chain list.
        adds += [f"add {_KINDS[m]} {t} {m} {{ {_SPECS[m]} elements = {{ {', '.join(texts)} }} ; }}"
                 for m, texts in added.items()]

    # Chains and affinity sets nothing refers to any more (flushed first: a stale
    # chain may still jump to another stale one).
    stale_chains: list[str] = []
    stale_sets: list[tuple[str, int]] = []
    if not fresh:
        replaced = [(old, frag.chains, frag.affinity) for old, frag in written
                    if old is not None and old is not frag]
        replaced += [(old, {}, {}) for old in removed]
        for old, keep, keep_sets in replaced:
            stale_chains += [c for c in old.chains if c not in keep]
            stale_sets += [(s, n) for s, n in old.affinity.items() if s not in keep_sets]
    out += decls + rules + deletes + adds
    # A partial sync only flushes them (``delete chain`` would make nft fetch the
    # table's chain list); a full sync deletes them and those of earlier partial syncs.
    in_use = {c for _, frag in written for c in frag.chains}
    stale = {c for c in stale_before if c not in in_use} if not fresh else set()
    stale.update(stale_chains)
    out += [f"flush chain {t} {chain}" for chain in stale_chains]
    if not partial:
        out += [f"delete chain {t} {chain}" for chain in sorted(stale)]
        stale = set()
    for name, timeout in stale_sets:
        out += [_affinity_decl(name, timeout), f"delete set {t} {name}"]

    count = base_count + sum(f.rules for f in fragments.values())
    state = NFTablesState(fragments, config, stale)
    text = "\n".join(out) + "\n" if out else ""
    return Rendered(text, state, count, not partial)


def render(
    services: dict[ServicePortName, ServicePort],
    endpoints: Endpoints,
    config: NFTablesConfig,
    *,
    previous: NFTablesState | None = None,
    changed: set[str] | None = None,
) -> Rendered:
    """The ``nft -f`` transaction for the maps, without a renderer object.

    ``previous`` is the state of the last successful sync (``None``: unknown,
    the table is deleted and recreated). With ``changed`` (``ns/name`` keys, a
    hint only: every service port whose objects differ from ``previous`` is
    rewritten) the sync is partial.
    """
    renderer = NFTablesRenderer(config)
    renderer.state = previous
    return renderer.render(services, endpoints, full=changed is None)
