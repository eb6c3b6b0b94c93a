"""A whole ``kubemu up`` for a test: start it, reach it, wait on it, stop it.

:func:`start_kubemu` runs ``python -m kubemu up --port 0 --nodes N`` in its own data
directory and returns once it says it is up; :func:`stop_kubemu` stops it with SIGINT.
Each cluster takes its own block of loopback addresses (see :mod:`kubemu.addresses`);
``Kubemu.addresses`` says which, so tests never hard-code a node IP or a range and run
beside any other cluster on the machine.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from kubemu.addresses import Addresses, load
from tests.support.apiserver import REPO_ROOT

BIN = Path(sys.executable).parent
KUBECTL = str(BIN / "kubectl")


@dataclass
class Kubemu:
    url: str
    kubeconfig: Path
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path
    #: The cluster's loopback addresses (from ``<data-dir>/addresses.json``).
    addresses: Addresses

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run([KUBECTL, "--kubeconfig", str(self.kubeconfig), *args],
                             input=stdin, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, f"kubectl {' '.join(args)}: {out.stderr}"
        return out.stdout

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """The cluster CA and the admin client certificate (plain HTTP: True)."""
        if self.url.startswith("http://"):
            return True
        pki = self.data_dir / "pki"
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        return context

    def get(self, path: str) -> dict[str, Any]:
        resp = httpx.get(self.url + path, timeout=5, verify=self.verify)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except (httpx.HTTPError, KeyError, IndexError, AssertionError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: last {last!r}")


def start_kubemu(data_dir: Path, nodes: int, *extra: str) -> Kubemu:
    """Start ``kubemu up`` on ``data_dir`` (log next to it) with ``extra`` flags."""
    log = data_dir.parent / f"{data_dir.name}-kubemu-up.log"
    offset = log.stat().st_size if log.exists() else 0  # a restart appends to the log
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kubemu", "up", "--port", "0", "--data-dir", str(data_dir),
             "--nodes", str(nodes), "--stop-timeout", "5", *extra],
            stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    kubeconfig = data_dir / "kubeconfig"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-4000:]
        if kubeconfig.exists() and b"kubemu is up" in log.read_bytes()[offset:]:
            doc = yaml.safe_load(kubeconfig.read_text())
            url = str(doc["clusters"][0]["cluster"]["server"])
            return Kubemu(url, kubeconfig, data_dir, process, log, load(data_dir))
        time.sleep(0.2)
    process.kill()
    raise AssertionError("kubemu up did not start: " + log.read_text(errors="replace")[-4000:])


def stop_kubemu(cluster: Kubemu) -> None:
    if cluster.process.poll() is None:
        cluster.process.send_signal(signal.SIGINT)
        try:
            cluster.process.wait(30)
        except subprocess.TimeoutExpired:
            cluster.process.kill()
            cluster.process.wait()


def hostname(address: str) -> str:
    """One request on a new connection; the answering pod's name."""
    with httpx.Client(timeout=3) as client:
        return client.get(f"http://{address}/hostname").text


def answers(address: str, count: int) -> list[str]:
    return [hostname(address) for _ in range(count)]
