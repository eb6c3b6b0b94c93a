"""A container's environment for host processes: its variables and its volumes as files.

Used for the commands the node agent runs on the host (``--allow-host-commands``): a
container's own command and ``kubectl exec``. :func:`container_env` resolves ``env`` and
``envFrom`` as the kubelet does — literal values with ``$(VAR)`` expansion, ``valueFrom``
ConfigMap and Secret keys and the downward API (``fieldRef``) — and adds
``HOSTNAME`` (the pod name), ``KUBEMU_POD_ROOT`` and the Service variables the kubelet
gives (:mod:`controllers.node.serviceenv`).

Volumes: :func:`materialise` writes each of the pod's volumes (``emptyDir``, ``configMap``,
``secret``, ``downwardAPI``, and ``projected`` sources including a ``serviceAccountToken``
from the TokenRequest API) under one per-pod directory and links each container's
``volumeMounts`` at ``$KUBEMU_POD_ROOT/<mountPath>``: a file the pod reads at
``/etc/config/key`` is at ``$KUBEMU_POD_ROOT/etc/config/key`` for a host command. As
root, :func:`namespace` describes a private mount namespace
(:mod:`controllers.node.mountns`) in which those volume directories appear at their real
``mountPath``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import re
import shutil
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from controllers.node.mountns import Mount, Namespace

__all__ = ["Fetch", "TokenFn", "VolumeSetupError", "container_env", "field_value",
           "materialise", "namespace", "pod_root", "remove_pod_dir", "working_dir"]

log = logging.getLogger("controllers.node")

#: ``fetch("configmaps" | "secrets", namespace, name)``: the object, or None when missing.
Fetch = Callable[[str, str, str], Awaitable[Mapping[str, Any] | None]]
#: ``token(namespace, serviceAccount, audience, expirationSeconds)``: a bound token.
TokenFn = Callable[[str, str, str, int], Awaitable[str]]



class VolumeSetupError(Exception):
    """A volume cannot be set up, in the kubelet's words (``MountVolume.SetUp failed for
    volume "NAME" : configmap "x" not found``): the container must not start yet."""


_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class _Missing(LookupError):
    """A volume source's object does not exist (the message says which)."""


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Upstream's ``$(VAR)`` expansion: known names are replaced, ``$$`` is ``$``."""
    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))
    return _REF.sub(sub, value)


def field_value(pod: Mapping[str, Any], path: str) -> str:
    """A downward-API ``fieldRef.fieldPath`` of ``pod`` (empty when unknown)."""
    md, spec, status = _m(pod.get("metadata")), _m(pod.get("spec")), _m(pod.get("status"))
    bracket = re.fullmatch(r"metadata\.(labels|annotations)\['(.*)'\]", path)
    if bracket:
        return str(_m(md.get(bracket.group(1))).get(bracket.group(2)) or "")
    if path in ("metadata.labels", "metadata.annotations"):
        items = _m(md.get(path.split(".")[1]))
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    simple = {
        "metadata.name": md.get("name"), "metadata.namespace": md.get("namespace"),
        "metadata.uid": md.get("uid"), "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"), "status.hostIP": status.get("hostIP"),
        "status.podIPs": ",".join(str(_m(i).get("ip")) for i in status.get("podIPs") or []),
        "status.hostIPs": ",".join(str(_m(i).get("ip")) for i in status.get("hostIPs") or []),
    }
    return str(simple.get(path) or "")


def _data(obj: Mapping[str, Any] | None, secret: bool) -> dict[str, bytes]:
    """The keys of a ConfigMap (``data`` and ``binaryData``) or Secret, decoded."""
    out: dict[str, bytes] = {}
    if obj is None:
        return out
    for key, value in _m(obj.get("data")).items():
        if secret:
            with contextlib.suppress(binascii.Error, ValueError):
                out[str(key)] = base64.b64decode(str(value))
        else:
            out[str(key)] = str(value).encode()
    for key, value in _m(obj.get("binaryData")).items():
        with contextlib.suppress(binascii.Error, ValueError):
            out[str(key)] = base64.b64decode(str(value))
    return out


