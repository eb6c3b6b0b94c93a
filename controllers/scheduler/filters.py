"""kube-scheduler's filter plugins, in the default profile's order.

NodeUnschedulable → TaintToleration → NodeAffinity → NodePorts → NodeResourcesFit →
VolumeBinding (the node affinity of the pod's bound volumes) → PodTopologySpread →
InterPodAffinity. As upstream's framework, a node's verdict is the
first failing plugin's :class:`Status`, which may carry several reasons (NodeResourcesFit
lists every insufficient resource). The last two need every node's pods: their PreFilter
state is computed once per cycle in :meth:`PodInfo.of` (:mod:`.topologyspread`,
:mod:`.podaffinity`).

Each status has upstream's code: ``UNRESOLVABLE`` (``UnschedulableAndUnresolvable``:
evicting pods cannot help — unschedulable node, taint, affinity) or ``UNSCHEDULABLE``
(ports, resources: preemption could free them). The code decides which nodes
preemption considers (:mod:`controllers.scheduler.preemption`).

Not implemented, on purpose: VolumeBinding and the other volume plugins (kubemu has no
volume provisioner).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from apiserver.api.taints import tolerated
from controllers.scheduler import hostports, nodeaffinity, podaffinity, topologyspread
from controllers.scheduler.nodeinfo import NodeInfo
from controllers.scheduler.resources import Resources, insufficient_resources, pod_resource_request

__all__ = [
    "FILTERS",
    "Code",
    "PodInfo",
    "Status",
    "node_ready",
    "priority",
    "run_filters",
    "run_filters_with_nominated",
]

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
UNSCHEDULABLE_REASON = "node(s) were unschedulable"


class Code(Enum):
    """Upstream's rejecting status codes."""

    UNSCHEDULABLE = "Unschedulable"
    UNRESOLVABLE = "UnschedulableAndUnresolvable"


@dataclass(frozen=True)
class Status:
    """Why a node was rejected: a code and one or more reasons."""

    code: Code
    reasons: tuple[str, ...]

    @classmethod
    def of(cls, code: Code, *reasons: str) -> Status:
        """A status with ``reasons``."""
        return cls(code, reasons)


@dataclass(frozen=True)
class PodInfo:
    """The pod and what the PreFilter step derives from it once per scheduling cycle."""

    pod: Mapping[str, Any]
    request: Resources
    host_ports: list[hostports.HostPort]
    #: The namespaces' labels (for pod affinity's ``namespaceSelector``).
    namespaces: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    spread: topologyspread.SpreadState | None = None
    affinity: podaffinity.AffinityState | None = None
    #: The ``nodeAffinity.required`` of the volumes bound to the pod's claims.
    volume_affinity: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def of(cls, pod: Mapping[str, Any], nodes: Sequence[NodeInfo] = (),
           namespaces: Mapping[str, Mapping[str, str]] | None = None) -> PodInfo:
        """Compute the pod's requests and host ports, and the spreading and pod affinity
        counts over ``nodes`` (all of them, with their pods)."""
        namespaces = namespaces or {}
        spread = topologyspread.prefilter(
            pod, ((n.node, n.pods) for n in nodes),
            lambda node: nodeaffinity.required_matches(pod, node),
            lambda node: _untolerated(pod, node) is None)
        affinity = podaffinity.prefilter(
            pod, ((_labels(n.node), n.pods, n.anti_affinity_pods) for n in nodes), namespaces)
        return cls(pod, pod_resource_request(pod), hostports.pod_host_ports(pod), namespaces,
                   spread, affinity)

    def recount(self, nodes: Sequence[NodeInfo]) -> PodInfo:
        """This pod's PreFilter state over ``nodes`` changed by a what-if (pods removed by
        preemption, nominated pods added): upstream's ``RemovePod``/``AddPod`` PreFilter
        extensions. Only spreading and pod affinity count other pods; without them the
        state is unchanged and ``self`` is returned."""
        if self.spread is None and self.affinity is None:
            return self
        return replace(PodInfo.of(self.pod, nodes, self.namespaces),
                       volume_affinity=self.volume_affinity)


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def node_ready(node: Mapping[str, Any]) -> bool | None:
    """The Ready condition: True, False, or None when unknown/absent."""
    for cond in _m(node.get("status")).get("conditions") or []:
        if _m(cond).get("type") == "Ready":
            status = _m(cond).get("status")
            return True if status == "True" else False if status == "False" else None
    return None


