"""The IPVS dataplane renderer and proxier (``pkg/proxy/ipvs/proxier.go``).

:func:`render` turns the service-port and endpoints maps into the four pieces
of state upstream's ipvs mode keeps:

* IPVS virtual servers in ``ipvsadm-restore`` syntax: one ``-A -t|-u VIP:port -s
  rr`` per ClusterIP, externalIP, load-balancer IP and NodePort (on each node
  address), ``-p <timeout>`` for ClientIP affinity, and one ``-a … -r EP:port -m
  -w 1`` (masquerading real server, weight 1) per endpoint;
* the addresses bound to the dummy interface ``kube-ipvs0``;
* ipsets in ``ipset restore`` syntax (``KUBE-CLUSTER-IP``, ``KUBE-LOOP-BACK``,
  ``KUBE-EXTERNAL-IP``, ``KUBE-LOAD-BALANCER``, ``KUBE-NODE-PORT-TCP``/``-UDP``, their
  ``-LOCAL`` variants, ``KUBE-HEALTH-CHECK-NODE-PORT`` …) with upstream's names, types
  and comments;
* the small, constant-size iptables ruleset matching those sets (``KUBE-SERVICES``,
  ``KUBE-NODE-PORT``, ``KUBE-LOAD-BALANCER``, ``KUBE-POSTROUTING``, ``KUBE-MARK-MASQ``,
  filter ``KUBE-FORWARD``/``KUBE-NODE-PORT``/``KUBE-PROXY-FIREWALL``).

Applying needs the ``ip_vs`` kernel module; without it (as on these machines)
the proxier refuses to start unless ``--dry-run``, which prints the rendering.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from dataclasses import dataclass, field

from controllers.proxy.change_tracker import categorize_endpoints
from controllers.proxy.types import Endpoint, MasqueradeConfig, ServicePort, ServicePortName

__all__ = [
    "DUMMY_DEVICE",
    "IPSETS",
    "IPVSConfig",
    "IPVSProxier",
    "Rendered",
    "ipvs_available",
    "render",
]

log = logging.getLogger(__name__)

DUMMY_DEVICE = "kube-ipvs0"
SCHEDULER = "rr"

#: name -> (type, comment), as ``pkg/proxy/ipvs/ipset.go``.
IPSETS: dict[str, tuple[str, str]] = {
    "KUBE-LOOP-BACK": ("hash:ip,port,ip",
                       "Kubernetes endpoints dst ip:port, source ip for solving hairpin "
                       "purpose"),
    "KUBE-CLUSTER-IP": ("hash:ip,port",
                        "Kubernetes service cluster ip + port for masquerade purpose"),
    "KUBE-EXTERNAL-IP": ("hash:ip,port",
                         "Kubernetes service external ip + port for masquerade and filter "
                         "purpose"),
    "KUBE-EXTERNAL-IP-LOCAL": ("hash:ip,port",
                               "Kubernetes service external ip + port with "
                               "externalTrafficPolicy=local"),
    "KUBE-LOAD-BALANCER": ("hash:ip,port", "Kubernetes service lb portal"),
    "KUBE-LOAD-BALANCER-LOCAL": ("hash:ip,port",
                                 "Kubernetes service load balancer ip + port with "
                                 "externalTrafficPolicy=local"),
    "KUBE-LOAD-BALANCER-FW": ("hash:ip,port",
                              "Kubernetes service load balancer ip + port for load balancer "
                              "with sourceRange"),
    "KUBE-LOAD-BALANCER-SOURCE-CIDR": ("hash:ip,port,net",
                                       "Kubernetes service load balancer ip + port + source "
                                       "cidr for packet filter purpose"),
    "KUBE-NODE-PORT-TCP": ("bitmap:port", "Kubernetes nodeport TCP port for masquerade purpose"),
    "KUBE-NODE-PORT-LOCAL-TCP": ("bitmap:port",
                                 "Kubernetes nodeport TCP port with externalTrafficPolicy=local"),
    "KUBE-NODE-PORT-UDP": ("bitmap:port", "Kubernetes nodeport UDP port for masquerade purpose"),
    "KUBE-NODE-PORT-LOCAL-UDP": ("bitmap:port",
                                 "Kubernetes nodeport UDP port with externalTrafficPolicy=local"),
    "KUBE-HEALTH-CHECK-NODE-PORT": ("bitmap:port", "Kubernetes health check node port"),
}

Endpoints = dict[ServicePortName, tuple[Endpoint, ...]]


@dataclass(frozen=True)
class IPVSConfig(MasqueradeConfig):
    """Flags the rendering depends on."""

    #: Node addresses NodePorts get a virtual server on.
    node_ips: tuple[str, ...] = ()
    scheduler: str = SCHEDULER


@dataclass
class Rendered:
    """Everything one sync programs."""

    ipvs: list[str] = field(default_factory=list)
    ipsets: dict[str, list[str]] = field(default_factory=dict)
    addresses: list[str] = field(default_factory=list)
    iptables: str = ""

    def ipset_restore(self) -> str:
        """``ipset restore -exist`` input: create every set, flush it, add its members."""
        out = []
        for name, (kind, comment) in IPSETS.items():
            opts = "range 0-65535" if kind == "bitmap:port" else (
                "family inet hashsize 1024 maxelem 65536")
            out.append(f"create {name} {kind} {opts} comment")
            out.append(f"flush {name}")
            out += [f'add {name} {entry} comment "{comment}"'
                    for entry in self.ipsets.get(name, [])]
        return "\n".join(out) + "\n"

    def text(self) -> str:
        """The ``--dry-run`` output."""
        parts = ["# ipvsadm-restore", *self.ipvs, "",
                 f"# addresses on {DUMMY_DEVICE}",
                 *(f"ip addr add {a}/32 dev {DUMMY_DEVICE}" for a in self.addresses), "",
                 "# ipset restore", self.ipset_restore(),
                 "# iptables-restore", self.iptables]
        return "\n".join(parts)


def _flag(protocol: str) -> str:
    return {"TCP": "-t", "UDP": "-u", "SCTP": "--sctp-service"}.get(protocol.upper(), "-t")


def _virtual_server(vs: list[str], protocol: str, vip: str, port: int,
                    eps: tuple[Endpoint, ...], affinity: int | None, scheduler: str) -> None:
    flag = _flag(protocol)
    addr = f"{vip}:{port}"
    persist = f" -p {affinity}" if affinity is not None else ""
    vs.append(f"-A {flag} {addr} -s {scheduler}{persist}")
    vs += [f"-a {flag} {addr} -r {ep.ip}:{ep.port} -m -w 1" for ep in eps]


def render(services: dict[ServicePortName, ServicePort], endpoints: Endpoints,
           config: IPVSConfig) -> Rendered:
    """The whole IPVS-mode state for the maps (the ipvs mode always syncs in full)."""
    out = Rendered()
    sets: dict[str, set[str]] = {name: set() for name in IPSETS}
    addresses: set[str] = set()
    for spn in sorted(services):
        sp = services[spn]
        proto = sp.protocol.lower()
        cluster_eps, local_eps = categorize_endpoints(sp, endpoints.get(spn, ()))
        ext_eps = local_eps if sp.external_policy_local else cluster_eps
        aff = sp.affinity_seconds
        for ep in set(cluster_eps) | set(local_eps):
            sets["KUBE-LOOP-BACK"].add(f"{ep.ip},{proto}:{ep.port},{ep.ip}")
        # ClusterIP.
        sets["KUBE-CLUSTER-IP"].add(f"{sp.cluster_ip},{proto}:{sp.port}")
        addresses.add(sp.cluster_ip)
        _virtual_server(out.ipvs, sp.protocol, sp.cluster_ip, sp.port, cluster_eps, aff,
                        config.scheduler)
        # External IPs.
        for ip in sp.external_ips:
            entry = f"{ip},{proto}:{sp.port}"
            sets["KUBE-EXTERNAL-IP"].add(entry)
            if sp.external_policy_local:
                sets["KUBE-EXTERNAL-IP-LOCAL"].add(entry)
            addresses.add(ip)
            _virtual_server(out.ipvs, sp.protocol, ip, sp.port, ext_eps, aff, config.scheduler)
        # Load-balancer ingress IPs.
        for ip in sp.load_balancer_ips:
            entry = f"{ip},{proto}:{sp.port}"
            sets["KUBE-LOAD-BALANCER"].add(entry)
            if sp.external_policy_local:
                sets["KUBE-LOAD-BALANCER-LOCAL"].add(entry)
            if sp.load_balancer_source_ranges:
                sets["KUBE-LOAD-BALANCER-FW"].add(entry)
                for src in sp.load_balancer_source_ranges:
                    sets["KUBE-LOAD-BALANCER-SOURCE-CIDR"].add(f"{entry},{src.strip()}")
            addresses.add(ip)
            _virtual_server(out.ipvs, sp.protocol, ip, sp.port, ext_eps, aff, config.scheduler)
        # NodePorts: one virtual server per node address.
        if sp.node_port and proto in ("tcp", "udp"):
            suffix = proto.upper()
            sets[f"KUBE-NODE-PORT-{suffix}"].add(str(sp.node_port))
            if sp.external_policy_local:
                sets[f"KUBE-NODE-PORT-LOCAL-{suffix}"].add(str(sp.node_port))
            for node_ip in config.node_ips:
                _virtual_server(out.ipvs, sp.protocol, node_ip, sp.node_port, ext_eps, aff,
                                config.scheduler)
        if sp.health_check_node_port:
            sets["KUBE-HEALTH-CHECK-NODE-PORT"].add(str(sp.health_check_node_port))
    out.ipsets = {name: sorted(entries) for name, entries in sets.items()}
    out.addresses = sorted(addresses)
    out.iptables = _iptables(config, {k: bool(v) for k, v in sets.items()})
    return out


def _iptables(config: IPVSConfig, used: dict[str, bool]) -> str:
    """The constant-size ruleset of ``writeIptablesRules`` (ipset matches, not per service)."""
    mark = config.mark
    drop_mark = f"{1 << 15:#x}"

    def match(name: str, dims: str) -> str:
        return f'-m comment --comment "{IPSETS[name][1]}" -m set --match-set {name} {dims}'

    nat = ["*nat", ":KUBE-SERVICES - [0:0]", ":KUBE-POSTROUTING - [0:0]",
           ":KUBE-NODE-PORT - [0:0]", ":KUBE-LOAD-BALANCER - [0:0]",
           ":KUBE-MARK-MASQ - [0:0]"]
    svc: list[str] = []
    if used["KUBE-LOAD-BALANCER"]:
        svc.append(f"-A KUBE-SERVICES {match('KUBE-LOAD-BALANCER', 'dst,dst')} "
                   "-j KUBE-LOAD-BALANCER")
        if used["KUBE-LOAD-BALANCER-LOCAL"]:
            nat.append(f"-A KUBE-LOAD-BALANCER {match('KUBE-LOAD-BALANCER-LOCAL', 'dst,dst')} "
                       "-j RETURN")
        nat.append("-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ")
    if config.masquerade_all:
        svc.append(f"-A KUBE-SERVICES {match('KUBE-CLUSTER-IP', 'dst,dst')} -j KUBE-MARK-MASQ")
    elif config.cluster_cidr:
        svc.append(f"-A KUBE-SERVICES ! -s {config.cluster_cidr} "
                   f"{match('KUBE-CLUSTER-IP', 'dst,dst')} -j KUBE-MARK-MASQ")
    if used["KUBE-EXTERNAL-IP"]:
        ext = match("KUBE-EXTERNAL-IP", "dst,dst")
        svc.append(f"-A KUBE-SERVICES {ext} -j KUBE-MARK-MASQ")
        svc.append(f"-A KUBE-SERVICES {ext} -m physdev ! --physdev-is-in "
                   "-m addrtype ! --src-type LOCAL -j ACCEPT")
        svc.append(f"-A KUBE-SERVICES {ext} -m addrtype --dst-type LOCAL -j ACCEPT")
    svc.append("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT")
    svc.append(f"-A KUBE-SERVICES {match('KUBE-CLUSTER-IP', 'dst,dst')} -j ACCEPT")
    if used["KUBE-LOAD-BALANCER"]:
        svc.append(f"-A KUBE-SERVICES {match('KUBE-LOAD-BALANCER', 'dst,dst')} -j ACCEPT")
    nat += svc
    for proto in ("TCP", "UDP"):
        name = f"KUBE-NODE-PORT-{proto}"
        if not used[name]:
            continue
        p = proto.lower()
        if used[f"KUBE-NODE-PORT-LOCAL-{proto}"]:
            nat.append(f"-A KUBE-NODE-PORT -p {p} "
                       f"{match(f'KUBE-NODE-PORT-LOCAL-{proto}', 'dst')} -j RETURN")
        nat.append(f"-A KUBE-NODE-PORT -p {p} {match(name, 'dst')} -j KUBE-MARK-MASQ")
    nat.append(f"-A KUBE-POSTROUTING {match('KUBE-LOOP-BACK', 'dst,dst,src')} -j MASQUERADE")
    nat.append(f"-A KUBE-POSTROUTING -m mark ! --mark {mark}/{mark} -j RETURN")
    nat.append(f"-A KUBE-POSTROUTING -j MARK --xor-mark {mark}")
    nat.append('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic '
               'requiring SNAT" -j MASQUERADE --random-fully')
    nat.append(f"-A KUBE-MARK-MASQ -j MARK --or-mark {mark}")
    nat.append("COMMIT")

    filt = ["*filter", ":KUBE-FORWARD - [0:0]", ":KUBE-NODE-PORT - [0:0]",
            ":KUBE-PROXY-FIREWALL - [0:0]", ":KUBE-SOURCE-RANGES-FIREWALL - [0:0]",
            ":KUBE-FIREWALL - [0:0]"]
    filt.append('-A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping '
                f'marked packets" -m mark --mark {drop_mark}/{drop_mark} -j DROP')
    if used["KUBE-LOAD-BALANCER-FW"]:
        filt.append(f"-A KUBE-PROXY-FIREWALL {match('KUBE-LOAD-BALANCER-FW', 'dst,dst')} "
                    "-j KUBE-SOURCE-RANGES-FIREWALL")
        filt.append("-A KUBE-SOURCE-RANGES-FIREWALL "
                    f"{match('KUBE-LOAD-BALANCER-SOURCE-CIDR', 'dst,dst,src')} -j RETURN")
        filt.append("-A KUBE-SOURCE-RANGES-FIREWALL -j DROP")
    filt.append("-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP")
    filt.append('-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" '
                f"-m mark --mark {mark}/{mark} -j ACCEPT")
    filt.append('-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" '
                "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    if used["KUBE-HEALTH-CHECK-NODE-PORT"]:
        filt.append(f"-A KUBE-NODE-PORT {match('KUBE-HEALTH-CHECK-NODE-PORT', 'dst')} "
                    "-j ACCEPT")
    filt.append("COMMIT")
    return "\n".join(filt + nat) + "\n"


def ipvs_available() -> bool:
    """Whether the kernel offers IPVS (the ``ip_vs`` module is loaded)."""
    return os.path.exists("/proc/net/ip_vs")


async def _run(*argv: str, stdin: bytes | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else None,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate(stdin)
    return proc.returncode or 0, out.decode(errors="replace")


class IPVSProxier:
    """Renders (and, where the kernel has ip_vs, applies) the IPVS-mode state."""

    def __init__(self, config: IPVSConfig, *, dry_run: bool = False) -> None:
        if not dry_run and not ipvs_available():
            raise SystemExit(
                "--proxy-mode ipvs: the kernel offers no IPVS (/proc/net/ip_vs is missing; "
                "load the ip_vs module), refusing to start; use --dry-run to print the "
                "rendered virtual servers, ipsets and iptables rules, or another proxy mode")
        self.config = config
        self.dry_run = dry_run
        self.last: Rendered | None = None

    async def sync(
        self,
        services: dict[ServicePortName, ServicePort],
        endpoints: dict[ServicePortName, tuple[Endpoint, ...]],
        changed: set[str],
        full: bool,
    ) -> None:
        rendered = render(services, endpoints, self.config)
        self.last = rendered
        if self.dry_run:
            sys.stdout.write(rendered.text())
            sys.stdout.flush()
            return
        steps: list[tuple[tuple[str, ...], str | None]] = [
            (("ip", "link", "add", DUMMY_DEVICE, "type", "dummy"), None),
            (("ipset", "restore", "-exist"), rendered.ipset_restore()),
            (("ipvsadm", "--clear"), None),
            (("ipvsadm-restore",), "\n".join(rendered.ipvs) + "\n"),
            (("iptables-restore", "-w", "--noflush"), rendered.iptables),
        ]
        for argv, stdin in steps:
            code, out = await _run(*argv, stdin=stdin.encode() if stdin is not None else None)
            if code != 0 and argv[1:3] != ("link", "add"):
                raise RuntimeError(f"{' '.join(argv)} failed: {out.strip()[:2000]}")
        for addr in rendered.addresses:
            await _run("ip", "addr", "replace", f"{addr}/32", "dev", DUMMY_DEVICE)
        log.info("ipvs: %d virtual server lines", len(rendered.ipvs))

    async def cleanup(self) -> None:
        return None
