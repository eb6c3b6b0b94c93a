"""A private mount namespace per host process, with a pod's volumes at their ``mountPath``.

When the node agent runs as root on Linux (:func:`available`), every host process of a
container — its command, a ``kubectl exec`` session, an exec probe — starts in its own
mount namespace (one per process: it lives exactly as long as the process and its
children, so nothing is left to clean up; the volumes are shared through their host
directories, but a file written elsewhere — on a directory made on a tmpfs here — is seen
by that process alone). :meth:`HostEnv.spawn_options` gives the
``subprocess`` arguments; the namespace is set up by a ``preexec_fn`` in the forked child,
before the command is executed:

1. ``unshare(CLONE_NEWNS)`` and mount propagation private for the whole tree (``mount
   --make-rprivate /``): nothing mounted afterwards reaches the host's mount table.
2. A tmpfs over the pod's ``ns`` work directory (under ``--root-dir``) holds a new root:
   each entry of the host's ``/`` is bind-mounted (recursively) into it, symlinks copied.
3. Each volume directory (:class:`Mount`) is bind-mounted at its ``mountPath`` in the new
   root, read-only when the mount or the volume type asks for it. A ``mountPath`` (or
   ``workingDir``) that does not exist is created inside the namespace only: the nearest
   existing directory is shadowed by a tmpfs into which its entries are bind-mounted
   back, and the missing directories are made on that tmpfs. Symlinks on the way are
   resolved inside the new root. Nothing is ever created in a host directory.
4. ``chroot`` into the new root and change to the working directory.

With a ``hostname`` (the pod's), the process also gets a UTS namespace of its own with
that host name, as a container has.

A mount that cannot be set up is reported on the process's stderr and skipped; when the
namespace itself cannot be made, that is reported on stderr and the process exits with
:data:`NAMESPACE_FAILED` (126, what a shell answers for a command it cannot execute)
without running the command.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["NAMESPACE_FAILED", "HostEnv", "Mount", "Namespace", "available"]

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT = 1, 2, 4, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
#: The exit code of a process whose namespace could not be set up.
NAMESPACE_FAILED = 126
_MAX_LINKS = 40  # symlinks followed while resolving one path, as the kernel's limit

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    _check(_libc.mount(None if source is None else source.encode(), target.encode(),
                       None if fstype is None else fstype.encode(), ctypes.c_ulong(flags),
                       None if data is None else data.encode()), f"mount {target}")


def _bind(source: str, target: str, read_only: bool = False) -> None:
    _mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def _unshare() -> None:
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


def _set_hostname(name: str) -> None:
    """A UTS namespace of the process's own with host name ``name``."""
    raw = name.encode()
    _check(_libc.unshare(CLONE_NEWUTS), "unshare(CLONE_NEWUTS)")
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")


