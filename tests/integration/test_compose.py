"""docker-compose.yml (secure: TLS + RBAC), docker-compose.insecure.yml (its plain-HTTP
override) and the Dockerfile agree with the real programs.

Without Docker: the compose files are parsed with PyYAML, their structure checked, and
every service's command is run locally with ``--help`` appended (the leading
``python`` replaced by this interpreter). The help must exit 0, name the program
and document every ``--flag`` the compose file passes, so a renamed or missing
flag breaks this test instead of the containers. The secure wiring also runs for real:
the ``pki`` service's ``kubemu certs`` and the apiserver's command (its volume paths
mapped to a temporary directory), then kubectl as the admin and as kube-proxy.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.apiserver import READY_TIMEOUT, REPO_ROOT, free_port
from tests.support.kubectl import Kubectl
from tests.support.process import Process

pytestmark = pytest.mark.integration

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
INSECURE_FILE = REPO_ROOT / "docker-compose.insecure.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def services() -> dict[str, dict[str, Any]]:
    """The kubemu services (built from the Dockerfile; the etcd profile's etcd is not)."""
    found: dict[str, dict[str, Any]] = load_compose()["services"]
    return {name: svc for name, svc in found.items() if svc.get("build")}


def insecure_services() -> dict[str, dict[str, Any]]:
    """The services docker-compose.insecure.yml overrides."""
    found: dict[str, dict[str, Any]] = load_compose(INSECURE_FILE)["services"]
    return found


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


def test_apiserver_service_is_secure() -> None:
    svc = services()["apiserver"]
    argv = command(svc)
    assert module_of(argv) == "apiserver"
    assert "--allow-unauthenticated-bind" not in argv
    assert option_value(argv, "--port") == "0", "no plain HTTP port"
    secure = option_value(argv, "--secure-port")
    assert option_value(argv, "--authorization-mode") == "Node,RBAC"
    for flag in ("--tls-cert-file", "--tls-private-key-file", "--client-ca-file",
                 "--service-account-signing-key-file", "--service-account-key-file"):
        assert option_value(argv, flag).startswith("/pki/pki/"), flag
    test = " ".join(str(part) for part in svc["healthcheck"]["test"])
    assert f"https://127.0.0.1:{secure}/readyz" in test and "/pki/pki/ca.crt" in test
    data_dir = option_value(argv, "--data-dir")
    mounts = {str(volume).split(":")[1] for volume in svc["volumes"]}
    assert {data_dir, "/pki"} <= mounts
    assert svc["depends_on"]["pki"]["condition"] == "service_completed_successfully"
    assert svc["ports"] == [f"127.0.0.1:{secure}:{secure}"], "publish on loopback only"


def test_insecure_override_serves_plain_http_on_loopback() -> None:
    svc = insecure_services()["apiserver"]
    argv = command(svc)
    port = option_value(argv, "--port")
    assert "--secure-port" not in argv and "--tls-cert-file" not in argv
    assert "--allow-unauthenticated-bind" in argv, "non-loopback bind must be explicit"
    test = " ".join(str(part) for part in svc["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/readyz" in test
    assert svc["ports"] == [f"127.0.0.1:{port}:{port}"]
    for name, override in insecure_services().items():
        assert name in services(), f"{name} overrides no service of docker-compose.yml"
        assert "--kubeconfig" not in command(override), name


def test_every_component_has_its_own_identity() -> None:
    pki = command(services()["pki"])
    assert pki[:4] == ["python", "-m", "kubemu", "certs"]
    components = [pki[i + 1] for i, arg in enumerate(pki) if arg == "--component"]
    host_network = [pki[i + 1] for i, arg in enumerate(pki) if arg == "--host-network"]
    assert option_value(pki, "--dir") == "/pki"
    used = []
    for name, svc in services().items():
        argv = command(svc)
        if module_of(argv) in ("apiserver", "kubemu"):
            continue
        config = option_value(argv, "--kubeconfig")
        match = re.fullmatch(r"/pki/kubeconfigs/(.+)\.conf", config)
        assert match, f"{name}: {config}"
        component = match.group(1)
        used.append(component)
        assert (svc.get("network_mode") == "host") == (component in host_network), name
    assert sorted(used) == sorted(components)
def test_named_volumes_are_declared() -> None:
    declared = set(load_compose().get("volumes") or {})
    for svc in services().values():
        for volume in svc.get("volumes", []):
            source = str(volume).split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"volume {source} is not declared"


def test_other_services_wait_for_a_healthy_apiserver() -> None:
    for name, svc in services().items():
        if module_of(command(svc)) in ("apiserver", "kubemu"):
            continue  # apiservers wait for their storage and the certificates
        depends = svc.get("depends_on")
        assert isinstance(depends, dict), f"{name}: depends_on must be a mapping with conditions"
        assert depends.get("apiserver", {}).get("condition") == "service_healthy", name


@pytest.mark.parametrize("name", [*SERVICE_NAMES,
                                  *(f"insecure:{n}" for n in sorted(insecure_services()))])
def test_service_command_help(name: str) -> None:
    argv = command(insecure_services()[name.split(":", 1)[1]] if name.startswith("insecure:")
                   else services()[name])
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
    names = {module, module.rsplit(".", 1)[-1], name, *argv[3:4]}
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


def _local(argv: list[str], pki_dir: Path, port: int) -> list[str]:
    """A compose command's arguments after ``python``, run here: the ``/pki`` volume is
    ``pki_dir``, the published port 6443 is ``port``."""
    return [re.sub(r"^/pki(?=/|$)", str(pki_dir), a).replace(":6443", f":{port}")
            for a in argv[1:]]


def _wait_ready(url: str, ca: Path, process: Process, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    context = ssl.create_default_context(cafile=str(ca))
    while True:
        assert process.running(), log.read_text()
        try:
            if httpx.get(f"{url}/readyz", verify=context, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def test_the_secure_services_work(tmp_path: Path, kubectl: Kubectl) -> None:
    port = free_port()
    pki_dir = tmp_path / "pki-volume"
    made = subprocess.run([sys.executable, *_local(command(services()["pki"]), pki_dir, port)],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert made.returncode == 0, made.stderr
    flags = _local(command(services()["apiserver"]), pki_dir, port)
    flags[flags.index("--data-dir") + 1] = str(tmp_path / "data")
    flags[flags.index("--secure-port") + 1] = str(port)
    flags[flags.index("--bind-address") + 1] = "127.0.0.1"
    log = tmp_path / "apiserver.log"
    server = Process(flags, log).start()
    try:
        _wait_ready(f"https://127.0.0.1:{port}", pki_dir / "pki" / "ca.crt", server, log)
        admin = pki_dir / "admin.kubeconfig"
        assert "insecure-skip-tls-verify" not in admin.read_text()
        out = kubectl("get", "namespace", "default", "-o", "name", kubeconfig=admin,
                      check=True)
        assert out.stdout.strip() == "namespace/default"
        proxy = pki_dir / "kubeconfigs" / "kube-proxy.conf"
        whoami = kubectl("auth", "whoami", "-o", "json", kubeconfig=proxy, check=True)
        assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == \
            "system:kube-proxy"
        assert kubectl("auth", "can-i", "list", "services", "-A",
                       kubeconfig=proxy).stdout.strip() == "yes"
        assert kubectl("auth", "can-i", "create", "services", "-n", "default",
                       kubeconfig=proxy).stdout.strip() == "no"
    finally:
        server.stop()


def _ha() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = load_compose()["services"]
    return {name: svc for name, svc in found.items() if "ha" in (svc.get("profiles") or [])}


def test_ha_profile_is_three_etcd_members_three_apiservers_and_haproxy() -> None:
    from kubemu.haproxy import render_config

    ha = _ha()
    members = [f"etcd-ha-{i}" for i in (1, 2, 3)]
    apiservers = [f"apiserver-ha-{i}" for i in (1, 2, 3)]
    assert sorted(ha) == sorted([*members, *apiservers, "apiserver-lb"])
    address = {name: svc["networks"]["ha"]["ipv4_address"] for name, svc in ha.items()}
    peers = ",".join(f"{m}=http://{address[m]}:2380" for m in members)
    for member in members:
        argv = [str(a) for a in ha[member]["command"]]
        assert option_value(argv, "--name") == member
        assert option_value(argv, "--initial-cluster") == peers
        assert option_value(argv, "--advertise-client-urls") == f"http://{address[member]}:2379"
    clients = ",".join(f"http://{address[m]}:2379" for m in members)
    for name in apiservers:
        argv = command(ha[name])
        assert option_value(argv, "--etcd-servers") == clients
        assert option_value(argv, "--advertise-address") == address[name]
        assert set(ha[name]["depends_on"]) == {"pki", *members}
    lb = ha["apiserver-lb"]
    assert lb["image"].startswith("haproxy:")
    assert set(lb["depends_on"]) == set(apiservers)
    assert all(c["condition"] == "service_healthy" for c in lb["depends_on"].values())
    source, target = str(lb["volumes"][0]).split(":")[:2]
    assert target == "/usr/local/etc/haproxy/haproxy.cfg"
    text = (REPO_ROOT / source).read_text(encoding="utf-8")
    body = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))
    assert body == render_config("0.0.0.0:6443", [(n, f"{address[n]}:6443") for n in apiservers],
                                 True)
    assert lb["ports"] == ["127.0.0.1:6445:6443"]
