"""Ephemeral containers: the rules of ``spec.ephemeralContainers`` and its subresource.

Upstream's ``validateEphemeralContainers`` and ``ValidatePodEphemeralContainersUpdate``
(``pkg/apis/core/validation``) and ``dropNonEphemeralContainerUpdates``
(``pkg/registry/core/pod/strategy.go``), on pods as JSON:

* :func:`validate_ephemeral_containers` checks the list wherever a pod spec is validated:
  names are DNS labels unique across every kind of container, an image is required,
  ``targetContainerName`` names a regular or init container, and the fields an ephemeral
  container may not have (ports, probes, lifecycle, resources, resizePolicy,
  restartPolicy) are Forbidden with upstream's message;
* :func:`keep_ephemeral_containers_only` is what a write to ``pods/ephemeralcontainers``
  keeps of its body: the stored pod with the body's ``spec.ephemeralContainers``;
* :func:`ephemeral_changes` refuses removing or changing an existing ephemeral container.

Malformed input is reported, never raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apiserver.api import errors, meta
from apiserver.registry.strategy import Cause

__all__ = ["CREATE_CAUSE", "ephemeral_changes", "keep_ephemeral_containers_only",
           "validate_ephemeral_containers"]

#: Upstream's ``allowedEphemeralContainerFields``, as JSON names: anything else of
#: ``EphemeralContainerCommon`` (ports, resources, resizePolicy, restartPolicy, the probes,
#: lifecycle) is Forbidden, so fields added later are refused until considered.
ALLOWED_FIELDS = frozenset({
    "name", "image", "command", "args", "workingDir", "envFrom", "env", "volumeMounts",
    "volumeDevices", "terminationMessagePath", "terminationMessagePolicy",
    "imagePullPolicy", "securityContext", "stdin", "stdinOnce", "tty",
    # EphemeralContainer's own field, beside EphemeralContainerCommon's.
    "targetContainerName",
})
#: The fields of ``EphemeralContainerCommon`` in Go's declaration order: upstream reports
#: the forbidden ones in this order.
_FIELD_ORDER = (
    "name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources",
    "resizePolicy", "restartPolicy", "volumeMounts", "volumeDevices", "livenessProbe",
    "readinessProbe", "startupProbe", "lifecycle", "terminationMessagePath",
    "terminationMessagePolicy", "imagePullPolicy", "securityContext", "stdin", "stdinOnce",
    "tty",
)
_FORBIDDEN_TEXT = "cannot be set for an Ephemeral Container"
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")

#: ``ValidatePodCreate``: ephemeral containers only arrive through the subresource.
CREATE_CAUSE = errors.forbidden_field("spec.ephemeralContainers", "cannot be set on create")


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _names(spec: Mapping[str, Any], key: str) -> list[str]:
    return [str(_m(c).get("name") or "") for c in spec.get(key) or []
            if isinstance(c, Mapping)] if isinstance(spec.get(key), list) else []


def _is_set(value: Any) -> bool:
    """Whether a JSON value differs from its Go zero value (as ``validateFieldAllowList``
    compares; ``resources: {}`` is the zero ResourceRequirements)."""
    if isinstance(value, Mapping):
        return any(_is_set(v) for v in value.values())
    return value not in (None, "", 0, False, [])


def _not_supported(path: str, value: Any, supported: tuple[str, ...]) -> Cause:
    allowed = ", ".join(f'"{s}"' for s in supported)
    return errors.field_cause("FieldValueNotSupported", path,
                              f'Unsupported value: "{value}": supported values: {allowed}')


def _common(container: Mapping[str, Any], path: str) -> list[Cause]:
    """The part of ``validateContainerCommon`` and ``validateContainerOnlyForPod`` kubemu
    checks for every kind of container."""
    causes: list[Cause] = []
    name = container.get("name")
    if not name:
        causes.append(errors.required(f"{path}.name"))
    else:
        causes += [errors.invalid_value(f"{path}.name", name, msg)
                   for msg in meta.dns1123_label_errors(str(name))]
    image = container.get("image")
    if not image:
        causes.append(errors.required(f"{path}.image"))
    elif str(image) != str(image).strip():
        causes.append(errors.invalid_value(f"{path}.image", image,
                                           "must not have leading or trailing whitespace"))
    policy = container.get("terminationMessagePolicy")
    if not policy:
        causes.append(errors.required(f"{path}.terminationMessagePolicy"))
    elif policy not in _MESSAGE_POLICIES:
        causes.append(_not_supported(f"{path}.terminationMessagePolicy", policy,
                                     _MESSAGE_POLICIES))
    pull = container.get("imagePullPolicy")
    if not pull:
        causes.append(errors.required(f"{path}.imagePullPolicy"))
    elif pull not in _PULL_POLICIES:
        causes.append(_not_supported(f"{path}.imagePullPolicy", pull, _PULL_POLICIES))
    return causes


def validate_ephemeral_containers(spec: Mapping[str, Any], path: str = "spec") -> list[Cause]:
    """Field errors of ``spec.ephemeralContainers`` (upstream ``validateEphemeralContainers``;
    ``path`` is the pod spec's field path). Expects defaulted containers, as upstream's
    validation runs after defaulting."""
    items = spec.get("ephemeralContainers")
    if not items:
        return []
    lpath = f"{path}.ephemeralContainers"
    if not isinstance(items, list):
        return [errors.invalid_value(lpath, str(items), "must be a list")]
    others = set(_names(spec, "containers")) | set(_names(spec, "initContainers"))
    seen = set(others)
    causes: list[Cause] = []
    for i, item in enumerate(items):
        cpath = f"{lpath}[{i}]"
        if not isinstance(item, Mapping):
            causes.append(errors.invalid_value(cpath, str(item), "must be an object"))
            continue
        causes += _common(item, cpath)
        name = str(item.get("name") or "")
        if name in seen:
            causes.append(errors.field_cause("FieldValueDuplicate", f"{cpath}.name",
                                             f'Duplicate value: "{name}"'))
        else:
            seen.add(name)
        target = item.get("targetContainerName")
        if target and target not in others:
            causes.append(errors.field_cause("FieldValueNotFound", f"{cpath}.targetContainerName",
                                             f'Not found: "{target}"'))
        for key in _FIELD_ORDER:
            if key not in ALLOWED_FIELDS and _is_set(item.get(key)):
                causes.append(errors.forbidden_field(f"{cpath}.{key}", _FORBIDDEN_TEXT))
        mounts = item.get("volumeMounts")
        for j, mount in enumerate(mounts if isinstance(mounts, list) else []):
            for key in ("subPath", "subPathExpr"):
                if _m(mount).get(key):
                    causes.append(errors.forbidden_field(
                        f"{cpath}.volumeMounts[{j}].{key}", _FORBIDDEN_TEXT))
    return causes


def keep_ephemeral_containers_only(new: dict[str, Any], old: Mapping[str, Any]) -> None:
    """Make ``new`` the stored pod ``old`` with only ``new``'s ephemeral containers
    (upstream ``dropNonEphemeralContainerUpdates``: spec and status from the stored pod,
    metadata reset by ``ResetObjectMetaForStatus``, which keeps none of the body's labels,
    annotations, finalizers or owners)."""
    ephemeral = _m(new.get("spec")).get("ephemeralContainers")
    for key in list(new):
        if key not in ("kind", "apiVersion"):
            del new[key]
    for key, value in old.items():
        if key not in ("kind", "apiVersion"):
            new[key] = _copy(value)
    spec = new.get("spec")
    if not isinstance(spec, dict):
        spec = new["spec"] = {}
    if ephemeral:
        spec["ephemeralContainers"] = ephemeral
    else:
        spec.pop("ephemeralContainers", None)


def _copy(value: Any) -> Any:
    """A copy of a JSON value deep enough that changing ``new`` never changes ``old``."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def ephemeral_changes(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """Forbidden removals and changes of ``old``'s ephemeral containers in ``new``, by name
    (a patch may reorder the list), with upstream's messages."""
    path = "spec.ephemeralContainers"
    by_name = {str(_m(c).get("name")): _m(c)
               for c in _m(new.get("spec")).get("ephemeralContainers") or []
               if isinstance(c, Mapping)}
    causes: list[Cause] = []
    for previous in _m(old.get("spec")).get("ephemeralContainers") or []:
        name = str(_m(previous).get("name"))
        current = by_name.get(name)
        if current is None:
            causes.append(errors.forbidden_field(
                path, f'existing ephemeral containers "{name}" may not be removed\n'))
        elif dict(current) != dict(_m(previous)):
            changed = sorted(k for k in set(current) | set(_m(previous))
                             if current.get(k) != _m(previous).get(k))
            causes.append(errors.forbidden_field(
                path, f'existing ephemeral containers "{name}" may not be changed\n'
                      f"changed fields: {', '.join(changed)}"))
    return causes
