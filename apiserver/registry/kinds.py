"""Hand-written strategies of the first kinds: Namespaces, Pods, Nodes, Services, Endpoints.

Their write-policy flags are overwritten from :mod:`apiserver.registry.kinds_table` when the
registry builds them; other kinds use :class:`~apiserver.registry.table_strategy.TableStrategy`
or one of its per-family subclasses. Pod spec checks live in :mod:`apiserver.registry.podspec`.
"""

from __future__ import annotations

from typing import Any

from apiserver.api import errors, meta
from apiserver.registry.ephemeral import (
    CREATE_CAUSE,
    ephemeral_changes,
    keep_ephemeral_containers_only,
    validate_ephemeral_containers,
)
from apiserver.registry.podspec import validate_pod_spec
from apiserver.registry.service.strategy import ServiceStrategy as ServiceStrategy
from apiserver.registry.strategy import Cause, Strategy

NAMESPACE_FINALIZER = "kubernetes"
#: The annotation of a static pod's mirror (``kubernetes.io/config.mirror``).
_MIRROR_POD = "kubernetes.io/config.mirror"


class NamespaceStrategy(Strategy):
    """Namespaces: DNS-1123 label names, phase, the ``kubernetes`` finalizer."""

    has_status_subresource = True

    def name_errors(self, name: str) -> list[str]:
        return meta.dns1123_label_errors(name)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = {}
        finalizers = list(spec.get("finalizers") or [])
        if NAMESPACE_FINALIZER not in finalizers:
            finalizers.append(NAMESPACE_FINALIZER)
        spec["finalizers"] = finalizers
        obj["spec"] = spec

    def initial_status(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"phase": "Active"}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        # spec.finalizers only change through /finalize.
        if "spec" in old:
            new["spec"] = old["spec"]

    def prepare_for_finalize(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """``/finalize`` changes only ``spec.finalizers``."""
        finalizers = (new.get("spec") or {}).get("finalizers") or []
        status = old.get("status")
        new.clear()
        new.update(old)
        new["spec"] = {**(old.get("spec") or {}), "finalizers": finalizers}
        if status is not None:
            new["status"] = status

    def on_delete(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        # The immortal namespaces are admission's (NamespaceLifecycle).
        md = obj["metadata"]
        if md.get("deletionTimestamp"):
            return obj
        obj["status"] = {**(obj.get("status") or {}), "phase": "Terminating"}
        return obj


class PodStrategy(Strategy):
    """Pods: defaults, the status and ephemeralcontainers subresources, generation,
    graceful deletion."""

    has_status_subresource = True
    tracks_generation = True
    defaulted_subresources = frozenset({"ephemeralcontainers"})

    def initial_status(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"phase": "Pending", "qosClass": _qos_class(obj)}

    def after_admission(self, obj: dict[str, Any]) -> None:
        # LimitRanger may have given containers requests and limits.
        status = obj.get("status")
        if isinstance(status, dict):
            status["qosClass"] = _qos_class(obj)

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        """A new pod: its spec, and no ephemeral containers (upstream ``ValidatePodCreate``:
        they are only added through ``pods/ephemeralcontainers``)."""
        causes = self._validate_spec(obj)
        if (obj.get("spec") or {}).get("ephemeralContainers"):
            causes.append(CREATE_CAUSE)
        return causes

    def _validate_spec(self, obj: dict[str, Any]) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [errors.required("spec")]
        return validate_pod_spec(spec, "spec") + validate_ephemeral_containers(spec)

    def prepare_for_subresource_update(self, subresource: str, new: dict[str, Any],
                                       old: dict[str, Any]) -> None:
        if subresource != "ephemeralcontainers":
            super().prepare_for_subresource_update(subresource, new, old)
            return
        keep_ephemeral_containers_only(new, old)
        generation = meta.metadata(old).get("generation", 1)
        if new.get("spec") != old.get("spec"):  # upstream updatePodGeneration
            generation += 1
        meta.metadata(new)["generation"] = generation

    def validate_subresource_update(self, subresource: str, new: dict[str, Any],
                                    old: dict[str, Any]) -> list[Cause]:
        if subresource == "binding":
            return []  # upstream's binding writes the pod to storage unvalidated
        if subresource != "ephemeralcontainers":
            return super().validate_subresource_update(subresource, new, old)
        # Upstream ValidatePodEphemeralContainersUpdate: the whole new pod, then the
        # changes to the ephemeral containers already there.
        if _MIRROR_POD in (meta.metadata(old).get("annotations") or {}):
            return [errors.forbidden_field("", "static pods do not support ephemeral "
                                               "containers")]
        return self._validate_spec(new) + ephemeral_changes(new, old)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        # spec.ephemeralContainers is compared with the rest of the spec below: the main
        # resource may not change it (upstream's "pod updates may not change fields …").
        causes = self._validate_spec(new)
        if _mutable_pod_spec(new.get("spec")) != _mutable_pod_spec(old.get("spec")):
            causes.append(errors.forbidden_field(
                "spec",
                "pod updates may not change fields other than `spec.containers[*].image`,"
                "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                "`spec.tolerations` (only additions to existing tolerations),"
                "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                "previously negative)"))
        return causes

    def grace_period(self, obj: dict[str, Any], requested: int | None) -> int:
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(requested, 0)
        grace = spec.get("terminationGracePeriodSeconds")
        return int(grace) if isinstance(grace, int) and grace >= 0 else 30


class NodeStrategy(Strategy):
    """Nodes: cluster-scoped; status may be set on create, kept on main-resource updates."""

    has_status_subresource = True

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        # Upstream: "Nodes allow *all* fields, including status, to be set on create."
        obj.setdefault("spec", {})
        if not isinstance(obj.get("status"), dict):
            obj["status"] = {}

    def default(self, obj: dict[str, Any]) -> None:
        """Status defaults; ``spec.podCIDRs``/``spec.podCIDR`` filled from each other.

        Upstream's v1↔internal NodeSpec conversion does the latter: an empty ``podCIDRs``
        becomes ``[podCIDR]``, and ``podCIDR`` is always ``podCIDRs[0]``.
        """
        spec = obj.get("spec")
        if isinstance(spec, dict):
            cidrs = spec.get("podCIDRs")
            if not cidrs and spec.get("podCIDR"):
                spec["podCIDRs"] = [spec["podCIDR"]]
            elif isinstance(cidrs, list) and cidrs and not spec.get("podCIDR"):
                spec["podCIDR"] = cidrs[0]
        status = obj.get("status")
        if isinstance(status, dict):
            if isinstance(status.get("capacity"), dict) and "allocatable" not in status:
                status["allocatable"] = dict(status["capacity"])
            status.setdefault("daemonEndpoints", {"kubeletEndpoint": {"Port": 0}})
            status.setdefault("nodeInfo", {
                "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "",
                "osImage": "", "containerRuntimeVersion": "", "kubeletVersion": "",
                "kubeProxyVersion": "", "operatingSystem": "", "architecture": "",
            })

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        causes: list[Cause] = []
        spec = obj.get("spec") or {}
        for i, cidr in enumerate(spec.get("podCIDRs") or []):
            if not _is_cidr(cidr):
                causes.append(errors.invalid_value(f"spec.podCIDRs[{i}]", cidr,
                                                   "must be a valid CIDR value, "
                                                   "(e.g. 10.9.8.0/24 or 2001:db8::/64)"))
        return causes


def bind_pod(pod: dict[str, Any], binding: dict[str, Any], now: str) -> dict[str, Any]:
    """Upstream ``BindingREST``: assign ``pod`` to the node named by ``binding``.

    Raises 409 when the pod is already bound, 400/422 on a malformed binding.
    """
    from apiserver.api.resources import PODS

    md = pod["metadata"]
    name = md.get("name", "")
    target = binding.get("target")
    if not isinstance(target, dict) or not target.get("name"):
        raise errors.invalid(PODS, name, [errors.required("target.name")])
    kind = target.get("kind") or ""
    if kind not in ("", "Node"):
        raise errors.invalid(PODS, name, [errors.field_cause(
            "FieldValueNotSupported", "target.kind",
            f'Unsupported value: "{kind}": supported values: "Node", ""')])
    node = str(target["name"])
    if md.get("deletionTimestamp"):
        raise errors.internal(f"pod {name} is being deleted, cannot be assigned to a host")
    spec = pod.setdefault("spec", {})
    if spec.get("nodeName"):
        raise errors.conflict(
            PODS, name, f'pod {name} is already assigned to node "{spec["nodeName"]}"')
    spec["nodeName"] = node
    extra = (binding.get("metadata") or {}).get("annotations")
    if isinstance(extra, dict) and extra:
        md["annotations"] = {**(md.get("annotations") or {}), **extra}
    status = pod.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or []
                  if isinstance(c, dict) and c.get("type") != "PodScheduled"]
    conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                       "lastTransitionTime": now})
    status["conditions"] = conditions
    return pod


