"""The scheduler's filter plugins one by one: NodeResourcesFit, NodeAffinity, NodePorts."""

from __future__ import annotations

from typing import Any

import pytest

from controllers.scheduler.filters import (
    Code,
    PodInfo,
    node_affinity,
    node_ports,
    node_resources_fit,
    run_filters,
)
from controllers.scheduler.hostports import REASON as PORTS_REASON
from controllers.scheduler.hostports import HostPortInfo
from controllers.scheduler.nodeaffinity import (
    MISMATCH_REASON,
    preferred_score,
    required_matches,
    required_node_names,
)
from controllers.scheduler.nodeinfo import NodeInfo, snapshot
from controllers.scheduler.resources import Resources, pod_resource_request


def node(name: str = "n1", labels: dict[str, str] | None = None, **allocatable: str
         ) -> dict[str, Any]:
    alloc = {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "100Gi", "pods": "110"}
    alloc.update({k.replace("_", "-"): v for k, v in allocatable.items()})
    return {"metadata": {"name": name, "labels": labels or {}},
            "status": {"allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def container(requests: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": "c", "resources": {"requests": requests or {}}, **extra}


def pod(*containers: dict[str, Any], node_name: str = "", phase: str = "Pending",
        **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": list(containers) or [container()], **spec}
    if node_name:
        body["nodeName"] = node_name
    return {"metadata": {"name": "p", "namespace": "d"}, "spec": body,
            "status": {"phase": phase}}


# -- NodeResourcesFit ---------------------------------------------------------------------


def test_pod_requests_take_init_containers_sidecars_and_overhead_as_upstream() -> None:
    req = pod_resource_request(pod(
        container({"cpu": "2", "memory": "1G"}), container({"cpu": "1", "memory": "1G"}),
        initContainers=[container({"cpu": "2", "memory": "1G"}),
                        container({"cpu": "2", "memory": "3G"})]))
    # Upstream's computePodResourceRequest example: CPU 3, memory 3G.
    assert (req.milli_cpu, req.memory) == (3000, 3 * 10**9)
    sidecar = pod_resource_request(pod(
        container({"cpu": "500m"}),
        initContainers=[container({"cpu": "1"}, restartPolicy="Always"),
                        container({"cpu": "2500m"})],
        overhead={"cpu": "250m", "memory": "64Mi"}))
    # max(500m + 1 (sidecar), 1 + 2500m (init after the sidecar)) + 250m overhead.
    assert (sidecar.milli_cpu, sidecar.memory) == (3750, 64 * 2**20)
    scalar = pod_resource_request(pod(container(
        {"example.com/gpu": "2", "hugepages-2Mi": "4Mi", "storage": "1Gi", "cpu": "0.1m"})))
    assert scalar.scalar == {"example.com/gpu": 2, "hugepages-2Mi": 4 * 2**20}
    assert scalar.milli_cpu == 1  # rounded up, as MilliValue()


def test_resources_fit_lists_every_insufficient_resource() -> None:
    info = NodeInfo(node(**{"example.com/gpu": "1"}))
    big = PodInfo.of(pod(container({"cpu": "64", "memory": "1Ti", "ephemeral-storage": "1Ti",
                                    "example.com/gpu": "2", "other.io/x": "1"})))
    status = node_resources_fit(big, info)
    assert status is not None and status.code is Code.UNSCHEDULABLE
    assert status.reasons == ("Insufficient cpu", "Insufficient memory",
                              "Insufficient ephemeral-storage", "Insufficient example.com/gpu",
                              "Insufficient other.io/x")
    assert node_resources_fit(PodInfo.of(pod(container({"cpu": "2"}))), info) is None


def test_resources_fit_counts_non_terminal_pods_bound_to_the_node() -> None:
    bound = [pod(container({"cpu": "1500m"}), node_name="n1"),
             pod(container({"cpu": "1"}), node_name="n1", phase="Succeeded"),
             pod(container({"cpu": "1"}), node_name="n1", phase="Failed"),
             pod(container({"cpu": "2"}), node_name="other")]
    [info] = snapshot([node()], bound)
    assert info.requested.milli_cpu == 1500 and len(info.pods) == 1
    fits, too_big = PodInfo.of(pod(container({"cpu": "500m"}))), PodInfo.of(
        pod(container({"cpu": "501m"})))
    assert node_resources_fit(fits, info) is None
    status = node_resources_fit(too_big, info)
    assert status is not None and status.reasons == ("Insufficient cpu",)
    # A pod without requests fits an overcommitted node, but needs a pod slot.
    assert node_resources_fit(PodInfo.of(pod()), info) is None
    [full] = snapshot([node(pods="1")], bound)
    status = node_resources_fit(PodInfo.of(pod()), full)
    assert status is not None and status.reasons == ("Too many pods",)


def test_a_node_without_allocatable_offers_no_pod_slot() -> None:
    bare = NodeInfo({"metadata": {"name": "bare"}})
    assert bare.allocatable == Resources()
    status = node_resources_fit(PodInfo.of(pod()), bare)
    assert status is not None and status.reasons == ("Too many pods",)


# -- NodeAffinity -------------------------------------------------------------------------


def affinity(*terms: dict[str, Any], preferred: list[dict[str, Any]] | None = None
             ) -> dict[str, Any]:
    node_aff: dict[str, Any] = {}
    if terms:
        node_aff["requiredDuringSchedulingIgnoredDuringExecution"] = {
            "nodeSelectorTerms": list(terms)}
    if preferred is not None:
        node_aff["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    return {"nodeAffinity": node_aff}


def expr(key: str, op: str, *values: str) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "operator": op}
    if values:
        out["values"] = list(values)
    return out


@pytest.mark.parametrize(("requirement", "matches"), [
    (expr("zone", "In", "a", "b"), True),
    (expr("zone", "In", "b"), False),
    (expr("missing", "In", "a"), False),
    (expr("zone", "NotIn", "b"), True),
    (expr("zone", "NotIn", "a"), False),
    (expr("missing", "NotIn", "a"), True),
    (expr("zone", "Exists"), True),
    (expr("missing", "Exists"), False),
    (expr("missing", "DoesNotExist"), True),
    (expr("zone", "DoesNotExist"), False),
    (expr("cores", "Gt", "4"), True),
    (expr("cores", "Gt", "8"), False),
    (expr("cores", "Lt", "9"), True),
    (expr("zone", "Gt", "1"), False),  # not an integer label: no match
    (expr("cores", "Gt", "x"), False),  # unparseable requirement: the term is dropped
    (expr("zone", "Exists", "a"), False),
    (expr("zone", "Near", "a"), False),
])
def test_match_expressions(requirement: dict[str, Any], matches: bool) -> None:
    n = node(labels={"zone": "a", "cores": "8"})
    p = pod(affinity=affinity({"matchExpressions": [requirement]}))
    assert required_matches(p, n) is matches


def test_terms_are_ored_requirements_anded_and_empty_terms_match_nothing() -> None:
    n = node(labels={"zone": "a", "disk": "ssd"})
    anded = {"matchExpressions": [expr("zone", "In", "a"), expr("disk", "In", "hdd")]}
    assert not required_matches(pod(affinity=affinity(anded)), n)
    ored = affinity(anded, {"matchExpressions": [expr("disk", "In", "ssd")]})
    assert required_matches(pod(affinity=ored), n)
    assert not required_matches(pod(affinity=affinity({})), n)
    # A broken term does not stop another term from matching.
    broken = affinity({"matchExpressions": [expr("zone", "Bogus")]},
                      {"matchExpressions": [expr("zone", "Exists")]})
    assert required_matches(pod(affinity=broken), n)
    # An empty list of terms selects nothing; no required affinity selects everything.
    empty = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": []}}}
    assert not required_matches(pod(affinity=empty), n)
    assert required_matches(pod(affinity=affinity(preferred=[])), n)


def test_match_fields_on_the_node_name() -> None:
    n1, n2 = node("n1"), node("n2")
    pinned = pod(affinity=affinity({"matchFields": [expr("metadata.name", "In", "n1")]}))
    assert required_matches(pinned, n1) and not required_matches(pinned, n2)
    assert required_node_names(pinned) == {"n1"}
    not_n1 = pod(affinity=affinity({"matchFields": [expr("metadata.name", "NotIn", "n1")]}))
    assert not required_matches(not_n1, n1) and required_matches(not_n1, n2)
    assert required_node_names(not_n1) is None  # only "In" narrows the candidates
    two_values = pod(affinity=affinity({"matchFields": [
        expr("metadata.name", "In", "n1", "n2")]}))
    assert not required_matches(two_values, n1)  # field selectors take one value


def test_prefilter_node_names() -> None:
    def names(*terms: dict[str, Any]) -> set[str] | None:
        return required_node_names(pod(affinity=affinity(*terms)))

    by_name = {"matchFields": [expr("metadata.name", "In", "a", "b")]}
    assert names(by_name) == {"a", "b"}
    assert names(by_name, {"matchFields": [expr("metadata.name", "In", "c")]}) == {"a", "b", "c"}
    assert names({"matchFields": [expr("metadata.name", "In", "a", "b"),
                                  expr("metadata.name", "In", "b", "c")]}) == {"b"}
    assert names({"matchFields": [expr("metadata.name", "In", "a"),
                                  expr("metadata.name", "In", "b")]}) == set()
    assert names(by_name, {"matchExpressions": [expr("zone", "Exists")]}) is None
    assert required_node_names(pod()) is None


def test_node_selector_and_required_affinity_share_one_reason() -> None:
    n = node(labels={"disk": "ssd", "zone": "a"})
    both = pod(nodeSelector={"disk": "ssd"},
               affinity=affinity({"matchExpressions": [expr("zone", "In", "b")]}))
    status = node_affinity(PodInfo.of(both), NodeInfo(n))
    assert status is not None and status.code is Code.UNRESOLVABLE
    assert status.reasons == (MISMATCH_REASON,)
    selector_only = pod(nodeSelector={"disk": "hdd"})
    status = node_affinity(PodInfo.of(selector_only), NodeInfo(n))
    assert status is not None and status.reasons == (MISMATCH_REASON,)
    fine = pod(nodeSelector={"disk": "ssd"},
               affinity=affinity({"matchExpressions": [expr("zone", "In", "a")]}))
    assert node_affinity(PodInfo.of(fine), NodeInfo(n)) is None


def test_preferred_terms_score_the_summed_weights() -> None:
    n = node(labels={"zone": "a", "disk": "ssd"})
    p = pod(affinity=affinity(preferred=[
        {"weight": 10, "preference": {"matchExpressions": [expr("zone", "In", "a")]}},
        {"weight": 5, "preference": {"matchExpressions": [expr("disk", "In", "ssd")]}},
        {"weight": 7, "preference": {"matchExpressions": [expr("disk", "In", "hdd")]}},
        {"weight": 9, "preference": {}},
    ]))
    assert preferred_score(p, n) == 15
    assert preferred_score(pod(), n) == 0


# -- NodePorts ----------------------------------------------------------------------------


def ports(*entries: dict[str, Any]) -> dict[str, Any]:
    return container(ports=list(entries))


@pytest.mark.parametrize(("used", "wanted", "conflict"), [
    ({"hostPort": 80}, {"hostPort": 80}, True),
    ({"hostPort": 80}, {"hostPort": 81}, False),
    ({"hostPort": 80}, {"hostPort": 80, "protocol": "UDP"}, False),
    ({"hostPort": 80, "protocol": "TCP"}, {"hostPort": 80}, True),  # TCP is the default
    ({"hostPort": 80, "hostIP": "127.0.0.1"}, {"hostPort": 80, "hostIP": "127.0.0.2"}, False),
    ({"hostPort": 80, "hostIP": "127.0.0.1"}, {"hostPort": 80, "hostIP": "127.0.0.1"}, True),
    # 0.0.0.0 (or no hostIP) on either side conflicts with any IP.
    ({"hostPort": 80}, {"hostPort": 80, "hostIP": "127.0.0.2"}, True),
    ({"hostPort": 80, "hostIP": "127.0.0.1"}, {"hostPort": 80, "hostIP": "0.0.0.0"}, True),
    ({"hostPort": 80, "hostIP": "127.0.0.1"}, {"hostPort": 80}, True),
    # Only host ports count.
    ({"containerPort": 80}, {"containerPort": 80}, False),
])
def test_host_port_conflicts(used: dict[str, Any], wanted: dict[str, Any],
                             conflict: bool) -> None:
    bound = pod(ports({"containerPort": 1, **used}), node_name="n1")
    [info] = snapshot([node()], [bound])
    status = node_ports(PodInfo.of(pod(ports({"containerPort": 1, **wanted}))), info)
    assert (status is not None) is conflict
    if status is not None:
        assert status.code is Code.UNSCHEDULABLE and status.reasons == (PORTS_REASON,)


def test_host_port_info_ignores_non_positive_ports() -> None:
    info = HostPortInfo()
    info.add("", "", 0)
    assert not info.conflicts("", "", 0) and info.fits([("", "", 8080)])


def test_filters_stop_at_the_first_failing_plugin() -> None:
    # Both the selector and the resources fail: NodeAffinity runs first.
    p = PodInfo.of(pod(container({"cpu": "64"}), nodeSelector={"disk": "ssd"}))
    status = run_filters(p, NodeInfo(node()))
    assert status is not None and status.reasons == (MISMATCH_REASON,)
    # Ports before resources.
    bound = pod(ports({"containerPort": 1, "hostPort": 80}), node_name="n1")
    [info] = snapshot([node()], [bound])
    both = PodInfo.of(pod(ports({"containerPort": 1, "hostPort": 80}),
                          container({"cpu": "64"})))
    status = run_filters(both, info)
    assert status is not None and status.reasons == (PORTS_REASON,)


def test_accounting_follows_each_new_resource_version_of_a_pod() -> None:
    running = pod(container({"cpu": "1"}), node_name="n1", phase="Running")
    running["metadata"] |= {"uid": "u1", "resourceVersion": "7"}
    [info] = snapshot([node()], [running])
    assert info.requested.milli_cpu == 1000 and len(info.pods) == 1
    finished = running | {"status": {"phase": "Succeeded"},
                          "metadata": running["metadata"] | {"resourceVersion": "8"}}
    [info] = snapshot([node()], [finished])
    assert info.requested.milli_cpu == 0 and not info.pods
