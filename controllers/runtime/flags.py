"""The flags every controller process shares, with kube-controller-manager's names.

:func:`add_connection_flags` adds the connection flags and ``-v`` alone (for kube-proxy and
the node agent, which elect no leader); :func:`add_common_flags` adds them, leader election
(``--leader-elect*``), the health/metrics server (``--bind-address``,
``--port``/``--secure-port``) and ``--controllers``;
:func:`enabled_controllers` reads ``--controllers`` as upstream does: ``*`` turns on every
controller that is on by default, ``foo`` turns ``foo`` on, ``-foo`` turns it off.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

__all__ = [
    "UnknownControllers",
    "add_common_flags",
    "add_connection_flags",
    "bool_flag",
    "controller_parser",
    "duration",
    "enabled_controllers",
    "host_port",
    "positive_duration",
]


def duration(text: str) -> float:
    """Seconds, or a Go-style duration (``500ms``, ``1s``, ``2m``, ``1h``, ``1m30s``; ``ns``,
    ``us``/``µs`` too)."""
    text = text.strip()
    if not any(c.isalpha() for c in text):
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid duration {text!r}") from None
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 0.001, "s": 1.0, "m": 60.0,
             "h": 3600.0}
    total, num, i = 0.0, "", 0
    while i < len(text):
        c = text[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        unit = next((u for u in ("ms", "us", "µs", "ns") if text.startswith(u, i)), c)
        if unit not in units or not num:
            raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
        try:
            total += float(num) * units[unit]
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid duration {text!r}") from None
        num = ""
        i += len(unit)
    if num:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
    return total


def positive_duration(text: str) -> float:
    """A :func:`duration` above zero (for periods a loop sleeps between passes)."""
    seconds = duration(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than zero, got {text!r}")
    return seconds


def host_port(text: str) -> tuple[str, int] | None:
    """``host:port`` (``[v6]:port`` too); the empty string is None (disabled)."""
    if not text:
        return None
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected host:port, got {text!r}")
    return host.strip("[]"), int(port)


def bool_flag(text: str) -> bool:
    """A Go-style boolean flag value."""
    value = text.strip().lower()
    if value in ("1", "t", "true", "y", "yes"):
        return True
    if value in ("0", "f", "false", "n", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    """Add what every process needs to reach the apiserver, the watch timeout range and
    ``-v``: ``--kubeconfig``, ``--master`` (alias ``--server``), ``--token``,
    ``--insecure-skip-tls-verify``, ``--watch-timeout``."""
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG)")
    parser.add_argument("--master", "--server", dest="server",
                        help="apiserver URL; overrides the kubeconfig's server")
    parser.add_argument("--token", help="bearer token for the apiserver")
    parser.add_argument("--insecure-skip-tls-verify", action="store_true",
                        help="do not verify the apiserver's certificate")
    parser.add_argument("--watch-timeout", type=float, nargs=2, metavar=("MIN", "MAX"),
                        default=(300.0, 600.0),
                        help="range of watch timeoutSeconds (default 300 600)")
    parser.add_argument("-v", "--v", dest="verbosity", type=int, default=0,
                        help="log verbosity (0-5)")


def controller_parser(prog: str, description: str, **common: Any) -> argparse.ArgumentParser:
    """A controller process's parser: ``prog``, ``description`` and
    :func:`add_common_flags` (``common`` are its keyword arguments)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_common_flags(parser, **common)
    return parser


def add_common_flags(
    parser: argparse.ArgumentParser,
    *,
    lease_name: str,
    controllers: Iterable[str],
    default_controllers: str = "*",
    leader_elect: bool = True,
) -> None:
    """Add the shared flags; ``lease_name`` is the default leader-election Lease and
    ``leader_elect`` the default of ``--leader-elect``."""
    names = ", ".join(controllers)
    add_connection_flags(parser)
    parser.add_argument("--controllers", default=default_controllers,
                        help="controllers to run: '*' runs every controller that is on by "
                        "default, 'foo' turns foo on, '-foo' turns it off (known: "
                        f"{names}; default {default_controllers!r})")
    parser.add_argument("--leader-elect", type=bool_flag, nargs="?", const=True,
                        default=leader_elect, metavar="BOOL",
                        help="run the controllers only while holding a leader Lease, so that "
                        f"several replicas can run (default {str(leader_elect).lower()})")
    parser.add_argument("--leader-elect-lease-duration", type=duration, default=15.0,
                        help="how long standbys wait before taking over a lease that is not "
                        "renewed (default 15s)")
    parser.add_argument("--leader-elect-renew-deadline", type=duration, default=10.0,
                        help="how long the leader retries renewing before it gives up "
                        "(default 10s)")
    parser.add_argument("--leader-elect-retry-period", type=duration, default=2.0,
                        help="time between attempts to acquire or renew (default 2s)")
    parser.add_argument("--leader-elect-resource-lock", choices=["leases"], default="leases",
                        help="the lock object type (only leases)")
    parser.add_argument("--leader-elect-resource-namespace", default="kube-system",
                        help="namespace of the Lease (default kube-system)")
    parser.add_argument("--leader-elect-resource-name", default=lease_name,
                        help=f"name of the Lease (default {lease_name})")
    parser.add_argument("--bind-address", default="127.0.0.1",
                        help="address of the /healthz, /readyz and /metrics server")
    parser.add_argument("--port", "--secure-port", dest="port", type=int, default=0,
                        help="port of the /healthz, /readyz and /metrics server (0: off)")


class UnknownControllers(ValueError):
    """``--controllers`` named controllers this process does not have."""


def enabled_controllers(
    text: str, known: Iterable[str], off_by_default: Iterable[str] = ()
) -> list[str]:
    """The controllers ``--controllers=text`` turns on, in ``known``'s order.

    Raises :class:`UnknownControllers` naming any unknown entry.
    """
    order = list(known)
    disabled_default = set(off_by_default)
    star = False
    on: set[str] = set()
    off: set[str] = set()
    unknown: list[str] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        if item == "*":
            star = True
            continue
        name = item[1:] if item.startswith("-") else item
        if name not in order:
            unknown.append(name)
        elif item.startswith("-"):
            off.add(name)
        else:
            on.add(name)
    if unknown:
        raise UnknownControllers(", ".join(unknown))
    chosen = {n for n in order if n not in disabled_default} if star else set()
    chosen = (chosen | on) - off
    return [n for n in order if n in chosen]