def _tolerates(pod: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    return tolerated(_m(pod.get("spec")).get("tolerations") or [], taint)


def _taints(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    taints = [_m(t) for t in _m(node.get("spec")).get("taints") or []]
    ready = node_ready(node)
    keys = {t.get("key") for t in taints}
    # What the node lifecycle controller would add for a node that is not Ready.
    if ready is False and NOT_READY_TAINT not in keys:
        taints.append({"key": NOT_READY_TAINT, "effect": "NoSchedule"})
    elif ready is None and UNREACHABLE_TAINT not in keys:
        taints.append({"key": UNREACHABLE_TAINT, "effect": "NoSchedule"})
    return taints


def node_unschedulable(pod: PodInfo, node: NodeInfo) -> Status | None:
    """NodeUnschedulable: a cordoned node, unless the pod tolerates its taint."""
    if _m(node.node.get("spec")).get("unschedulable") is True and not _tolerates(
        pod.pod, {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}
    ):
        return Status.of(Code.UNRESOLVABLE, UNSCHEDULABLE_REASON)
    return None


def _untolerated(pod: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The node's first ``NoSchedule``/``NoExecute`` taint ``pod`` does not tolerate."""
    for taint in _taints(node):
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(pod, taint):
            return taint
    return None


def _labels(node: Mapping[str, Any]) -> Mapping[str, str]:
    return _m(_m(node.get("metadata")).get("labels"))


def taint_toleration(pod: PodInfo, node: NodeInfo) -> Status | None:
    """TaintToleration: the first untolerated ``NoSchedule``/``NoExecute`` taint."""
    taint = _untolerated(pod.pod, node.node)
    if taint is None:
        return None
    return Status.of(Code.UNRESOLVABLE, f"node(s) had untolerated taint "
                     f"{{{taint.get('key', '')}: {taint.get('value') or ''}}}")


def node_affinity(pod: PodInfo, node: NodeInfo) -> Status | None:
    """NodeAffinity: ``nodeSelector`` and the required node affinity."""
    if nodeaffinity.required_matches(pod.pod, node.node):
        return None
    return Status.of(Code.UNRESOLVABLE, nodeaffinity.MISMATCH_REASON)


def node_ports(pod: PodInfo, node: NodeInfo) -> Status | None:
    """NodePorts: every wanted host port is free on the node."""
    if not pod.host_ports or node.used_ports.fits(pod.host_ports):
        return None
    return Status.of(Code.UNSCHEDULABLE, hostports.REASON)


def node_resources_fit(pod: PodInfo, node: NodeInfo) -> Status | None:
    """NodeResourcesFit: a pod slot and room for every requested resource."""
    reasons = insufficient_resources(pod.request, node.allocatable, node.requested,
                                     len(node.pods))
    return Status(Code.UNSCHEDULABLE, tuple(reasons)) if reasons else None


def _verdict(found: tuple[str, bool] | None) -> Status | None:
    if found is None:
        return None
    reason, resolvable = found
    return Status.of(Code.UNSCHEDULABLE if resolvable else Code.UNRESOLVABLE, reason)


VOLUME_CONFLICT_REASON = "node(s) had volume node affinity conflict"


def volume_binding(pod: PodInfo, node: NodeInfo) -> Status | None:
    """VolumeBinding: the node is one every bound volume of the pod may be used on."""
    if all(nodeaffinity.selector_matches(s, node.node) for s in pod.volume_affinity):
        return None
    return Status.of(Code.UNRESOLVABLE, VOLUME_CONFLICT_REASON)


def pod_topology_spread(pod: PodInfo, node: NodeInfo) -> Status | None:
    """PodTopologySpread: the pod's ``DoNotSchedule`` constraints."""
    return _verdict(topologyspread.check(pod.spread, _labels(node.node)))


def inter_pod_affinity(pod: PodInfo, node: NodeInfo) -> Status | None:
    """InterPodAffinity: required pod affinity and anti-affinity, both ways."""
    return _verdict(podaffinity.check(pod.affinity, _labels(node.node)))


#: The filter plugins in the order of upstream's default profile.
FILTERS: tuple[Callable[[PodInfo, NodeInfo], Status | None], ...] = (
    node_unschedulable, taint_toleration, node_affinity, node_ports, node_resources_fit,
    volume_binding, pod_topology_spread, inter_pod_affinity,
)


def run_filters(pod: PodInfo, node: NodeInfo) -> Status | None:
    """The first failing filter's status, or ``None`` when the node fits."""
    for plugin in FILTERS:
        status = plugin(pod, node)
        if status is not None:
            return status
    return None


def run_filters_with_nominated(pod: PodInfo, node: NodeInfo, nodes: Sequence[NodeInfo],
                               nominated: Sequence[Mapping[str, Any]] = ()) -> Status | None:
    """Upstream ``RunFilterPluginsWithNominatedPods``: the filters with the ``nominated``
    pods (unbound pods nominated to ``node`` by an earlier preemption) of at least the
    pod's priority counted on the node first, so that a lower or equal pod does not take
    the room their preemption freed; then, if they passed, without them (pod affinity may
    hold only thanks to a nominated pod, which may never come).

    ``nodes`` are all the nodes as this what-if sees them (``node`` among them), for the
    PreFilter state; ``nominated`` must not hold the pod itself."""
    wanted = priority(pod.pod)
    ahead = [p for p in nominated if priority(p) >= wanted]
    if ahead:
        with_them = NodeInfo(node.node, [*node.pods, *ahead])
        status = run_filters(pod.recount([with_them if n is node else n for n in nodes]),
                             with_them)
        if status is not None:
            return status
    return run_filters(pod, node)


def priority(pod: Mapping[str, Any]) -> int:
    """``spec.priority`` (0 when unset, as upstream's ``PodPriority``)."""
    value = _m(pod.get("spec")).get("priority")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
