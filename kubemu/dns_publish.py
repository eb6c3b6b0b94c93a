"""``kubemu publish-dns``: the ``kube-dns`` Service for a cluster DNS that ``kubemu up`` does
not launch (the ``dns`` container of docker-compose.yml).

``kubemu publish-dns (--kubeconfig FILE | --server URL) --cluster-ip IP --dns-address IP
[--dns-port PORT]`` creates or corrects, as :func:`kubemu.dns.publish` does at every
``kubemu up``, the Service ``kube-system/kube-dns`` on ``--cluster-ip`` (no selector) and
its Endpoints and EndpointSlice naming the DNS process on ``--dns-address``: its UDP and TCP
``--dns-port`` and its metrics port 9153. It needs the right to write Services, Endpoints
and EndpointSlices in ``kube-system`` (the admin's kubeconfig). It exits 0 once all three
are as wanted; errors are one line on stderr: the apiserver's refusal or an unreachable
server exit 1, unusable arguments exit 2.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys

import httpx

from controllers.client.config import ConfigError, config_from_flags
from kubemu.dns import publish_manifests, service_manifests
from kubemu.preflight import port_number


def _ipv4(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv4 address") from None


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``publish-dns`` on the ``kubemu`` sub-command parser."""
    cmd = commands.add_parser(
        "publish-dns",
        help="create or correct the kube-dns Service of a cluster DNS (for containers)",
        description="Create or correct the Service kube-system/kube-dns on CLUSTER_IP and "
        "its Endpoints and EndpointSlice naming the cluster DNS process on DNS_ADDRESS.",
    )
    cmd.add_argument("--kubeconfig", default=None,
                     help="kubeconfig of a user that may write Services, Endpoints and "
                     "EndpointSlices in kube-system (default: $KUBECONFIG)")
    cmd.add_argument("--server", "--master", default=None,
                     help="apiserver URL; overrides the kubeconfig's server")
    cmd.add_argument("--cluster-ip", type=_ipv4, required=True,
                     help="the Service's ClusterIP (kubeadm's: the tenth address of the "
                     "service range)")
    cmd.add_argument("--dns-address", type=_ipv4, required=True,
                     help="address the cluster DNS process listens on (the endpoint)")
    cmd.add_argument("--dns-port", type=port_number, default=53,
                     help="its UDP and TCP port (default: 53)")
    cmd.set_defaults(handler=cmd_publish_dns, parser=cmd)


def cmd_publish_dns(args: argparse.Namespace) -> int:
    """Handle ``kubemu publish-dns``; returns the exit code (see the module docstring)."""
    try:
        config = config_from_flags(args.kubeconfig, args.server)
        verify = config.verify()
    except (ConfigError, OSError) as err:
        print(f"kubemu publish-dns: {err}", file=sys.stderr)
        return 2
    desired = service_manifests(args.cluster_ip, args.dns_address, args.dns_port)
    try:
        publish_manifests(config.server, desired, verify, config.headers())
    except httpx.HTTPStatusError as err:
        print(f"kubemu publish-dns: {err.request.method} {err.request.url.path}: "
              f"{_message(err.response)}", file=sys.stderr)
        return 1
    except httpx.HTTPError as err:
        print(f"kubemu publish-dns: {config.server}: {err}", file=sys.stderr)
        return 1
    print(f"service/{desired[0]['metadata']['name']} {args.cluster_ip} -> "
          f"{args.dns_address}:{args.dns_port}")
    return 0


def _message(response: httpx.Response) -> str:
    """The Status message of an apiserver refusal (or its HTTP status line)."""
    try:
        message = response.json().get("message")
    except ValueError:
        message = None
    return str(message) if message else f"{response.status_code} {response.reason_phrase}"
