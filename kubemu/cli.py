"""The ``kubemu`` command line: its sub-commands and the entry point.

``kubemu up`` runs a whole control plane as separate OS processes (flags in
:mod:`kubemu.up_flags`, the run itself in :mod:`kubemu.up`); ``kubemu kubectl`` and
``kubemu reset`` are :mod:`kubemu.tools`'s, ``kubemu certs`` (a cluster's certificates
and kubeconfigs for processes it does not launch) is :mod:`kubemu.certs`'s and
``kubemu publish-dns`` (the ``kube-dns`` Service of such a cluster DNS)
:mod:`kubemu.dns_publish`'s.

``kubemu kubeconfig --server URL [--out FILE]`` writes (or prints, with ``-``)
a kubeconfig for an already running apiserver. Invalid arguments exit 2 with the
sub-command's usage line, as argparse does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from kubemu import certs, dns_publish, tools, up_flags
from kubemu.kubeconfig import Credentials, dump_kubeconfig, write_kubeconfig


def build_parser() -> argparse.ArgumentParser:
    """Return the ``kubemu`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="kubemu",
        description="kubemu: a Kubernetes Service control plane and data plane in Python.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up_flags.add_command(commands)
    kubeconfig = commands.add_parser(
        "kubeconfig",
        help="write a kubeconfig for a running apiserver",
        description="Write a kubeconfig (cluster, user and context 'kubemu') for SERVER.",
    )
    kubeconfig.add_argument(
        "--server", required=True, help="apiserver URL, e.g. http://127.0.0.1:8080"
    )
    kubeconfig.add_argument("--out", default="-", help="output file, '-' for stdout (default: -)")
    kubeconfig.add_argument(
        "--name", default="kubemu", help="name of the cluster, user and context (default: kubemu)"
    )
    kubeconfig.add_argument("--namespace", default=None, help="default namespace of the context")
    kubeconfig.add_argument("--certificate-authority", type=Path, default=None,
                            help="CA file verifying an https server (embedded)")
    kubeconfig.add_argument("--client-certificate", type=Path, default=None,
                            help="client certificate file (embedded; needs --client-key)")
    kubeconfig.add_argument("--client-key", type=Path, default=None,
                            help="key of --client-certificate (embedded)")
    kubeconfig.set_defaults(handler=cmd_kubeconfig, parser=kubeconfig)
    tools.add_commands(commands)
    certs.add_command(commands)
    dns_publish.add_command(commands)
    return parser


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    """Handle ``kubemu kubeconfig``; returns the exit code."""
    credentials = None
    if args.certificate_authority is not None:
        credentials = Credentials(args.certificate_authority, args.client_certificate,
                                  args.client_key)
    elif args.client_certificate is not None:
        print("kubemu kubeconfig: --client-certificate needs --certificate-authority",
              file=sys.stderr)
        return 2
    try:
        if args.out == "-":
            sys.stdout.write(dump_kubeconfig(args.server, name=args.name,
                                             namespace=args.namespace, credentials=credentials))
        else:
            write_kubeconfig(Path(args.out), args.server, name=args.name,
                             namespace=args.namespace, credentials=credentials)
    except OSError as err:
        print(f"kubemu kubeconfig: {err}", file=sys.stderr)
        return 1
    except ValueError as err:
        print(f"kubemu kubeconfig: {err}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kubemu`` console script; returns the exit code."""
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        # Report stray arguments with the subcommand's usage, not the top-level one.
        args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