async def container_env(pod: Mapping[str, Any], container: Mapping[str, Any], fetch: Fetch,
                        root: str = "", services: Mapping[str, str] | None = None) \
        -> dict[str, str]:
    """The variables a host process of ``container`` gets, over this process's own
    environment; keys that cannot be resolved (missing object or key) are left out.

    ``services`` are the pod's Service variables (:func:`.serviceenv.service_env`): as the
    kubelet's, ``$(VAR)`` in a value may name them, and they follow the container's own
    variables, which win over them."""
    services = services or {}
    namespace = str(_m(pod.get("metadata")).get("namespace") or "default")
    own: dict[str, str] = {}
    cache: dict[tuple[str, str], Mapping[str, Any] | None] = {}

    async def get(kind: str, name: str) -> Mapping[str, Any] | None:
        if (kind, name) not in cache:
            cache[kind, name] = await fetch(kind, namespace, name)
        return cache[kind, name]

    for source in container.get("envFrom") or []:
        source = _m(source)
        prefix = str(source.get("prefix") or "")
        for kind, ref in (("configmaps", "configMapRef"), ("secrets", "secretRef")):
            if ref in source:
                obj = await get(kind, str(_m(source[ref]).get("name") or ""))
                for key, value in _data(obj, kind == "secrets").items():
                    own[prefix + key] = value.decode(errors="replace")
    for var in container.get("env") or []:
        var = _m(var)
        name = str(var.get("name") or "")
        if "value" in var or "valueFrom" not in var:
            own[name] = _expand(str(var.get("value") or ""), {**services, **own})
            continue
        source = _m(var.get("valueFrom"))
        if "fieldRef" in source:
            own[name] = field_value(pod, str(_m(source["fieldRef"]).get("fieldPath") or ""))
        for kind, ref in (("configmaps", "configMapKeyRef"), ("secrets", "secretKeyRef")):
            if ref in source:
                key_ref = _m(source[ref])
                data = _data(await get(kind, str(key_ref.get("name") or "")), kind == "secrets")
                key = str(key_ref.get("key") or "")
                if key in data:
                    own[name] = data[key].decode(errors="replace")
    env = dict(os.environ)
    env.update(own)
    # After the container's own (which win) and over the node agent's inherited ones.
    env.update((key, value) for key, value in services.items() if key not in own)
    env["HOSTNAME"] = str(_m(pod.get("metadata")).get("name") or "")
    if root:
        env["KUBEMU_POD_ROOT"] = root
    return env


def pod_root(base: str, uid: str) -> str:
    """The directory under which a pod's mounts appear (``$KUBEMU_POD_ROOT``)."""
    return os.path.join(base, uid, "root")


def remove_pod_dir(base: str, uid: str) -> None:
    """Delete a pod's materialised volumes."""
    if uid:
        shutil.rmtree(os.path.join(base, uid), ignore_errors=True)


def _write(directory: Path, files: Mapping[str, bytes], mode: int) -> None:
    for rel, content in files.items():
        target = (directory / rel).resolve()
        if not target.is_relative_to(directory.resolve()):
            continue  # a key or path escaping the volume is ignored
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(mode)


def _select(data: Mapping[str, bytes], items: Any) -> dict[str, bytes]:
    if not items:
        return dict(data)
    return {str(_m(i).get("path")): data[str(_m(i).get("key"))] for i in items
            if str(_m(i).get("key")) in data}


async def _volume_files(pod: Mapping[str, Any], volume: Mapping[str, Any], fetch: Fetch,
                        token: TokenFn) -> dict[str, bytes] | None:
    """The files of one volume (None: emptyDir or an unsupported type, an empty dir)."""
    md, spec = _m(pod.get("metadata")), _m(pod.get("spec"))
    namespace = str(md.get("namespace") or "default")
    sources: list[tuple[str, Mapping[str, Any]]] = []
    for kind in ("configMap", "secret", "downwardAPI"):
        if kind in volume:
            sources.append((kind, _m(volume[kind])))
    for projected in _m(volume.get("projected")).get("sources") or []:
        for kind, value in _m(projected).items():
            sources.append((kind, _m(value)))
    if not sources:
        return None
    files: dict[str, bytes] = {}
    for kind, src in sources:
        if kind in ("configMap", "secret"):
            name = str(src.get("secretName" if kind == "secret" and "secretName" in src
                               else "name") or "")
            obj = await fetch("secrets" if kind == "secret" else "configmaps", namespace, name)
            if obj is None and src.get("optional") is not True:
                # The kubelet's words; the mount fails until the object exists.
                raise _Missing(f'{kind.lower()} "{name}" not found')
            files.update(_select(_data(obj, kind == "secret"), src.get("items")))
        elif kind == "downwardAPI":
            for item in src.get("items") or []:
                path = str(_m(_m(item).get("fieldRef")).get("fieldPath") or "")
                files[str(_m(item).get("path"))] = field_value(pod, path).encode()
        elif kind == "serviceAccountToken":
            sa = str(spec.get("serviceAccountName") or "default")
            expiry = int(src.get("expirationSeconds") or 3600)
            files[str(src.get("path") or "token")] = (
                await token(namespace, sa, str(src.get("audience") or ""), expiry)).encode()
    return files


