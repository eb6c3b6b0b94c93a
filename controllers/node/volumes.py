"""A pod's volumes as files, written when its first host process starts and kept current.

:func:`materialise` writes each of the pod's volumes (``emptyDir``, ``configMap``,
``secret``, ``downwardAPI``, and ``projected`` sources including a ``serviceAccountToken``
from the TokenRequest API) under ``base/<uid>/volumes`` and links each container's
``volumeMounts`` under :func:`.podenv.pod_root`. :func:`refresh` is the kubelet's periodic
pod sync for volumes: it rewrites the ``configMap``, ``secret``, ``downwardAPI`` and
``projected`` volumes from the current objects, atomically
(:mod:`controllers.node.atomicwriter`), and renews a projected token once 80% of its
lifetime has passed, as the kubelet's token manager does. A ``subPath`` mount is a snapshot
of its file taken when the container started, as upstream's.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from apiserver.api.podclaims import pod_claims
from controllers.node.atomicwriter import DATA_DIR, File, read_current, write_atomic
from controllers.node.podenv import Fetch, TokenFn, field_value, object_data, pod_root

__all__ = ["UPDATABLE_TYPES", "VolumeSetupError", "claims_of", "materialise", "mount_error",
           "refresh", "remove_pod_dir"]

log = logging.getLogger("controllers.node")

#: ``claim_path(namespace, claim)``: the host directory of the volume bound to the claim.
ClaimPath = Callable[[str, str], Awaitable[str | None]]

#: The volume types whose contents follow their sources while the pod runs.
UPDATABLE_TYPES = ("configMap", "secret", "downwardAPI", "projected")
#: The API server's default ``defaultMode`` (0644).
DEFAULT_MODE = 0o644
#: A projected token is renewed once this share of its lifetime has passed (the kubelet's).
TOKEN_RENEW_AT = 0.8


class VolumeSetupError(Exception):
    """A volume cannot be set up, in the kubelet's words (``MountVolume.SetUp failed for
    volume "NAME" : configmap "x" not found``): the container must not start yet."""


class _Missing(LookupError):
    """A volume source's object does not exist (the message says which)."""


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def remove_pod_dir(base: str, uid: str) -> None:
    """Delete a pod's materialised volumes."""
    if uid:
        shutil.rmtree(os.path.join(base, uid), ignore_errors=True)


def _mode(value: Any, default: int) -> int:
    return value if isinstance(value, int) and 0 <= value <= 0o777 else default


def _select(data: Mapping[str, bytes], items: Any, mode: int) -> dict[str, File]:
    if not items:
        return {key: (value, mode) for key, value in data.items()}
    return {str(_m(i).get("path")): (data[str(_m(i).get("key"))],
                                     _mode(_m(i).get("mode"), mode))
            for i in items if str(_m(i).get("key")) in data}


