"""kubemu.address_flags: kubemu up's address flags, checked together with --nodes."""

from __future__ import annotations

import argparse

import pytest

from kubemu import address_flags
from kubemu.addresses import Addresses
from kubemu.cli import build_parser


def up(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["up", *argv])


def test_defaults_change_nothing() -> None:
    args = up()
    assert args.address_block is None
    assert address_flags.check(args) is None
    assert address_flags.apply(Addresses.for_block(4), args) == Addresses.for_block(4)


def test_each_range_flag_replaces_its_range() -> None:
    args = up("--address-block", "127.30.0.0/16", "--node-ip-range", "127.30.0.5/28",
              "--cluster-cidr", "127.31.0.0/16", "--service-cluster-ip-range", "127.32.0.0/20",
              "--load-balancer-pool", "127.33.0.0/24", "--nodes", "3")
    assert args.address_block == 30
    assert args.node_ip_range == "127.30.0.0/28"  # host bits dropped
    planned = address_flags.apply(Addresses.for_block(args.address_block), args)
    assert (planned.node_ip(3), planned.pod_cidr(3)) == ("127.30.0.3", "127.31.2.0/24")
    assert str(planned.service_range) == "127.32.0.0/20"
    assert str(planned.lb_pool) == "127.33.0.0/24"
    assert address_flags.check(args) is None


@pytest.mark.parametrize(("argv", "message"), [
    (["--nodes", "129"], "room for 128 nodes"),
    (["--nodes", "5", "--cluster-cidr", "127.9.0.0/22"], "room for 4 nodes"),
    (["--cluster-cidr", "127.9.0.0/25"], "smaller than one node's /24"),
])
def test_check_names_the_problem(argv: list[str], message: str) -> None:
    problem = address_flags.check(up(*argv))
    assert problem is not None and message in problem


def test_bad_values_are_argparse_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--address-block", "127.1.0.0/24"], ["--cluster-cidr", "pods"]):
        with pytest.raises(SystemExit) as exit_info:
            up(*argv)
        assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "must be 127.B.0.0/16" in err and "invalid CIDR 'pods'" in err
