"""Per-node scheduling state (upstream ``framework.NodeInfo`` in the scheduler cache).

A :class:`NodeInfo` is a node plus the pods bound to it that still hold resources: every
pod with ``spec.nodeName`` set that is not terminal (``Succeeded``/``Failed``; upstream's
scheduler does not even watch those), including pods being deleted, which keep their
resources until they are gone; plus the pods this scheduler has just bound but whose
binding its informer has not shown yet ("assumed" pods, as upstream's cache assumes
them). From those pods it keeps the summed requests, the host ports in use and which
pods have required anti-affinity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from controllers.scheduler.hostports import HostPort, HostPortInfo, pod_host_ports
from controllers.scheduler.resources import Resources, node_allocatable, pod_resource_request

__all__ = ["TERMINAL_PHASES", "NodeInfo", "holds_resources", "snapshot"]

TERMINAL_PHASES = ("Succeeded", "Failed")


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def holds_resources(pod: Mapping[str, Any]) -> bool:
    """Bound to a node and not terminal."""
    return bool(_m(pod.get("spec")).get("nodeName")) and (
        _m(pod.get("status")).get("phase") not in TERMINAL_PHASES)


@dataclass(frozen=True, slots=True)
class _Use:
    """What a pod takes from its node: the node ("" when it holds nothing), its
    requests and its host ports; and whether it has required pod anti-affinity."""

    node: str
    requests: Resources
    ports: tuple[HostPort, ...]
    anti_affinity: bool


#: :class:`_Use` by ``(uid, resourceVersion)``. Every scheduling cycle accounts every
#: bound pod; deriving it each time would make scheduling N pods cost O(N²) quantity
#: parses. Any change to the pod (bound, finished, resized) is a new resourceVersion.
_USES: dict[tuple[str, str], _Use] = {}
_USES_MAX = 65536


def _derive(pod: Mapping[str, Any]) -> _Use:
    node = str(_m(pod.get("spec")).get("nodeName") or "") if holds_resources(pod) else ""
    anti = _m(_m(_m(pod.get("spec")).get("affinity")).get("podAntiAffinity"))
    return _Use(node, pod_resource_request(pod), tuple(pod_host_ports(pod)),
                bool(anti.get("requiredDuringSchedulingIgnoredDuringExecution")))


def _use(pod: Mapping[str, Any]) -> _Use:
    meta = _m(pod.get("metadata"))
    uid, version = meta.get("uid"), meta.get("resourceVersion")
    if not uid or not version:
        return _derive(pod)
    key = (str(uid), str(version))
    use = _USES.get(key)
    if use is None:
        if len(_USES) >= _USES_MAX:
            _USES.clear()
        use = _USES[key] = _derive(pod)
    return use


@dataclass
class NodeInfo:
    """One node and the pods that use it."""

    node: Mapping[str, Any]
    pods: list[Mapping[str, Any]] = field(default_factory=list)
    allocatable: Resources = field(init=False)
    #: The summed requests of :attr:`pods`.
    requested: Resources = field(init=False)
    used_ports: HostPortInfo = field(init=False)
    #: The pods of :attr:`pods` with required pod anti-affinity (upstream's
    #: ``PodsWithRequiredAntiAffinity``): every scheduling cycle checks them.
    anti_affinity_pods: list[Mapping[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.allocatable = node_allocatable(self.node)
        self.requested = Resources()
        self.used_ports = HostPortInfo()
        self.anti_affinity_pods = []
        pods, self.pods = self.pods, []
        for pod in pods:
            self.add_pod(pod)

    @property
    def name(self) -> str:
        """``metadata.name`` of the node."""
        return str(_m(self.node.get("metadata")).get("name") or "")

    def add_pod(self, pod: Mapping[str, Any]) -> None:
        """Account ``pod`` to this node (its requests, its host ports, one pod slot)."""
        use = _use(pod)
        self.pods.append(pod)
        if use.anti_affinity:
            self.anti_affinity_pods.append(pod)
        self.requested.add(use.requests)
        for ip, protocol, port in use.ports:
            self.used_ports.add(ip, protocol, port)

    def without(self, removed: Iterable[Mapping[str, Any]]) -> NodeInfo:
        """A copy without the ``removed`` pods (compared by identity), for preemption's
        what-if."""
        gone = {id(p) for p in removed}
        return NodeInfo(self.node, [p for p in self.pods if id(p) not in gone])


def snapshot(nodes: Iterable[Mapping[str, Any]], pods: Iterable[Mapping[str, Any]],
             assumed: Iterable[tuple[Mapping[str, Any], str]] = ()) -> list[NodeInfo]:
    """The :class:`NodeInfo` of every node, sorted by name.

    ``pods`` is every pod the scheduler knows; ``assumed`` holds ``(pod, node name)`` for
    pods bound by us that ``pods`` may still show unbound. Pods on nodes that do not exist
    are ignored.
    """
    infos = {info.name: info for info in (NodeInfo(n) for n in nodes)}
    for pod in pods:
        info = infos.get(_use(pod).node)
        if info is not None:
            info.add_pod(pod)
    for pod, node_name in assumed:
        info = infos.get(node_name)
        if info is not None:
            info.add_pod(pod)
    return [infos[name] for name in sorted(infos)]
