"""kubemu.addresses: the block layout, its overrides, /proc/net parsing, taking a block."""

from __future__ import annotations

import ipaddress
import json
import socket
from pathlib import Path

import pytest

from kubemu.addresses import (
    AddressError,
    Addresses,
    acquire,
    busy_addresses,
    candidates,
    holder,
    listening_addresses,
    parse_block,
    recorded_block,
    reserve,
)

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


def test_candidates_skip_reserved_second_octets() -> None:
    order = list(candidates())
    assert order[0] == 1 and order[-1] == 254
    assert not {0, 96, 240, 244, 255} & set(order)


def test_listening_addresses_reads_proc_net(tmp_path: Path) -> None:
    header = "  sl  local_address rem_address   st\n"
    (tmp_path / "tcp").write_text(
        header
        + "   0: 0100007F:1F90 00000000:0000 0A\n"    # 127.0.0.1:8080 LISTEN
        + "   1: 0105007F:0050 0100007F:9C40 01\n"    # 127.5.0.1 ESTABLISHED: not a listener
        + "   2: 00000000:0016 00000000:0000 0A\n")   # 0.0.0.0:22: wildcard, left out
    (tmp_path / "tcp6").write_text(
        header + "   0: 0000000000000000FFFF00000100097F:0050 "
        "00000000000000000000000000000000:0000 0A\n")  # ::ffff:127.9.0.1
    (tmp_path / "udp").write_text(header + "   0: 0A03087F:0035 00000000:0000 07\n")
    assert listening_addresses(tmp_path) == {A("127.0.0.1"), A("127.9.0.1"), A("127.8.3.10")}


def test_listening_addresses_sees_a_real_socket() -> None:
    with socket.socket() as sock:
        sock.bind(("127.201.0.9", 0))
        sock.listen()
        assert A("127.201.0.9") in listening_addresses()
        net = ipaddress.IPv4Network("127.201.0.0/16")
        assert busy_addresses(net) == [A("127.201.0.9")]


def nothing() -> list[A]:
    return []


def test_acquire_takes_the_first_block_nobody_holds(tmp_path: Path) -> None:
    first = acquire("first", directory=tmp_path, probe=nothing)
    second = acquire("second", directory=tmp_path, probe=nothing)
    try:
        assert (first.addresses.index, second.addresses.index) == (1, 2)
        assert holder(1, tmp_path).endswith(": first")
    finally:
        first.release()
    third = acquire("third", directory=tmp_path, probe=nothing)  # block 1 is free again
    assert third.addresses.index == 1
    third.release()
    second.release()


def test_acquire_skips_a_block_something_listens_on(tmp_path: Path) -> None:
    lease = acquire("x", directory=tmp_path, probe=lambda: [A("127.1.64.1"), A("127.0.0.1")])
    assert lease.addresses.index == 2
    lease.release()


def test_exact_block_held_by_another_names_the_holder(tmp_path: Path) -> None:
    lease = acquire("kubemu up /srv/a", 5, directory=tmp_path, probe=nothing)
    try:
        with pytest.raises(AddressError, match=r"127\.5\.0\.0/16 is in use by another kubemu "
                           r"\(pid \d+: kubemu up /srv/a\): stop it, or pass --address-block"):
            acquire("b", 5, directory=tmp_path, probe=nothing)
    finally:
        lease.release()


def test_exact_block_waits_for_listeners_to_go(tmp_path: Path) -> None:
    polls: list[float] = []
    listeners = [[A("127.5.0.1")], [A("127.5.0.1")], []]
    lease = acquire("a", 5, directory=tmp_path, probe=lambda: listeners[len(polls)],
                    sleep=polls.append)
    assert lease.addresses.index == 5 and len(polls) == 2
    lease.release()
    with pytest.raises(AddressError, match=r"something listens on 127\.5\.0\.1 \(stop it"):
        acquire("a", 5, directory=tmp_path, probe=lambda: [A("127.5.0.1")], settle=0.3,
                sleep=lambda _: None)
    acquire("free again", 5, directory=tmp_path, probe=nothing).release()


def test_unusable_lock_dir_is_an_address_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(AddressError, match="set KUBEMU_BLOCK_DIR to a writable directory"):
        acquire("a", directory=blocker / "blocks", probe=nothing)


def test_reserve_records_the_block_and_a_restart_keeps_it(tmp_path: Path) -> None:
    locks, data = tmp_path / "locks", tmp_path / "data"
    data.mkdir()
    other = acquire("other", directory=locks, probe=nothing)  # holds block 1
    lease = reserve(data, "me", directory=locks, probe=nothing)
    assert lease.addresses.index == 2
    assert json.loads((data / "addresses.json").read_text())["block"] == "127.2.0.0/16"
    lease.release()
    other.release()
    assert recorded_block(data) == 2
    again = reserve(data, "me", directory=locks, probe=nothing)  # 1 is free, 2 is recorded
    assert again.addresses.index == 2
    again.release()
    moved = reserve(data, "me", 9, directory=locks, probe=nothing)  # --address-block wins
    assert moved.addresses.index == 9 and recorded_block(data) == 9
    moved.release()
    (data / "addresses.json").write_text("{not json")
    assert recorded_block(data) is None
