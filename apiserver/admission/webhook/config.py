"""Webhook configurations as the dispatchers use them (upstream ``configuration`` package).

Contract: :class:`ConfigurationSource` reads the Mutating- or
ValidatingWebhookConfigurations from the apiserver's own watch cache (through the
admission :class:`~apiserver.admission.attributes.ObjectSource`), so every change is seen
by the next request; parsing is redone only when a configuration's resourceVersion
changes. :meth:`ConfigurationSource.webhooks` lists every webhook of every
configuration, configurations sorted by name and webhooks in their written order (as
upstream), each a :class:`Webhook` with upstream's defaults filled in where a stored
configuration lacks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apiserver.admission.attributes import ObjectSource
from apiserver.api.resources import ResourceInfo, served
from apiserver.webhook import ClientConfig

MUTATING = served("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations")
VALIDATING = served("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")
DEFAULT_TIMEOUT = 10
MAX_TIMEOUT = 30


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``RuleWithOperations``."""

    operations: tuple[str, ...]
    groups: tuple[str, ...]
    versions: tuple[str, ...]
    resources: tuple[str, ...]
    scope: str


@dataclass(frozen=True, slots=True)
class Webhook:
    """One webhook of a configuration (``uid`` names it uniquely across configurations)."""

    uid: str
    configuration: str
    name: str
    client: ClientConfig
    rules: tuple[Rule, ...]
    failure_policy: str
    match_policy: str
    namespace_selector: Mapping[str, Any]
    object_selector: Mapping[str, Any]
    match_conditions: tuple[tuple[str, str], ...]
    side_effects: str
    timeout: int
    review_versions: tuple[str, ...]
    reinvoke: bool

    @property
    def ignore_failures(self) -> bool:
        return self.failure_policy == "Ignore"


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def parse_webhook(configuration: str, index: int, raw: Mapping[str, Any]) -> Webhook:
    """A stored webhook, defaulted as upstream's ``SetDefaults_*Webhook``."""
    rules = tuple(
        Rule(_strings(_m(r).get("operations")), _strings(_m(r).get("apiGroups")),
             _strings(_m(r).get("apiVersions")), _strings(_m(r).get("resources")),
             str(_m(r).get("scope") or "*"))
        for r in raw.get("rules") or [])
    timeout = raw.get("timeoutSeconds")
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
        timeout = DEFAULT_TIMEOUT
    conditions = tuple((str(_m(c).get("name") or ""), str(_m(c).get("expression") or ""))
                       for c in raw.get("matchConditions") or [])
    ns_selector = raw.get("namespaceSelector")
    obj_selector = raw.get("objectSelector")
    return Webhook(
        uid=f"{configuration}/{raw.get('name')}/{index}",
        configuration=configuration,
        name=str(raw.get("name") or ""),
        client=ClientConfig.parse(raw.get("clientConfig")),
        rules=rules,
        failure_policy=str(raw.get("failurePolicy") or "Fail"),
        match_policy=str(raw.get("matchPolicy") or "Equivalent"),
        namespace_selector=ns_selector if isinstance(ns_selector, Mapping) else {},
        object_selector=obj_selector if isinstance(obj_selector, Mapping) else {},
        match_conditions=conditions,
        side_effects=str(raw.get("sideEffects") or ""),
        timeout=min(timeout, MAX_TIMEOUT),
        review_versions=_strings(raw.get("admissionReviewVersions")),
        reinvoke=raw.get("reinvocationPolicy") == "IfNeeded",
    )


class ConfigurationSource:
    """The webhooks of one kind of configuration; see the module docstring."""

    def __init__(self, source: ObjectSource, info: ResourceInfo) -> None:
        self.source = source
        self.info = info
        self._key: tuple[tuple[str, str], ...] = ()
        self._webhooks: tuple[Webhook, ...] = ()

    def webhooks(self) -> tuple[Webhook, ...]:
        configs = sorted(self.source.cached_list(self.info, ""),
                         key=lambda c: str(_m(c.get("metadata")).get("name")))
        key = tuple((str(_m(c.get("metadata")).get("name")),
                     str(_m(c.get("metadata")).get("resourceVersion"))) for c in configs)
        if key != self._key:
            hooks: list[Webhook] = []
            for config in configs:
                name = str(_m(config.get("metadata")).get("name"))
                hooks += [parse_webhook(name, i, _m(raw))
                          for i, raw in enumerate(config.get("webhooks") or [])]
            self._key, self._webhooks = key, tuple(hooks)
        return self._webhooks
