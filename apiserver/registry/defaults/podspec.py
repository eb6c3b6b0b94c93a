"""Defaults of PodSpec and everything inside it (``pkg/apis/core/v1`` ``SetDefaults_*``).

:func:`default_pod_spec` is what every pod template gets (Deployment, Job, PodTemplate …);
:func:`default_pod` adds what upstream applies to Pod objects only (``SetDefaults_Pod``;
admission's pod mutations are in :mod:`apiserver.admission`). The tables below are the
reviewable part: one per Go type, split by whether the Go field is a pointer (``fill``:
unset means missing/null) or a plain value (``fill_zero``: ``""``/``0`` count as unset too).

Hot path: pod creates run through here, so each function touches only the keys it
defaults, walks each list once, and copies nothing it does not set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apiserver.registry.defaults.fields import Obj, child, each, ensure, fill, fill_zero

# --- tables ------------------------------------------------------------------------

#: PodSpec plain fields.
POD_SPEC_ZERO = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "schedulerName": "default-scheduler",
}
#: PodSpec pointer fields.
POD_SPEC = {
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
}
#: Container plain fields (``imagePullPolicy`` depends on the image; see below).
CONTAINER_ZERO = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
}
#: ``resources`` is a plain struct in Go: it is always serialised, as ``{}`` when empty.
CONTAINER: dict[str, Any] = {"resources": {}}
#: Probe: all plain integers, so an explicit 0 is replaced as upstream does.
PROBE_ZERO = {
    "timeoutSeconds": 1,
    "periodSeconds": 10,
    "successThreshold": 1,
    "failureThreshold": 3,
}
HTTP_GET_ZERO = {"path": "/", "scheme": "HTTP"}
#: ``GRPCAction.service`` is a pointer serialised without omitempty (``+default=""``).
GRPC = {"service": ""}
CONTAINER_PORT_ZERO = {"protocol": "TCP"}
FIELD_REF_ZERO = {"apiVersion": "v1"}
#: 0644: secret, configMap, downwardAPI and projected volumes.
DEFAULT_MODE = {"defaultMode": 420}
SA_TOKEN_PROJECTION = {"expirationSeconds": 3600}
PVC_SPEC = {"volumeMode": "Filesystem"}

#: Volume sources shared by Pod volumes and PersistentVolumes, by source key:
#: (pointer-field table, plain-field table). Values come from ``+default`` markers.
SOURCE_DEFAULTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "hostPath": ({"type": ""}, {}),
    "iscsi": ({}, {"iscsiInterface": "default"}),
    "rbd": ({}, {"pool": "rbd", "user": "admin", "keyring": "/etc/ceph/keyring"}),
    "azureDisk": (
        {"cachingMode": "ReadWrite", "fsType": "ext4", "readOnly": False, "kind": "Shared"},
        {},
    ),
    "scaleIO": ({}, {"storageMode": "ThinProvisioned", "fsType": "xfs"}),
}

_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_CONTAINER_GROUPS = ("initContainers", "containers", "ephemeralContainers")
#: SetDefaults_Pod (requests from limits, host ports) covers these, not ephemeral ones.
_POD_ONLY_GROUPS = ("initContainers", "containers")


# --- leaf types ----------------------------------------------------------------------

def image_pull_policy(image: Any) -> str:
    """``Always`` when ``image``'s tag is ``latest`` (or it has neither tag nor digest).

    An image that cannot be parsed (empty, not a string) has no tag: ``IfNotPresent``.
    """
    if not isinstance(image, str) or not image:
        return "IfNotPresent"
    name, at, _digest = image.partition("@")
    tail = name.rsplit("/", 1)[-1]
    # No tag: ``latest`` unless a digest pins the image.
    untagged = "" if at else "latest"
    tag = tail.rsplit(":", 1)[1] if ":" in tail else untagged
    return "Always" if tag == "latest" else "IfNotPresent"


def default_handler(handler: Obj) -> None:
    """A probe's or lifecycle hook's action: ``httpGet`` path and scheme, ``grpc`` service."""
    http_get = child(handler, "httpGet")
    if http_get is not None:
        fill_zero(http_get, HTTP_GET_ZERO)
    grpc = child(handler, "grpc")
    if grpc is not None:
        fill(grpc, GRPC)


def default_probe(probe: Obj) -> None:
    """SetDefaults_Probe plus its handler."""
    fill_zero(probe, PROBE_ZERO)
    default_handler(probe)


def default_field_ref(holder: Obj) -> None:
    """``fieldRef.apiVersion`` v1 on an env ``valueFrom`` or a downwardAPI item."""
    ref = child(holder, "fieldRef")
    if ref is not None:
        fill_zero(ref, FIELD_REF_ZERO)


def default_container(container: Obj) -> None:
    """SetDefaults_Container and the defaults of the types a container holds."""
    if container.get("imagePullPolicy") in (None, ""):
        container["imagePullPolicy"] = image_pull_policy(container.get("image"))
    fill_zero(container, CONTAINER_ZERO)
    fill(container, CONTAINER)
    for port in each(container, "ports"):
        fill_zero(port, CONTAINER_PORT_ZERO)
    for env in each(container, "env"):
        value_from = child(env, "valueFrom")
        if value_from is not None:
            default_field_ref(value_from)
    for name in _PROBES:
        probe = child(container, name)
        if probe is not None:
            default_probe(probe)
    lifecycle = child(container, "lifecycle")
    if lifecycle is not None:
        for hook in ("postStart", "preStop"):
            handler = child(lifecycle, hook)
            if handler is not None:
                default_handler(handler)


# --- volumes ---------------------------------------------------------------------------

def default_sources(holder: Obj) -> None:
    """Volume-source defaults shared by Pod volumes and PersistentVolume specs."""
    for key, (pointer_fields, plain_fields) in SOURCE_DEFAULTS.items():
        source = child(holder, key)
        if source is not None:
            fill(source, pointer_fields)
            fill_zero(source, plain_fields)


def default_pvc_spec(spec: Obj) -> None:
    """SetDefaults_PersistentVolumeClaimSpec."""
    fill(spec, PVC_SPEC)


def default_pvc(claim: Obj) -> None:
    """SetDefaults_PersistentVolumeClaim (also run on StatefulSet claim templates)."""
    spec = child(claim, "spec")
    if spec is not None:
        default_pvc_spec(spec)
    status = ensure(claim, "status")
    if status is not None:
        fill_zero(status, {"phase": "Pending"})


def _default_projected(projected: Obj) -> None:
    fill(projected, DEFAULT_MODE)
    for source in each(projected, "sources"):
        downward = child(source, "downwardAPI")
        if downward is not None:
            for item in each(downward, "items"):
                default_field_ref(item)
        token = child(source, "serviceAccountToken")
        if token is not None:
            fill(token, SA_TOKEN_PROJECTION)


def default_volume(volume: Obj) -> None:
    """SetDefaults_Volume (no source → emptyDir) and its source's defaults."""
    if all(value is None for key, value in volume.items() if key != "name"):
        volume["emptyDir"] = {}
        return
    for key in ("secret", "configMap"):
        source = child(volume, key)
        if source is not None:
            fill(source, DEFAULT_MODE)
    downward = child(volume, "downwardAPI")
    if downward is not None:
        fill(downward, DEFAULT_MODE)
        for item in each(downward, "items"):
            default_field_ref(item)
    projected = child(volume, "projected")
    if projected is not None:
        _default_projected(projected)
    default_sources(volume)
    template = child(child(volume, "ephemeral") or {}, "volumeClaimTemplate")
    spec = child(template, "spec") if template is not None else None
    if spec is not None:
        default_pvc_spec(spec)


