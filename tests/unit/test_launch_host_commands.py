"""``kubemu up --allow-host-commands`` reaches every node agent, and only then."""

from __future__ import annotations

from pathlib import Path

from kubemu.cli import build_parser
from kubemu.components import LaunchContext, node_args


def _node_argv(allow: bool, index: int) -> list[str]:
    ctx = LaunchContext(python="python", data_dir=Path("/d"), kubeconfig=Path("/k"),
                        bind_address="127.0.0.1", port=8080,
                        server_url="http://127.0.0.1:8080", storage="sqlite", nodes=2,
                        allow_host_commands=allow)
    return node_args(index)(ctx)


def test_the_flag_reaches_the_node_agents() -> None:
    assert "--allow-host-commands" not in _node_argv(False, 1)
    assert all("--allow-host-commands" in _node_argv(True, i) for i in (1, 2))
    assert build_parser().parse_args(["up", "--allow-host-commands"]).allow_host_commands
    assert not build_parser().parse_args(["up"]).allow_host_commands
