"""kubemu installed as a wheel, outside the repository, as a user would install it.

The project is built into a wheel from a copy of its sources, installed with its
runtime dependencies only into a fresh virtual environment, and ``kubemu up`` is run
from that environment in an empty directory with nothing of the repository on the
import path. It must serve ``/readyz`` and the README's walkthrough must pass against
it with the pinned kubectl — which proves the wheel carries everything the processes
import and that none of them needs the test toolchain.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

import httpx
import pytest
import yaml

from tests.integration.test_walkthrough import README, Shell, walkthrough_commands
from tests.support.apiserver import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(600)]

SOURCES = ("pyproject.toml", "README.md", "apiserver", "controllers", "kubemu")


def _run(*argv: str | Path, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 300) -> str:
    out = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, f"{argv}: {out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def _clean_env(tmp_path: Path, venv_dir: Path) -> dict[str, str]:
    """The environment of a user's shell: the venv first on PATH, no repository paths."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "KUBECONFIG", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join([str(venv_dir / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    env["HOME"] = str(tmp_path)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the kubemu wheel and its runtime dependencies; its directory."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    wheels = tmp / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, src, cwd=tmp)
    (wheel,) = wheels.glob("kubemu-*.whl")
    venv_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=True).create(venv_dir)
    env = _clean_env(tmp, venv_dir)
    _run(venv_dir / "bin" / "python", "-m", "pip", "install", "-q", wheel, cwd=tmp, env=env)
    installed = _run(venv_dir / "bin" / "python", "-m", "pip", "list", "--format=freeze",
                     cwd=tmp, env=env).lower()
    for test_only in ("pytest", "mypy", "ruff", "kopf", "kubernetes=="):
        assert test_only not in installed, f"{test_only} installed with the wheel"
    return venv_dir


def _start(venv_dir: Path, cwd: Path, nodes: int) -> tuple[subprocess.Popen[bytes], str, Path]:
    data = cwd / "data"
    log = cwd / "kubemu-up.log"
    env = _clean_env(cwd, venv_dir)
    env["PYTHONUNBUFFERED"] = "1"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(venv_dir / "bin" / "kubemu"), "up", "--port", "0", "--nodes", str(nodes),
             "--stop-timeout", "5"],
            cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-4000:]
        if "kubemu is up" in log.read_text(errors="replace"):
            doc = yaml.safe_load((data / "kubeconfig").read_text())
            return process, str(doc["clusters"][0]["cluster"]["server"]), data
        time.sleep(0.2)
    process.kill()
    raise AssertionError("kubemu up did not start: " + log.read_text(errors="replace")[-4000:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _client(url: str, data: Path) -> httpx.Client:
    """An HTTP client for the cluster in ``data`` with the credentials of its kubeconfig."""
    doc = yaml.safe_load((data / "kubeconfig").read_text())
    cluster = doc["clusters"][0]["cluster"]
    user = doc["users"][0]["user"]
    kwargs: dict[str, object] = {"base_url": url, "timeout": 10}
    if "certificate-authority" in cluster or "certificate-authority-data" in cluster:
        import base64
        import ssl
        import tempfile
        ctx = ssl.create_default_context()
        if "certificate-authority-data" in cluster:
            ctx.load_verify_locations(
                cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        else:
            ctx.load_verify_locations(cluster["certificate-authority"])
        if "client-certificate-data" in user:
            with tempfile.NamedTemporaryFile("wb", delete=False) as cert:
                cert.write(base64.b64decode(user["client-certificate-data"]))
                cert.write(base64.b64decode(user["client-key-data"]))
            ctx.load_cert_chain(cert.name)
            os.unlink(cert.name)
        kwargs["verify"] = ctx
    if user.get("token"):
        kwargs["headers"] = {"authorization": f"Bearer {user['token']}"}
    return httpx.Client(**kwargs)  # type: ignore[arg-type]


def test_the_wheel_serves_readyz_outside_the_repository(installed: Path,
                                                         tmp_path: Path) -> None:
    process, url, data = _start(installed, tmp_path, nodes=1)
    try:
        with _client(url, data) as client:
            resp = client.get("/readyz")
            assert resp.status_code == 200 and resp.text == "ok"
        # Every component runs from the wheel's environment, not from the repository.
        log = (tmp_path / "kubemu-up.log").read_text(errors="replace")
        assert str(REPO_ROOT) not in log, log[-2000:]
    finally:
        _stop(process)


def test_the_readme_walkthrough_passes_on_the_wheel(installed: Path, tmp_path: Path) -> None:
    commands = walkthrough_commands(README.read_text())
    process, _, data = _start(installed, tmp_path, nodes=2)
    env = _clean_env(tmp_path, installed)
    env["KUBEMU_DATA"] = str(data)
    shell = Shell(env)  # runs in the repository root, where the README's paths point
    try:
        for command in commands:
            code, output = shell.run(command)
            assert code == 0, f"{command!r} exited {code}:\n{output}"
    finally:
        shell.close()
        _stop(process)