@functools.cache
def available() -> bool:
    """Whether this process can give its children mount namespaces (root on Linux, and
    a trial child succeeds)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False
    try:
        done = subprocess.run([sys.executable, "-c", ""], preexec_fn=_unshare, check=False,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


class Mount(NamedTuple):
    """One volume directory (or ``subPath`` file) to appear at ``path``."""

    source: str
    path: str
    read_only: bool


@dataclass
class _Setup:
    """The state of one namespace being set up (in the child)."""

    root: str
    work: str
    writable: set[str] = field(default_factory=set)
    stages: int = 0

    def shadow(self, directory: str) -> None:
        """Make ``directory`` writable here: a tmpfs over it, its entries bound back."""
        self.stages += 1
        stage = os.path.join(self.work, "stage", str(self.stages))
        os.makedirs(stage)
        st = os.stat(directory)
        _bind(directory, stage)
        _mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV,
               f"mode={st.st_mode & 0o7777:o},uid={st.st_uid},gid={st.st_gid}")
        self.populate(stage, directory)
        self.writable.add(directory)

    @staticmethod
    def populate(source: str, target: str) -> None:
        """Bind each entry of ``source`` at the same name in the (writable) ``target``."""
        for entry in os.scandir(source):
            path = os.path.join(target, entry.name)
            try:
                if entry.is_symlink():
                    os.symlink(os.readlink(entry.path), path)
                    continue
                if entry.is_dir(follow_symlinks=False):
                    os.mkdir(path)
                else:
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
                _bind(entry.path, path)
            except OSError as exc:
                _report(f"{entry.path}: {_describe(exc)}")

    def ensure(self, path: str, directory: bool) -> str:
        """The location in the new root of the absolute ``path``, created (inside the
        namespace only) when missing; symlinks resolve within the new root."""
        parts = [p for p in path.split("/") if p]
        current, links = self.root, 0
        while parts:
            part = parts.pop(0)
            if part == ".":
                continue
            if part == "..":
                if current != self.root:
                    current = os.path.dirname(current)
                continue
            step = os.path.join(current, part)
            if os.path.islink(step):
                links += 1
                if links > _MAX_LINKS:
                    raise OSError(errno.ELOOP, f"{path}: too many levels of symbolic links")
                target = os.readlink(step)
                if target.startswith("/"):
                    current = self.root
                parts = [p for p in target.split("/") if p] + parts
                continue
            if not os.path.lexists(step):
                if current not in self.writable:
                    self.shadow(current)
                if parts or directory:
                    os.mkdir(step, 0o755)
                else:
                    os.close(os.open(step, os.O_CREAT | os.O_WRONLY, 0o644))
                self.writable.add(step)
            current = step
        return current


def _describe(exc: OSError) -> str:
    if exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}"
    return exc.strerror or str(exc)


def _report(message: str) -> None:
    os.write(2, f"kubemu: mount namespace: {message}\n".encode(errors="replace"))


@dataclass(frozen=True)
class Namespace:
    """The mounts of one container, set up under ``work`` (a directory kubemu owns)."""

    work: str
    mounts: tuple[Mount, ...]
    #: The host name the process sees (its own UTS namespace); empty: the host's.
    hostname: str = ""

    def enter(self, cwd: str | None) -> None:
        """In the forked child: create the namespace, mount, chroot, change directory."""
        _unshare()
        if self.hostname:
            _set_hostname(self.hostname)
        _mount("tmpfs", self.work, "tmpfs", MS_NOSUID | MS_NODEV, "mode=700")
        root = os.path.join(self.work, "root")
        os.mkdir(root, 0o755)
        setup = _Setup(root, self.work, {root})
        setup.populate("/", root)
        for mount in sorted(self.mounts, key=lambda m: m.path.count("/")):
            try:
                target = setup.ensure(mount.path, os.path.isdir(mount.source))
                _bind(mount.source, target, mount.read_only)
            except OSError as exc:
                _report(f"{mount.path}: {_describe(exc)}")
        wanted = cwd or os.getcwd()
        try:
            inside = setup.ensure(wanted, True) if cwd else os.path.join(root, wanted[1:])
        except OSError as exc:
            _report(f"working directory {wanted}: {_describe(exc)}")
            inside = root
        inside = "/" + os.path.relpath(inside, root) if os.path.isdir(inside) else "/"
        os.chdir(root)
        os.chroot(".")
        os.chdir(inside)


class HostEnv(NamedTuple):
    """How a host process of a container starts: its environment, working directory and
    (as root) its mount :class:`Namespace`."""

    env: dict[str, str]
    cwd: str | None
    namespace: Namespace | None = None

    def spawn_options(self, preexec: Callable[[], None] | None = None) -> dict[str, Any]:
        """``env``, ``cwd`` and ``preexec_fn`` for ``subprocess``; ``preexec`` runs in the
        child after the namespace is entered."""
        namespace, cwd = self.namespace, self.cwd
        if namespace is None:
            return {"env": dict(self.env), "cwd": cwd, "preexec_fn": preexec}

        def enter() -> None:
            try:
                namespace.enter(cwd)
            except OSError as exc:  # the process cannot start in its namespace
                _report(_describe(exc))
                os._exit(NAMESPACE_FAILED)
            if preexec is not None:
                preexec()

        return {"env": dict(self.env), "cwd": None, "preexec_fn": enter}
