"""Rule-based proxiers: iptables and nftables (their renderers and ipvs live in their modules).

The iptables proxier ensures upstream's jump rules and the
``KUBE-PROXY-CANARY`` chains on full syncs (``iptables -N``/``-C``/``-I``),
then applies the rendered sync (everything on a full sync, only the changed
chains on a partial one) with one ``iptables-restore --noflush --counters``.
Before each sync it checks the canary: a flushed table forces a full sync.
The nftables proxier applies :class:`controllers.proxy.nftables.NFTablesRenderer`'s
transaction (everything on a full sync, only the changed service ports on a partial one)
with one ``nft -f``. ``--dry-run`` prints the input and applies nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import re
import sys

from controllers.proxy.addresses import host_addresses
from controllers.proxy.iptables import IPTablesConfig, IPTablesRenderer, jump_rules
from controllers.proxy.nftables import NFTablesConfig, NFTablesRenderer
from controllers.proxy.types import Endpoint, Proxier, ServicePort, ServicePortName

__all__ = ["IptablesProxier", "NFTablesProxier", "make_rule_proxier"]

log = logging.getLogger(__name__)

CANARY = "KUBE-PROXY-CANARY"

#: Chain declarations from which a restore on the nf_tables backend gets a leading ``-S``.
WHOLE_CACHE_CHAINS = 1000


def with_whole_table_cache(text: str) -> str:
    """``text`` with a ``-S`` opening each table of a restore that declares many chains.

    iptables-nft 1.8 collects the chains a restore's commands name into a
    sorted linked list (to fetch just those from the kernel), inserting each
    name by a linear scan: a 10,000-Service full sync (60,000 chains, 230,000
    commands) then takes 442 s. A chain-less command such as ``-S`` makes it
    fetch the whole table instead, and the same restore takes 5 s. ``-S`` only
    lists the table (the caller discards the listing).
    """
    if text.count("\n:") < WHOLE_CACHE_CHAINS:
        return text
    return re.sub(r"^(\*(?:filter|nat))$", "\\1\n-S", text, flags=re.M)


async def _run(*argv: str, stdin: bytes | None = None,
               discard_stdout: bool = False) -> tuple[int, str]:
    """Exit code and output (stdout and stderr; only stderr with ``discard_stdout``)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else None,
        stdout=asyncio.subprocess.DEVNULL if discard_stdout else asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE if discard_stdout else asyncio.subprocess.STDOUT)
    out, err = await proc.communicate(stdin)
    return proc.returncode or 0, (err if discard_stdout else out).decode(errors="replace")


