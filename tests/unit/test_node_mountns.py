"""Mount namespaces of host processes (:mod:`controllers.node.mountns`): real processes,
run as root; the host's paths and mount table are checked afterwards."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from controllers.node.mountns import NAMESPACE_FAILED, HostEnv, Mount, Namespace, available

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces need root")
PATH = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def _run(host: HostEnv, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False,
                          **host.spawn_options())


def _mounts() -> set[str]:
    return set(Path("/proc/self/mountinfo").read_text().splitlines())


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    directory = tmp_path / "volumes" / "cfg"
    directory.mkdir(parents=True)
    (directory / "key").write_text("value")
    (tmp_path / "ns").mkdir()
    return directory


@root_only
def test_volumes_appear_at_missing_paths_through_symlinks(tmp_path: Path, volume: Path) -> None:
    # /var/run is a symlink to /run on most hosts: the mount lands in the new root's /run.
    wanted = f"/var/run/kubemu-test-{os.getpid()}/deep/cfg"
    missing = f"/kubemu-test-{os.getpid()}"
    mounts = (Mount(str(volume), wanted, True), Mount(str(volume), missing, False),
              Mount(str(volume / "key"), f"/etc/kubemu-test-{os.getpid()}.conf", True))
    before = _mounts()
    done = _run(HostEnv(PATH, None, Namespace(str(tmp_path / "ns"), mounts)),
                f"cat {wanted}/key {missing}/key /etc/kubemu-test-{os.getpid()}.conf; "
                f"echo new > {missing}/added; ls /etc/hostname")
    assert (done.stdout, done.returncode) == ("valuevaluevalue/etc/hostname\n", 0), done.stderr
    assert (volume / "added").read_text() == "new\n"  # a read-write mount writes through
    for path in (wanted, missing, f"/etc/kubemu-test-{os.getpid()}.conf",
                 f"/run/kubemu-test-{os.getpid()}"):
        assert not os.path.lexists(path)
    assert [m for m in _mounts() - before if "kubemu" in m or str(tmp_path) in m] == []
    assert os.listdir(tmp_path / "ns") == []


@root_only
def test_read_only_and_working_directory(tmp_path: Path, volume: Path) -> None:
    namespace = Namespace(str(tmp_path / "ns"), (Mount(str(volume), "/etc/kubemu-ro", True),))
    work = f"/srv/kubemu-work-{os.getpid()}"
    done = _run(HostEnv(PATH, work, namespace), "pwd; echo x > /etc/kubemu-ro/key")
    assert done.stdout == f"{work}\n"
    assert "Read-only file system" in done.stderr
    assert (volume / "key").read_text() == "value"
    assert not os.path.lexists(work)


@root_only
def test_a_mount_that_cannot_be_made_is_reported_and_skipped(tmp_path: Path,
                                                            volume: Path) -> None:
    mounts = (Mount(str(tmp_path / "absent"), "/kubemu-absent", False),
              Mount(str(volume), "/etc/kubemu-ok", True))
    done = _run(HostEnv(PATH, None, Namespace(str(tmp_path / "ns"), mounts)),
                "cat /etc/kubemu-ok/key")
    assert done.stdout == "value"
    assert "kubemu: mount namespace: /kubemu-absent:" in done.stderr


def test_without_a_namespace_the_host_directory_is_used(tmp_path: Path) -> None:
    options = HostEnv(PATH, str(tmp_path)).spawn_options()
    assert (options["cwd"], options["preexec_fn"]) == (str(tmp_path), None)
    done = _run(HostEnv(PATH, str(tmp_path)), "pwd")
    assert done.stdout == f"{tmp_path}\n"


@root_only
def test_available_as_root() -> None:
    assert available()


@root_only
def test_a_namespace_that_cannot_be_made_exits_126(tmp_path: Path) -> None:
    # The work directory is missing: the tmpfs cannot be mounted there.
    namespace = Namespace(str(tmp_path / "missing"), ())
    done = _run(HostEnv(PATH, None, namespace), "echo ran")
    assert (done.returncode, done.stdout) == (NAMESPACE_FAILED, "")
    assert "kubemu: mount namespace: mount " in done.stderr
