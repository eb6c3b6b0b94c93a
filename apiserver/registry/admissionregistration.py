"""Webhook configurations, ValidatingAdmissionPolicies and their bindings.

Counterparts of ``ValidateMutatingWebhookConfiguration``,
``ValidateValidatingWebhookConfiguration``, ``ValidateValidatingAdmissionPolicy`` and
``ValidateValidatingAdmissionPolicyBinding`` (``pkg/apis/admissionregistration/validation``)
for admissionregistration.k8s.io/v1, with upstream's field paths and messages. A policy's
CEL expressions are compiled (:mod:`apiserver.registry.policy_expressions`); webhook match
conditions are only required to be non-empty.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from apiserver.api import meta
from apiserver.registry import common as c
from apiserver.registry.policy_expressions import expression_causes
from apiserver.registry.service.fielderrors import duplicate
from apiserver.registry.strategy import Cause
from apiserver.registry.table_strategy import TableStrategy

FAILURE_POLICIES = ("Fail", "Ignore")
MATCH_POLICIES = ("Equivalent", "Exact")
SIDE_EFFECTS = ("None", "NoneOnDryRun")
REINVOCATION_POLICIES = ("IfNeeded", "Never")
REVIEW_VERSIONS = ("v1", "v1beta1")
OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
SCOPES = ("*", "Cluster", "Namespaced")
VALIDATION_ACTIONS = ("Audit", "Deny", "Warn")
REASONS = ("Forbidden", "Invalid", "RequestEntityTooLarge", "Unauthorized")
_PORT_MSG = "must be between 1 and 65535, inclusive"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def fully_qualified_name(path: str, name: Any) -> list[Cause]:
    """``IsFullyQualifiedName``: a DNS-1123 subdomain of at least three segments."""
    if not name:
        return [c.required(path)]
    text = str(name)
    errs = meta.dns1123_subdomain_errors(text)
    if errs:
        return [c.invalid(path, c.go_value(text), e) for e in errs]
    if len(text.split(".")) < 3:
        return [c.invalid(path, c.go_value(text),
                          "should be a domain with at least three segments separated by dots")]
    return []


def _value_in(path: str, value: Any, supported: tuple[str, ...]) -> list[Cause]:
    if value is not None and value not in supported:
        return [c.not_supported(path, value, supported)]
    return []


def _rule(rule: Any, path: str, with_operations: bool) -> list[Cause]:
    """``validateRule``/``validateRuleWithOperations`` on one ``RuleWithOperations``."""
    r = _dict(rule)
    causes: list[Cause] = []
    if with_operations:
        ops = _list(r.get("operations"))
        if not ops:
            causes.append(c.required(f"{path}.operations"))
        elif len(ops) > 1 and "*" in ops:
            causes.append(c.invalid(f"{path}.operations", c.go_list(ops),
                                    "if '*' is present, must not specify other operations"))
        for i, op in enumerate(ops):
            causes += _value_in(f"{path}.operations[{i}]", op, OPERATIONS)
    for key in ("apiGroups", "apiVersions", "resources"):
        values = _list(r.get(key))
        if not values:
            causes.append(c.required(f"{path}.{key}"))
        elif len(values) > 1 and "*" in values:
            causes.append(c.invalid(f"{path}.{key}", c.go_list(values),
                                    f"if '*' is present, must not specify other {key}"))
    causes += _value_in(f"{path}.scope", r.get("scope"), SCOPES)
    return causes


def _url(path: str, url: str) -> list[Cause]:
    """``ValidateWebhookURL`` for an external (not forced-local) webhook."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return [c.invalid(path, c.go_value(url), f"url must be a valid URL: {exc}")]
    causes: list[Cause] = []
    if parts.scheme != "https":
        causes.append(c.invalid(path, c.go_value(parts.scheme),
                                "'https' is the only allowed URL scheme"))
    if not parts.hostname:
        causes.append(c.invalid(path, c.go_value(url), "host must be specified"))
    if parts.username is not None or parts.password is not None:
        causes.append(c.invalid(path, c.go_value(url),
                                "user information is not permitted in the URL"))
    if parts.fragment:
        causes.append(c.invalid(path, c.go_value(url), "fragments are not permitted in the URL"))
    if parts.query:
        causes.append(c.invalid(path, c.go_value(url),
                                "query parameters are not permitted in the URL"))
    return causes


def _service(path: str, svc: dict[str, Any]) -> list[Cause]:
    """``ValidateWebhookService``: name, namespace, path and port."""
    causes: list[Cause] = []
    if not svc.get("name"):
        causes.append(c.required(f"{path}.name", "service name is required"))
    if not svc.get("namespace"):
        causes.append(c.required(f"{path}.namespace", "service namespace is required"))
    port = svc.get("port")
    if port is not None and (not c.is_int(port) or not 1 <= port <= 65535):
        causes.append(c.invalid(f"{path}.port", c.go_value(port),
                                f"port is not valid: {_PORT_MSG}"))
    svc_path = svc.get("path")
    if svc_path and not str(svc_path).startswith("/"):
        causes.append(c.invalid(f"{path}.path", c.go_value(svc_path), "must start with a '/'"))
    return causes


