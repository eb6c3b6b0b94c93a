"""docker-compose.yml (secure: TLS + RBAC), docker-compose.insecure.yml (its plain-HTTP
override) and the Dockerfile agree with the real programs.

Without Docker: the compose files are parsed with PyYAML, their structure checked, and
every service's command is run locally with ``--help`` appended (the leading
``python`` replaced by this interpreter). The help must exit 0, name the program
and document every ``--flag`` the compose file passes, so a renamed or missing
flag breaks this test instead of the containers. The secure wiring also runs for real:
the ``pki`` service's ``kubemu certs`` and the apiserver's command (its volume paths
mapped to a temporary directory), then kubectl as the admin and as each component, and the
``dns-service`` one-shot's ``kubemu publish-dns``. The cluster DNS and the web console must
run as ``kubemu up`` runs them: their commands are compared with :mod:`kubemu.components`'.
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

from kubemu import dns
from kubemu.addresses import Addresses
from kubemu.components import LaunchContext, console_args, node_args
from kubemu.identities import identity
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


def _as_kubemu_up() -> LaunchContext:
    """What ``kubemu up`` would launch for docker-compose.yml's addresses: block 0 (node 1
    is 127.0.0.1, the control address 127.0.2.1), the apiserver's service range, the
    service-lb pool; the image runs unprivileged, so DNS is on the unprivileged port."""
    apiserver = command(services()["apiserver"])
    addresses = Addresses.for_block(0).with_overrides(
        service_range=option_value(apiserver, "--service-cluster-ip-range"),
        lb_pool=option_value(command(services()["service-lb"]), "--address-pool"))
    return LaunchContext(
        python="python", data_dir=Path("/data"), kubeconfig=Path("/pki/admin.kubeconfig"),
        bind_address="0.0.0.0", port=6443, server_url="https://apiserver:6443",
        storage="sqlite", addresses=addresses, dns_port=dns.UNPRIVILEGED_PORT,
        kubeconfigs={name: Path(f"/pki/kubeconfigs/{name}.conf") for name in ("dns", "console")})


def _health_test(svc: dict[str, Any]) -> str:
    return " ".join(str(part) for part in svc["healthcheck"]["test"])


def test_dns_and_console_run_as_under_kubemu_up() -> None:
    ctx = _as_kubemu_up()
    found = services()
    assert command(found["dns"]) == dns.dns_args(ctx)
    assert command(found["console"]) == console_args(ctx)
    assert f"urlopen('{dns.ready_url(ctx)}'" in _health_test(found["dns"])
    assert f"urlopen('{ctx.addresses.console_url}readyz'" in _health_test(found["console"])
    for name in ("dns", "dns-service", "console"):
        assert found[name]["network_mode"] == "host", f"{name}: kube-proxy reaches it"
    # The kube-dns Service kubemu up publishes, for the dns service's address and port.
    publish = command(found["dns-service"])
    assert publish[:4] == ["python", "-m", "kubemu", "publish-dns"]
    assert option_value(publish, "--kubeconfig") == "/pki/admin.kubeconfig"
    assert option_value(publish, "--cluster-ip") == ctx.addresses.dns_ip == "127.96.0.10"
    assert option_value(publish, "--dns-address") == ctx.addresses.dns_server_ip
    assert option_value(publish, "--dns-port") == str(ctx.dns_port)
    assert found["dns-service"]["restart"] == "no"
    # As under kubemu up: a node agent is told the cluster DNS only when it is on port 53.
    node = node_args(1)(ctx)
    assert ("--cluster-dns" in command(found["node"])) == ("--cluster-dns" in node)
    assert option_value(command(found["node"]), "--node-ip") == ctx.addresses.node_ip(1)


def test_insecure_dns_and_console_differ_only_in_how_they_reach_the_apiserver() -> None:
    secure, insecure = services(), insecure_services()
    for name in ("dns", "dns-service", "console"):
        argv = command(secure[name])
        at = argv.index("--kubeconfig")
        assert command(insecure[name]) == [*argv[:at], "--server", "http://127.0.0.1:8080",
                                           *argv[at + 2:]], name


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
        for name in ("dns", "console"):
            config = pki_dir / "kubeconfigs" / f"{name}.conf"
            whoami = kubectl("auth", "whoami", "-o", "json", kubeconfig=config, check=True)
            assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == \
                identity(name)[0]
        publish = _local(command(services()["dns-service"]), pki_dir, port)
        for _run in range(2):  # the second run finds everything as wanted
            published = subprocess.run([sys.executable, *publish], capture_output=True,
                                       text=True, cwd=REPO_ROOT, timeout=60)
            assert published.returncode == 0, published.stderr
        # Only a user who may write kube-system's Services publishes them.
        console = pki_dir / "kubeconfigs" / "console.conf"
        refused = subprocess.run(
            [sys.executable, *publish[:publish.index("--kubeconfig") + 1], str(console),
             *publish[publish.index("--kubeconfig") + 2:]],
            capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
        assert refused.returncode == 1
        assert refused.stderr.startswith("kubemu publish-dns: PUT ") or \
            refused.stderr.startswith("kubemu publish-dns: GET "), refused.stderr
        assert "forbidden" in refused.stderr and refused.stderr.count("\n") == 1
        cluster_ip = option_value(publish, "--cluster-ip")
        server_ip = option_value(publish, "--dns-address")
        got = kubectl("get", "-n", "kube-system", "service/kube-dns", "endpointslice/kube-dns",
                      "-o", "json", kubeconfig=admin, check=True)
        service, endpoint_slice = json.loads(got.stdout)["items"]
        assert service["spec"]["clusterIP"] == cluster_ip
        assert "selector" not in service["spec"]
        assert [p["port"] for p in service["spec"]["ports"]] == [10053, 10053, 9153]
        assert endpoint_slice["endpoints"][0]["addresses"] == [server_ip]
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
