"""``python -m kubemu.batchsched``: the program runs batch-scheduled, as kubemu's etcd does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kubemu.batchsched import batch_argv
from kubemu.etcd import member_argv

_POLICY = "import os; print(os.sched_getscheduler(0), os.getpid())"


def test_the_program_runs_batch_scheduled_in_the_same_process() -> None:
    process = subprocess.Popen(batch_argv([sys.executable, "-c", _POLICY]),
                               stdout=subprocess.PIPE, text=True)
    out, _ = process.communicate(timeout=60)
    policy, pid = out.split()
    assert process.returncode == 0
    assert int(policy) == os.SCHED_BATCH
    # exec, not a child: the supervisor's pid (and its kill -9) is the program's.
    assert int(pid) == process.pid


def test_a_missing_program_is_reported_with_127() -> None:
    done = subprocess.run(batch_argv(["/nonexistent/etcd"]), capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 127
    assert "cannot run /nonexistent/etcd" in done.stderr


def test_no_program_is_a_usage_error() -> None:
    done = subprocess.run(batch_argv([]), capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2
    assert "usage:" in done.stderr


def test_etcd_members_are_started_through_it(tmp_path: Path) -> None:
    argv = member_argv("/usr/bin/etcd", tmp_path, "http://127.0.0.1:1", "http://127.0.0.1:2")
    assert argv[:4] == [sys.executable, "-m", "kubemu.batchsched", "/usr/bin/etcd"]