def client_config_causes(path: str, config: Any) -> list[Cause]:
    """``ValidateWebhookClientConfig``: exactly one of url or service, each valid."""
    cfg = _dict(config)
    url, svc = cfg.get("url"), cfg.get("service")
    if (url is None) == (svc is None):
        return [c.required(path, "exactly one of url or service is required")]
    if url is not None:
        return _url(f"{path}.url", str(url))
    return _service(f"{path}.service", _dict(svc))


def review_versions_causes(path: str, versions: Any) -> list[Cause]:
    """``validateAdmissionReviewVersions`` (v1: required, one of v1/v1beta1 present)."""
    items = _list(versions)
    if not items:
        return [c.required(path, f"must specify one of {', '.join(REVIEW_VERSIONS)}")]
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, v in enumerate(items):
        text = str(v)
        causes += [c.invalid(f"{path}[{i}]", c.go_value(text), e)
                   for e in meta.dns1035_label_errors(text)]
        if text in seen:
            causes.append(c.invalid(f"{path}[{i}]", c.go_value(text), "duplicate version"))
        seen.add(text)
    if not seen & set(REVIEW_VERSIONS):
        causes.append(c.invalid(path, c.go_list(items), "must include at least one of "
                                + ", ".join(REVIEW_VERSIONS)))
    return causes


def _match_conditions(path: str, conditions: Any) -> list[Cause]:
    causes: list[Cause] = []
    names: set[str] = set()
    for i, cond in enumerate(_list(conditions)):
        cpath = f"{path}[{i}]"
        cd = _dict(cond)
        name = cd.get("name")
        if not name:
            causes.append(c.required(f"{cpath}.name"))
        elif name in names:
            causes.append(duplicate(f"{cpath}.name", c.go_value(name)))
        else:
            names.add(str(name))
        if not cd.get("expression"):
            causes.append(c.required(f"{cpath}.expression"))
    return causes


def _webhook(hook: Any, path: str, mutating: bool) -> list[Cause]:
    h = _dict(hook)
    causes = fully_qualified_name(f"{path}.name", h.get("name"))
    for i, rule in enumerate(_list(h.get("rules"))):
        causes += _rule(rule, f"{path}.rules[{i}]", with_operations=True)
    causes += _value_in(f"{path}.failurePolicy", h.get("failurePolicy"), FAILURE_POLICIES)
    causes += _value_in(f"{path}.matchPolicy", h.get("matchPolicy"), MATCH_POLICIES)
    side = h.get("sideEffects")
    if side is None:
        causes.append(c.required(f"{path}.sideEffects",
                                 f"must specify one of {', '.join(SIDE_EFFECTS)}"))
    else:
        causes += _value_in(f"{path}.sideEffects", side, SIDE_EFFECTS)
    timeout = h.get("timeoutSeconds")
    if timeout is not None and (not c.is_int(timeout) or not 1 <= timeout <= 30):
        causes.append(c.invalid(f"{path}.timeoutSeconds", c.go_value(timeout),
                                "the timeout value must be between 1 and 30 seconds"))
    causes += c.label_selector(h.get("namespaceSelector"), f"{path}.namespaceSelector")
    causes += c.label_selector(h.get("objectSelector"), f"{path}.objectSelector")
    causes += review_versions_causes(f"{path}.admissionReviewVersions",
                               h.get("admissionReviewVersions"))
    causes += client_config_causes(f"{path}.clientConfig", h.get("clientConfig"))
    if mutating:
        causes += _value_in(f"{path}.reinvocationPolicy", h.get("reinvocationPolicy"),
                            REINVOCATION_POLICIES)
    causes += _match_conditions(f"{path}.matchConditions", h.get("matchConditions"))
    return causes


def validate_webhook_configuration(obj: dict[str, Any], mutating: bool) -> list[Cause]:
    """Every webhook valid, webhook names unique within the configuration."""
    causes: list[Cause] = []
    names: set[str] = set()
    for i, hook in enumerate(_list(obj.get("webhooks"))):
        causes += _webhook(hook, f"webhooks[{i}]", mutating)
        name = _dict(hook).get("name")
        if name:
            if name in names:
                causes.append(duplicate(f"webhooks[{i}].name", c.go_value(name)))
            names.add(str(name))
    return causes


class MutatingWebhookConfigurationStrategy(TableStrategy):
    """admissionregistration.k8s.io/v1 MutatingWebhookConfigurations."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_webhook_configuration(obj, mutating=True)


class ValidatingWebhookConfigurationStrategy(TableStrategy):
    """admissionregistration.k8s.io/v1 ValidatingWebhookConfigurations."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_webhook_configuration(obj, mutating=False)


