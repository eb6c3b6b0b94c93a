"""kube-apiserver's aggregator and front-proxy flags (``--requestheader-*``,
``--proxy-client-*``, ``--enable-aggregator-routing``) and the options they make."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from apiserver.aggregator.server import AggregatorOptions
from apiserver.auth.requestheader import RequestHeaderOptions

__all__ = ["add_aggregator_flags", "aggregator_options", "requestheader_options"]


def add_aggregator_flags(parser: argparse.ArgumentParser,
                         boolean: Callable[[str], bool]) -> None:
    """Add the flags; ``boolean`` parses a Go-style boolean value."""
    parser.add_argument("--requestheader-client-ca-file", type=Path, default=None,
                        help="PEM CA bundle of front proxies (kube-aggregator's "
                        "--proxy-client-cert-file): a client certificate it signed "
                        "authenticates the user named in the request headers below")
    parser.add_argument("--requestheader-allowed-names", default="",
                        help="comma-separated CNs a front-proxy certificate may have "
                        "(default: any)")
    parser.add_argument("--requestheader-username-headers", default="X-Remote-User",
                        help="comma-separated headers naming the user, first non-empty wins "
                        "(default X-Remote-User, as kubeadm sets it)")
    parser.add_argument("--requestheader-uid-headers", default="",
                        help="comma-separated headers naming the user's UID (default none)")
    parser.add_argument("--requestheader-group-headers", default="X-Remote-Group",
                        help="comma-separated headers naming groups, one per header "
                        "(default X-Remote-Group)")
    parser.add_argument("--requestheader-extra-headers-prefix", default="X-Remote-Extra-",
                        help="comma-separated prefixes of headers carrying extra user "
                        "information (default X-Remote-Extra-)")
    parser.add_argument("--proxy-client-cert-file", type=Path, default=None,
                        help="client certificate the aggregator presents to extension API "
                        "servers (signed by their --requestheader-client-ca-file)")
    parser.add_argument("--proxy-client-key-file", type=Path, default=None,
                        help="PEM private key of --proxy-client-cert-file")
    parser.add_argument("--enable-aggregator-routing", type=boolean, nargs="?", const=True,
                        default=False, metavar="BOOL",
                        help="route requests for APIServices to a ready endpoint address of "
                        "their Service instead of its ClusterIP (default false)")


def _names(text: str) -> tuple[str, ...]:
    """The entries of a comma-separated flag."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def requestheader_options(args: argparse.Namespace) -> RequestHeaderOptions:
    """The ``--requestheader-*`` flags."""
    return RequestHeaderOptions(
        client_ca_file=args.requestheader_client_ca_file,
        allowed_names=_names(args.requestheader_allowed_names),
        username_headers=_names(args.requestheader_username_headers),
        uid_headers=_names(args.requestheader_uid_headers),
        group_headers=_names(args.requestheader_group_headers),
        extra_headers_prefix=_names(args.requestheader_extra_headers_prefix))


def aggregator_options(args: argparse.Namespace) -> AggregatorOptions:
    """The aggregator flags; ValueError when the proxy client pair is incomplete."""
    if bool(args.proxy_client_cert_file) != bool(args.proxy_client_key_file):
        raise ValueError("--proxy-client-cert-file and --proxy-client-key-file go together")
    return AggregatorOptions(enable_aggregator_routing=args.enable_aggregator_routing,
                             proxy_client_cert_file=args.proxy_client_cert_file,
                             proxy_client_key_file=args.proxy_client_key_file)
