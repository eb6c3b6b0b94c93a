"""Run a real etcd (Debian's ``etcd-server``) on loopback for tests.

:func:`start_etcd` picks free client and peer ports on 127.0.0.1, starts
``etcd`` with a data directory under ``base_dir`` and waits until its JSON
gateway answers ``/v3/maintenance/status``. :func:`find_etcd` returns the
binary or ``None`` (the caller decides: skip locally, fail under CI).
:func:`start_etcd_cluster` starts a multi-member cluster the same way (each member
an :class:`EtcdProcess` whose ``argv`` names every peer). :func:`assert_same_event`
compares an event a subscriber was handed with the one history reads back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx

from apiserver.storage.interface import EventType, StorageEvent
from kubemu.etcd import find_etcd, member_argv
from kubemu.supervisor import die_with_parent
from tests.support.apiserver import HOST, free_port

#: Seconds to wait for etcd to serve (generous: see tests.support.apiserver.READY_TIMEOUT).
READY_TIMEOUT = 60.0

MISSING_MESSAGE = (
    "etcd not found (install Debian's etcd-server: apt-get install etcd-server, "
    "or set KUBEMU_ETCD=/path/to/etcd)"
)

__all__ = ["MISSING_MESSAGE", "EtcdProcess", "find_etcd", "start_etcd", "start_etcd_cluster",
           "unique_prefix"]

class EtcdProcess:
    """One single-member etcd; ``url`` is its client URL."""

    def __init__(self, binary: str, base_dir: Path) -> None:
        self.binary = binary
        self.base_dir = base_dir
        self.client_port = free_port()
        self.peer_port = free_port()
        self.url = f"http://{HOST}:{self.client_port}"
        self.data_dir = base_dir / "etcd-data"
        self.log_path = base_dir / "etcd.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.name = "kubemu-test"
        #: ``--initial-cluster`` of a multi-member cluster (empty: a cluster of one).
        self.initial_cluster = ""

    @property
    def peer_url(self) -> str:
        return f"http://{HOST}:{self.peer_port}"

    @property
    def argv(self) -> list[str]:
        argv = member_argv(self.binary, self.data_dir, self.url, self.peer_url, name=self.name)
        if self.initial_cluster:
            argv[argv.index("--initial-cluster") + 1] = self.initial_cluster
        return argv

    def start(self, timeout: float = READY_TIMEOUT) -> EtcdProcess:
        """Start etcd and wait until it answers; RuntimeError (with its log) otherwise."""
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the etcd process (it dies with this process)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(os.getpid()),
            )

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> EtcdProcess:
        """Wait until the started etcd answers; RuntimeError (with its log) otherwise."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"etcd exited ({self.process.returncode}):\n{self.logs()}")
                try:
                    if client.post(f"{self.url}/v3/maintenance/status", json={}).is_success:
                        return self
                except httpx.HTTPError:
                    pass
                if time.monotonic() >= deadline:
                    self.stop()
                    raise RuntimeError(f"etcd not ready after {timeout:g}s:\n{self.logs()}")
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the member (no clean shutdown, as a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def logs(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def compact(self, revision: int) -> None:
        """Force a compaction at ``revision`` through the gateway (as an operator would)."""
        resp = httpx.post(f"{self.url}/v3/kv/compaction", json={"revision": str(revision)})
        resp.raise_for_status()

    def revision(self) -> int:
        """etcd's current revision."""
        resp = httpx.post(f"{self.url}/v3/kv/range", json={"key": "AA==", "count_only": True})
        resp.raise_for_status()
        return int(resp.json()["header"]["revision"])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_etcd(binary: str, base_dir: Path) -> EtcdProcess:
    """Start an etcd under ``base_dir`` (retried on a port race)."""
    for attempt in range(3):
        server = EtcdProcess(binary, base_dir / f"etcd-{attempt}")
        server.base_dir.mkdir(parents=True, exist_ok=True)
        try:
            return server.start()
        except RuntimeError as err:
            if attempt == 2 or "address already in use" not in str(err):
                raise
    raise AssertionError("unreachable")


def start_etcd_cluster(binary: str, base_dir: Path, members: int = 3) -> list[EtcdProcess]:
    """A ``members``-member etcd cluster on loopback; every member serves when it returns
    (each waits for the cluster's leader, as its status needs one)."""
    procs = []
    for index in range(members):
        member = EtcdProcess(binary, base_dir / f"member-{index}")
        member.base_dir.mkdir(parents=True, exist_ok=True)
        member.name = f"kubemu-test-{index}"
        procs.append(member)
    initial = ",".join(f"{m.name}={m.peer_url}" for m in procs)
    for member in procs:
        member.initial_cluster = initial
    # Members start together (each waits for a quorum of the others to elect a leader),
    # from this thread: a member dies with the thread that started it.
    for member in procs:
        member.launch()
    try:
        for member in procs:
            member.wait_ready()
    except RuntimeError:
        for member in procs:
            member.stop()
        raise
    return procs


def unique_prefix() -> str:
    """A fresh ``--etcd-prefix``, so servers sharing one etcd do not see each other's keys."""
    return f"/kubemu-test-{uuid.uuid4().hex[:12]}"


def assert_same_event(delivered: StorageEvent, full: StorageEvent) -> None:
    """``delivered`` is ``full`` (an event read with its replaced value), or, when the feed
    brought it, the same event without the replaced value (see StorageEvent)."""
    assert (delivered.type, delivered.key, delivered.revision) == (
        full.type, full.key, full.revision)
    if delivered.prev_value is None and full.prev_value is not None:  # the feed's copy
        assert delivered.prev_revision == 0
        assert delivered.value == (b"" if full.type is EventType.DELETE else full.value)
    else:
        assert delivered == full