def token_fresh(token: str, now: float) -> bool:
    """Whether a bound token is younger than :data:`TOKEN_RENEW_AT` of its lifetime (its
    ``iat`` and ``exp`` claims; a token that cannot be read is not fresh)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        issued, expires = float(claims["iat"]), float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError, binascii.Error):
        return False
    return now < issued + TOKEN_RENEW_AT * (expires - issued)


def _sources(volume: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """A volume's ``configMap``, ``secret`` and ``downwardAPI`` source, or its projected
    sources, as ``(kind, source)``."""
    sources = [(kind, _m(volume[kind])) for kind in ("configMap", "secret", "downwardAPI")
               if kind in volume]
    for source in _m(volume.get("projected")).get("sources") or []:
        sources.extend((kind, _m(value)) for kind, value in _m(source).items())
    return sources


async def _source_object(kind: str, src: Mapping[str, Any], namespace: str,
                         fetch: Fetch) -> Mapping[str, Any] | None:
    """The ConfigMap or Secret of a source; raises :class:`_Missing` (in the kubelet's
    words) when it does not exist and the source is not ``optional``."""
    name = str(src.get("secretName" if kind == "secret" and "secretName" in src
                       else "name") or "")
    obj = await fetch("secrets" if kind == "secret" else "configmaps", namespace, name)
    if obj is None and src.get("optional") is not True:
        raise _Missing(f'{kind.lower()} "{name}" not found')
    return obj


async def _volume_files(pod: Mapping[str, Any], volume: Mapping[str, Any], fetch: Fetch,
                        token: TokenFn, current: Mapping[str, File]) -> dict[str, File] | None:
    """The files of one volume (None: emptyDir or an unsupported type, an empty dir).
    ``current`` is what the volume holds now: a token in it that is still fresh is kept."""
    md, spec = _m(pod.get("metadata")), _m(pod.get("spec"))
    namespace = str(md.get("namespace") or "default")
    sources = _sources(volume)
    if not sources:
        return None
    projected = _m(volume.get("projected"))
    files: dict[str, File] = {}
    for kind, src in sources:
        mode = _mode(src.get("defaultMode") if "defaultMode" in src
                     else projected.get("defaultMode"), DEFAULT_MODE)
        if kind in ("configMap", "secret"):
            obj = await _source_object(kind, src, namespace, fetch)
            files.update(_select(object_data(obj, kind == "secret"), src.get("items"), mode))
        elif kind == "downwardAPI":
            for item in src.get("items") or []:
                path = str(_m(_m(item).get("fieldRef")).get("fieldPath") or "")
                files[str(_m(item).get("path"))] = (field_value(pod, path).encode(),
                                                    _mode(_m(item).get("mode"), mode))
        elif kind == "serviceAccountToken":
            path = str(src.get("path") or "token")
            held = current.get(path, (b"", 0))[0].decode(errors="replace")
            if not token_fresh(held, time.time()):
                sa = str(spec.get("serviceAccountName") or "default")
                expiry = int(src.get("expirationSeconds") or 3600)
                held = await token(namespace, sa, str(src.get("audience") or ""), expiry)
            files[path] = (held.encode(), mode)
    return files


async def _write_volume(pod: Mapping[str, Any], volume: Mapping[str, Any], directory: Path,
                        fetch: Fetch, token: TokenFn) -> None:
    """Write one volume's files into ``directory`` (raises :class:`VolumeSetupError`)."""
    name = str(volume.get("name") or "")
    try:
        files = await _volume_files(pod, volume, fetch, token, read_current(directory))
    except _Missing as exc:
        raise VolumeSetupError(f'MountVolume.SetUp failed for volume "{name}" : {exc}') \
            from None
    if files is None:
        directory.mkdir(parents=True, exist_ok=True)  # emptyDir: made once, then the pod's
    else:
        write_atomic(directory, files)


async def mount_error(pod: Mapping[str, Any], fetch: Fetch) -> str | None:
    """The kubelet's ``FailedMount`` message for the first volume of ``pod`` whose
    ``configMap`` or ``secret`` source (of its own or projected) does not exist and is not
    ``optional``, or None: what keeps every container of the pod ``ContainerCreating``,
    whether or not its volumes are written as files."""
    namespace = str(_m(pod.get("metadata")).get("namespace") or "default")
    for volume in _m(pod.get("spec")).get("volumes") or []:
        volume = _m(volume)
        for kind, src in _sources(volume):
            if kind not in ("configMap", "secret"):
                continue
            try:
                await _source_object(kind, src, namespace, fetch)
            except _Missing as exc:
                return f'MountVolume.SetUp failed for volume "{volume.get("name")}" : {exc}'
    return None


