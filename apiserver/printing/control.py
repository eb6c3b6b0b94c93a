"""Tables of the API-machinery kinds: admission webhook configurations,
ValidatingAdmissionPolicies and their bindings, FlowSchemas,
PriorityLevelConfigurations (upstream ``printers.go``) and APIServices (the
kube-aggregator's own table convertor).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apiserver.printing.cells import age, condition, i, lst, m, name, s
from apiserver.printing.spec import AGE, NAME, Col, Doc, KindTable

__all__ = ["TABLES", "go_label_selector", "param_ref"]


def print_webhook_configuration(cfg: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Webhooks (count), Age."""
    return [name(cfg), len(lst(cfg.get("webhooks"))), age(cfg, now)]


def print_validating_admission_policy(vap: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Validations (count), ParamKind (``apiVersion/Kind`` or ``<unset>``), Age."""
    spec = m(vap.get("spec"))
    kind = spec.get("paramKind")
    shown = "<unset>"
    if isinstance(kind, Mapping):
        shown = f"{s(kind.get('apiVersion'))}/{s(kind.get('kind'))}"
    return [name(vap), len(lst(spec.get("validations"))), shown, age(vap, now)]


def go_label_selector(selector: Mapping[str, Any]) -> str:
    """A ``metav1.LabelSelector`` as Go's generated ``String()`` renders the struct."""
    labels = m(selector.get("matchLabels"))
    label_text = "".join(f"{k}: {labels[k]}," for k in sorted(labels))
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{s(m(e).get('key'))},"
        f"Operator:{s(m(e).get('operator'))},"
        f"Values:[{' '.join(s(v) for v in lst(m(e).get('values')))}],}},"
        for e in lst(selector.get("matchExpressions"))
    )
    return (
        f"&LabelSelector{{MatchLabels:map[string]string{{{label_text}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )


def param_ref(ref: Any) -> str:
    """``ns/name``, ``*/name`` (no namespace), the selector, or ``<unset>``."""
    if not isinstance(ref, Mapping):
        return "<unset>"
    ref_name = s(ref.get("name"))
    if ref_name:
        return f"{s(ref.get('namespace')) or '*'}/{ref_name}"
    if isinstance(ref.get("selector"), Mapping):
        return go_label_selector(ref["selector"])
    return "<unset>"


def print_policy_binding(binding: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, PolicyName, ParamRef, Age."""
    spec = m(binding.get("spec"))
    return [name(binding), s(spec.get("policyName")), param_ref(spec.get("paramRef")),
            age(binding, now)]


def print_flowschema(fs: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, PriorityLevel, MatchingPrecedence, DistinguisherMethod (``<none>``), Age,
    MissingPL (the Dangling condition's status, ``?`` without one)."""
    spec = m(fs.get("spec"))
    method = spec.get("distinguisherMethod")
    dangling = condition(m(fs.get("status")).get("conditions"), "Dangling")
    return [
        name(fs),
        s(m(spec.get("priorityLevelConfiguration")).get("name")),
        i(spec.get("matchingPrecedence")),
        s(m(method).get("type")) if isinstance(method, Mapping) else "<none>",
        age(fs, now),
        s(dangling.get("status")) if dangling is not None else "?",
    ]


def _flowschema_order(fs: Mapping[str, Any]) -> tuple[int, str]:
    """Upstream lists FlowSchemas by matching precedence, then name."""
    return i(m(fs.get("spec")).get("matchingPrecedence")), name(fs)


def print_priority_level(plc: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Type, NominalConcurrencyShares, Queues, HandSize, QueueLengthLimit, Age
    (``<none>`` for what an Exempt level or a non-queuing one lacks)."""
    spec = m(plc.get("spec"))
    shares: Any = "<none>"
    queues: Any = "<none>"
    hand: Any = "<none>"
    limit: Any = "<none>"
    limited = spec.get("limited")
    if isinstance(limited, Mapping):
        shares = i(limited.get("nominalConcurrencyShares"))
        queuing = m(limited.get("limitResponse")).get("queuing")
        if isinstance(queuing, Mapping):
            queues = i(queuing.get("queues"))
            hand = i(queuing.get("handSize"))
            limit = i(queuing.get("queueLengthLimit"))
    return [name(plc), s(spec.get("type")), shares, queues, hand, limit, age(plc, now)]


def print_apiservice(svc: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Service (``ns/name`` or ``Local``), Available (``True``, ``False (Reason)``,
    ``Unknown``), Age."""
    service = m(svc.get("spec")).get("service")
    where = "Local"
    if isinstance(service, Mapping):
        where = f"{s(service.get('namespace'))}/{s(service.get('name'))}"
    available = condition(m(svc.get("status")).get("conditions"), "Available")
    shown = "Unknown"
    if available is not None:
        status, reason = s(available.get("status")), s(available.get("reason"))
        shown = f"{status} ({reason})" if status != "True" and reason else status
    return [name(svc), where, shown, age(svc, now)]


_ADMISSION = "admissionregistration.k8s.io"
_FLOW = "flowcontrol.apiserver.k8s.io"
_FC = "flowcontrol.v1."
_WEBHOOKS = Col("Webhooks", "Webhooks indicates the number of webhooks registered in this "
                "configuration", "integer")
_PARAM_KIND = Col("ParamKind", "ParamKind specifies the kind of resources used to parameterize "
                  "this policy")

TABLES = (
    KindTable(_ADMISSION, "MutatingWebhookConfiguration", (NAME, _WEBHOOKS, AGE),
              print_webhook_configuration),
    KindTable(_ADMISSION, "ValidatingWebhookConfiguration", (NAME, _WEBHOOKS, AGE),
              print_webhook_configuration),
    KindTable(_ADMISSION, "ValidatingAdmissionPolicy", (
        NAME,
        Col("Validations", "Validations indicates the number of validation rules defined in "
            "this configuration", "integer"),
        _PARAM_KIND,
        AGE,
    ), print_validating_admission_policy),
    KindTable(_ADMISSION, "ValidatingAdmissionPolicyBinding", (
        NAME,
        Col("PolicyName", "PolicyName indicates the policy definition which the policy binding "
            "binded to"),
        Col("ParamRef", "ParamRef indicates the param resource which sets the configration param"),
        AGE,
    ), print_policy_binding),
    KindTable(_FLOW, "FlowSchema", (
        NAME,
        Col("PriorityLevel", Doc(_FC + "PriorityLevelConfigurationReference", "name")),
        Col("MatchingPrecedence", Doc(_FC + "FlowSchemaSpec", "matchingPrecedence")),
        Col("DistinguisherMethod", Doc(_FC + "FlowSchemaSpec", "distinguisherMethod")),
        AGE,
        Col("MissingPL", "references a broken or non-existent PriorityLevelConfiguration"),
    ), print_flowschema, order=_flowschema_order),
    KindTable(_FLOW, "PriorityLevelConfiguration", (
        NAME,
        Col("Type", Doc(_FC + "PriorityLevelConfigurationSpec", "type")),
        Col("NominalConcurrencyShares",
            Doc(_FC + "LimitedPriorityLevelConfiguration", "nominalConcurrencyShares")),
        Col("Queues", Doc(_FC + "QueuingConfiguration", "queues")),
        Col("HandSize", Doc(_FC + "QueuingConfiguration", "handSize")),
        Col("QueueLengthLimit", Doc(_FC + "QueuingConfiguration", "queueLengthLimit")),
        AGE,
    ), print_priority_level),
    KindTable("apiregistration.k8s.io", "APIService", (
        NAME,
        Col("Service", "The reference to the service that hosts this API endpoint."),
        Col("Available", "Whether this service is available."),
        AGE,
    ), print_apiservice),
)
