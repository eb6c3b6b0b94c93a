"""The supervisor restarts a child that exits, and gives up on one that crash-loops."""

from __future__ import annotations

import io
import sys
import threading
from pathlib import Path

from kubemu.supervisor import Supervisor


def _supervisor() -> tuple[Supervisor, io.BytesIO]:
    out = io.BytesIO()
    return Supervisor(stop_timeout=2, out=out, restart_delay=0.05, max_restart_delay=0.2,
                      crash_loop_exits=4, crash_loop_window=30), out


def test_a_child_that_exits_once_is_restarted(tmp_path: Path) -> None:
    marker = tmp_path / "ran-once"
    script = (f"import pathlib, sys, time\nm = pathlib.Path({str(marker)!r})\n"
              "if not m.exists():\n    m.touch(); sys.exit(1)\ntime.sleep(60)\n")
    sup, out = _supervisor()
    child = sup.start("ctl", [sys.executable, "-c", script])
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(sup.run()))
    runner.start()
    try:
        for _ in range(200):
            if len(sup.children) == 1 and sup.children[0] is not child \
                    and sup.children[0].poll() is None and marker.exists():
                break
            threading.Event().wait(0.05)
        assert sup.children[0] is not child and sup.children[0].poll() is None
        assert sup.children[0].exits  # it remembers the exit it was restarted after
    finally:
        sup.request_stop()
        runner.join(10)
        sup.stop_all()
    assert result == [0]
    log = out.getvalue().decode()
    assert "ctl (pid" in log and "exited unexpectedly (exit code 1); restarting it in" in log


def test_a_crash_looping_child_ends_the_run(tmp_path: Path) -> None:
    sup, out = _supervisor()
    sup.start("broken", [sys.executable, "-c", "import sys; sys.exit(2)"])
    code = sup.run()
    sup.stop_all()
    assert code == 1
    assert "4 times in 30s: giving up" in out.getvalue().decode()
