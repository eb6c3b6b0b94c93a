"""Server processes for the benchmark: start pinned to a CPU, wait ready, measure CPU, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from kubemu.supervisor import die_with_parent

#: Root of the repository (servers run with it as their working directory).
REPO_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
#: CPU the servers run on, and the CPU of everything that generates load.
SERVER_CPU = 0
LOAD_CPU = 1

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """The benchmark cannot go on (a process failed, a tool is missing…)."""


def free_port(host: str = HOST) -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


def pinning_available() -> bool:
    """True when both :data:`SERVER_CPU` and :data:`LOAD_CPU` may be used by this process."""
    return {SERVER_CPU, LOAD_CPU} <= os.sched_getaffinity(0)


def pin_self(cpu: int) -> None:
    """Restrict this process (and the children it starts later) to ``cpu``."""
    os.sched_setaffinity(0, {cpu})


def child_setup(cpu: int | None) -> Callable[[], None]:
    """A ``preexec_fn``: die with the parent, and run on ``cpu`` (if not None)."""
    die = die_with_parent(os.getpid())

    def preexec() -> None:
        if die is not None:
            die()
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return preexec


def cpu_seconds(pid: int) -> float:
    """User + system CPU time consumed so far by process ``pid`` (all its threads)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def cpu_busy_seconds(cpu: int) -> float:
    """Seconds CPU ``cpu`` spent not idle since boot (every process, irq and softirq)."""
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                ticks = [int(x) for x in line.split()[1:]]
                # user nice system idle iowait irq softirq steal (guest is in user)
                busy = sum(ticks[:8]) - ticks[3] - ticks[4]
                return busy / _CLOCK_TICKS
    raise BenchError(f"cpu{cpu} not found in /proc/stat")


class ServerProcess:
    """One HTTP server subprocess on ``127.0.0.1:port``, pinned to a CPU."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        port: int,
        log_path: Path,
        cpu: int | None,
        ready_path: str = "/readyz",
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.log_path = log_path
        self.cpu = cpu
        self.ready_path = ready_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The process id (the server must be running)."""
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start the server and wait until ``ready_path`` answers 200."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                env=env,
                preexec_fn=child_setup(self.cpu),
            )
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise BenchError(
                        f"{self.name} exited with code {self.process.returncode} before it "
                        f"was ready; see {self.log_path}:\n{self.log_tail()}"
                    )
                try:
                    if client.get(self.url + self.ready_path).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise BenchError(f"{self.name} not ready after {timeout:g}s; "
                                     f"see {self.log_path}:\n{self.log_tail()}")
                time.sleep(0.05)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """CPU time the server consumed so far."""
        return cpu_seconds(self.pid)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class PlainProcess:
    """A process without a health endpoint (scheduler, node agents): started, then stopped."""

    def __init__(self, argv: list[str], log_path: Path, cpu: int | None) -> None:
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=REPO_ROOT, preexec_fn=child_setup(cpu))
        self.log_path = log_path

    def check(self) -> None:
        """Raise :class:`BenchError` if the process exited."""
        if self.process.poll() is not None:
            raise BenchError(f"{self.log_path.name} exited with code "
                             f"{self.process.returncode}; see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def python_module(module: str, *args: str) -> list[str]:
    """``python -m module args…`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


#: Every benchmarked apiserver runs without ServiceAccount admission: most scenarios have no
#: controller manager to make the ``default`` ServiceAccounts pods need (envtest does the
#: same), and the others must not wait for it.
APISERVER_ADMISSION = ("--disable-admission-plugins=ServiceAccount",)


def apiserver_module(*args: str) -> list[str]:
    """``python -m apiserver args…`` plus :data:`APISERVER_ADMISSION`."""
    return python_module("apiserver", *args, *APISERVER_ADMISSION)
