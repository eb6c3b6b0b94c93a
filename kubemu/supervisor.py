"""A small process supervisor: start children, wait for readiness, stop them cleanly.

The supervisor knows nothing about Kubernetes. It runs each child as its own OS
process in its own process group, copies the child's output line by line to its
own stdout prefixed with the child's name (like ``docker compose``), and

* :meth:`Supervisor.wait_ready` polls an HTTP URL until it answers 200, failing
  early if the child exits or a stop is requested;
* :meth:`Supervisor.run` blocks until a stop is requested (returns 0). A child that
  exits on its own is restarted with the same command, as a kubelet restarts a static
  pod (a controller that lost its leader Lease on a loaded machine exits on purpose):
  after 1 s, doubling up to 16 s while it keeps exiting. A child that exits
  :data:`CRASH_LOOP_EXITS` times within :data:`CRASH_LOOP_WINDOW` seconds is
  crash-looping: ``run`` logs it and returns 1 (``kubemu up`` then stops the rest);
* :meth:`Supervisor.stop_all` stops children in reverse start order: SIGTERM to
  the child's process group, wait up to ``stop_timeout`` seconds, then SIGKILL.
  A second stop request while stopping escalates to SIGKILL at once.

On Linux each child also gets ``PR_SET_PDEATHSIG`` = SIGTERM, so children do not
outlive a supervisor that is killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import IO

import httpx

#: Seconds between polls of children and readiness URLs.
POLL_INTERVAL = 0.05
#: A child exiting this often within the window is crash-looping: give up.
CRASH_LOOP_EXITS = 5
CRASH_LOOP_WINDOW = 120.0
#: Restart delays: the first, and the most (doubling in between).
RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 16.0

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    """Return libc's ``prctl`` on Linux, else ``None`` (loaded before any fork)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    prctl: Callable[..., int] | None = getattr(libc, "prctl", None)
    return prctl


_PRCTL = _load_prctl()


def die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """Return a ``preexec_fn`` making the child receive SIGTERM when its parent dies."""
    prctl = _PRCTL
    if prctl is None:
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def describe_exit(code: int) -> str:
    """Return ``"exit code N"`` or, for a negative Popen code, ``"signal SIGTERM"``."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class ChildFailed(RuntimeError):
    """A child exited or never became ready while it was expected to run."""


@dataclass
class Child:
    """One running child process and the thread copying its output."""

    name: str
    argv: tuple[str, ...]
    process: subprocess.Popen[bytes]
    pump: threading.Thread | None = None
    env: Mapping[str, str] | None = None
    cwd: str | None = None
    #: Monotonic times of the exits it was restarted after.
    exits: list[float] = field(default_factory=list)

    @property
    def pid(self) -> int:
        """The child's process id (also its process group id)."""
        return self.process.pid

    def poll(self) -> int | None:
        """Return the exit code, or ``None`` while the child runs."""
        return self.process.poll()


