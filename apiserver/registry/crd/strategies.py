"""The write strategies of CustomResourceDefinitions and of the custom resources.

:class:`CustomResourceDefinitionStrategy` — upstream's CRD defaults (singular, listKind,
``conversion.strategy: None``), the initial status, the ``customresourcecleanup``
finalizer on create, and the validation that keeps a CRD servable (name, group, names,
scope, exactly one storage version, structural schema at the root), with upstream's
field paths and messages.

:class:`CustomResourceStrategy` — a custom resource is pruned, defaulted and validated
against its version's structural schema (:mod:`.structural`); generation moves on any
change but metadata (and status, with a status subresource); a PUT needs a
resourceVersion (upstream's ``AllowUnconditionalUpdate`` is false for them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from apiserver.api import errors, meta
from apiserver.api.resources import ResourceInfo
from apiserver.registry.admissionregistration import (
    client_config_causes,
    review_versions_causes,
)
from apiserver.registry.crd.cel_rules import compile_error, rule_causes, rule_nodes, rules_in
from apiserver.registry.crd.definition import CLEANUP_FINALIZER, versions
from apiserver.registry.crd.schema_checks import schema_causes
from apiserver.registry.crd.structural import apply_defaults, prune, validate
from apiserver.registry.strategy import Cause, Strategy
from apiserver.registry.table_strategy import TableStrategy

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_SCOPES = ("Cluster", "Namespaced")


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class CustomResourceDefinitionStrategy(TableStrategy):
    """Defaults, status and validation of ``customresourcedefinitions``."""

    any_qualified_finalizer = True

    def default(self, obj: dict[str, Any]) -> None:
        """Upstream's ``SetDefaults_CustomResourceDefinition*``."""
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        names = spec.get("names")
        if isinstance(names, dict):
            kind = str(names.get("kind") or "")
            names.setdefault("singular", kind.lower())
            names.setdefault("listKind", f"{kind}List" if kind else "")
        conversion = spec.setdefault("conversion", {"strategy": "None"})
        if isinstance(conversion, dict):
            conversion.setdefault("strategy", "None")
        for version in spec.get("versions") or []:
            if isinstance(version, dict):
                for column in version.get("additionalPrinterColumns") or []:
                    if isinstance(column, dict):
                        column.setdefault("priority", 0)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        """Reset status, set generation and add the cleanup finalizer."""
        super().prepare_for_create(obj)
        md = meta.metadata(obj)
        finalizers = list(md.get("finalizers") or [])
        if CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CLEANUP_FINALIZER)
        md["finalizers"] = finalizers

    def initial_status(self, obj: dict[str, Any]) -> None:
        """Nothing accepted yet, nothing stored yet."""
        obj["status"] = {"conditions": [], "acceptedNames": {"plural": "", "kind": ""},
                         "storedVersions": []}

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        """Field errors of a CRD (a subset of upstream's ``ValidateCustomResourceDefinition``)."""
        return _validate_crd(obj)


