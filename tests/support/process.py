"""A project process (``python -m MODULE ...``) run by a test, with its log file.

Every component the tests start besides the apiserver (controllers, kube-proxy,
node agents) is one :class:`Process`: started with the repository as working
directory, killed with the test run if pytest dies, stopped with SIGTERM and then
SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from kubemu.supervisor import die_with_parent
from tests.support.apiserver import REPO_ROOT, ApiServerProcess


class Process:
    """One ``python -m MODULE ...`` subprocess with its log file."""

    def __init__(self, argv: Sequence[str], log_path: Path,
                 prefix: Sequence[str] = ()) -> None:
        self.argv = [*prefix, sys.executable, *argv]
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
                preexec_fn=die_with_parent(os.getpid()),
            )
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the running process."""
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def controller_argv(module: str, server: ApiServerProcess, *extra: str) -> list[str]:
    """``-m MODULE --kubeconfig KUBECONFIG --workers 2 EXTRA…``: a controller of ``server``."""
    return ["-m", module, "--kubeconfig", str(server.kubeconfig), "--workers", "2", *extra]


class ControllerFactory:
    """Starts controllers of one module for a test (logs ``PREFIX-N.log`` in ``log_dir``)
    and stops every one it started with :meth:`stop_all`."""

    def __init__(self, module: str, log_dir: Path, log_prefix: str) -> None:
        self.module = module
        self.log_dir = log_dir
        self.log_prefix = log_prefix
        self.started: list[Process] = []

    def __call__(self, server: ApiServerProcess, *extra: str) -> Process:
        log = self.log_dir / f"{self.log_prefix}-{len(self.started)}.log"
        process = Process(controller_argv(self.module, server, *extra), log).start()
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()


@contextmanager
def node_cluster(base: Path, node_name: str, node_ip: str, pod_cidr: str,
                 *agent_flags: str) -> Iterator[ApiServerProcess]:
    """A private apiserver with a scheduler, an endpoints controller and one node agent
    (``agent_flags`` added to its command line), all stopped on exit (last first)."""
    from tests.support.apiserver import start_apiserver

    server = start_apiserver(base)
    procs: list[Process] = []

    def start(module: str, *extra: str) -> None:
        argv = ["-m", module, "--kubeconfig", str(server.kubeconfig), *extra]
        procs.append(Process(argv, base / f"{module}-{len(procs)}.log").start())

    try:
        start("controllers.scheduler")
        start("controllers.endpoints")
        start("controllers.node", "--node-name", node_name, "--node-ip", node_ip,
              "--pod-cidr", pod_cidr, "--root-dir", str(base / "node-root"), *agent_flags)
        yield server
    finally:
        for proc in reversed(procs):
            proc.stop()
        server.stop()
