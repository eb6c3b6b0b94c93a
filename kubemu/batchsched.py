"""Run a program under the kernel's batch scheduling policy: ``python -m kubemu.batchsched
PROGRAM [ARGS…]``.

The process switches itself to ``SCHED_BATCH`` and then becomes ``PROGRAM`` (``exec``),
whose threads inherit the policy. It keeps its fair share of CPU time (the same weight as
any normal process); what changes is that waking up no longer preempts the process
running on its core.

``kubemu up`` runs etcd this way because etcd shares the machine with the apiservers:
every request an apiserver sends wakes etcd, and a normal etcd then preempts the sender
at once, so each write costs two extra context switches and etcd handles the requests one
at a time. Batch-scheduled, etcd runs when the apiserver waits or its time slice ends,
and takes every request queued by then in one raft round (one WAL write for all). On one
core shared by an apiserver and etcd this served 1,500 → 1,950 pod creates per second
(etcd's CPU time per create 180 → 108 µs, the apiserver's 480 → 400 µs); the bench runs
etcd the same way (``bench/README.md``, the storage section).

Switching to ``SCHED_BATCH`` needs no privilege. Where the kernel refuses anyway, the
program runs with the policy it had, after one line on stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def batch_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` run through this launcher (with the interpreter running kubemu)."""
    return [sys.executable, "-m", "kubemu.batchsched", *argv]


def main(argv: Sequence[str] | None = None) -> int:
    """Switch to ``SCHED_BATCH`` and exec ``argv``; returns only on a usage error."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m kubemu.batchsched PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except OSError as exc:
        print(f"kubemu.batchsched: {args[0]} keeps its scheduling policy ({exc})",
              file=sys.stderr)
    try:
        os.execvp(args[0], args)
    except OSError as exc:
        print(f"kubemu.batchsched: cannot run {args[0]}: {exc}", file=sys.stderr)
    return 127


if __name__ == "__main__":
    sys.exit(main())
