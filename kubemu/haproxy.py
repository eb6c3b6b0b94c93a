"""The TCP load balancer in front of several apiservers (``kubemu up --apiservers N``).

kubemu runs Debian's ``haproxy`` (or ``$KUBEMU_HAPROXY``) as the ``apiserver-lb``
component, as kubeadm's HA guide does: it listens on the instance's balancer address
(:attr:`kubemu.addresses.Addresses.apiserver_balancer_ip`) at the cluster's port, and
passes TCP through to the replicas, so TLS ends at the apiservers and client
certificates still reach them. Each replica is health-checked on ``GET /readyz``
every second (over TLS, verifying it with the cluster CA, when the cluster serves
HTTPS); a replica is taken out after two failed checks and back in after two good
ones. A connection to a replica that refuses it is retried on another one
(``option redispatch``), so a killed apiserver costs new requests nothing. Long-lived
connections (watches) are allowed to stay idle for an hour.

The configuration is written to ``<data-dir>/haproxy.cfg`` by :func:`write_config`
(from the same :class:`~kubemu.components.LaunchContext` every time, so a restart of
the balancer finds the same file); :func:`render_config` is its pure text.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kubemu.preflight import find_program

if TYPE_CHECKING:
    from kubemu.components import LaunchContext

#: The component's name in ``kubemu up``'s output.
COMPONENT = "apiserver-lb"

MISSING_MESSAGE = (
    "haproxy not found: --apiservers N > 1 puts Debian's haproxy in front of the "
    "apiservers (apt-get install haproxy), or set KUBEMU_HAPROXY=/path/to/haproxy"
)


def find_haproxy() -> str | None:
    """Path of haproxy: ``$KUBEMU_HAPROXY``, ``haproxy`` on PATH, or ``/usr/sbin/haproxy``."""
    return find_program("KUBEMU_HAPROXY", "haproxy", "/usr/sbin/haproxy")


def render_config(frontend: str, backends: Sequence[tuple[str, str]], tls: bool,
                  ca_file: Path | None = None) -> str:
    """haproxy's configuration: ``frontend`` (``host:port``) balanced over ``backends``
    (``(name, host:port)``), health-checked on ``/readyz`` over plain HTTP, or over TLS
    (``tls``) verified with ``ca_file`` (without it, unverified)."""
    check = ""
    if tls:
        check = (f" check-ssl verify required ca-file {ca_file}" if ca_file is not None
                 else " check-ssl verify none")
    lines = [
        "global",
        "    log stdout format raw local0 notice",
        "    maxconn 4000",
        "",
        "defaults",
        "    mode tcp",
        "    log global",
        "    option dontlognull",
        "    option redispatch",
        "    retries 3",
        "    timeout connect 2s",
        "    timeout client 1h",
        "    timeout server 1h",
        "    timeout tunnel 1h",
        "    timeout check 2s",
        "",
        "frontend apiserver",
        f"    bind {frontend}",
        "    default_backend apiservers",
        "",
        "backend apiservers",
        "    balance roundrobin",
        "    option httpchk",
        "    http-check send meth GET uri /readyz",
        "    http-check expect status 200",
        f"    default-server inter 1s fall 2 rise 2{check}",
    ]
    lines += [f"    server {name} {address} check" for name, address in backends]
    return "\n".join(lines) + "\n"


def config_path(ctx: LaunchContext) -> Path:
    """Where the balancer's configuration is written."""
    return ctx.data_dir / "haproxy.cfg"


def write_config(ctx: LaunchContext) -> Path:
    """Write the balancer's configuration for ``ctx`` and return its path."""
    backends = [(f"apiserver-{i}", f"{ctx.addresses.apiserver_ip(i)}:{ctx.port}")
                for i in range(1, ctx.apiservers + 1)]
    text = render_config(f"{ctx.addresses.apiserver_balancer_ip}:{ctx.port}", backends,
                         ctx.pki is not None, ctx.pki.ca_cert if ctx.pki is not None else None)
    path = config_path(ctx)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def balancer_args(ctx: LaunchContext) -> list[str]:
    """The balancer's command line (writing its configuration first): haproxy in the
    foreground (``-db``), so the supervisor owns it."""
    return [find_haproxy() or "haproxy", "-db", "-f", str(write_config(ctx))]