def _validate_crd(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    spec = _m(obj.get("spec"))
    names = _m(spec.get("names"))
    group = str(spec.get("group") or "")
    plural = str(names.get("plural") or "")
    name = str(_m(obj.get("metadata")).get("name") or "")
    if name != f"{plural}.{group}":
        causes.append(errors.invalid_value("metadata.name", name,
                                           'must be spec.names.plural+"."+spec.group'))
    if not group:
        causes.append(errors.field_cause("FieldValueRequired", "spec.group", "Required value"))
    elif "." not in group:
        causes.append(errors.invalid_value("spec.group", group,
                                           "should be a domain with at least one dot"))
    scope = spec.get("scope")
    if scope not in _SCOPES:
        causes.append(errors.field_cause(
            "FieldValueNotSupported", "spec.scope",
            f'Unsupported value: "{scope or ""}": supported values: "Cluster", "Namespaced"'))
    for field, value in (("plural", plural), ("singular", names.get("singular")),
                         ("kind", names.get("kind")), ("listKind", names.get("listKind"))):
        path = f"spec.names.{field}"
        if not value:
            if field in ("plural", "kind", "listKind"):
                causes.append(errors.field_cause("FieldValueRequired", path, "Required value"))
            continue
        if field in ("plural", "singular") and not _DNS1035.match(str(value)):
            causes.append(errors.invalid_value(
                path, value, "a lowercase RFC 1123 label must consist of lower case "
                "alphanumeric characters or '-', and must start and end with an alphanumeric "
                "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"))
    causes += _validate_versions(spec)
    causes += _validate_conversion(_m(spec.get("conversion")))
    return causes


def _validate_conversion(conversion: Mapping[str, Any]) -> list[Cause]:
    """``ValidateCustomResourceConversion`` (v1): a webhook exactly when the strategy is
    ``Webhook``, with a valid ``clientConfig`` and ``conversionReviewVersions``."""
    strategy = conversion.get("strategy")
    path = "spec.conversion"
    if strategy not in ("None", "Webhook"):
        return [errors.field_cause(
            "FieldValueNotSupported", f"{path}.strategy",
            f'Unsupported value: "{strategy or ""}": supported values: "None", "Webhook"')]
    webhook = conversion.get("webhook")
    if strategy == "None":
        if webhook is not None:
            return [errors.field_cause(
                "FieldValueForbidden", f"{path}.webhook",
                "Forbidden: should not be set when strategy is not set to Webhook")]
        return []
    if not isinstance(webhook, Mapping):
        return [errors.field_cause("FieldValueRequired", f"{path}.webhook",
                                   "Required value: required when strategy is set to Webhook")]
    if webhook.get("clientConfig") is None:
        return [errors.field_cause(
            "FieldValueRequired", f"{path}.webhook.clientConfig",
            "Required value: required when strategy is set to Webhook")]
    return (client_config_causes(f"{path}.webhook.clientConfig", webhook["clientConfig"])
            + review_versions_causes(f"{path}.webhook.conversionReviewVersions",
                                     webhook.get("conversionReviewVersions")))


def _validate_versions(spec: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    raw = spec.get("versions")
    if not isinstance(raw, list) or not raw:
        return [errors.invalid_value("spec.versions", raw if raw is not None else "null",
                                     "must have exactly one version marked as storage version")]
    storage = sum(1 for v in raw if _m(v).get("storage") is True)
    if storage != 1:
        causes.append(errors.invalid_value(
            "spec.versions", "", "must have exactly one version marked as storage version"))
    seen: set[str] = set()
    for index, version in enumerate(raw):
        version = _m(version)
        base = f"spec.versions[{index}]"
        vname = str(version.get("name") or "")
        if not vname:
            causes.append(errors.field_cause("FieldValueRequired", f"{base}.name",
                                             "Required value"))
        elif vname in seen:
            causes.append(errors.field_cause("FieldValueDuplicate", f"{base}.name",
                                             f'Duplicate value: "{vname}"'))
        seen.add(vname)
        schema = _m(version.get("schema")).get("openAPIV3Schema")
        path = f"{base}.schema.openAPIV3Schema"
        if not isinstance(schema, Mapping):
            causes.append(errors.field_cause("FieldValueRequired", path,
                                             "Required value: schemas are required"))
            continue
        causes += _structural_causes(schema, path) or schema_causes(schema, path)
        for rule_path, rule in rules_in(schema, path):
            problem = compile_error(rule)
            if problem is not None:
                causes.append(errors.invalid_value(rule_path, rule,
                                                   f"compilation failed: {problem}"))
    return causes


def _structural_causes(schema: Mapping[str, Any], path: str) -> list[Cause]:
    """The structural-schema errors upstream reports first: a type at every level."""
    causes: list[Cause] = []
    if not schema.get("type") and schema.get("x-kubernetes-preserve-unknown-fields") is not True:
        causes.append(errors.field_cause("FieldValueRequired", f"{path}.type",
                                         "Required value: must not be empty at the root"))
    work: list[tuple[Mapping[str, Any], str]] = [(schema, path)]
    while work:
        node, where = work.pop()
        for key, sub in _m(node.get("properties")).items():
            sub = _m(sub)
            sub_path = f"{where}.properties[{key}]"
            if not sub.get("type") and not (
                    sub.get("x-kubernetes-preserve-unknown-fields") is True
                    or sub.get("x-kubernetes-int-or-string") is True):
                causes.append(errors.field_cause(
                    "FieldValueRequired", f"{sub_path}.type",
                    "Required value: must not be empty for specified object fields"))
            work.append((sub, sub_path))
        items = node.get("items")
        if isinstance(items, Mapping):
            work.append((items, f"{where}.items"))
    return causes


class CustomResourceStrategy(Strategy):
    """Writes of one custom resource version (see the module docstring)."""

    allow_unconditional_update = False
    tracks_generation = True
    any_qualified_finalizer = True

    def __init__(self, info: ResourceInfo, schema: Mapping[str, Any]) -> None:
        self.info = info
        self.schema = schema
        #: The schema nodes the CEL rules need visited (none: no rule at all).
        self.rule_nodes = rule_nodes(schema)
        self.has_status_subresource = info.subresource("status") is not None
        #: The apiVersion writes are prepared in: the storage version's with
        #: ``conversion.strategy: None``, the version's own when a webhook converts (the
        #: store converts just before storing).
        self.stored_api_version = info.storage_api_version or info.api_version

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        """Prune; status is dropped when it is a subresource; generation 1."""
        prune(obj, self.schema)
        obj["apiVersion"] = self.stored_api_version
        super().prepare_for_create(obj)

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Prune; keep status (subresource); bump generation on any other change."""
        prune(new, self.schema)
        new["apiVersion"] = self.stored_api_version
        if self.has_status_subresource:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        ignored = ("metadata", "status") if self.has_status_subresource else ("metadata",)
        changed = any(new.get(k) != old.get(k) for k in {*new, *old} if k not in ignored)
        generation = meta.metadata(old).get("generation", 1)
        meta.metadata(new)["generation"] = generation + 1 if changed else generation

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Prune, then only status (and labels/annotations) change."""
        prune(new, self.schema)
        new["apiVersion"] = self.stored_api_version
        super().prepare_for_status_update(new, old)

    def default(self, obj: dict[str, Any]) -> None:
        """The schema's defaults."""
        apply_defaults(obj, self.schema)

    def redecode(self, obj: dict[str, Any]) -> None:
        """A webhook's patch is pruned as a request body is."""
        prune(obj, self.schema)

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        """The schema's field errors, then its CEL rules' (only when the schema holds)."""
        return validate(obj, self.schema) or self._rule_causes(obj, None)

    def _rule_causes(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
        if not self.rule_nodes:
            return []
        return rule_causes(obj, old, self.schema, self.rule_nodes)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        """As :meth:`validate`, with transition rules (``oldSelf``) against ``old``."""
        return validate(new, self.schema) or self._rule_causes(new, old)

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        """The schema's field errors and rules of the whole object."""
        return self.validate_update(new, old)


def served_versions(crd: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The versions of ``crd`` with ``served: true``, in priority order."""
    return [v for v in versions(crd) if v.get("served") is True]
