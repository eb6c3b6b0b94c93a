"""Query names of the cluster zone, parsed as CoreDNS's ``kubernetes`` plugin parses them.

:func:`parse` splits a name below the zone into the forms ``<svc>.<ns>.svc``,
``<endpoint>.<svc>.<ns>.svc``, ``_<port>._<proto>.<svc>.<ns>.svc`` and
``<a-b-c-d>.<ns>.pod``; a second-to-last label other than ``svc``/``pod`` or more labels
than these forms is :class:`InvalidName` (NXDOMAIN). :func:`reverse_ip` reads PTR names.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = ["InvalidName", "Request", "dashed_ip", "fqdn", "parse", "pod_ip", "reverse_ip"]

SVC = "svc"
POD = "pod"


class InvalidName(ValueError):
    """A name in the zone that no query form matches (answered NXDOMAIN)."""


@dataclass(frozen=True)
class Request:
    """The parts of one name below the zone; empty strings for absent parts.

    ``kind`` is ``""`` for the zone apex, else ``svc`` or ``pod``; for pods ``service``
    holds the dashed address label.
    """

    kind: str = ""
    namespace: str = ""
    service: str = ""
    endpoint: str = ""
    port: str = ""
    protocol: str = ""


def fqdn(*labels: str) -> str:
    """Labels joined into an absolute name (lower case, trailing dot)."""
    return ".".join(label.strip(".") for label in labels if label).lower() + "."


def _strip_underscore(label: str) -> str:
    return label[1:] if label.startswith("_") else label


def parse(labels: list[str]) -> Request:
    """The request for ``labels``: a name's labels below the zone, leftmost first."""
    segs = [s.lower() for s in labels]
    if not segs:
        return Request()
    kind = segs.pop()
    if kind not in (SVC, POD):
        raise InvalidName(kind)
    if not segs:
        return Request(kind)
    namespace = segs.pop()
    if not segs:
        return Request(kind, namespace)
    service = segs.pop()
    if not segs:
        return Request(kind, namespace, service)
    if len(segs) == 1:
        return Request(kind, namespace, service, endpoint=segs[0])
    if len(segs) == 2:
        return Request(kind, namespace, service, port=_strip_underscore(segs[0]),
                       protocol=_strip_underscore(segs[1]))
    raise InvalidName(".".join(labels))


def dashed_ip(ip: str) -> str:
    """An address as one DNS label: ``10.0.0.1`` → ``10-0-0-1``, ``fd00::1`` → ``fd00--1``."""
    return ip.replace(".", "-").replace(":", "-")


def pod_ip(label: str) -> str | None:
    """The address of a pod label (dashes back to dots or colons), None when it is none."""
    for candidate in (label.replace("-", "."), label.replace("-", ":")):
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def reverse_ip(name: str) -> str | None:
    """The address of an ``in-addr.arpa.``/``ip6.arpa.`` name, None when it names none."""
    labels = name.lower().rstrip(".").split(".")
    if labels[-2:] == ["in-addr", "arpa"] and len(labels) == 6:
        text = ".".join(reversed(labels[:4]))
    elif labels[-2:] == ["ip6", "arpa"] and len(labels) == 34:
        nibbles = "".join(reversed(labels[:32]))
        text = ":".join(nibbles[i:i + 4] for i in range(0, 32, 4))
    else:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
