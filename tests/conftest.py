"""Shared fixtures for the whole suite.

Fixtures (all start the real ``python -m apiserver`` on 127.0.0.1 with a free port):

* ``apiserver`` (session): one sqlite apiserver shared by most tests, with the
  manager's ``namespace`` controller beside it (``python -m controllers.manager
  --controllers=namespace``), so deleted namespaces are emptied and go away as in a
  cluster. Do not stop, kill or restart it; use ``fresh_apiserver`` for that (a fresh
  apiserver runs no controller: its deleted namespaces stay ``Terminating``).
* ``secure_apiserver`` (session): one apiserver as a cluster runs it — HTTPS with a test
  CA, client certificates and ServiceAccount tokens, ``--authorization-mode=Node,RBAC``,
  the default admission plugins, and the manager's ``namespace``, ``serviceaccount`` and
  ``clusterrole-aggregation`` controllers under their own identity
  (:class:`tests.support.secure.SecureApiServer`: ``url``, an admin ``kubeconfig`` that
  verifies the server, ``client()``, ``service_account(...)`` for a non-admin token user).
  The client compatibility suites run against it.
* ``fresh_apiserver`` (function): a private sqlite apiserver, stopped after the test.
* ``apiserver_factory`` (function): ``start(storage=None, extra_args=(), *,
  timeout=20.0) -> ApiServerProcess``; every server it starts is stopped after the test.
* ``etcd`` (session): a real etcd on loopback (:class:`tests.support.etcd.EtcdProcess`);
  skips (fails under ``CI=true``) when etcd is not installed.
* ``KUBEMU_TEST_STORAGE=etcd`` runs every apiserver the fixtures start on that etcd, each
  with its own ``--etcd-prefix`` (default: sqlite). ``scripts/test`` runs the integration
  suite a second time that way under ``CI=true``; that run deselects the integration tests
  that use none of ``apiserver``, ``secure_apiserver``, ``fresh_apiserver``,
  ``apiserver_factory``, ``etcd``, ``kubectl`` and ``kubectl_announced`` (they name their
  storage or run ``kubemu up``).
* ``kubectl`` (function): a :class:`tests.support.kubectl.Kubectl` callable:
  ``kubectl("get", "svc", "-o", "json", kubeconfig=None, input=None, check=False)``
  → ``CompletedProcess[str]``; without ``kubeconfig`` it targets ``apiserver``.
  A missing kubectl fails the test (it is a pinned test dependency).
* ``kubectl_announced`` (function): the same for ``.venv/bin/kubectl-1.33`` (the version
  the server announces, installed by ``scripts/bootstrap`` from npm); missing, it skips
  the test (fails under ``CI=true``).

* ``address_block`` (session): a :class:`kubemu.addresses.Addresses` block of loopback
  addresses held for the session (one per xdist worker), taken the way ``kubemu up`` takes
  one: tests that bind pod IPs, ClusterIPs, node IPs or load-balancer IPs take them from it
  (``pod_cidr(N)``, ``service_range``, ``node_ip(N)``, ``lb_pool``) and so run beside any
  cluster on the machine.

Tests under ``tests/integration`` are marked ``integration`` automatically. A module
whose tests take tens of seconds (mostly waiting on controllers' periods or restarts) says
``pytestmark = pytest.mark.slow``: it is collected first, so under pytest-xdist (as
``scripts/test`` runs the suite: whole modules per worker) it overlaps the rest of the run
instead of ending it alone. Every test must run beside any other, in another worker: unique
object, namespace and network-namespace names, files under ``tmp_path``, addresses from
``address_block`` or free ports.

For scripts without fixtures, import :func:`tests.support.apiserver.start_apiserver`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from kubemu.addresses import Addresses
from kubemu.blocks import acquire
from tests.support.apiserver import (
    READY_TIMEOUT,
    ApiServerProcess,
    ApiServerStartError,
    start_apiserver,
)
from tests.support.deps import missing_dependency
from tests.support.etcd import MISSING_MESSAGE, EtcdProcess, find_etcd, start_etcd, unique_prefix
from tests.support.kubectl import (
    Kubectl,
    find_kubectl,
    find_kubectl_announced,
    kubectl_announced_missing_message,
    kubectl_missing_message,
)
from tests.support.process import Process
from tests.support.secure import SecureApiServer, start_secure_apiserver

__all__ = ["ApiServerProcess", "ApiServerStartError", "start_apiserver"]

_INTEGRATION_DIR = Path(__file__).parent / "integration"

ApiServerFactory = Callable[..., ApiServerProcess]


#: The fixtures through which a test's apiservers follow ``KUBEMU_TEST_STORAGE`` (``kubectl``
#: and ``kubectl_announced`` target ``apiserver`` by default).
_STORAGE_FIXTURES = frozenset({"apiserver", "secure_apiserver", "fresh_apiserver",
                               "apiserver_factory", "etcd", "kubectl", "kubectl_announced"})


def _deselect_storage_independent(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under another ``KUBEMU_TEST_STORAGE``, drop the integration tests using none of
    :data:`_STORAGE_FIXTURES`: their servers name their storage, or ``kubemu up`` picks it,
    so they would run exactly as in the sqlite pass. (A fixture that looks one up only
    with ``request.getfixturevalue`` names one of them as a parameter too.)"""
    kept, dropped = [], []
    for item in items:
        uses = set(getattr(item, "fixturenames", ())) & _STORAGE_FIXTURES
        independent = _INTEGRATION_DIR in Path(str(item.path)).parents and not uses
        (dropped if independent else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test collected from ``tests/integration`` with ``integration``, and move
    the modules marked ``slow`` to the front (each module stays in one piece, in its order).

    ``scripts/test`` runs the suite under pytest-xdist with ``--dist loadfile
    --no-loadscope-reorder``: whole modules go to the workers in collection order, so the
    long modules start first instead of finishing last on one worker.
    """
    if suite_storage() != "sqlite":
        _deselect_storage_independent(config, items)
    slow_modules: set[Path] = set()
    for item in items:
        if _INTEGRATION_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("slow") is not None:
            slow_modules.add(Path(str(item.path)))
    items.sort(key=lambda item: Path(str(item.path)) not in slow_modules)  # stable


def suite_storage() -> str:
    """The backend the apiserver fixtures use (``KUBEMU_TEST_STORAGE``, default sqlite)."""
    return os.environ.get("KUBEMU_TEST_STORAGE", "").strip() or "sqlite"


@pytest.fixture(scope="session")
def address_block() -> Iterator[Addresses]:
    """This session's own block of loopback addresses (see the module docstring)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    lease = acquire(f"kubemu tests (pytest {worker}, pid {os.getpid()})")
    try:
        yield lease.addresses
    finally:
        lease.release()


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdProcess]:
    """One real etcd for the session (tests isolate themselves by key prefix)."""
    binary = find_etcd()
    if binary is None:
        missing_dependency(MISSING_MESSAGE)
    server = start_etcd(binary, tmp_path_factory.mktemp("etcd"))
    try:
        yield server
    finally:
        server.stop()


