"""kubemu.addresses: the block layout, its overrides, its record in the data directory."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from kubemu.addresses import Addresses, load, parse_block, record, recorded_block

A = ipaddress.IPv4Address


def test_default_layout_of_a_block() -> None:
    a = Addresses.for_block(7)
    assert a.index == 7
    assert a.describe() == {
        "block": "127.7.0.0/16", "nodeIPs": "127.7.0.0/24", "loadBalancerPool": "127.7.1.0/24",
        "controlIP": "127.7.2.1", "serviceClusterIPRange": "127.7.64.0/18",
        "clusterCIDR": "127.7.128.0/17",
    }
    assert [a.node_ip(1), a.node_ip(2)] == ["127.7.0.1", "127.7.0.2"]
    assert [a.pod_cidr(1), a.pod_cidr(2), a.pod_cidr(128)] == [
        "127.7.128.0/24", "127.7.129.0/24", "127.7.255.0/24"]
    assert a.max_nodes == 128
    assert a.proxy_healthz(2) == "127.7.0.2:10256"
    assert a.proxy_metrics(1) == "127.7.0.1:10249"
    assert (a.kubernetes_ip, a.dns_ip) == ("127.7.64.1", "127.7.64.10")
    assert (a.etcd_client_url, a.etcd_peer_url) == ("http://127.7.2.1:2379",
                                                    "http://127.7.2.1:2380")
    with pytest.raises(ValueError, match="outside 1-128"):
        a.node_ip(129)
    with pytest.raises(ValueError, match="outside 1-128"):
        a.pod_cidr(0)


def test_ranges_of_different_blocks_never_overlap() -> None:
    one, two = Addresses.for_block(1), Addresses.for_block(2)
    for name, value in one.describe().items():
        other = ipaddress.ip_network(two.describe()[name])
        assert not ipaddress.ip_network(value).overlaps(other), name


def test_overrides_replace_one_range_each() -> None:
    a = Addresses.for_block(3).with_overrides(service_range="127.96.0.0/16",
                                             cluster_cidr="127.244.0.0/16",
                                             node_ip_range="127.3.0.0/28",
                                             lb_pool="127.240.0.0/24")
    assert str(a.service_range) == "127.96.0.0/16"
    assert a.pod_cidr(2) == "127.244.1.0/24"
    assert a.max_nodes == 14  # 16 addresses, minus network and broadcast
    assert str(a.lb_pool) == "127.240.0.0/24"
    assert a.with_overrides() == a
    with pytest.raises(ValueError, match="invalid service range 'nope': must be an IPv4 CIDR"):
        a.with_overrides(service_range="nope")
    with pytest.raises(ValueError, match="smaller than one node's /24"):
        a.with_overrides(cluster_cidr="127.9.0.0/25")


def test_parse_block_forms() -> None:
    assert parse_block("127.12.0.0/16") == 12
    assert parse_block("127.12") == 12
    assert parse_block("12") == 12
    for bad in ("10.1.0.0/16", "127.1.0.0/24", "300", "x"):
        with pytest.raises(ValueError, match=r"must be 127\.B\.0\.0/16"):
            parse_block(bad)


def test_record_and_load_round_trip(tmp_path: Path) -> None:
    a = Addresses.for_block(6).with_overrides(service_range="127.96.0.0/16")
    record(tmp_path, a)
    assert load(tmp_path) == a
    assert recorded_block(tmp_path) == 6
    assert json.loads((tmp_path / "addresses.json").read_text())["serviceClusterIPRange"] == \
        "127.96.0.0/16"
    (tmp_path / "addresses.json").write_text("{not json")
    assert recorded_block(tmp_path) is None
    assert recorded_block(tmp_path / "missing") is None
