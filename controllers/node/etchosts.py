"""A pod's ``/etc/hosts`` and host name, as the kubelet manages them.

:func:`pod_hostname` is the name a pod's containers see (``spec.hostname``, else the pod's
name cut to 63 characters) and :func:`hosts_file` the kubelet's hosts file
(``managedHostsFileContent``): the localhost lines, one line per pod IP naming the pod
(``<ip>\\t<hostname>.<subdomain>.<namespace>.svc.<cluster domain>\\t<hostname>`` when the
pod has a ``subdomain``, as a StatefulSet's pods do), then ``spec.hostAliases``. Pods on
the host network keep the host's file.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["hosts_file", "pod_hostname", "write_hosts_file"]

_HEADER = ("# Kubernetes-managed hosts file.\n"
           "127.0.0.1\tlocalhost\n"
           "::1\tlocalhost ip6-localhost ip6-loopback\n"
           "fe00::0\tip6-localnet\n"
           "fe00::0\tip6-mcastprefix\n"
           "fe00::1\tip6-allnodes\n"
           "fe00::2\tip6-allrouters\n")


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _short_name(pod: Mapping[str, Any]) -> str:
    """``spec.hostname``, else the pod's name cut to 63 characters."""
    return str(_m(pod.get("spec")).get("hostname") or "") or \
        str(_m(pod.get("metadata")).get("name") or "")[:63].rstrip("-.")


def pod_hostname(pod: Mapping[str, Any], cluster_domain: str = "") -> str:
    """The pod's host name (upstream ``GeneratePodHostNameAndDomain``); with
    ``setHostnameAsFQDN`` and a ``subdomain``, its fully qualified name in
    ``cluster_domain``. A pod on the host network has the host's name."""
    spec = _m(pod.get("spec"))
    if spec.get("hostNetwork") is True:
        return socket.gethostname()
    hostname = _short_name(pod)
    subdomain = str(spec.get("subdomain") or "")
    if spec.get("setHostnameAsFQDN") is True and subdomain and cluster_domain:
        namespace = str(_m(pod.get("metadata")).get("namespace") or "default")
        return f"{hostname}.{subdomain}.{namespace}.svc.{cluster_domain}"
    return hostname


def hosts_file(pod: Mapping[str, Any], pod_ips: list[str], cluster_domain: str) -> str:
    """The kubelet's ``/etc/hosts`` for ``pod`` with ``pod_ips``."""
    spec = _m(pod.get("spec"))
    hostname = _short_name(pod)
    subdomain = str(spec.get("subdomain") or "")
    namespace = str(_m(pod.get("metadata")).get("namespace") or "default")
    out = [_HEADER]
    for ip in pod_ips:
        if subdomain:
            out.append(f"{ip}\t{hostname}.{subdomain}.{namespace}.svc.{cluster_domain}\t"
                       f"{hostname}\n")
        else:
            out.append(f"{ip}\t{hostname}\n")
    aliases = [_m(a) for a in spec.get("hostAliases") or []]
    if aliases:
        out.append("\n# Entries added by HostAliases.\n")
        out.extend(f"{a.get('ip')}\t{chr(9).join(str(h) for h in a.get('hostnames') or [])}\n"
                   for a in aliases)
    return "".join(out)


def write_hosts_file(path: Path, pod: Mapping[str, Any], pod_ips: list[str],
                     cluster_domain: str) -> str:
    """``pod``'s hosts file at ``path``, written once per pod; returns the path."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(hosts_file(pod, pod_ips, cluster_domain))
    return str(path)
