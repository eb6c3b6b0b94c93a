"""docker-compose.yml and the Dockerfile agree with the real programs.

Without Docker: the compose file is parsed with PyYAML, its structure checked, and
every service's command is run locally with ``--help`` appended (the leading
``python`` replaced by this interpreter). The help must exit 0, name the program
and document every ``--flag`` the compose file passes, so a renamed or missing
flag breaks this test instead of the containers.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from typing import Any

import pytest
import yaml

from tests.support.apiserver import REPO_ROOT

pytestmark = pytest.mark.integration

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"


def load_compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return document


def services() -> dict[str, dict[str, Any]]:
    """The kubemu services (built from the Dockerfile; the etcd profile's etcd is not)."""
    found: dict[str, dict[str, Any]] = load_compose()["services"]
    return {name: svc for name, svc in found.items() if svc.get("build")}


def command(service: dict[str, Any]) -> list[str]:
    argv = service["command"]
    assert isinstance(argv, list), "use the exec (list) form for commands"
    return [str(arg) for arg in argv]


def module_of(argv: list[str]) -> str:
    assert argv[:2] == ["python", "-m"], f"command must start with 'python -m MODULE': {argv}"
    return argv[2]


def option_value(argv: list[str], option: str) -> str:
    assert option in argv, f"{option} missing from {argv}"
    return argv[argv.index(option) + 1]


SERVICE_NAMES = sorted(services())


def test_services_share_one_image() -> None:
    images = {name: svc.get("image") for name, svc in services().items()}
    assert "apiserver" in images
    assert len(set(images.values())) == 1, images
    assert all(svc.get("build") for svc in services().values())


def test_apiserver_service() -> None:
    svc = services()["apiserver"]
    argv = command(svc)
    assert module_of(argv) == "apiserver"
    port = option_value(argv, "--port")
    if option_value(argv, "--bind-address") not in ("127.0.0.1", "::1", "localhost"):
        assert "--allow-unauthenticated-bind" in argv, "non-loopback bind must be explicit"
    test = " ".join(str(part) for part in svc["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/readyz" in test
    data_dir = option_value(argv, "--data-dir")
    mounts = {str(volume).split(":")[1] for volume in svc["volumes"]}
    assert data_dir in mounts
    assert all(str(p).startswith("127.0.0.1:") for p in svc.get("ports", [])), (
        "publish ports on the host's loopback only"
    )


def test_named_volumes_are_declared() -> None:
    declared = set(load_compose().get("volumes") or {})
    for svc in services().values():
        for volume in svc.get("volumes", []):
            source = str(volume).split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"volume {source} is not declared"


def test_other_services_wait_for_a_healthy_apiserver() -> None:
    for name, svc in services().items():
        if name == "apiserver" or module_of(command(svc)) == "apiserver":
            continue  # apiservers (the etcd profile's replicas) wait for their storage
        depends = svc.get("depends_on")
        assert isinstance(depends, dict), f"{name}: depends_on must be a mapping with conditions"
        assert depends.get("apiserver", {}).get("condition") == "service_healthy", name


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_service_command_help(name: str) -> None:
    argv = command(services()[name])
    module = module_of(argv)
    assert importlib.util.find_spec(module) is not None, f"{name}: module {module} not found"
    result = subprocess.run(
        [sys.executable, *argv[1:], "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{name}: --help exited {result.returncode}\n{result.stderr}"
    help_text = result.stdout
    names = {module, module.rsplit(".", 1)[-1], name}
    assert any(n in help_text for n in names), f"{name}: help does not name the program"
    for flag in (arg for arg in argv[3:] if re.fullmatch(r"--[a-z0-9][a-z0-9-]*", arg)):
        assert flag in help_text, f"{name}: {flag} used by docker-compose.yml is not in --help"


def test_dockerfile_copies_every_package() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    for package in ("apiserver", "controllers", "kubemu"):
        assert f"COPY {package} ./{package}" in text
    assert "pip install ." in text


def test_docker_compose_config_is_valid() -> None:
    # Docker is not a test dependency of kubemu, so its absence is a skip even under CI.
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, check=False, timeout=30
    )
    if probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
