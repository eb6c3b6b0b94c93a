"""``kubemu up`` on a first run: one cluster per data directory, one-line errors.

The cluster runs only the apiserver (every other component disabled, ``--port
0``) so these tests use no fixed address.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from kubemu.blocks import acquire
from kubemu.components import component_names

ONLY_APISERVER = [arg for name in component_names() if name != "apiserver"
                  for arg in ("--disable", name)]


def kubemu_up(*args: str, timeout: float = 30, prefix: Sequence[str] = (),
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``kubemu up ARGS`` to completion (for runs expected to fail fast)."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "kubemu", "up", *args],
        capture_output=True, text=True, timeout=timeout,
        env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})),
    )


#: Capabilities that let root bind ports below 1024 and write any directory.
PRIVILEGES = "net_bind_service,dac_override,dac_read_search"


def unprivileged() -> list[str]:
    """A command prefix running without the privileges above: none for a normal user,
    ``setpriv`` dropping them for root; skips when root cannot drop them."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing")
    drop = ",".join(f"-{cap}" for cap in PRIVILEGES.split(","))
    prefix = [setpriv, f"--inh-caps={drop}", f"--bounding-set={drop}"]
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot drop capabilities here: {probe.stderr.decode().strip()}")
    return prefix


def _verify(data_dir: Path) -> ssl.SSLContext | bool:
    ca = data_dir / "pki" / "ca.crt"
    return ssl.create_default_context(cafile=str(ca)) if ca.exists() else True


def _wait_ready(data_dir: Path, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "kubemu up exited during start-up"
        pid_file = data_dir / "kubemu.pid"
        lines = pid_file.read_text().splitlines() if pid_file.exists() else []
        if len(lines) == 2:
            try:
                if httpx.get(f"{lines[1]}/readyz", timeout=1,
                             verify=_verify(data_dir)).status_code == 200:
                    return lines[1]
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    raise AssertionError("kubemu up did not become ready")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Path, str, subprocess.Popen[bytes]]]:
    """A ``kubemu up`` running only the apiserver on ``tmp_path/data``: (data dir, URL, process)."""
    data_dir = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubemu", "up", "--port", "0", "--storage", "memory",
         "--data-dir", str(data_dir), *ONLY_APISERVER],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        yield data_dir, _wait_ready(data_dir, proc), proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_second_up_on_same_data_dir_refuses_and_first_keeps_serving(
    running: tuple[Path, str, subprocess.Popen[bytes]],
) -> None:
    data_dir, url, first = running
    assert url.startswith("https://127.0.0.1:")
    kubeconfig = (data_dir / "kubeconfig").read_bytes()
    addresses = (data_dir / "addresses.json").read_bytes()

    second = kubemu_up("--port", "0", "--data-dir", str(data_dir), *ONLY_APISERVER)

    assert second.returncode == 1
    assert second.stderr == (
        f"kubemu is already running on this data directory (pid {first.pid}, {url})\n"
    )
    assert (data_dir / "kubeconfig").read_bytes() == kubeconfig
    assert (data_dir / "addresses.json").read_bytes() == addresses
    assert (data_dir / "kubemu.pid").read_text().splitlines() == [str(first.pid), url]
    assert httpx.get(f"{url}/readyz", timeout=5, verify=_verify(data_dir)).status_code == 200
    assert first.poll() is None


def test_insecure_serves_plain_http_without_certificates(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubemu", "up", "--insecure", "--port", "0", "--storage",
         "memory", "--data-dir", str(data_dir), *ONLY_APISERVER],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = _wait_ready(data_dir, proc)
        assert url.startswith("http://127.0.0.1:")
        assert not (data_dir / "pki").exists()
        assert "certificate" not in (data_dir / "kubeconfig").read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0


