"""Run the real ``python -m apiserver`` as a subprocess for integration tests.

:func:`start_apiserver` picks a free port on 127.0.0.1, starts the apiserver with
its own data directory, waits until ``GET /readyz`` answers 200 and returns an
:class:`ApiServerProcess`. Each instance lives in its own directory::

    <base>/data/            --data-dir
    <base>/kubeconfig       written with kubemu.kubeconfig (context "kubemu")
    <base>/apiserver.log    stdout+stderr of every run (appended across restarts)

Start-up failures raise :class:`ApiServerStartError` carrying the end of the log.
Processes get PR_SET_PDEATHSIG, so they die with the test run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import httpx

from kubemu.components import NO_MANAGER_ADMISSION
from kubemu.kubeconfig import server_url, write_kubeconfig
from kubemu.supervisor import die_with_parent

#: Root of the repository (the apiserver's working directory).
REPO_ROOT = Path(__file__).resolve().parents[2]

#: Seconds to wait for ``/readyz``: a start takes about a second on an idle machine, but
#: ``scripts/test`` runs several pytest workers, each starting servers, on a shared machine.
READY_TIMEOUT = 60.0

#: Seconds :meth:`ApiServerProcess.stop` waits after SIGTERM before SIGKILL.
STOP_TIMEOUT = 10.0

HOST = "127.0.0.1"


class ApiServerStartError(RuntimeError):
    """The apiserver exited or was not ready in time; the message ends with its log."""


def free_port(host: str = HOST) -> int:
    """Return a currently free TCP port on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


def _unique_dir(parent: Path, name: str) -> Path:
    candidate = parent / name
    index = 1
    while candidate.exists():
        index += 1
        candidate = parent / f"{name}-{index}"
    candidate.mkdir(parents=True)
    return candidate


#: Added to every apiserver's flags unless a test picks admission plugins itself: with no
#: controller manager making each namespace's ``default`` ServiceAccount, ServiceAccount
#: admission would refuse every pod — envtest and upstream's integration framework turn it
#: off for the same reason — and nothing would remove the claims' and volumes'
#: protection finalizers.
DEFAULT_ADMISSION_ARGS = (NO_MANAGER_ADMISSION,)
_ADMISSION_FLAGS = ("--enable-admission-plugins", "--disable-admission-plugins")


class ApiServerProcess:
    """One apiserver subprocess bound to ``127.0.0.1:port``.

    The port, data directory and arguments stay the same across :meth:`restart`,
    so a restarted server sees the same (durable) data.
    """

    def __init__(
        self,
        base_dir: Path,
        port: int,
        storage: str = "sqlite",
        extra_args: Sequence[str] = (),
    ) -> None:
        self.base_dir = base_dir
        self.port = port
        self.storage = storage
        self.extra_args = tuple(extra_args)
        self.url = server_url(HOST, port)
        self.data_dir = base_dir / "data"
        self.kubeconfig = base_dir / "kubeconfig"
        self.log_path = base_dir / "apiserver.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        write_kubeconfig(self.kubeconfig, self.url)

    def __repr__(self) -> str:
        return f"ApiServerProcess(url={self.url!r}, storage={self.storage!r}, pid={self.pid})"

    # -- state -------------------------------------------------------------------

    @property
    def argv(self) -> list[str]:
        """The command line used to start the apiserver."""
        return [
            sys.executable,
            "-m",
            "apiserver",
            "--bind-address",
            HOST,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--storage",
            self.storage,
            *self.extra_args,
            *(() if any(a.startswith(_ADMISSION_FLAGS) for a in self.extra_args)
              else DEFAULT_ADMISSION_ARGS),
        ]

    @property
    def pid(self) -> int | None:
        """Process id of the current run, ``None`` if never started."""
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        """True while the current run's process has not exited."""
        return self.process is not None and self.process.poll() is None

    def logs(self) -> str:
        """Everything the apiserver printed so far (all runs)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def _log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])

    # -- lifecycle ---------------------------------------------------------------

    def start(self, timeout: float = READY_TIMEOUT) -> ApiServerProcess:
        """Start the process and wait until it is ready; returns ``self``.

        Raises :class:`RuntimeError` if already running, :class:`ApiServerStartError`
        if it exits or is not ready within ``timeout`` seconds (it is killed then).
        """
        if self.running:
            raise RuntimeError(f"{self!r} is already running")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.log_path.open("ab") as log:
            log.write(f"--- start: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                env=env,
                preexec_fn=die_with_parent(os.getpid()),
            )
        try:
            self.wait_ready(timeout)
        except ApiServerStartError:
            self.kill()
            raise
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Block until ``GET /readyz`` answers 200; :class:`ApiServerStartError` otherwise."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while True:
                if self.process is None or self.process.poll() is not None:
                    code = None if self.process is None else self.process.returncode
                    raise ApiServerStartError(
                        f"apiserver exited with code {code} before it was ready; "
                        f"log {self.log_path}:\n{self._log_tail()}"
                    )
                try:
                    if client.get(f"{self.url}/readyz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() >= deadline:
                    raise ApiServerStartError(
                        f"apiserver not ready at {self.url}/readyz after {timeout:g}s; "
                        f"log {self.log_path}:\n{self._log_tail()}"
                    )
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the process (a crash) and reap it; no-op if not running."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def restart(self, timeout: float = READY_TIMEOUT, *, kill: bool = False) -> ApiServerProcess:
        """Stop (or, with ``kill=True``, SIGKILL) and start again on the same port and data."""
        if kill:
            self.kill()
        else:
            self.stop()
        return self.start(timeout)

    def __enter__(self) -> ApiServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_apiserver(
    tmp_path: Path,
    storage: str = "sqlite",
    extra_args: Sequence[str] = (),
    *,
    timeout: float = READY_TIMEOUT,
) -> ApiServerProcess:
    """Start an apiserver under a new directory in ``tmp_path`` and wait until it is ready.

    The caller owns the process: call :meth:`ApiServerProcess.stop` (or use it as a
    context manager, or use the ``apiserver_factory`` fixture, which stops it).
    If the chosen port was taken between picking and binding, start-up is retried
    on another port (up to three attempts).
    """
    base_dir = _unique_dir(Path(tmp_path), "apiserver")
    attempts = 3
    for attempt in range(1, attempts + 1):
        server = ApiServerProcess(base_dir, free_port(), storage, extra_args)
        try:
            return server.start(timeout)
        except ApiServerStartError as err:
            if attempt == attempts or "address already in use" not in str(err).lower():
                raise
    raise AssertionError("unreachable")