class _RuleProxier:
    """What both rule proxiers share: the last sync's rendered input, ``--dry-run``."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.last_text = ""

    def _shown(self, text: str) -> bool:
        """Remember ``text``; with ``--dry-run`` print it and say so (apply nothing)."""
        self.last_text = text
        if self.dry_run:
            sys.stdout.write(text)
            sys.stdout.flush()
        return self.dry_run

    async def cleanup(self) -> None:
        """Nothing to release: rules stay for the next start."""
        return None


class IptablesProxier(_RuleProxier):
    """Programs the iptables nat and filter tables."""

    def __init__(self, config: IPTablesConfig, *, dry_run: bool = False,
                 iptables: str = "iptables") -> None:
        super().__init__(dry_run)
        self.config = config
        self.iptables = iptables
        self.restore = iptables + "-restore"
        #: Whether ``iptables`` is the nf_tables backend (asked before the first sync).
        self.nf_tables: bool | None = None
        self.renderer = IPTablesRenderer(config)

    async def _ensure_base(self) -> None:
        for table in ("mangle", "nat", "filter"):
            await _run(self.iptables, "-w", "-t", table, "-N", CANARY)
        for table in ("nat", "filter"):
            for chain in ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING",
                          "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-PROXY-FIREWALL",
                          "KUBE-MARK-MASQ"):
                if table == "nat" and chain in ("KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD",
                                                "KUBE-PROXY-FIREWALL"):
                    continue
                if table == "filter" and chain in ("KUBE-POSTROUTING", "KUBE-MARK-MASQ"):
                    continue
                await _run(self.iptables, "-w", "-t", table, "-N", chain)
        for table, chain, args in jump_rules():
            code, _ = await _run(self.iptables, "-w", "-t", table, "-C", chain, *args)
            if code != 0:
                code, out = await _run(self.iptables, "-w", "-t", table, "-I", chain, *args)
                if code != 0:
                    raise RuntimeError(f"iptables -t {table} -I {chain} failed: {out.strip()}")

    async def _restore(self, text: str) -> None:
        """``iptables-restore --noflush --counters`` of ``text``; raises on failure."""
        if self.nf_tables:
            text = with_whole_table_cache(text)
        code, err = await _run(self.restore, "-w", "--noflush", "--counters",
                               stdin=text.encode(), discard_stdout=True)
        if code != 0:
            raise RuntimeError(f"iptables-restore failed: {err.strip()}")

    async def _canary_ok(self) -> bool:
        code, _ = await _run(self.iptables, "-w", "-t", "mangle", "-S", CANARY)
        return code == 0

    async def sync(
        self,
        services: dict[ServicePortName, ServicePort],
        endpoints: dict[ServicePortName, tuple[Endpoint, ...]],
        changed: set[str],
        full: bool,
    ) -> None:
        if not self.dry_run and not full and not await self._canary_ok():
            log.warning("the %s chain is gone (tables flushed?): full sync", CANARY)
            full = True
        full = full or not self.renderer.committed
        if full and not self.dry_run:
            await self._ensure_base()
            if self.nf_tables is None:
                _, version = await _run(self.iptables, "--version")
                self.nf_tables = "nf_tables" in version
                self.renderer.descending_declarations = not self.nf_tables
        rendered = self.renderer.render(services, endpoints, full=full)
        if not self._shown(rendered.text) and rendered.text:
            await self._restore(rendered.text)
        self.renderer.commit(rendered)
        log.info("iptables: %d rules, %d restore lines (%s sync)", rendered.rules,
                 rendered.text.count("\n"), "full" if full else "partial")


class NFTablesProxier(_RuleProxier):
    """Programs ``table ip kube-proxy`` with one ``nft -f`` transaction per sync."""

    def __init__(self, config: NFTablesConfig, *, dry_run: bool = False,
                 nft: str = "nft") -> None:
        super().__init__(dry_run)
        self.config = config
        self.nft = nft
        self.renderer = NFTablesRenderer(config)

    async def sync(
        self,
        services: dict[ServicePortName, ServicePort],
        endpoints: dict[ServicePortName, tuple[Endpoint, ...]],
        changed: set[str],
        full: bool,
    ) -> None:
        rendered = self.renderer.render(services, endpoints, full=full)
        if not self._shown(rendered.text) and rendered.text:
            code, out = await _run(self.nft, "-f", "-", stdin=rendered.text.encode())
            if code != 0:
                self.renderer.reset()  # unknown now: the next sync starts afresh
                raise RuntimeError(f"nft -f failed: {out.strip()[:2000]}")
        self.renderer.commit(rendered)
        log.info("nftables: %d rules, %d lines (%s sync)", rendered.rules,
                 rendered.text.count("\n"), "full" if rendered.full else "partial")


def _nodeport_addresses(spec: str) -> tuple[str, ...]:
    out = []
    for item in (s.strip() for s in spec.split(",")):
        if item:
            net = ipaddress.ip_network(item, strict=False)
            out.append(str(net.network_address) if net.num_addresses == 1 else str(net))
    return tuple(out)


def make_rule_proxier(args: argparse.Namespace) -> Proxier:
    """The rule-based proxier of ``args.proxy_mode``."""
    if args.proxy_mode == "iptables":
        cfg = IPTablesConfig(
            cluster_cidr=args.cluster_cidr, masquerade_all=args.masquerade_all,
            masquerade_bit=args.masquerade_bit,
            nodeport_addresses=_nodeport_addresses(args.nodeport_addresses),
        )
        return IptablesProxier(cfg, dry_run=args.dry_run)
    if args.proxy_mode == "nftables":
        return NFTablesProxier(NFTablesConfig(
            cluster_cidr=args.cluster_cidr, masquerade_all=args.masquerade_all,
            masquerade_bit=args.masquerade_bit,
            nodeport_addresses=_nodeport_addresses(args.nodeport_addresses),
        ), dry_run=args.dry_run)
    if args.proxy_mode == "ipvs":
        from controllers.proxy.ipvs import IPVSConfig, IPVSProxier

        return IPVSProxier(IPVSConfig(
            cluster_cidr=args.cluster_cidr, masquerade_all=args.masquerade_all,
            masquerade_bit=args.masquerade_bit,
            node_ips=_node_ips(_nodeport_addresses(args.nodeport_addresses)),
        ), dry_run=args.dry_run)
    raise SystemExit(f"--proxy-mode {args.proxy_mode} is not available")


def _local_ipv4() -> list[str]:
    """This host's IPv4 addresses, loopback excluded."""
    found = (ipaddress.ip_address(a) for a in host_addresses())
    return [str(a) for a in found if a.version == 4 and not a.is_loopback]


def _node_ips(spec: tuple[str, ...]) -> tuple[str, ...]:
    """NodePort addresses of the ipvs mode: single addresses as given, CIDRs (or nothing:
    every address) matched against this host's addresses."""
    singles = [s for s in spec if "/" not in s]
    nets = [ipaddress.ip_network(s) for s in spec if "/" in s]
    if spec and not nets:
        return tuple(singles)
    local = _local_ipv4()
    picked = [ip for ip in local if not nets or any(ipaddress.ip_address(ip) in n
                                                     for n in nets)]
    return tuple(dict.fromkeys(singles + picked))