def _server_args(
    request: pytest.FixtureRequest, storage: str | None, extra_args: Sequence[str] = ()
) -> tuple[str, tuple[str, ...]]:
    """(storage, extra args): etcd servers get the session etcd and a fresh prefix."""
    storage = storage or suite_storage()
    if storage != "etcd" or any(a.startswith("--etcd-servers") for a in extra_args):
        return storage, tuple(extra_args)
    server: EtcdProcess = request.getfixturevalue("etcd")
    return storage, ("--etcd-servers", server.url, "--etcd-prefix", unique_prefix(),
                     *extra_args)


@pytest.fixture(scope="session")
def apiserver(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServerProcess]:
    """The shared session apiserver (``KUBEMU_TEST_STORAGE``, default sqlite)."""
    storage, args = _server_args(request, None)
    base = tmp_path_factory.mktemp("session-apiserver")
    server = start_apiserver(base, storage, args)
    namespaces = Process(["-m", "controllers.manager", "--kubeconfig", str(server.kubeconfig),
                          "--leader-elect=false", "--controllers=namespace"],
                         base / "namespace-controller.log").start()
    try:
        yield server
    finally:
        namespaces.stop()
        server.stop()


@pytest.fixture(scope="session")
def secure_apiserver(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecureApiServer]:
    """The shared secured apiserver (see the module docstring); do not stop or restart it."""
    storage, args = _server_args(request, None)
    server = start_secure_apiserver(tmp_path_factory.mktemp("secure-apiserver"), storage, args)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_apiserver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ApiServerProcess]:
    """A private apiserver for one test; free to kill, stop and restart."""
    storage, args = _server_args(request, None)
    server = start_apiserver(tmp_path, storage, args)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def apiserver_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[ApiServerFactory]:
    """Start any number of apiservers in one test; all are stopped afterwards.

    ``storage=None`` means the suite's backend; etcd servers share the session etcd,
    each under a fresh prefix unless ``extra_args`` names ``--etcd-servers``.
    """
    started: list[ApiServerProcess] = []

    def start(
        storage: str | None = None,
        extra_args: Sequence[str] = (),
        *,
        timeout: float = READY_TIMEOUT,
    ) -> ApiServerProcess:
        backend, args = _server_args(request, storage, extra_args)
        server = start_apiserver(tmp_path, backend, args, timeout=timeout)
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


@pytest.fixture
def kubectl_announced(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Kubectl:
    """kubectl 1.33 (``.venv/bin/kubectl-1.33``), like ``kubectl``; skips (fails under
    ``CI=true``) when scripts/bootstrap could not install it."""
    binary = find_kubectl_announced()
    if binary is None:
        missing_dependency(kubectl_announced_missing_message())

    def default_kubeconfig() -> Path:
        server: ApiServerProcess = request.getfixturevalue("apiserver")
        return server.kubeconfig

    return Kubectl(binary, tmp_path_factory.mktemp("kubectl-announced-home"),
                   default_kubeconfig)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    """``procs(server, module, *flags)`` starts ``python -m module --kubeconfig K flags…``
    against ``server``; every process started is stopped after the test (last first)."""
    started: list[Process] = []

    def start(server: ApiServerProcess, module: str, *extra: str) -> Process:
        argv = ["-m", module, "--kubeconfig", str(server.kubeconfig), *extra]
        if module == "controllers.node" and "--root-dir" not in extra:
            # A node agent SIGKILLed by its test leaves its root behind: keep it in tmp_path.
            argv += ["--root-dir", str(tmp_path / f"node-{len(started)}")]
        process = Process(argv, tmp_path / f"{module}-{len(started)}.log").start()
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in reversed(started):
            process.stop()