def test_lock_of_a_killed_up_is_taken_over(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    argv = [sys.executable, "-m", "kubemu", "up", "--port", "0", "--storage", "memory",
            "--data-dir", str(data_dir), *ONLY_APISERVER]
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(data_dir, first)
    finally:
        first.kill()  # SIGKILL: the pid file stays behind, the kernel drops the lock
        first.wait()
    assert (data_dir / "kubemu.pid").exists()
    time.sleep(1)  # the orphaned apiserver gets SIGTERM from PR_SET_PDEATHSIG

    second = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = _wait_ready(data_dir, second)
        assert (data_dir / "kubemu.pid").read_text().splitlines() == [str(second.pid), url]
    finally:
        second.send_signal(signal.SIGINT)
        assert second.wait(timeout=20) == 0
    assert not (data_dir / "kubemu.pid").exists()


def _usage_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("usage: kubemu up "), result.stderr
    assert lines[-1].startswith("kubemu up: error: ") and message in lines[-1], result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "99999"], "must be 0-65535"),
        (["--port", "-1"], "must be 0-65535"),
        (["--port", "http"], "invalid port 'http'"),
        (["--nodes", "-1"], "must be 0 or more"),
        (["--nodes", "500"], "--nodes 500: the address ranges have room for 128 nodes"),
        (["--nodes", "20", "--node-ip-range", "127.9.0.0/28"], "room for 14 nodes"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--storage", "postgres"], "invalid choice: 'postgres'"),
        (["--etcd-servers", "http://127.0.0.1:2379"], "--etcd-servers needs --storage etcd"),
        (["--address-block", "10.1.0.0/16"], "must be 127.B.0.0/16"),
        (["--service-cluster-ip-range", "10.0.0.0/33"], "invalid CIDR '10.0.0.0/33'"),
        (["--cluster-cidr", "127.9.0.0/25"], "smaller than one node's /24"),
        (["--ready-timeout", "0"], "must be seconds > 0"),
    ],
)
def test_bad_flags_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    _usage_error(kubemu_up(*args, "--data-dir", str(tmp_path / "data")), message)
    assert not (tmp_path / "data").exists()


def _runtime_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("kubemu up: ")
    assert message in result.stderr, result.stderr


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = kubemu_up("--port", str(port), "--data-dir", str(tmp_path / "data"))
    _runtime_error(result, f"port {port} is already in use")
    assert not (tmp_path / "data" / "kubeconfig").exists()


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("")
    _runtime_error(kubemu_up("--port", "0", "--data-dir", str(path)),
                   f"cannot use data directory {path}: it exists and is not a directory")
    _runtime_error(kubemu_up("--port", "0", "--data-dir", str(path / "sub")),
                   f"cannot use data directory {path / 'sub'}: a parent of it is not a directory")


def test_unwritable_data_dir(tmp_path: Path) -> None:
    path = tmp_path / "ro"
    path.mkdir(mode=0o500)
    _runtime_error(kubemu_up("--port", "0", "--data-dir", str(path), prefix=unprivileged()),
                   f"cannot use data directory {path}: permission denied")


def _privileged_ports_restricted() -> bool:
    try:
        start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    except (OSError, ValueError):
        start = 1024
    return start > 80


@pytest.mark.skipif(not _privileged_ports_restricted(), reason="port 80 is bindable here")
def test_privileged_port(tmp_path: Path) -> None:
    _runtime_error(kubemu_up("--port", "80", "--data-dir", str(tmp_path / "data"),
                             prefix=unprivileged()),
                   "permission denied binding port 80: ports below 1024 need root or "
                   "CAP_NET_BIND_SERVICE")


def test_address_block_in_use(tmp_path: Path) -> None:
    lease = acquire(f"test {tmp_path}")
    block = lease.addresses.block
    try:
        result = kubemu_up("--port", "0", "--data-dir", str(tmp_path / "data"),
                           "--address-block", str(block), *ONLY_APISERVER)
    finally:
        lease.release()
    _runtime_error(result, f"address block {block} is in use by another kubemu "
                           f"(pid {os.getpid()}: test {tmp_path}): stop it, or pass "
                           "--address-block")
    assert not (tmp_path / "data" / "kubeconfig").exists()
    assert not (tmp_path / "data" / "kubemu.pid").exists()


def test_storage_etcd_without_etcd(tmp_path: Path) -> None:
    result = kubemu_up("--port", "0", "--data-dir", str(tmp_path / "data"), "--storage", "etcd",
                       env={"KUBEMU_ETCD": str(tmp_path / "no-etcd")})
    _runtime_error(result, "etcd not found: install Debian's etcd-server (apt-get install "
                           "etcd-server), set KUBEMU_ETCD=/path/to/etcd, or pass --etcd-servers")
    assert not (tmp_path / "data").exists()


def test_unwritable_kubeconfig(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = kubemu_up("--port", "0", "--data-dir", str(tmp_path / "data"),
                       "--kubeconfig", str(blocker / "kubeconfig"), *ONLY_APISERVER)
    _runtime_error(result, f"cannot write kubeconfig {blocker / 'kubeconfig'}: "
                           f"{blocker} exists and is not a directory")
    assert not (tmp_path / "data" / "kubemu.pid").exists()
