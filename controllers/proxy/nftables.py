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
  (``service-``, ``external-``, ``firewall-``; ``endpoint-`` chains and
  ``affinity-`` sets only for ClientIP affinity);
* no endpoints: an element of ``no-endpoint-services`` / ``no-endpoint-nodeports``
  (``goto reject-chain``, or ``drop`` for external traffic of a Local policy).

Where ``nft list table ip kube-proxy`` differs from upstream's, for the cost of a
sync at scale (the kernel and ``nft`` spend their time per chain, rule and
expression, and at commit walk every rule reachable from each nat base chain):

* a service chain DNATs itself (see :mod:`controllers.proxy.nftables_service`), so
  10,000 Services x 5 endpoints are 10,000 chains of 50,000 rules, not 60,000
  chains of 160,000 rules;
* hairpin masquerade: instead of each endpoint chain's ``ip saddr ENDPOINT jump
  mark-for-masquerade``, ``masquerading`` starts with ``ct status dnat ip saddr .
  ip daddr @hairpin-endpoints jump mark-for-masquerade``, the set holding
  ``IP . IP`` for every programmed endpoint IP: a connection DNATed to its own
  source is a hairpin by definition, so a stale pair is harmless; partial syncs
  only add pairs and full syncs refill the set;
* instead of a first rule in every service chain, ``services`` marks traffic to
  any ClusterIP from outside ``--cluster-cidr`` (or all of it with
  ``--masquerade-all``) once: ``ip daddr @cluster-ips ip saddr != CIDR jump
  mark-for-masquerade``. A packet to a ClusterIP no service chain takes is
  rejected by the filter chains before it could be masqueraded.

:class:`NFTablesRenderer` keeps every service port's rendered fragment and what
the last applied sync left in the table. A sync is one ``nft -f`` transaction,
so the kernel applies it atomically: packets see the old ruleset or the new one.
The transaction declares the table, its sets, maps and base chains, then writes
the service ports' chains (``add chain NAME { RULES }``, each fragment's chains
after those they jump to, so they need no declaration; an existing one is flushed
first), then map elements (deletions before additions, so a key moving between
Services or maps never collides), then flushes the chains nothing refers to any
more and deletes the affinity sets nothing updates any more.

* first sync (table contents unknown): ``add table`` + ``delete table`` and the
  whole ruleset, so leftovers of an earlier run vanish in the same transaction;
* full sync: every chain is flushed and rewritten, every map and set flushed and
  refilled (one ``add element`` command per map), and the chains left unused by
  earlier partial syncs are deleted;
* partial sync: only the service ports whose ``ServicePort`` or endpoints
  objects were replaced are rendered, only their chains whose rules changed are
  flushed and rewritten, and only their map elements are diffed; the base chains
  are left alone. Unused chains are flushed but not deleted, as upstream defers
  it: ``delete chain``, ``add rule`` and ``add element`` make ``nft`` 1.0.6 fetch
  the table's whole chain list, while ``flush chain``, ``add chain NAME { RULES }``
  and ``add map NAME { … elements = { … } }`` do not. A partial sync that removes
  map elements (a Service losing its last endpoint, or deleted) still pays for
  that fetch; one that replaces endpoints adds hairpin pairs and deletes nothing.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

from controllers.proxy.nftables_base import KINDS, MAPS, SETS, SPECS, base
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
        held = {f.service.cluster_ip for f in fragments.values()}  # every port has its IP
        out = [(m, key) for m, key in out if m != "cluster-ips" or key not in held]
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
    base_decls, base_rules, base_count = base(config, fresh)
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
            # The block creates a new chain; one the table has is emptied first. A
            # fragment lists a chain after those it jumps to, so none needs declaring.
            if chain in was or chain in stale_before:
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
        adds += [f"add {KINDS[m]} {t} {m} {{ {SPECS[m]} elements = {{ {', '.join(texts)} }} ; }}"
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
