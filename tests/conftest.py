"""Shared fixtures for the whole suite.

Fixtures (all start the real ``python -m apiserver`` on 127.0.0.1 with a free port):

* ``apiserver`` (session): one sqlite apiserver shared by most tests. Do not stop,
  kill or restart it; use ``fresh_apiserver`` for that.
* ``fresh_apiserver`` (function): a private sqlite apiserver, stopped after the test.
* ``apiserver_factory`` (function): ``start(storage="sqlite", extra_args=(), *,
  timeout=20.0) -> ApiServerProcess``; every server it starts is stopped after the test.
* ``kubectl`` (function): a :class:`tests.support.kubectl.Kubectl` callable:
  ``kubectl("get", "svc", "-o", "json", kubeconfig=None, input=None, check=False)``
  → ``CompletedProcess[str]``; without ``kubeconfig`` it targets ``apiserver``.
  A missing kubectl fails the test (it is a pinned test dependency).

Tests under ``tests/integration`` are marked ``integration`` automatically. For
scripts without fixtures, import :func:`tests.support.apiserver.start_apiserver`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.apiserver import (
    READY_TIMEOUT,
    ApiServerProcess,
    ApiServerStartError,
    start_apiserver,
)
from tests.support.kubectl import Kubectl, find_kubectl, kubectl_missing_message

__all__ = ["ApiServerProcess", "ApiServerStartError", "start_apiserver"]

_INTEGRATION_DIR = Path(__file__).parent / "integration"

ApiServerFactory = Callable[..., ApiServerProcess]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test collected from ``tests/integration`` with ``integration``."""
    for item in items:
        if _INTEGRATION_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    """The shared session apiserver (sqlite storage)."""
    server = start_apiserver(tmp_path_factory.mktemp("session-apiserver"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_apiserver(tmp_path: Path) -> Iterator[ApiServerProcess]:
    """A private sqlite apiserver for one test; free to kill, stop and restart."""
    server = start_apiserver(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def apiserver_factory(tmp_path: Path) -> Iterator[ApiServerFactory]:
    """Start any number of apiservers in one test; all are stopped afterwards."""
    started: list[ApiServerProcess] = []

    def start(
        storage: str = "sqlite",
        extra_args: Sequence[str] = (),
        *,
        timeout: float = READY_TIMEOUT,
    ) -> ApiServerProcess:
        server = start_apiserver(tmp_path, storage, extra_args, timeout=timeout)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture
def kubectl(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """The pinned kubectl with a private HOME and discovery cache (see module docstring)."""
    binary = find_kubectl()
    if binary is None:
        pytest.fail(kubectl_missing_message(), pytrace=False)

    def default_kubeconfig() -> Path:
        server: ApiServerProcess = request.getfixturevalue("apiserver")
        return server.kubeconfig

    return Kubectl(binary, tmp_path_factory.mktemp("kubectl-home"), default_kubeconfig)