# --- PodSpec and Pod -------------------------------------------------------------------

def default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and every nested default: what pod templates get."""
    fill_zero(spec, POD_SPEC_ZERO)
    fill(spec, POD_SPEC)
    # v1 conversion, not a default: the deprecated ``serviceAccount`` names the account
    # when ``serviceAccountName`` is empty, and is always written back as a mirror of it.
    name = spec.get("serviceAccountName")
    deprecated = spec.get("serviceAccount")
    if not name and isinstance(deprecated, str) and deprecated:
        name = spec["serviceAccountName"] = deprecated
    if isinstance(name, str) and name:
        spec["serviceAccount"] = name
    for group in _CONTAINER_GROUPS:
        for container in each(spec, group):
            default_container(container)
    for volume in each(spec, "volumes"):
        default_volume(volume)


def _requests_from_limits(container: Obj) -> None:
    resources = child(container, "resources")
    limits = child(resources, "limits") if resources is not None else None
    if not limits or resources is None:
        return
    requests = resources.get("requests")
    if requests is None:
        resources["requests"] = dict(limits)
    elif isinstance(requests, dict):
        for key, value in limits.items():
            requests.setdefault(key, value)


def _host_ports(container: Obj) -> None:
    for port in each(container, "ports"):
        number = port.get("containerPort")
        if isinstance(number, int) and number and port.get("hostPort") in (None, 0):
            port["hostPort"] = number


def default_pod(pod: Obj) -> None:
    """Defaults of a Pod object: PodSpec defaults plus SetDefaults_Pod.

    Pod-only (upstream keeps these out of templates): each missing ``requests`` entry
    copied from ``limits``, ``enableServiceLinks`` true, and with ``hostNetwork`` every
    unset ``hostPort`` set to its ``containerPort``. (The default tolerations and service
    account are admission's: :mod:`apiserver.admission`.)
    """
    spec = child(pod, "spec")
    if spec is None:
        return
    default_pod_spec(spec)
    host_network = spec.get("hostNetwork") is True
    for group in _POD_ONLY_GROUPS:
        for container in each(spec, group):
            _requests_from_limits(container)
            if host_network:
                _host_ports(container)
    fill(spec, {"enableServiceLinks": True})


def default_template(holder: Obj) -> None:
    """PodSpec defaults on ``holder["template"]["spec"]`` (a PodTemplateSpec field)."""
    template = child(holder, "template")
    spec = child(template, "spec") if template is not None else None
    if spec is not None:
        default_pod_spec(spec)


#: Kind defaulters of this module, by (group, version, kind).
DEFAULTERS: dict[tuple[str, str, str], Callable[[Obj], None]] = {
    ("", "v1", "Pod"): default_pod,
}
