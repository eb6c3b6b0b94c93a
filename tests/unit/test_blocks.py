"""kubemu.blocks: /proc/net parsing, taking a block with a flock, claims of data dirs."""

from __future__ import annotations

import ipaddress
import json
import socket
from pathlib import Path

import pytest

from kubemu.addresses import recorded_block
from kubemu.blocks import (
    AddressError,
    acquire,
    busy_addresses,
    candidates,
    holder,
    listening_addresses,
    reserve,
)

A = ipaddress.IPv4Address


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


def test_a_new_data_dir_prefers_blocks_no_stopped_cluster_wants_back(tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    dirs = [tmp_path / name for name in ("a", "b", "c")]
    for d in dirs:
        d.mkdir()
    first = reserve(dirs[0], "a", directory=locks, probe=nothing)
    first.release()  # cluster a stopped; block 1 stays claimed by it
    second = reserve(dirs[1], "b", directory=locks, probe=nothing)
    assert (first.addresses.index, second.addresses.index) == (1, 2)
    again = reserve(dirs[0], "a", directory=locks, probe=nothing)  # a restarts: block 1
    assert again.addresses.index == 1
    again.release()
    second.release()
    # A claim is void once its data dir records another block (or is gone).
    (dirs[0] / "addresses.json").unlink()
    third = reserve(dirs[2], "c", directory=locks, probe=nothing)
    assert third.addresses.index == 1
    third.release()


def test_claimed_blocks_are_taken_when_nothing_else_is_free(tmp_path: Path) -> None:
    locks, old, new = tmp_path / "locks", tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    reserve(old, "old", directory=locks, probe=nothing).release()  # claims block 1
    busy = [A(f"127.{i}.0.1") for i in candidates() if i != 1]
    lease = reserve(new, "new", directory=locks, probe=lambda: busy)
    assert lease.addresses.index == 1
    lease.release()
