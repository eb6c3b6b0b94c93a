"""The address flags of ``kubemu up`` and how they turn into an instance's addresses.

``kubemu up`` takes a block of 127.0.0.0/8 for its data directory (see
:mod:`kubemu.addresses`); these flags choose the block or replace one range of
it. They are checked before anything is locked or written: a bad value, or more
``--nodes`` than the ranges have room for, is a usage error (exit 2).
"""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path

from kubemu.addresses import Addresses, parse_block, record
from kubemu.blocks import AddressError, BlockLease, reserve

#: (flag, Addresses.with_overrides keyword, help).
RANGE_FLAGS = (
    ("--node-ip-range", "node_ip_range",
     "CIDR of the node IPs: node N gets its N-th address (default: 127.B.0.0/24)"),
    ("--cluster-cidr", "cluster_cidr",
     "CIDR of the pod IPs: node N gets its N-th /24 (default: 127.B.128.0/17)"),
    ("--service-cluster-ip-range", "service_range",
     "CIDR the Services' ClusterIPs come from (default: 127.B.64.0/18)"),
    ("--load-balancer-pool", "lb_pool",
     "CIDR load-balancer IPs come from, network and broadcast address excluded "
     "(default: 127.B.1.0/24)"),
)


def block_index(text: str) -> int:
    """argparse type of ``--address-block``."""
    try:
        return parse_block(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def ipv4_cidr(text: str) -> str:
    """argparse type of the range flags: an IPv4 CIDR (host bits allowed), normalised."""
    try:
        return str(ipaddress.IPv4Network(text.strip(), strict=False))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid CIDR {text!r}: must be an IPv4 CIDR such as 127.5.0.0/24") from None


def add_address_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--address-block`` and the range flags to ``kubemu up``'s parser."""
    group = parser.add_argument_group(
        "addresses",
        "Each data directory gets its own block 127.B.0.0/16 of loopback addresses, recorded "
        "in <data-dir>/addresses.json, so clusters on one machine never share an address.")
    group.add_argument("--address-block", type=block_index, default=None, metavar="CIDR",
                       help="use this block (127.B.0.0/16) instead of the recorded or "
                       "first free one")
    for flag, _, text in RANGE_FLAGS:
        group.add_argument(flag, type=ipv4_cidr, default=None, metavar="CIDR", help=text)


def overrides(args: argparse.Namespace) -> dict[str, str | None]:
    """The range flags as :meth:`Addresses.with_overrides` keywords."""
    return {key: getattr(args, flag[2:].replace("-", "_")) for flag, key, _ in RANGE_FLAGS}


def apply(addresses: Addresses, args: argparse.Namespace) -> Addresses:
    """``addresses`` with the range flags of ``args`` applied (checked by :func:`check`)."""
    return addresses.with_overrides(**overrides(args))


def check(args: argparse.Namespace) -> str | None:
    """The usage error of the address flags and ``--nodes`` together, or ``None``."""
    try:
        # Every block has the same layout, so block 1 stands for whichever is taken.
        planned = apply(Addresses.for_block(1), args)
    except ValueError as err:
        return str(err)
    if args.nodes > planned.max_nodes:
        return (f"--nodes {args.nodes}: the address ranges have room for "
                f"{planned.max_nodes} nodes (pass fewer --nodes, or wider --node-ip-range "
                "and --cluster-cidr)")
    return None


def reserve_for(args: argparse.Namespace, data_dir: Path) -> BlockLease:
    """Take the block of ``data_dir`` (:func:`kubemu.blocks.reserve`) with the range
    flags of ``args`` applied, and record the result in ``data_dir``.

    Raises :class:`AddressError` (one line naming the fix) when no block can be
    taken or recorded.
    """
    lease = reserve(data_dir, f"kubemu up --data-dir {data_dir}", args.address_block)
    try:
        lease.addresses = apply(lease.addresses, args)
        record(data_dir, lease.addresses)
    except OSError as err:
        lease.release()
        raise AddressError(f"cannot record addresses in {data_dir}: {err.strerror or err} "
                           "(pass a writable directory with --data-dir)") from None
    return lease
