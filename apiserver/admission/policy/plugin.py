"""The ``ValidatingAdmissionPolicy`` admission plugin (upstream ``policy/validating``).

Policies and bindings are read from the watch cache on every request, so the plugin is
always as current as the cache; each policy is compiled once per resourceVersion
(:class:`~apiserver.admission.policy.compiled.CompiledPolicy`) and dropped once deleted.

For each policy whose ``matchConstraints`` select the request (requests on
admissionregistration.k8s.io kinds are exempt, as upstream), each binding naming it
whose ``matchResources`` select the request too, and each parameter the binding gives
(:mod:`~apiserver.admission.policy.params`), the policy's ``matchConditions``,
``variables``, ``validations`` and ``auditAnnotations`` are evaluated with ``object``,
``oldObject``, ``request`` (an AdmissionRequest), ``params`` and ``namespaceObject``.

A failed validation acts as the binding's ``validationActions`` say:

* ``Deny``: the request fails with the first denial, worded as upstream:
  ``<resource> "<name>" is forbidden: ValidatingAdmissionPolicy '<p>' with binding '<b>'
  denied request: <message>``, with the validation's reason (``Invalid`` by default) and
  its code (422; 403 Forbidden, 401 Unauthorized, 413 RequestEntityTooLarge) and the
  message repeated as a cause;
* ``Warn``: a ``Warning`` header ``Validation failed for ValidatingAdmissionPolicy '<p>'
  with binding '<b>': <message>``;
* ``Audit``: the ``validation.policy.admission.k8s.io/validation_failure`` annotation
  (JSON) on the request's :attr:`~apiserver.admission.AdmissionAttributes.audit_annotations`.

Configuration errors (an expression that does not compile, a missing parameter with
``Deny``) follow the policy's ``failurePolicy``: ``Fail`` denies with ``failed to
configure policy: …`` or ``failed to configure binding: …``, ``Ignore`` skips.
Published audit annotations are ``<policy>/<key>``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from apiserver.admission.attributes import (
    AdmissionAttributes,
    ObjectSource,
    Operation,
    forbidden,
)
from apiserver.admission.policy.compiled import CompiledPolicy, Decision
from apiserver.admission.policy.matching import matches
from apiserver.admission.policy.params import collect
from apiserver.api.meta import new_uid
from apiserver.api.resources import NAMESPACES, served
from apiserver.api.warnings import add_warning

NAME = "ValidatingAdmissionPolicy"
POLICIES = served("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies")
BINDINGS = served("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings")
_EXEMPT_GROUP = "admissionregistration.k8s.io"
_CODES = {"Unauthorized": 401, "Forbidden": 403, "RequestEntityTooLarge": 413}
FAILURE_KEY = "validation.policy.admission.k8s.io/validation_failure"
_MAX_ANNOTATION = 10 * 1024

#: One denial: (policy name, binding name or "", decision).
Denial = tuple[str, str, Decision]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _gvk(info: Any) -> dict[str, str]:
    return {"group": info.group, "version": info.version, "kind": info.kind}


def _gvr(info: Any) -> dict[str, str]:
    return {"group": info.group, "version": info.version, "resource": info.plural}


def admission_request(attrs: AdmissionAttributes) -> dict[str, Any]:
    """The ``request`` variable: the request as an AdmissionRequest."""
    info = attrs.info
    return {
        "uid": new_uid(), "kind": _gvk(info), "resource": _gvr(info),
        "subResource": attrs.subresource, "requestKind": _gvk(info),
        "requestResource": _gvr(info), "requestSubResource": attrs.subresource,
        "name": attrs.name, "namespace": attrs.namespace, "operation": attrs.operation.value,
        "userInfo": attrs.user.to_api(), "dryRun": attrs.dry_run,
    }


def _namespace_object(namespace: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if namespace is None:
        return None
    out = dict(namespace)
    md = dict(_m(out.get("metadata")))
    md.pop("managedFields", None)
    out["metadata"] = md
    return out


class ValidatingAdmissionPolicyPlugin:
    """Evaluates the stored ValidatingAdmissionPolicies and their bindings."""

    name = NAME
    config_resources = (POLICIES,)

    def __init__(self, source: ObjectSource) -> None:
        self.source = source
        self._compiled: dict[str, CompiledPolicy] = {}

    def handles(self, operation: Operation) -> bool:
        return True

    def compiled(self, policy: Mapping[str, Any]) -> CompiledPolicy:
        """The compiled form of ``policy`` (compiled again only when it changed)."""
        md = _m(policy.get("metadata"))
        name, version = str(md.get("name") or ""), str(md.get("resourceVersion") or "")
        found = self._compiled.get(name)
        if found is None or found.resource_version != version:
            found = self._compiled[name] = CompiledPolicy(policy)
        return found

    async def _namespace(self, attrs: AdmissionAttributes) -> Mapping[str, Any] | None:
        if not attrs.namespace or attrs.info is NAMESPACES:
            return None
        found = self.source.cached(NAMESPACES, "", attrs.namespace)
        if found is None:
            found = await self.source.live(NAMESPACES, "", attrs.namespace)
        return found

    async def validate(self, attrs: AdmissionAttributes) -> None:
        if attrs.group == _EXEMPT_GROUP:
            return
        policies = self.source.cached_list(POLICIES, "")
        if len(self._compiled) > len(policies):
            names = {str(_m(p.get("metadata")).get("name")) for p in policies}
            self._compiled = {k: v for k, v in self._compiled.items() if k in names}
        if not policies:
            return
        bindings: dict[str, list[Mapping[str, Any]]] = {}
        for binding in self.source.cached_list(BINDINGS, ""):
            bindings.setdefault(str(_m(binding.get("spec")).get("policyName")), []) \
                .append(binding)
        if not bindings:
            return
        namespace = await self._namespace(attrs)
        denials: list[Denial] = []
        request: dict[str, Any] | None = None
        for policy in policies:
            own = bindings.get(str(_m(policy.get("metadata")).get("name")))
            if not own:
                continue
            compiled = self.compiled(policy)
            if not matches(compiled.constraints, attrs, namespace):
                continue
            if compiled.error:
                self._config_error(denials, compiled, "", f"failed to configure policy: "
                                                           f"{compiled.error}")
                continue
            if request is None:
                request = admission_request(attrs)
            self._run_bindings(compiled, own, attrs, namespace, request, denials)
        if denials:
            raise self._denied(attrs, denials[0])

    def _config_error(self, denials: list[Denial], compiled: CompiledPolicy, binding: str,
                      message: str) -> None:
        if compiled.failure_policy == "Ignore":
            return
        if compiled.failure_policy != "Fail":
            message = f"unrecognized failure policy: '{compiled.failure_policy}'"
        denials.append((compiled.name, binding, Decision("deny", message, "", 0, True)))

    def _run_bindings(self, compiled: CompiledPolicy, own: list[Mapping[str, Any]],
                      attrs: AdmissionAttributes, namespace: Mapping[str, Any] | None,
                      request: dict[str, Any], denials: list[Denial]) -> None:
        collected: dict[str, list[str]] = {}
        base: dict[str, Any] = {
            "object": attrs.object, "oldObject": attrs.old_object, "request": request,
            "params": None, "namespaceObject": _namespace_object(namespace)}
        for binding in sorted(own, key=lambda b: str(_m(b.get("metadata")).get("name"))):
            spec = _m(binding.get("spec"))
            binding_name = str(_m(binding.get("metadata")).get("name") or "")
            narrowing = spec.get("matchResources")
            if isinstance(narrowing, Mapping) and not matches(narrowing, attrs, namespace):
                continue
            params, error = collect(compiled.param_kind, spec.get("paramRef"), attrs,
                                    self.source)
            if error:
                self._config_error(denials, compiled, binding_name,
                                   f"failed to configure binding: {error}")
                continue
            actions = [str(a) for a in spec.get("validationActions") or []]
            for param in params:
                base["params"] = param
                matched, failure = compiled.matches_conditions(base)
                if failure:
                    if compiled.failure_policy != "Ignore":
                        denials.append((compiled.name, binding_name,
                                        Decision("deny", failure, "", 0, True)))
                    continue
                if not matched:
                    continue
                outcome = compiled.evaluate(base)
                for decision in outcome.decisions:
                    if decision.action == "deny":
                        self._act(attrs, compiled.name, binding_name, binding, actions,
                                  decision, denials)
                denials.extend((compiled.name, binding_name, d) for d in outcome.audit_errors)
                for key, value in outcome.annotations:
                    values = collected.setdefault(key, [])
                    if value[:_MAX_ANNOTATION] not in values:
                        values.append(value[:_MAX_ANNOTATION])
        for key, values in collected.items():
            attrs.audit_annotations[f"{compiled.name}/{key}"] = ", ".join(values)

    def _act(self, attrs: AdmissionAttributes, policy: str, binding_name: str,
             binding: Mapping[str, Any], actions: list[str], decision: Decision,
             denials: list[Denial]) -> None:
        for action in actions:
            if action == "Deny":
                denials.append((policy, binding_name, decision))
            elif action == "Warn":
                add_warning(f"Validation failed for ValidatingAdmissionPolicy '{policy}' with "
                            f"binding '{binding_name}': {decision.message}")
            elif action == "Audit":
                attrs.audit_annotations[FAILURE_KEY] = json.dumps([{
                    "message": decision.message, "policy": policy, "binding": binding_name,
                    "expressionIndex": decision.index, "validationActions": actions}],
                    separators=(",", ":"))

    @staticmethod
    def _denied(attrs: AdmissionAttributes, denial: Denial) -> Exception:
        policy, binding, decision = denial
        if binding:
            message = (f"ValidatingAdmissionPolicy '{policy}' with binding '{binding}' denied "
                       f"request: {decision.message}")
        else:
            message = f"ValidatingAdmissionPolicy '{policy}' denied request: {decision.message}"
        error = forbidden(attrs, message)
        reason = decision.reason or "Invalid"
        error.reason = reason
        error.code = _CODES.get(reason, 422)
        details = error.details if error.details is not None else {}
        details.setdefault("causes", []).append({"message": message})
        error.details = details
        return error