def _match_resources(path: str, value: Any, require_rules: bool) -> list[Cause]:
    m = _dict(value)
    causes: list[Cause] = []
    rules = _list(m.get("resourceRules"))
    if require_rules and not rules:
        causes.append(c.required(f"{path}.resourceRules"))
    for key in ("resourceRules", "excludeResourceRules"):
        for i, rule in enumerate(_list(m.get(key))):
            causes += _rule(rule, f"{path}.{key}[{i}]", with_operations=True)
    causes += _value_in(f"{path}.matchPolicy", m.get("matchPolicy"), MATCH_POLICIES)
    causes += c.label_selector(m.get("namespaceSelector"), f"{path}.namespaceSelector")
    causes += c.label_selector(m.get("objectSelector"), f"{path}.objectSelector")
    return causes


def validate_policy(obj: dict[str, Any]) -> list[Cause]:
    """``ValidateValidatingAdmissionPolicy`` (expressions: :mod:`.policy_expressions`)."""
    spec = _dict(obj.get("spec"))
    causes: list[Cause] = []
    param_kind = spec.get("paramKind")
    if param_kind is not None:
        pk = _dict(param_kind)
        if not pk.get("apiVersion"):
            causes.append(c.required("spec.paramKind.apiVersion"))
        if not pk.get("kind"):
            causes.append(c.required("spec.paramKind.kind"))
    if spec.get("matchConstraints") is None:
        causes.append(c.required("spec.matchConstraints"))
    else:
        causes += _match_resources("spec.matchConstraints", spec["matchConstraints"], True)
    validations = _list(spec.get("validations"))
    annotations = _list(spec.get("auditAnnotations"))
    if not validations and not annotations:
        causes.append(c.required("spec.validations", "validations or auditAnnotations must "
                                 "contain at least one item"))
    for i, v in enumerate(validations):
        vd = _dict(v)
        if not str(vd.get("expression") or "").strip():
            causes.append(c.required(f"spec.validations[{i}].expression",
                                     "expression is not specified"))
        causes += _value_in(f"spec.validations[{i}].reason", vd.get("reason"), REASONS)
    keys: set[str] = set()
    for i, a in enumerate(annotations):
        ad = _dict(a)
        key = str(ad.get("key") or "")
        if not key:
            causes.append(c.required(f"spec.auditAnnotations[{i}].key"))
        elif key in keys:
            causes.append(duplicate(f"spec.auditAnnotations[{i}].key", c.go_value(key)))
        keys.add(key)
        if not str(ad.get("valueExpression") or "").strip():
            causes.append(c.required(f"spec.auditAnnotations[{i}].valueExpression",
                                     "valueExpression is not specified"))
    causes += _value_in("spec.failurePolicy", spec.get("failurePolicy"), FAILURE_POLICIES)
    causes += _match_conditions("spec.matchConditions", spec.get("matchConditions"))
    causes += expression_causes(spec)
    return causes


class ValidatingAdmissionPolicyStrategy(TableStrategy):
    """admissionregistration.k8s.io/v1 ValidatingAdmissionPolicies."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_policy(obj)


def _param_ref(path: str, value: Any) -> list[Cause]:
    ref = _dict(value)
    causes: list[Cause] = []
    if ref.get("name") and ref.get("selector") is not None:
        causes.append(c.forbidden(path, "name and selector are mutually exclusive"))
    if ref.get("selector") is not None:
        causes += c.label_selector(ref.get("selector"), f"{path}.selector")
    action = ref.get("parameterNotFoundAction")
    if action is None:
        causes.append(c.required(f"{path}.parameterNotFoundAction"))
    else:
        causes += _value_in(f"{path}.parameterNotFoundAction", action, ("Allow", "Deny"))
    return causes


def validate_binding(obj: dict[str, Any]) -> list[Cause]:
    """``ValidateValidatingAdmissionPolicyBinding``."""
    spec = _dict(obj.get("spec"))
    causes: list[Cause] = []
    if not spec.get("policyName"):
        causes.append(c.required("spec.policyName"))
    if spec.get("paramRef") is not None:
        causes += _param_ref("spec.paramRef", spec["paramRef"])
    if spec.get("matchResources") is not None:
        causes += _match_resources("spec.matchResources", spec["matchResources"], False)
    actions = _list(spec.get("validationActions"))
    if not actions:
        causes.append(c.required("spec.validationActions",
                                 "at least one validation action is required"))
    seen: set[str] = set()
    for i, action in enumerate(actions):
        apath = f"spec.validationActions[{i}]"
        if action in seen:
            causes.append(duplicate(apath, c.go_value(action)))
        seen.add(str(action))
        causes += _value_in(apath, action, VALIDATION_ACTIONS)
    if {"Deny", "Warn"} <= seen:
        causes.append(c.invalid("spec.validationActions", c.go_list(actions),
                                "must not contain both Deny and Warn (repeating the same "
                                "validation failure information in the API response and "
                                "headers serves no purpose)"))
    return causes


class ValidatingAdmissionPolicyBindingStrategy(TableStrategy):
    """admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBindings."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_binding(obj)
