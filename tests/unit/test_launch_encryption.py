"""``kubemu up --encryption-provider-config`` reaches the apiserver's command line."""

from __future__ import annotations

from pathlib import Path

from kubemu.components import LaunchContext, apiserver_args

BASE = LaunchContext(python="python", data_dir=Path("/d"), kubeconfig=Path("/k"),
                     bind_address="127.0.0.1", port=8080, server_url="http://127.0.0.1:8080",
                     storage="sqlite")


def test_the_config_file_is_passed_only_when_given() -> None:
    assert "--encryption-provider-config" not in apiserver_args(BASE)
    ctx = LaunchContext(**{**BASE.__dict__, "encryption_provider_config": Path("/etc/enc.yaml")})
    argv = apiserver_args(ctx)
    flag = argv.index("--encryption-provider-config")
    assert argv[flag + 1] == "/etc/enc.yaml"
