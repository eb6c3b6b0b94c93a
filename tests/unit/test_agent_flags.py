"""The node agent's and kube-proxy's flags on the shared runtime: upstream names, old
spellings still accepted."""

from __future__ import annotations

import argparse

import pytest

from controllers.node.app import build_parser as node_parser
from controllers.proxy.flags import build_parser as proxy_parser
from controllers.runtime.flags import duration, host_port, positive_duration


def test_duration_and_host_port() -> None:
    assert duration("1m30s") == 90.0 and duration("250ms") == 0.25 and duration("2") == 2.0
    for bad in ("1x", "s", "1.2.3s"):
        with pytest.raises(argparse.ArgumentTypeError):
            duration(bad)
    assert positive_duration("250ms") == 0.25
    for bad in ("0", "0s", "-1"):
        with pytest.raises(argparse.ArgumentTypeError, match="greater than zero"):
            positive_duration(bad)
    assert host_port("[::1]:10256") == ("::1", 10256) and host_port("") is None
    with pytest.raises(argparse.ArgumentTypeError):
        host_port("127.0.0.1:99999")


def test_node_agent_flags() -> None:
    new = node_parser().parse_args([
        "--master", "http://127.0.0.1:6443", "--hostname-override", "n1", "--healthz-port",
        "10248", "--node-status-report-frequency", "1m", "--lease-interval", "500ms"])
    assert (new.server, new.node_name, new.healthz_bind_address, new.healthz_port) == (
        "http://127.0.0.1:6443", "n1", "127.0.0.1", 10248)
    assert new.node_status_interval == 60.0 and new.lease_interval == 0.5
    old = node_parser().parse_args(["--server", "http://x:1", "--node-name", "n2",
                                    "--node-status-interval", "5"])
    assert (old.server, old.node_name, old.node_status_interval, old.healthz_port) == (
        "http://x:1", "n2", 5.0, 0)


def test_proxy_flags() -> None:
    args = proxy_parser().parse_args([
        "--kubeconfig", "k", "--master", "http://m:1", "--proxy-mode", "nftables",
        "--healthz-bind-address", "127.0.0.2:10256", "--metrics-bind-address", "",
        "--hostname-override", "n1", "--cluster-cidr", "10.244.0.0/16",
        "--nodeport-addresses", "127.0.0.2/32", "--bind-cluster-ips=false"])
    assert (args.kubeconfig, args.server, args.proxy_mode) == ("k", "http://m:1", "nftables")
    assert args.healthz_bind_address == ("127.0.0.2", 10256)
    assert args.metrics_bind_address is None and args.bind_cluster_ips is False
    default = proxy_parser().parse_args([])
    assert default.healthz_bind_address == ("127.0.0.1", 10256)
    assert default.metrics_bind_address == ("127.0.0.1", 10249)
    assert default.proxy_mode == "userspace"
