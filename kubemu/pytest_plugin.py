"""The kubemu pytest plugin: a real Kubernetes API for your test session.

Installed with the ``kubemu`` package (entry point ``pytest11``), it gives every test
suite a session fixture ``kubemu`` that starts ``kubemu up`` (the apiserver and, by
default, the endpoints controller) on a free loopback port with a temporary data
directory, and yields a :class:`KubemuCluster`::

    def test_configmap(kubemu):
        from kubernetes import client
        api = client.CoreV1Api(client.ApiClient(kubemu.configuration))
        api.create_namespaced_config_map("default", {"metadata": {"name": "x"}})

Options (command line, or the same names without ``--`` and with ``_`` in ini files):

* ``--kubemu-storage sqlite|memory`` (ini ``kubemu_storage``; default ``sqlite``)
* ``--kubemu-processes apiserver,endpoints,service-lb,kube-proxy`` (ini
  ``kubemu_processes``; default ``apiserver,endpoints``). The apiserver always runs.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubemu.components import component_names

DEFAULT_PROCESSES = "apiserver,endpoints"
READY_TIMEOUT = 30.0


@dataclass
class KubemuCluster:
    """A running kubemu: ``url``, ``kubeconfig`` (a path) and ``configuration``."""

    url: str
    kubeconfig: Path
    data_dir: Path
    processes: tuple[str, ...]
    process: subprocess.Popen[bytes]

    @property
    def configuration(self) -> Any:
        """A ``kubernetes.client.Configuration`` for this server (needs ``kubernetes``)."""
        client = importlib.import_module("kubernetes.client")
        config = client.Configuration()
        config.host = self.url
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
    timeout: float = READY_TIMEOUT,
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
    log = os.fdopen(os.open(base / "kubemu.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND
                            | os.O_CLOEXEC, 0o600), "ab")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    log.close()
    url = f"http://127.0.0.1:{port}"
    cluster = KubemuCluster(url, kubeconfig, data_dir, tuple(wanted), process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"kubemu exited with {process.returncode}:\n"
                + (base / "kubemu.log").read_text(errors="replace")[-4000:]
            )
        try:
            if kubeconfig.exists() and httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
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
    parser.addini("kubemu_storage", "storage of the kubemu fixture", default="sqlite")
    parser.addini("kubemu_processes", "kubemu processes to run", default=DEFAULT_PROCESSES)


@pytest.fixture(scope="session")
def kubemu(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KubemuCluster]:
    """A kubemu control plane for the whole session (see the module docstring)."""
    config = request.config
    storage = config.getoption("kubemu_storage") or config.getini("kubemu_storage")
    processes = config.getoption("kubemu_processes") or config.getini("kubemu_processes")
    cluster = start_kubemu(tmp_path_factory.mktemp("kubemu"), str(storage), str(processes))
    try:
        yield cluster
    finally:
        cluster.stop()
