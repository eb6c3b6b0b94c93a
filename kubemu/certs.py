"""``kubemu certs``: a cluster's certificates and kubeconfigs for processes that ``kubemu up``
does not launch (the containers of docker-compose.yml).

``kubemu certs --dir DIR --server URL [--host-server URL] [--dns-name NAME]...
[--component NAME]... [--host-network NAME]...`` makes, once (later runs keep what exists
and re-issue the serving certificate only when it lacks a name asked for):

* ``DIR/pki/`` — the CA, the apiserver's serving certificate (loopback, the
  ``kubernetes.default.svc`` names and every ``--dns-name``), the ServiceAccount key pair
  and the admin certificate, as :func:`kubemu.pki.ensure_pki` lays them out;
* ``DIR/kubeconfigs/<component>.conf`` — each component's own identity (see
  :mod:`kubemu.identities`) against ``--server``, or against ``--host-server`` for the
  ``--host-network`` ones (processes on the host's network reach the published port);
* ``DIR/admin.kubeconfig`` — ``kubernetes-admin`` (``system:masters``), certificates
  embedded, against ``--host-server`` (the user's, on the host).

Every kubeconfig verifies the server with the CA. Files are 0600 in 0700 directories.
Errors are one line on stderr, exit 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kubemu.identities import admin_credentials, write_component_kubeconfigs
from kubemu.kubeconfig import write_kubeconfig
from kubemu.pki import ensure_pki

#: Every component of docker-compose.yml (a node agent per ``node-N``).
DEFAULT_COMPONENTS = ("controller-manager", "scheduler", "kube-proxy", "endpoints",
                      "service-lb", "node-1", "dns", "console")


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``certs`` on the ``kubemu`` sub-command parser."""
    certs = commands.add_parser(
        "certs",
        help="make a cluster's certificates and kubeconfigs (for containers)",
        description="Make the CA, the apiserver's serving certificate, the ServiceAccount "
        "key, and a client certificate and kubeconfig for the admin and each component "
        "under DIR; existing files are kept.",
    )
    certs.add_argument("--dir", type=Path, required=True,
                       help="where to write pki/, kubeconfigs/ and admin.kubeconfig")
    certs.add_argument("--server", required=True,
                       help="the apiserver's URL as the components reach it, e.g. "
                       "https://apiserver:6443")
    certs.add_argument("--host-server", default="",
                       help="the apiserver's URL from the host (admin.kubeconfig and "
                       "--host-network components; default: --server)")
    certs.add_argument("--dns-name", action="append", default=[],
                       help="a DNS name the serving certificate must hold (repeatable)")
    certs.add_argument("--component", action="append", default=[],
                       help="a component to make an identity for (repeatable; default: "
                       + ", ".join(DEFAULT_COMPONENTS) + ")")
    certs.add_argument("--host-network", action="append", default=[],
                       help="a component that runs on the host's network and uses "
                       "--host-server (repeatable)")
    certs.set_defaults(handler=cmd_certs, parser=certs)


def cmd_certs(args: argparse.Namespace) -> int:
    """Handle ``kubemu certs``; returns the exit code."""
    directory: Path = args.dir.resolve()
    host_server: str = args.host_server or args.server
    components: list[str] = args.component or list(DEFAULT_COMPONENTS)
    unknown = sorted(set(args.host_network) - set(components))
    if unknown:
        print(f"kubemu certs: --host-network {', '.join(unknown)} is not a --component",
              file=sys.stderr)
        return 1
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        pki = ensure_pki(directory, dns_names=args.dns_name)
        written = {}
        inside = [c for c in components if c not in args.host_network]
        written.update(write_component_kubeconfigs(pki, directory / "kubeconfigs",
                                                   args.server, inside))
        written.update(write_component_kubeconfigs(pki, directory / "kubeconfigs",
                                                   host_server, args.host_network))
        admin = write_kubeconfig(directory / "admin.kubeconfig", host_server,
                                 credentials=admin_credentials(pki))
    except (OSError, KeyError, ValueError) as err:
        print(f"kubemu certs: {err}", file=sys.stderr)
        return 1
    print(f"kubemu certs: CA {pki.ca_cert}, admin kubeconfig {admin}, "
          f"{len(written)} component kubeconfigs in {directory / 'kubeconfigs'}")
    return 0
