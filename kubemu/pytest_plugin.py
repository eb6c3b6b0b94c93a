"""The kubemu pytest plugin: a real Kubernetes API for your test session.

Installed with the ``kubemu`` package (entry point ``pytest11``), it gives every test
suite a session fixture ``kubemu`` that starts ``kubemu up`` (the apiserver and, by
default, the endpoints controller) on a free loopback port with a temporary data
directory, and yields a :class:`KubemuCluster`. Each session (each pytest-xdist worker
too) gets its own cluster on its own block of loopback addresses (see
:mod:`kubemu.addresses`; ``kubemu.addresses`` says which), so suites of several projects,
and the workers of ``pytest -n N``, run side by side on one machine::

    def test_configmap(kubemu):
        from kubernetes import client
        api = client.CoreV1Api(client.ApiClient(kubemu.configuration))
        api.create_namespaced_config_map("default", {"metadata": {"name": "x"}})

The cluster serves HTTPS with its own CA and the kubeconfig authenticates as
``kubernetes-admin`` (``system:masters``) with a client certificate, as ``kubemu up``
does by default; ``configuration`` carries the CA and the certificate, and
``verify``/``cert`` are what ``httpx``/``requests`` take.

Options (command line, or the same names without ``--`` and with ``_`` in ini files):

* ``--kubemu-storage sqlite|memory`` (ini ``kubemu_storage``; default ``sqlite``)
* ``--kubemu-processes apiserver,endpoints,service-lb,kube-proxy`` (ini
  ``kubemu_processes``; default ``apiserver,endpoints``). The apiserver always runs.
* ``--kubemu-insecure`` (ini ``kubemu_insecure``): plain HTTP without authentication
  (``kubemu up --insecure``).
  Add ``controller-manager`` for the workload controllers and for deleted namespaces to
  be emptied and removed (without it they stay ``Terminating``, as upstream).
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubemu.addresses import Addresses, load
from kubemu.components import component_names

DEFAULT_PROCESSES = "apiserver,endpoints"
# How long a session waits for "kubemu is up": kubemu up itself waits for the controller
# manager to make the default ServiceAccount, which several sessions starting at once on a
# busy machine (one per xdist worker) can stretch well past ten seconds.
READY_TIMEOUT = 90.0


@dataclass
class KubemuCluster:
    """A running kubemu: ``url``, ``kubeconfig`` (a path), ``configuration`` and
    ``addresses`` (its block: service range, node IPs, pod CIDRs, load-balancer pool)."""

    url: str
    kubeconfig: Path
    data_dir: Path
    processes: tuple[str, ...]
    process: subprocess.Popen[bytes]
    addresses: Addresses | None = None

    @property
    def insecure(self) -> bool:
        """True for a plain-HTTP cluster without authentication."""
        return self.url.startswith("http://")

    @property
    def ca_file(self) -> Path | None:
        """The cluster CA (None when insecure)."""
        return None if self.insecure else self.data_dir / "pki" / "ca.crt"

    @property
    def cert(self) -> tuple[str, str] | None:
        """The admin client certificate and key paths (None when insecure)."""
        if self.insecure:
            return None
        pki = self.data_dir / "pki"
        return str(pki / "admin.crt"), str(pki / "admin.key")

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """An ``httpx`` ``verify``: the cluster CA plus the admin client certificate."""
        if self.ca_file is None or self.cert is None:
            return True
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(*self.cert)
        return context

    @property
    def configuration(self) -> Any:
        """A ``kubernetes.client.Configuration`` for this server (needs ``kubernetes``)."""
        client = importlib.import_module("kubernetes.client")
        config = client.Configuration()
        config.host = self.url
        if self.ca_file is not None and self.cert is not None:
            config.ssl_ca_cert = str(self.ca_file)
            config.cert_file, config.key_file = self.cert
        return config

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every process (SIGTERM, then SIGKILL)."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def start_kubemu(
    base: Path, storage: str = "sqlite", processes: str = DEFAULT_PROCESSES,
    timeout: float = READY_TIMEOUT, insecure: bool = False,
) -> KubemuCluster:
    """Start ``kubemu up`` in ``base`` and wait until the apiserver is ready."""
    wanted = [p.strip() for p in processes.split(",") if p.strip()]
    known = component_names()
    unknown = [p for p in wanted if p not in known]
    if unknown:
        raise pytest.UsageError(
            f"--kubemu-processes: unknown {', '.join(unknown)} (known: {', '.join(known)})"
        )
    data_dir = base / "data"
    kubeconfig = base / "kubeconfig"
    port = _free_port()
    argv = [sys.executable, "-m", "kubemu", "up", "--data-dir", str(data_dir),
            "--port", str(port), "--storage", storage, "--kubeconfig", str(kubeconfig)]
    for name in known:
        if name != "apiserver" and name not in wanted:
            argv += ["--disable", name]
    if insecure:
        argv.append("--insecure")
    log = os.fdopen(os.open(base / "kubemu.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND
                            | os.O_CLOEXEC, 0o600), "ab")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    log.close()
    url = f"{'http' if insecure else 'https'}://127.0.0.1:{port}"
    cluster = KubemuCluster(url, kubeconfig, data_dir, tuple(wanted), process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"kubemu exited with {process.returncode}:\n"
                + (base / "kubemu.log").read_text(errors="replace")[-4000:]
            )
        try:
            if kubeconfig.exists() and httpx.get(f"{url}/readyz", timeout=1,
                                                 verify=cluster.verify).status_code == 200:
                cluster.addresses = load(data_dir)
                return cluster
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    cluster.stop()
    raise RuntimeError(f"kubemu was not ready within {timeout}s (log: {base / 'kubemu.log'})")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kubemu", "kubemu (a Kubernetes API server for tests)")
    group.addoption("--kubemu-storage", default=None, choices=("sqlite", "memory"),
                    help="storage of the kubemu fixture (default: sqlite)")
    group.addoption("--kubemu-processes", default=None,
                    help=f"comma-separated kubemu processes to run (default: {DEFAULT_PROCESSES}"
                    f"; known: {', '.join(component_names())})")
    group.addoption("--kubemu-insecure", action="store_true", default=None,
                    help="serve plain HTTP without authentication (kubemu up --insecure)")
    parser.addini("kubemu_storage", "storage of the kubemu fixture", default="sqlite")
    parser.addini("kubemu_insecure", "serve plain HTTP without authentication", type="bool",
                  default=False)
    parser.addini("kubemu_processes", "kubemu processes to run", default=DEFAULT_PROCESSES)


@pytest.fixture(scope="session")
def kubemu(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KubemuCluster]:
    """A kubemu control plane for the whole session (see the module docstring)."""
    config = request.config
    storage = config.getoption("kubemu_storage") or config.getini("kubemu_storage")
    processes = config.getoption("kubemu_processes") or config.getini("kubemu_processes")
    insecure = bool(config.getoption("kubemu_insecure") or config.getini("kubemu_insecure"))
    cluster = start_kubemu(tmp_path_factory.mktemp("kubemu"), str(storage), str(processes),
                           insecure=insecure)
    try:
        yield cluster
    finally:
        cluster.stop()
