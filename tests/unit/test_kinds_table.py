"""The kinds table drives every resource's write policy (status, generation, PUT rules)."""

from __future__ import annotations

from typing import Any

from apiserver.api.resources import RESOURCES
from apiserver.registry.kinds_table import KIND_SPECS, has_status_subresource
from apiserver.registry.registry import strategy_for


def _info(group: str, plural: str) -> Any:
    return next(i for i in RESOURCES if i.group == group and i.plural == plural)


def test_every_table_row_names_a_served_resource() -> None:
    served = {(i.group, i.plural) for i in RESOURCES}
    assert set(KIND_SPECS) <= served


def test_status_subresource_follows_the_resource_table() -> None:
    for info in RESOURCES:
        assert strategy_for(info).has_status_subresource == has_status_subresource(info)
    assert strategy_for(_info("apps", "deployments")).has_status_subresource
    assert not strategy_for(_info("", "configmaps")).has_status_subresource


def test_upstream_write_policies() -> None:
    deploy = strategy_for(_info("apps", "deployments"))
    assert deploy.tracks_generation and deploy.allow_create_on_update
    job = strategy_for(_info("batch", "jobs"))
    assert job.tracks_generation and not job.allow_create_on_update
    assert not strategy_for(_info("", "configmaps")).allow_create_on_update
    lease = strategy_for(_info("coordination.k8s.io", "leases"))
    assert lease.allow_create_on_update and not lease.allow_unconditional_update
    assert strategy_for(_info("", "endpoints")).allow_create_on_update
    assert not strategy_for(_info("discovery.k8s.io", "endpointslices")).allow_create_on_update
    assert strategy_for(_info("", "pods")).tracks_generation
    assert not strategy_for(_info("", "services")).tracks_generation


def test_strategies_are_not_shared_between_resources() -> None:
    a = strategy_for(_info("", "configmaps"))
    b = strategy_for(_info("", "configmaps"))
    assert a is not b


def test_deployment_status_reset_and_generation() -> None:
    s = strategy_for(_info("apps", "deployments"))
    obj: dict[str, Any] = {"metadata": {"name": "d"}, "spec": {"replicas": 1},
                           "status": {"replicas": 9}}
    s.prepare_for_create(obj)
    assert "status" not in obj and obj["metadata"]["generation"] == 1
    old = {"metadata": {"name": "d", "generation": 1}, "spec": {"replicas": 1},
           "status": {"replicas": 1}}
    new = {"metadata": {"name": "d"}, "spec": {"replicas": 2}, "status": {"replicas": 7}}
    s.prepare_for_update(new, old)
    assert new["status"] == {"replicas": 1} and new["metadata"]["generation"] == 2
    same = {"metadata": {"name": "d"}, "spec": {"replicas": 1}}
    s.prepare_for_update(same, old)
    assert same["metadata"]["generation"] == 1


def test_podtemplate_generation_follows_template() -> None:
    s = strategy_for(_info("", "podtemplates"))
    old = {"metadata": {"name": "t", "generation": 3}, "template": {"a": 1}}
    new = {"metadata": {"name": "t"}, "template": {"a": 2}}
    s.prepare_for_update(new, old)
    assert new["metadata"]["generation"] == 4

