"""A pod's ``/etc/resolv.conf``, formed as the kubelet forms it (``pkg/kubelet/network/dns``).

:func:`pod_dns` picks the base configuration by ``spec.dnsPolicy``:

* ``ClusterFirst`` (the default) on the pod network, and ``ClusterFirstWithHostNet``: the
  cluster DNS addresses (``--cluster-dns``) as the only nameservers, the search list
  ``<ns>.svc.<domain> svc.<domain> <domain>`` followed by the host's, ``options ndots:5``;
  without ``--cluster-dns`` the pod falls back to ``Default`` and a ``MissingClusterDNS``
  warning says so;
* ``ClusterFirst`` with ``hostNetwork``, and ``Default``: the host's configuration
  (``--resolv-conf``; an empty path means ``nameserver 127.0.0.1``, ``search .``);
* ``None``: nothing but the pod's ``dnsConfig``.

``spec.dnsConfig`` is then appended: nameservers and searches without duplicates, options
merged by name (the pod's value wins). The result is cut to the kubelet's limits (3
nameservers; 32 search domains, none over 253 characters, at most 2048 characters in all),
each cut reported as a ``DNSConfigForming`` warning. :meth:`PodDNS.render` writes it as the
container runtime does: ``search``, then ``nameserver`` lines, then ``options``.
:class:`ClusterDNS` holds the node's settings (the kubelet's ``--cluster-dns``,
``--cluster-domain`` and ``--resolv-conf``) and writes a pod's file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ClusterDNS", "PodDNS", "parse_resolv_conf", "pod_dns"]

MAX_NAMESERVERS = 3
MAX_SEARCH_PATHS = 32
MAX_SEARCH_CHARS = 2048
MAX_DOMAIN_LENGTH = 253
DEFAULT_OPTIONS = ("ndots:5",)


@dataclass
class PodDNS:
    """One pod's resolver configuration, and the warnings (reason, message) forming it."""

    nameservers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)

    def render(self) -> str:
        """The file's text."""
        lines = [f"search {' '.join(self.searches)}"] if self.searches else []
        lines += [f"nameserver {ns}" for ns in self.nameservers]
        if self.options:
            lines.append(f"options {' '.join(self.options)}")
        return "".join(line + "\n" for line in lines)


def parse_resolv_conf(text: str) -> tuple[list[str], list[str], list[str]]:
    """(nameservers, searches, options) of a resolv.conf: nameservers accumulate, the last
    ``search`` and ``options`` lines win, search domains lose a trailing dot."""
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0] == "nameserver" and len(fields) >= 2:
            nameservers.append(fields[1])
        elif fields[0] == "search":
            searches = [s.removesuffix(".") for s in fields[1:]]
        elif fields[0] == "options":
            options = fields[1:]
    return nameservers, searches, options


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _merge_options(base: Sequence[str], extra: Iterable[Mapping[str, Any]]) -> list[str]:
    merged: dict[str, str] = {}
    for option in base:
        name, _, text = option.partition(":")
        merged[name] = text
    for extra_option in extra:
        value = extra_option.get("value")
        merged[str(extra_option.get("name") or "")] = "" if value is None else str(value)
    return [f"{name}:{value}" if value else name for name, value in merged.items() if name]


def _fit(dns: PodDNS) -> PodDNS:
    if len(dns.nameservers) > MAX_NAMESERVERS:
        dns.nameservers = dns.nameservers[:MAX_NAMESERVERS]
        dns.warnings.append(("DNSConfigForming", "Nameserver limits were exceeded, some "
                             "nameservers have been omitted, the applied nameserver line "
                             f"is: {' '.join(dns.nameservers)}"))
    searches = dns.searches[:MAX_SEARCH_PATHS]
    cut = len(searches) < len(dns.searches)
    kept = [s for s in searches if len(s) <= MAX_DOMAIN_LENGTH]
    cut = cut or len(kept) < len(searches)
    while kept and len(" ".join(kept)) > MAX_SEARCH_CHARS:
        kept.pop()
        cut = True
    dns.searches = kept
    if cut:
        dns.warnings.append(("DNSConfigForming", "Search Line limits were exceeded, some "
                             "search paths have been omitted, the applied search line is: "
                             f"{' '.join(kept)}"))
    return dns


def pod_dns(pod: Mapping[str, Any], cluster_dns: Sequence[str], cluster_domain: str,
            host_resolv_conf: str | None) -> PodDNS:
    """The resolver configuration of ``pod`` (see the module docstring);
    ``host_resolv_conf`` is the text of ``--resolv-conf``, None when that flag is empty."""
    spec = pod.get("spec") or {}
    md = pod.get("metadata") or {}
    policy = str(spec.get("dnsPolicy") or "ClusterFirst")
    if host_resolv_conf is None:
        host = PodDNS(["127.0.0.1"], ["."])
    else:
        host = PodDNS(*parse_resolv_conf(host_resolv_conf))
    cluster = policy == "ClusterFirstWithHostNet" or (
        policy not in ("Default", "None") and not spec.get("hostNetwork"))
    if policy == "None":
        dns = PodDNS()
    elif cluster and cluster_dns:
        searches = [f"{md.get('namespace') or 'default'}.svc.{cluster_domain}",
                    f"svc.{cluster_domain}", cluster_domain] if cluster_domain else []
        dns = PodDNS(list(cluster_dns), _unique([*searches, *host.searches]),
                     list(DEFAULT_OPTIONS))
    else:
        dns = host
        if cluster:
            dns.warnings.append(("MissingClusterDNS", "kubelet does not have ClusterDNS IP "
                                 'configured and cannot create Pod using "ClusterFirst" '
                                 'policy. Falling back to "Default" policy.'))
    config = spec.get("dnsConfig") or {}
    dns.nameservers = _unique([*dns.nameservers, *map(str, config.get("nameservers") or [])])
    dns.searches = _unique([*dns.searches, *map(str, config.get("searches") or [])])
    if config.get("options"):
        dns.options = _merge_options(dns.options, config["options"])
    return _fit(dns)


@dataclass(frozen=True)
class ClusterDNS:
    """A node's DNS settings: cluster DNS addresses, cluster domain, the host's resolv.conf
    path (empty: none)."""

    servers: tuple[str, ...] = ()
    domain: str = "cluster.local"
    resolv_conf: str = "/etc/resolv.conf"

    def write(self, pod: Mapping[str, Any], path: Path) -> PodDNS:
        """Write ``pod``'s resolv.conf to ``path`` (atomically); what was written. An
        unreadable host file counts as an empty one."""
        host: str | None = None
        if self.resolv_conf:
            try:
                host = Path(self.resolv_conf).read_text(errors="replace")
            except OSError:
                host = ""
        dns = pod_dns(pod, self.servers, self.domain, host)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(dns.render())
        tmp.chmod(0o644)
        os.replace(tmp, path)
        return dns
