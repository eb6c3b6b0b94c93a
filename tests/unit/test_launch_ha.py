"""``kubemu up --etcd-members N --apiservers N``: the plan, the addresses and haproxy's file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kubemu.addresses import Addresses
from kubemu.cli import build_parser, main
from kubemu.components import NO_MANAGER_ADMISSION, LaunchContext, launch_plan
from kubemu.haproxy import render_config, write_config
from kubemu.identities import identity_names, replica_addresses


def _ctx(tmp_path: Path, **changes: object) -> LaunchContext:
    ctx = LaunchContext(python="python", data_dir=tmp_path, kubeconfig=tmp_path / "k",
                        bind_address="127.0.0.1", port=6443,
                        server_url="http://127.7.2.20:6443", storage="etcd",
                        addresses=Addresses.for_block(7), etcd_members=3, apiservers=3)
    return dataclasses.replace(ctx, **changes)  # type: ignore[arg-type]


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_ha_addresses_are_in_the_block_and_distinct() -> None:
    a = Addresses.for_block(7)
    assert [a.etcd_member_ip(i) for i in (1, 2, 3)] == ["127.7.2.11", "127.7.2.12",
                                                        "127.7.2.13"]
    assert a.apiserver_balancer_ip == "127.7.2.20"
    assert [a.apiserver_ip(i) for i in (1, 2, 3)] == ["127.7.2.21", "127.7.2.22",
                                                      "127.7.2.23"]
    assert a.etcd_member_client_url(2) == "http://127.7.2.12:2379"
    assert a.etcd_member_peer_url(2) == "http://127.7.2.12:2380"
    assert Addresses.for_block(8).apiserver_ip(1) == "127.8.2.21"
    assert a.dns_server_ip not in [a.etcd_member_ip(i) for i in range(1, 10)] + [
        a.apiserver_balancer_ip, *(a.apiserver_ip(i) for i in range(1, 10))]
    with pytest.raises(ValueError, match="outside 1-9"):
        a.apiserver_ip(0)
    assert replica_addresses(a, 1) == []
    assert replica_addresses(a, 2) == ["127.7.2.20", "127.7.2.21", "127.7.2.22"]


def test_plan_of_three_by_three(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    plan = launch_plan(ctx, ("endpoints", "service-lb", "kube-proxy", "scheduler", "node",
                             "console", "dns"))
    names = [c.name for c in plan]
    assert names == ["etcd-1", "etcd-2", "etcd-3", "apiserver-1", "apiserver-2",
                     "apiserver-3", "apiserver-lb", "controller-manager"]
    byname = {c.name: c for c in plan}
    # Only the last member waits: members answer /health once a quorum elected a leader.
    assert byname["etcd-1"].ready_url is None and byname["etcd-2"].ready_url is None
    assert byname["etcd-3"].ready_url is not None
    assert byname["etcd-3"].ready_url(ctx) == "http://127.7.2.13:2379/health"
    etcd2 = list(byname["etcd-2"].args(ctx))
    assert _flag(etcd2, "--name") == "kubemu-2"
    assert _flag(etcd2, "--data-dir") == str(tmp_path / "etcd-2")
    assert _flag(etcd2, "--initial-cluster") == (
        "kubemu-1=http://127.7.2.11:2380,kubemu-2=http://127.7.2.12:2380,"
        "kubemu-3=http://127.7.2.13:2380")
    api2 = list(byname["apiserver-2"].args(ctx))
    assert _flag(api2, "--bind-address") == "127.7.2.22"
    assert _flag(api2, "--port") == "6443"  # plain HTTP: --port is the serving port
    assert _flag(api2, "--etcd-servers") == (
        "http://127.7.2.11:2379,http://127.7.2.12:2379,http://127.7.2.13:2379")
    assert byname["apiserver-2"].ready_url is not None
    assert byname["apiserver-2"].ready_url(ctx) == "http://127.7.2.22:6443/readyz"
    assert byname["apiserver-lb"].ready_url is not None
    assert byname["apiserver-lb"].ready_url(ctx) == "http://127.7.2.20:6443/readyz"
    assert identity_names(names) == ["controller-manager"]


def test_single_apiserver_plan_is_unchanged(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, etcd_members=1, apiservers=1)
    plan = {c.name: c for c in launch_plan(ctx, ("node",))}
    assert list(plan)[:2] == ["etcd", "apiserver"] and "apiserver-lb" not in plan
    assert "--leader-elect" not in plan["scheduler"].args(ctx)


def test_ha_controllers_all_elect_a_leader(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    plan = {c.name: c for c in launch_plan(ctx, ("node",))}
    for name in ("scheduler", "service-lb"):
        assert "--leader-elect" in plan[name].args(ctx), name
    # The endpoints controller and the controller manager elect one by default.
    assert "--leader-elect=false" not in " ".join(plan["endpoints"].args(ctx))


def test_replicas_without_a_controller_manager_skip_service_accounts(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    plan = {c.name: c for c in launch_plan(ctx, ("controller-manager",))}
    assert NO_MANAGER_ADMISSION in plan["apiserver-3"].args(ctx)


def test_haproxy_config_checks_readyz_over_tls(tmp_path: Path) -> None:
    text = render_config("127.7.2.20:6443", [("apiserver-1", "127.7.2.21:6443"),
                                             ("apiserver-2", "127.7.2.22:6443")],
                         True, tmp_path / "ca.crt")
    assert "    bind 127.7.2.20:6443\n" in text
    assert "    mode tcp\n" in text
    assert "    http-check send meth GET uri /readyz\n" in text
    assert f"check-ssl verify required ca-file {tmp_path / 'ca.crt'}" in text
    assert "    server apiserver-2 127.7.2.22:6443 check\n" in text
    plain = render_config("127.7.2.20:80", [("apiserver-1", "127.7.2.21:80")], False)
    assert "check-ssl" not in plain
    unverified = render_config("127.7.2.20:80", [("apiserver-1", "127.7.2.21:80")], True)
    assert "check-ssl verify none" in unverified
    path = write_config(_ctx(tmp_path))
    assert path == tmp_path / "haproxy.cfg"
    assert "server apiserver-3 127.7.2.23:6443 check" in path.read_text()


@pytest.mark.parametrize("argv, message", [
    (["--apiservers", "3"], "--apiservers needs --storage etcd"),
    (["--storage", "etcd", "--etcd-members", "3", "--etcd-servers", "http://x:2379"],
     "--etcd-members needs --storage etcd without --etcd-servers"),
    (["--storage", "etcd", "--apiservers", "2", "--bind-address", "127.0.0.2"],
     "--bind-address applies to a single apiserver"),
    (["--apiservers", "10"], "must be 1-9"),
    (["--etcd-members", "0"], "must be 1-9"),
])
def test_replica_flags_are_checked(argv: list[str], message: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["up", "--data-dir", str(tmp_path), *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_parser_defaults_are_one_of_each() -> None:
    args = build_parser().parse_args(["up"])
    assert (args.etcd_members, args.apiservers) == (1, 1)