async def materialise(pod: Mapping[str, Any], base: str, fetch: Fetch,
                      token: TokenFn) -> str:
    """Write ``pod``'s volumes under ``base/<uid>`` and link every container's mounts under
    :func:`pod_root`; returns that root. Each volume is written once per pod instance.

    A ``configMap`` or ``secret`` source (of its own or projected) whose object is missing
    and not ``optional`` fails the mount as the kubelet's does: :class:`VolumeSetupError`,
    nothing written, so the next call (the container's next attempt) tries again — the
    ``kube-root-ca.crt`` ConfigMap of a new namespace may lag its first pod. Any other
    failure (the API unreachable, a failed token request) is logged and leaves that
    volume out of this call only (it is not mounted; the next call tries again)."""
    md, spec = _m(pod.get("metadata")), _m(pod.get("spec"))
    uid = str(md.get("uid") or "")
    pod_dir = Path(base, uid)
    volumes_dir = pod_dir / "volumes"
    volumes_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for volume in spec.get("volumes") or []:
        volume = _m(volume)
        name = str(volume.get("name") or "")
        directory = volumes_dir / name
        if directory.exists() or not name or "/" in name:
            continue  # written once per pod instance: emptyDir contents survive
        try:
            files = await _volume_files(pod, volume, fetch, token)
        except _Missing as exc:
            raise VolumeSetupError(f'MountVolume.SetUp failed for volume "{name}" : {exc}') \
                from None
        except Exception as exc:  # the API being unreachable must not fail the command
            log.warning("volume %s of pod %s: %s", name, md.get("name"), exc)
            continue
        directory.mkdir(parents=True, exist_ok=True)  # another container may have won
        if files:
            mode = int(_m(volume.get("secret") or volume.get("configMap")
                          or volume.get("projected")).get("defaultMode") or 0o644)
            _write(directory, files, mode)
    root = Path(pod_root(base, uid))
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for mount in _m(container).get("volumeMounts") or []:
            mount = _m(mount)
            source = volumes_dir / str(mount.get("name") or "") / str(mount.get("subPath") or "")
            link = root / str(mount.get("mountPath") or "").lstrip("/")
            if not source.exists() or link == root or link.is_symlink() or link.exists():
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(source)
    return str(root)


#: Volume types the kubelet always mounts read-only.
_READ_ONLY_TYPES = ("configMap", "secret", "downwardAPI", "projected")


def namespace(pod: Mapping[str, Any], container: Mapping[str, Any], base: str) -> Namespace:
    """The mount namespace of a host process of ``container``: each of its
    ``volumeMounts`` whose materialised volume (:func:`materialise`) exists, read-only when
    the mount says so or the volume is a configMap, secret, downwardAPI or projected one.
    Its work directory (``base/<uid>/ns``) is created."""
    uid = str(_m(pod.get("metadata")).get("uid") or "")
    volumes = {str(_m(v).get("name")): _m(v) for v in _m(pod.get("spec")).get("volumes") or []}
    mounts: list[Mount] = []
    for mount in container.get("volumeMounts") or []:
        mount = _m(mount)
        name, path = str(mount.get("name") or ""), str(mount.get("mountPath") or "")
        sub = str(mount.get("subPath") or "")
        source = Path(base, uid, "volumes", name, sub)
        if (name not in volumes or "/" in name or not path.startswith("/")
                or sub.startswith("/") or ".." in sub.split("/") or not source.exists()):
            continue  # upstream refuses such subPaths; a volume kubemu lacks is skipped
        read_only = bool(mount.get("readOnly")) or any(t in volumes[name]
                                                       for t in _READ_ONLY_TYPES)
        mounts.append(Mount(str(source), path, read_only))
    work = Path(base, uid, "ns")
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Namespace(str(work), tuple(mounts))


def working_dir(container: Mapping[str, Any], root: str) -> str | None:
    """The process's working directory: ``workingDir`` when the host has it, else that
    path under the pod root (created); None when the container names none."""
    wanted = str(container.get("workingDir") or "")
    if not wanted:
        return None
    if os.path.isdir(wanted):
        return wanted
    inside = os.path.join(root, wanted.lstrip("/"))
    os.makedirs(inside, exist_ok=True)
    return inside
