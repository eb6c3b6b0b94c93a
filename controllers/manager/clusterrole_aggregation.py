"""The clusterrole-aggregation controller: rules of aggregated ClusterRoles.

As kube-controller-manager's ``clusterrole-aggregation`` controller
(``pkg/controller/clusterroleaggregation``): a ClusterRole with an ``aggregationRule``
gets, as its ``rules``, the rules of every other ClusterRole its selectors match — per
selector, the matching roles by name, each rule once, in order of first appearance.
Any ClusterRole change re-queues every aggregated role (a label or rule change anywhere
may change any of them). The write replaces ``rules`` with an update of the cached
object (upstream's update path; a conflict retries through the queue).
"""

from __future__ import annotations

from typing import Any

from apiserver.api.labels import SelectorError, selector_from_label_selector_object
from apiserver.api.resources import served
from controllers.client.store import Store
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController

__all__ = ["CLUSTERROLE_AGGREGATION", "ClusterRoleAggregationController", "aggregated_rules"]

CLUSTERROLES = served("rbac.authorization.k8s.io", "v1", "clusterroles")


def aggregated_rules(role: dict[str, Any], roles: list[dict[str, Any]]) -> list[Any]:
    """The rules ``role``'s aggregationRule gathers from ``roles`` (raises SelectorError)."""
    name = role["metadata"].get("name")
    rules: list[Any] = []
    selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    ordered = sorted(roles, key=lambda r: str(r["metadata"].get("name", "")))
    for selector_obj in selectors:
        selector = selector_from_label_selector_object(selector_obj)
        for other in ordered:
            if other["metadata"].get("name") == name:
                continue
            if not selector.matches(other["metadata"].get("labels") or {}):
                continue
            for rule in other.get("rules") or ():
                if rule not in rules:
                    rules.append(rule)
    return rules


class ClusterRoleAggregationController(KeyedController):
    """Keeps aggregated ClusterRoles' rules equal to what their selectors gather."""

    name = "clusterrole-aggregation"

    def __init__(self, roles: Store, writer: Any) -> None:
        super().__init__()
        self.roles = roles
        self.writer = writer

    def enqueue_all(self, *_objs: Any) -> None:
        """Any ClusterRole event: every aggregated ClusterRole may change."""
        for role in self.roles.list():
            if role.get("aggregationRule") is not None:
                self.queue.add(str(role["metadata"].get("name", "")))

    async def sync(self, key: str) -> None:
        role = self.roles.get(None, key)
        if role is None or role.get("aggregationRule") is None:
            return
        try:
            rules = aggregated_rules(role, list(self.roles.list()))
        except SelectorError:
            return  # an invalid selector never matches (validation refuses it anyway)
        if rules == (role.get("rules") or []):
            return
        updated = {**role, "rules": rules}
        await self.writer.update(CLUSTERROLES, None, updated)
        self.metrics.writes += 1


def _build(ctx: ControllerContext) -> KeyedController:
    informer = ctx.informers.informer_for(CLUSTERROLES)
    controller = ClusterRoleAggregationController(informer.store, ctx.writer)
    informer.add_event_handler(controller.enqueue_all, controller.enqueue_all,
                               controller.enqueue_all)
    return controller


CLUSTERROLE_AGGREGATION = ControllerSpec("clusterrole-aggregation", _build,
                                         lambda _args: 1)