def claims_of(pod: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(volume, claim) of ``pod``'s ``persistentVolumeClaim`` and ``ephemeral`` volumes."""
    return [(volume, claim) for volume, claim, _ in pod_claims(pod)]


async def _claim_volume(pod: Mapping[str, Any], volume: Mapping[str, Any], directory: Path,
                        claim_path: ClaimPath) -> bool:
    """Link ``directory`` to the host directory of the volume bound to the pod's claim (a
    ``persistentVolumeClaim`` volume, or the claim of an ``ephemeral`` one); False when
    the claim is not bound to a host-directory volume (yet)."""
    md = _m(pod.get("metadata"))
    claim = dict(claims_of(pod)).get(str(volume.get("name") or ""))
    if claim is None:
        return False
    path = await claim_path(str(md.get("namespace") or "default"), claim)
    if path is None or not os.path.isdir(path):
        return False
    directory.symlink_to(path, target_is_directory=True)
    return True


async def materialise(pod: Mapping[str, Any], base: str, fetch: Fetch,
                      token: TokenFn, claim_path: ClaimPath | None = None) -> str:
    """Write ``pod``'s volumes under ``base/<uid>`` and link every container's mounts under
    :func:`.podenv.pod_root`; returns that root. A volume already written is left to
    :func:`refresh` (an ``emptyDir``'s contents survive container restarts).

    A ``configMap`` or ``secret`` source (of its own or projected) whose object is missing
    and not ``optional`` fails the mount as the kubelet's does: :class:`VolumeSetupError`,
    nothing written, so the next call (the container's next attempt) tries again — the
    ``kube-root-ca.crt`` ConfigMap of a new namespace may lag its first pod. Any other
    failure (the API unreachable, a failed token request) is logged and leaves that
    volume out of this call only (it is not mounted; the next call tries again). A claim's
    volume is the host directory of the PersistentVolume bound to it (``claim_path``), or,
    while there is none, an empty directory of the pod's own."""
    md, spec = _m(pod.get("metadata")), _m(pod.get("spec"))
    uid = str(md.get("uid") or "")
    volumes_dir = Path(base, uid, "volumes")
    volumes_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for volume in spec.get("volumes") or []:
        volume = _m(volume)
        name = str(volume.get("name") or "")
        directory = volumes_dir / name
        if directory.exists() or not name or "/" in name:
            continue
        try:
            if claim_path is not None and await _claim_volume(pod, volume, directory,
                                                              claim_path):
                continue
            await _write_volume(pod, volume, directory, fetch, token)
        except VolumeSetupError:
            raise
        except Exception as exc:  # the API being unreachable must not fail the command
            log.warning("volume %s of pod %s: %s", name, md.get("name"), exc)
    root = Path(pod_root(base, uid))
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for mount in _m(container).get("volumeMounts") or []:
            mount = _m(mount)
            sub = str(mount.get("subPath") or "")
            source = volumes_dir / str(mount.get("name") or "") / sub
            link = root / str(mount.get("mountPath") or "").lstrip("/")
            if not source.exists() or link == root or link.is_symlink() or link.exists():
                continue
            if sub and (volumes_dir / str(mount.get("name") or "") / DATA_DIR).is_symlink():
                source = _snapshot(source, Path(base, uid, "subpaths", str(mount.get("name")),
                                                sub))
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(source)
    return str(root)


def _snapshot(source: Path, copy_to: Path) -> Path:
    """A copy of ``source`` (a file or directory of an updatable volume) at ``copy_to``:
    a ``subPath`` mount keeps what the volume held when it was mounted, as upstream's."""
    copy_to.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, copy_to, symlinks=False, dirs_exist_ok=True)
    else:
        shutil.copy2(source, copy_to)
    return copy_to


async def refresh(pod: Mapping[str, Any], base: str, fetch: Fetch,
                  token: TokenFn) -> list[str]:
    """Bring the already written updatable volumes of ``pod`` up to date with their
    sources; returns the ``FailedMount`` messages of those that cannot be (they keep their
    files, as the kubelet keeps a volume whose ConfigMap was deleted)."""
    md, spec = _m(pod.get("metadata")), _m(pod.get("spec"))
    volumes_dir = Path(base, str(md.get("uid") or ""), "volumes")
    failures: list[str] = []
    for volume in spec.get("volumes") or []:
        volume = _m(volume)
        name = str(volume.get("name") or "")
        directory = volumes_dir / name
        if (not name or "/" in name or not (directory / DATA_DIR).is_symlink()
                or not any(kind in volume for kind in UPDATABLE_TYPES)):
            continue
        try:
            await _write_volume(pod, volume, directory, fetch, token)
        except VolumeSetupError as exc:
            failures.append(str(exc))
        except Exception as exc:  # the API unreachable: the files stay, the next sync retries
            log.warning("refreshing volume %s of pod %s: %s", name, md.get("name"), exc)
    return failures