@dataclass
class Supervisor:
    """Starts, watches and stops child processes; see the module docstring for the contract.

    ``out`` receives the prefixed child output and the supervisor's own log lines
    (default: ``sys.stdout``'s binary buffer). ``prefix_width`` pads child names so
    output columns line up.
    """

    stop_timeout: float = 10.0
    #: Restart policy (see the module docstring); tests shorten it.
    restart_delay: float = RESTART_DELAY
    max_restart_delay: float = MAX_RESTART_DELAY
    crash_loop_exits: int = CRASH_LOOP_EXITS
    crash_loop_window: float = CRASH_LOOP_WINDOW
    out: IO[bytes] | None = None
    prefix_width: int = 12
    children: list[Child] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _force: threading.Event = field(default_factory=threading.Event)
    _out_lock: threading.Lock = field(default_factory=threading.Lock)

    # -- logging -----------------------------------------------------------------

    def _sink(self) -> IO[bytes]:
        return self.out if self.out is not None else sys.stdout.buffer

    def _emit(self, prefix: str, line: bytes) -> None:
        label = prefix.ljust(self.prefix_width).encode()
        if not line.endswith(b"\n"):
            line += b"\n"
        with self._out_lock:
            sink = self._sink()
            with contextlib.suppress(OSError, ValueError):
                sink.write(label + b" | " + line)
                sink.flush()

    def log(self, message: str) -> None:
        """Write one supervisor log line (prefixed ``kubemu``)."""
        self._emit("kubemu", message.encode())

    # -- stop requests -----------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """True once a stop was requested."""
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Ask :meth:`run` to return; a second request makes :meth:`stop_all` use SIGKILL."""
        if self._stop.is_set():
            self._force.set()
        self._stop.set()

    def install_signal_handlers(
        self,
        signals: Sequence[int] = (
            signal.SIGINT,
            signal.SIGTERM,
            signal.SIGHUP,
        ),
    ) -> None:
        """Route ``signals`` to :meth:`request_stop` (main thread only)."""

        def handler(signum: int, frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            if self._stop.is_set():
                self.log(f"received {name} again: killing children")
            else:
                self.log(f"received {name}: stopping")
            self.request_stop()

        for signum in signals:
            signal.signal(signum, handler)

    # -- starting ----------------------------------------------------------------

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        exits: Sequence[float] = (),
    ) -> Child:
        """Start ``argv`` as child ``name`` in its own process group and return it.

        ``env`` entries are added to (not replacing) the supervisor's environment;
        ``PYTHONUNBUFFERED=1`` is set so Python children log promptly. ``exits`` (a restart:
        the exits of the child it replaces) is set before the child joins ``children``, so
        whoever finds it there sees its history.
        """
        child_env = dict(os.environ)
        child_env["PYTHONUNBUFFERED"] = "1"
        if env:
            child_env.update(env)
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=child_env,
            cwd=cwd,
            process_group=0,
            preexec_fn=die_with_parent(os.getpid()),
        )
        child = Child(name=name, argv=tuple(argv), process=process, env=env, cwd=cwd,
                      exits=list(exits))
        child.pump = threading.Thread(
            target=self._pump, args=(child,), name=f"pump-{name}", daemon=True
        )
        child.pump.start()
        self.children.append(child)
        self.log(f"started {name} (pid {process.pid}): {' '.join(argv)}")
        return child

    def _pump(self, child: Child) -> None:
        stream = child.process.stdout
        if stream is None:
            return
        for line in iter(stream.readline, b""):
            self._emit(child.name, line)
        stream.close()

    def wait_ready(self, child: Child, url: str, timeout: float,
                   verify: ssl.SSLContext | bool = True,
                   accept: Callable[[httpx.Response], bool] | None = None) -> None:
        """Block until GET ``url`` answers 200 — and ``accept`` takes the answer, when
        given (``verify``: how to check a TLS server).

        Raises :class:`ChildFailed` if the child exits, ``timeout`` seconds pass,
        or a stop is requested first.
        """
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0, verify=verify) as client:
            while True:
                code = child.poll()
                if code is not None:
                    raise ChildFailed(
                        f"{child.name} exited ({describe_exit(code)}) before it was ready"
                    )
                if self.stopping:
                    raise ChildFailed(f"stop requested while waiting for {child.name}")
                with contextlib.suppress(httpx.HTTPError):
                    answer = client.get(url)
                    if answer.status_code == 200 and (accept is None or accept(answer)):
                        return
                if time.monotonic() >= deadline:
                    raise ChildFailed(f"{child.name} was not ready at {url} after {timeout:g}s")
                self._stop.wait(POLL_INTERVAL * 2)

    # -- running -----------------------------------------------------------------

    def run(self) -> int:
        """Block until a stop is requested (return 0), restarting children that exit, or
        until one crash-loops (return 1); see the module docstring."""
        due: dict[str, tuple[float, Child]] = {}
        while not self._stop.wait(POLL_INTERVAL * 4):
            now = time.monotonic()
            for child in list(self.children):
                if child.name in due:
                    continue
                code = child.poll()
                if code is None:
                    continue
                how = describe_exit(code)
                recent = [t for t in child.exits if now - t < self.crash_loop_window] + [now]
                if len(recent) >= self.crash_loop_exits:
                    self.log(f"{child.name} (pid {child.pid}) exited unexpectedly ({how}), "
                             f"{len(recent)} times in {self.crash_loop_window:g}s: giving up")
                    return 1
                delay = min(self.restart_delay * 2 ** (len(recent) - 1),
                            self.max_restart_delay)
                self.log(f"{child.name} (pid {child.pid}) exited unexpectedly ({how}); "
                         f"restarting it in {delay:g}s")
                child.exits = recent
                due[child.name] = (now + delay, child)
            for name, (when, old) in list(due.items()):
                if when <= now and not self.stopping:
                    del due[name]
                    self.children.remove(old)
                    self.start(old.name, old.argv, env=old.env, cwd=old.cwd, exits=old.exits)
        return 0

    # -- stopping ----------------------------------------------------------------

    def stop_all(self) -> None:
        """Stop every child in reverse start order (SIGTERM, wait, SIGKILL); idempotent."""
        for child in reversed(self.children):
            self._stop_child(child)
        for child in self.children:
            if child.pump is not None:
                child.pump.join(timeout=2.0)

    def _stop_child(self, child: Child) -> None:
        if child.poll() is not None:
            self._killpg(child, signal.SIGKILL)  # reap any grandchildren left behind
            return
        self.log(f"stopping {child.name} (pid {child.pid})")
        self._killpg(child, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while child.poll() is None and time.monotonic() < deadline and not self._force.is_set():
            time.sleep(POLL_INTERVAL)
        if child.poll() is None:
            self.log(f"{child.name} did not stop in time: SIGKILL")
            self._killpg(child, signal.SIGKILL)
            child.process.wait()
        else:
            self._killpg(child, signal.SIGKILL)
        self.log(f"{child.name} stopped ({describe_exit(child.process.returncode)})")

    @staticmethod
    def _killpg(child: Child, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signum)
