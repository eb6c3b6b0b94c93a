"""A container's environment for host processes: its variables and its volumes as files.

Used for the commands the node agent runs on the host (``--allow-host-commands``): a
container's own command and ``kubectl exec``. :func:`container_env` resolves ``env`` and
``envFrom`` as the kubelet does — literal values with ``$(VAR)`` expansion, ``valueFrom``
ConfigMap and Secret keys and the downward API (``fieldRef``) — and adds
``HOSTNAME`` (the pod's host name), ``KUBEMU_POD_ROOT`` and the Service variables the kubelet
gives (:mod:`controllers.node.serviceenv`).

Volumes are written by :mod:`controllers.node.volumes` under one per-pod directory, with
each container's ``volumeMounts`` linked at ``$KUBEMU_POD_ROOT/<mountPath>``: a file the
pod reads at ``/etc/config/key`` is at ``$KUBEMU_POD_ROOT/etc/config/key`` for a host
command. As root, :func:`namespace` describes a private mount namespace
(:mod:`controllers.node.mountns`) in which those volume directories appear at their real
``mountPath``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from controllers.node.etchosts import pod_hostname
from controllers.node.mountns import Mount, Namespace

__all__ = ["Fetch", "TokenFn", "config_error", "container_env", "field_value", "namespace",
           "object_data", "pod_root", "working_dir"]

#: ``fetch("configmaps" | "secrets", namespace, name)``: the object, or None when missing.
Fetch = Callable[[str, str, str], Awaitable[Mapping[str, Any] | None]]
#: ``token(namespace, serviceAccount, audience, expirationSeconds)``: a bound token.
TokenFn = Callable[[str, str, str, int], Awaitable[str]]

_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


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


def object_data(obj: Mapping[str, Any] | None, secret: bool) -> dict[str, bytes]:
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


async def config_error(pod: Mapping[str, Any], container: Mapping[str, Any],
                       fetch: Fetch) -> str | None:
    """Why the kubelet cannot create ``container``'s configuration, in its words, or None:
    an ``envFrom`` or ``valueFrom`` ConfigMap or Secret that does not exist
    (``configmap "x" not found``) or lacks the key (``couldn't find key k in ConfigMap
    ns/x``), unless the reference is ``optional``. The container waits with reason
    ``CreateContainerConfigError`` until it can be created."""
    namespace = str(_m(pod.get("metadata")).get("namespace") or "default")
    for source in container.get("envFrom") or []:
        source = _m(source)
        for kind, ref_name, word in (("configmaps", "configMapRef", "configmap"),
                                     ("secrets", "secretRef", "secret")):
            ref = _m(source.get(ref_name))
            if ref_name in source and ref.get("optional") is not True:
                name = str(ref.get("name") or "")
                if await fetch(kind, namespace, name) is None:
                    return f'{word} "{name}" not found'
    for var in container.get("env") or []:
        source = _m(_m(var).get("valueFrom"))
        for kind, ref_name, word, title in (
                ("configmaps", "configMapKeyRef", "configmap", "ConfigMap"),
                ("secrets", "secretKeyRef", "secret", "Secret")):
            ref = _m(source.get(ref_name))
            if ref_name not in source or ref.get("optional") is True:
                continue
            name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
            obj = await fetch(kind, namespace, name)
            if obj is None:
                return f'{word} "{name}" not found'
            if key not in _m(obj.get("data")):
                return f"couldn't find key {key} in {title} {namespace}/{name}"
    return None


async def container_env(pod: Mapping[str, Any], container: Mapping[str, Any], fetch: Fetch,
                        root: str = "", services: Mapping[str, str] | None = None,
                        hostname: str = "") -> dict[str, str]:
    """The variables a host process of ``container`` gets, over this process's own
    environment; keys that cannot be resolved (missing object or key) are left out.

    ``services`` are the pod's Service variables (:func:`.serviceenv.service_env`): as the
    kubelet's, ``$(VAR)`` in a value may name them, and they follow the container's own
    variables, which win over them. ``HOSTNAME`` is ``hostname`` (the container's host
    name, fully qualified with ``setHostnameAsFQDN``), else the pod's short host name."""
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
                for key, value in object_data(obj, kind == "secrets").items():
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
                data = object_data(await get(kind, str(key_ref.get("name") or "")),
                                   kind == "secrets")
                key = str(key_ref.get("key") or "")
                if key in data:
                    own[name] = data[key].decode(errors="replace")
    env = dict(os.environ)
    env.update(own)
    # After the container's own (which win) and over the node agent's inherited ones.
    env.update((key, value) for key, value in services.items() if key not in own)
    env["HOSTNAME"] = hostname or pod_hostname(pod)  # what the runtime sets: the host name
    if root:
        env["KUBEMU_POD_ROOT"] = root
    return env


def pod_root(base: str, uid: str) -> str:
    """The directory under which a pod's mounts appear (``$KUBEMU_POD_ROOT``)."""
    return os.path.join(base, uid, "root")


#: Volume types the kubelet always mounts read-only.
_READ_ONLY_TYPES = ("configMap", "secret", "downwardAPI", "projected")


def namespace(pod: Mapping[str, Any], container: Mapping[str, Any], base: str) -> Namespace:
    """The mount namespace of a host process of ``container``: each of its
    ``volumeMounts`` whose materialised volume (:func:`.volumes.materialise`) exists, read-only when
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
