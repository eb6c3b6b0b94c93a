"""The single etcd member ``kubemu up --storage etcd`` runs itself.

Without ``--etcd-servers``, ``kubemu up --storage etcd`` starts one etcd member
(Debian's ``etcd-server`` package, or ``$KUBEMU_ETCD``) as its first supervised
process: data in ``<data-dir>/etcd``, client and peer URLs on the instance's
control address (:attr:`kubemu.addresses.Addresses.etcd_client_url`), so two
instances never share an etcd, and a restart on the same data directory finds
its data again. It is stopped last, after the apiserver. With
``--etcd-servers`` the apiserver uses those servers and no etcd is started.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubemu.components import LaunchContext

#: Name of the member (and of its one-member cluster).
MEMBER_NAME = "kubemu"

MISSING_MESSAGE = (
    "etcd not found: install Debian's etcd-server (apt-get install etcd-server), "
    "set KUBEMU_ETCD=/path/to/etcd, or pass --etcd-servers"
)


def find_etcd() -> str | None:
    """Path of the etcd binary: ``$KUBEMU_ETCD``, ``etcd`` on PATH, or ``/usr/bin/etcd``."""
    configured = os.environ.get("KUBEMU_ETCD")
    if configured:
        return configured if Path(configured).exists() else None
    found = shutil.which("etcd")
    if found:
        return found
    return "/usr/bin/etcd" if Path("/usr/bin/etcd").exists() else None


def member_argv(binary: str, data_dir: Path, client_url: str, peer_url: str,
                name: str = MEMBER_NAME) -> list[str]:
    """Command line of a new (or restarted) one-member etcd cluster."""
    return [
        binary,
        "--name", name,
        "--data-dir", str(data_dir),
        "--listen-client-urls", client_url,
        "--advertise-client-urls", client_url,
        "--listen-peer-urls", peer_url,
        "--initial-advertise-peer-urls", peer_url,
        "--initial-cluster", f"{name}={peer_url}",
        "--initial-cluster-state", "new",
        "--log-level", "warn",
    ]


def member_args(ctx: LaunchContext) -> list[str]:
    """The ``etcd`` component's command line (see the module docstring)."""
    return member_argv(find_etcd() or "etcd", ctx.data_dir / "etcd",
                       ctx.addresses.etcd_client_url, ctx.addresses.etcd_peer_url)


def ready_url(ctx: LaunchContext) -> str:
    """etcd's ``/health``: 200 once the member serves requests."""
    return f"{ctx.addresses.etcd_client_url}/health"