def _is_cidr(value: Any) -> bool:
    import ipaddress

    try:
        ipaddress.ip_network(str(value), strict=True)
    except ValueError:
        return False
    return "/" in str(value)


class EndpointsStrategy(Strategy):
    """Endpoints: their subsets' addresses and ports (write flags: the kinds table)."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        from apiserver.registry.core_more import validate_endpoints

        return validate_endpoints(obj)


class EndpointSliceStrategy(Strategy):
    """EndpointSlices (discovery.k8s.io/v1): address type, endpoints and ports (write flags:
    the kinds table)."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        from apiserver.registry.core_more import validate_endpoint_slice

        return validate_endpoint_slice(obj)


def _qos_class(obj: dict[str, Any]) -> str:
    containers = (obj.get("spec") or {}).get("containers") or []
    requests = any(
        (c.get("resources") or {}).get("requests") or (c.get("resources") or {}).get("limits")
        for c in containers
        if isinstance(c, dict)
    )
    return "Burstable" if requests else "BestEffort"


def _mutable_pod_spec(spec: Any) -> Any:
    """The pod spec with the fields upstream lets an update change blanked out."""
    if not isinstance(spec, dict):
        return spec
    out = dict(spec)
    for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds",
                "nodeName", "schedulingGates"):
        out.pop(key, None)
    for group in ("containers", "initContainers"):
        if isinstance(out.get(group), list):
            out[group] = [
                {k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c
                for c in out[group]
            ]
    return out

