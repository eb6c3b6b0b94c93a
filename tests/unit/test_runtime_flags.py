"""``--controllers`` as kube-controller-manager reads it, and the shared metrics text."""

from __future__ import annotations

import argparse

import pytest

from controllers.runtime.flags import (
    UnknownControllers,
    add_common_flags,
    enabled_controllers,
)

KNOWN = ("deployment", "replicaset", "job", "bootstrapsigner")


@pytest.mark.parametrize(("text", "expected"), [
    ("*", ["deployment", "replicaset", "job"]),
    ("*,-job", ["deployment", "replicaset"]),
    ("*,bootstrapsigner", list(KNOWN)),
    ("job,deployment", ["deployment", "job"]),
    ("-job", []),
    ("", []),
])
def test_controllers_flag(text: str, expected: list[str]) -> None:
    assert enabled_controllers(text, KNOWN, off_by_default=("bootstrapsigner",)) == expected


def test_unknown_controllers_are_named() -> None:
    with pytest.raises(UnknownControllers, match="bogus, -x"):
        enabled_controllers("*,bogus,--x", KNOWN)


def test_common_flags_have_upstream_names() -> None:
    parser = argparse.ArgumentParser()
    add_common_flags(parser, lease_name="kube-controller-manager", controllers=KNOWN)
    args = parser.parse_args([
        "--master", "http://127.0.0.1:1", "--leader-elect=false", "--secure-port", "10257",
        "--leader-elect-lease-duration", "2s", "--controllers", "*,-job",
    ])
    assert args.server == "http://127.0.0.1:1"
    assert args.leader_elect is False
    assert args.port == 10257
    assert args.leader_elect_lease_duration == 2.0
    assert args.leader_elect_resource_name == "kube-controller-manager"
