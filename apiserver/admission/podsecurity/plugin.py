"""PodSecurity (``plugin/pkg/admission/security/podsecurity`` over
``k8s.io/pod-security-admission/admission``), a validating plugin: it never changes an
object.

What a namespace's ``pod-security.kubernetes.io/{enforce,audit,warn}[-version]`` labels
ask for is applied, on create and update, to:

* pods (not their ``exec``/``attach``/``binding``/``eviction``/``log``/``portforward``/
  ``proxy``/``status`` subresources; an update counts only when it adds or removes
  containers, changes an image or adds an ephemeral container): ``enforce`` refuses with
  403 ``pods "x" is forbidden: violates PodSecurity "restricted:latest": <reason>
  (<detail>), …``; ``warn`` adds ``would violate PodSecurity …`` as a ``Warning`` header
  (not to a refused request); ``audit`` adds the ``pod-security.kubernetes.io/
  audit-violations`` audit annotation;
* the workload resources with a pod template (:mod:`.templates`): warn and audit only;
* namespaces: labels with values upstream cannot parse are refused (422, on create, and on
  update when they changed), and tightening the enforce level warns about the existing
  pods it would refuse (:mod:`.existing`).

The namespace's labels are read from the watch cache (a live read only when the cache has
not seen the namespace yet) and the policy they ask for is remembered per cached revision,
so in a namespace without Pod Security labels a pod create costs a cache lookup. Audit
annotations (``enforce-policy``, ``audit-violations``, ``exempt``, ``error``, under the
``pod-security.kubernetes.io/`` prefix) stay on the request: kubemu keeps no audit log.

Exemptions (usernames, namespaces, runtime classes) and the defaults for unlabelled modes
are upstream's PodSecurityConfiguration: none and ``privileged:latest`` unless a caller
builds the plugin with others.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from apiserver.admission.attributes import AdmissionAttributes, ObjectSource, Operation
from apiserver.admission.podsecurity.existing import existing_pod_warnings
from apiserver.admission.podsecurity.levels import (
    AUDIT_ANNOTATION_PREFIX,
    AUDIT_VIOLATIONS_ANNOTATION,
    DEFAULT_POLICY,
    ENFORCED_POLICY_ANNOTATION,
    EXEMPTION_REASON_ANNOTATION,
    PRIVILEGED_LATEST,
    Level,
    LevelVersion,
    Policy,
    compare_levels,
    exempt_namespace_warning,
    has_policy_labels,
    policy_from_labels,
)
from apiserver.admission.podsecurity.registry import evaluate
from apiserver.admission.podsecurity.result import Aggregate, Obj
from apiserver.admission.podsecurity.templates import POD_SPEC_RESOURCES, pod_template
from apiserver.api import errors
from apiserver.api.gostrings import go_quote
from apiserver.api.resources import NAMESPACES, PODS
from apiserver.api.warnings import add_warning

NAME = "PodSecurity"

#: Pod subresources Pod Security never looks at.
IGNORED_POD_SUBRESOURCES = frozenset({"exec", "attach", "binding", "eviction", "log",
                                      "portforward", "proxy", "status"})

_ENFORCE_POLICY_KEY = AUDIT_ANNOTATION_PREFIX + ENFORCED_POLICY_ANNOTATION
_PRIVILEGED_LATEST = str(PRIVILEGED_LATEST)

#: How many namespaces' policies are remembered (the memo starts over when full).
_MEMO_LIMIT = 4096

Causes = list[dict[str, str]]


@dataclass(frozen=True)
class Exemptions:
    """Requests Pod Security lets pass unchecked (upstream ``PodSecurityExemptions``)."""

    usernames: Collection[str] = ()
    namespaces: Collection[str] = ()
    runtime_classes: Collection[str] = ()


def _metadata(obj: Obj | None) -> Obj:
    md = (obj or {}).get("metadata")
    return md if isinstance(md, dict) else {}


def _labels(obj: Obj | None) -> dict[str, str]:
    labels = _metadata(obj).get("labels")
    return labels if isinstance(labels, dict) else {}


def _spec(obj: Obj | None) -> Obj:
    spec = (obj or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


def _error_text(causes: Causes) -> str:
    """A field error list as Go's aggregate error shows it."""
    texts = [f"{c['field']}: {c['message']}" for c in causes]
    return texts[0] if len(texts) == 1 else f"[{', '.join(texts)}]"


def _images(containers: Any) -> list[Any]:
    return [c.get("image") if isinstance(c, dict) else None for c in containers or ()]


def significant_pod_update(new: Obj, old: Obj) -> bool:
    """Whether a pod update can change what Pod Security decides: containers added or
    removed, an image changed, or an ephemeral container added or changed. (Validation
    keeps the rest of a pod's spec as it was, so relabelling or annotating a pod created
    before its namespace was labelled is never refused.)"""
    spec, old_spec = _spec(new), _spec(old)
    for key in ("containers", "initContainers"):
        if _images(spec.get(key)) != _images(old_spec.get(key)):
            return True
    old_ephemeral = {c.get("name"): c.get("image") for c in old_spec.get("ephemeralContainers")
                     or () if isinstance(c, dict)}
    for container in spec.get("ephemeralContainers") or ():
        if isinstance(container, dict) and (
                container.get("name") not in old_ephemeral
                or old_ephemeral[container.get("name")] != container.get("image")):
            return True
    return False


class PodSecurity:
    """The PodSecurity admission plugin (validating)."""

    name = NAME

    def __init__(self, source: ObjectSource, exemptions: Exemptions = Exemptions(),
                 defaults: Policy = DEFAULT_POLICY) -> None:
        self._source = source
        self._exemptions = exemptions
        self._defaults = defaults
        # namespace name → (the cached namespace object, its policy, label errors)
        self._memo: dict[str, tuple[Obj, Policy, Causes]] = {}

    def handles(self, operation: Operation) -> bool:
        return operation in (Operation.CREATE, Operation.UPDATE)

    async def validate(self, attrs: AdmissionAttributes) -> None:
        info = attrs.info
        if info.group == "":
            if info.plural == PODS.plural:
                await self._pod(attrs)
                return
            if info.plural == NAMESPACES.plural:
                self._namespace(attrs)
                return
        if (info.group, info.plural) in POD_SPEC_RESOURCES:
            await self._workload(attrs)

    # -- policies ----------------------------------------------------------------

    def _policy(self, labels: dict[str, str]) -> tuple[Policy, Causes]:
        if not labels or not has_policy_labels(labels):
            return self._defaults, []
        return policy_from_labels(labels, self._defaults)

    async def _namespace_policy(self, namespace: str) -> tuple[Policy, Causes] | None:
        """The policy of ``namespace`` (None when it cannot be found)."""
        found = self._source.cached(NAMESPACES, "", namespace)
        if found is not None:
            memo = self._memo.get(namespace)
            if memo is not None and memo[0] is found:
                return memo[1], memo[2]
            policy, causes = self._policy(_labels(found))
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[namespace] = (found, policy, causes)
            return policy, causes
        # The cache may not have seen a namespace created a moment ago.
        found = await self._source.live(NAMESPACES, "", namespace)
        return None if found is None else self._policy(_labels(found))

    def _exempt(self, attrs: AdmissionAttributes) -> bool:
        """Whether the request's namespace or user is exempt (and annotated so)."""
        reason = None
        if attrs.namespace and attrs.namespace in self._exemptions.namespaces:
            reason = "namespace"
        elif self._exemptions.usernames and attrs.user.username in self._exemptions.usernames:
            reason = "user"
        if reason is None:
            return False
        attrs.audit_annotations[AUDIT_ANNOTATION_PREFIX + EXEMPTION_REASON_ANNOTATION] = reason
        return True

    # -- pods and pod templates --------------------------------------------------------

    async def _pod(self, attrs: AdmissionAttributes) -> None:
        if attrs.subresource in IGNORED_POD_SUBRESOURCES or self._exempt(attrs):
            return
        found = await self._namespace_policy(attrs.namespace)
        if found is None:
            raise errors.internal(f"failed to lookup namespace {go_quote(attrs.namespace)}")
        policy, causes = found
        if not causes and policy.fully_privileged():
            attrs.audit_annotations[_ENFORCE_POLICY_KEY] = _PRIVILEGED_LATEST
            return
        if attrs.object is None:
            return
        if attrs.operation is Operation.UPDATE and attrs.old_object is not None \
                and not significant_pod_update(attrs.object, attrs.old_object):
            return
        self._evaluate(attrs, policy, causes, _metadata(attrs.object), _spec(attrs.object),
                       enforce=True)

    async def _workload(self, attrs: AdmissionAttributes) -> None:
        if attrs.subresource or self._exempt(attrs):
            return
        found = await self._namespace_policy(attrs.namespace)
        if found is None:
            attrs.audit_annotations[AUDIT_ANNOTATION_PREFIX + "error"] = (
                f"failed to lookup namespace {go_quote(attrs.namespace)}: namespaces "
                f"{go_quote(attrs.namespace)} not found")
            return
        policy, causes = found
        if not causes and policy.warn.level is Level.PRIVILEGED \
                and policy.audit.level is Level.PRIVILEGED:
            return
        if attrs.object is None:
            return
        template = pod_template(attrs.group, attrs.resource, attrs.object)
        if template is not None:
            self._evaluate(attrs, policy, causes, *template, enforce=False)

    def _evaluate(self, attrs: AdmissionAttributes, policy: Policy, causes: Causes,
                  meta: Obj, spec: Obj, *, enforce: bool) -> None:
        """Upstream ``EvaluatePod``: enforce (pods only), then audit, then warn, each level
        evaluated once."""
        annotations = attrs.audit_annotations
        runtime_class = spec.get("runtimeClassName")
        if runtime_class and runtime_class in self._exemptions.runtime_classes:
            annotations[AUDIT_ANNOTATION_PREFIX + EXEMPTION_REASON_ANNOTATION] = "runtimeClass"
            return
        if causes:
            annotations[AUDIT_ANNOTATION_PREFIX + "error"] = \
                f"Failed to parse policy: {_error_text(causes)}"
        results: dict[LevelVersion, Aggregate] = {}

        def result(lv: LevelVersion) -> Aggregate:
            found = results.get(lv)
            if found is None:
                found = results[lv] = evaluate(lv, meta, spec)
            return found

        refusal = None
        if enforce:
            annotations[_ENFORCE_POLICY_KEY] = str(policy.enforce)
            enforced = result(policy.enforce)
            if not enforced.allowed:
                refusal = (f"violates PodSecurity {go_quote(str(policy.enforce))}: "
                           f"{enforced.forbidden_detail()}")
        audited = result(policy.audit)
        if not audited.allowed:
            annotations[AUDIT_ANNOTATION_PREFIX + AUDIT_VIOLATIONS_ANNOTATION] = (
                f"would violate PodSecurity {go_quote(str(policy.audit))}: "
                f"{audited.forbidden_detail()}")
        if refusal is not None:
            # No warnings on a request refused anyway.
            raise _forbidden(attrs, refusal)
        warned = result(policy.warn)
        if not warned.allowed:
            add_warning(f"would violate PodSecurity {go_quote(str(policy.warn))}: "
                        f"{warned.forbidden_detail()}")

    # -- namespaces ----------------------------------------------------------------

    def _namespace(self, attrs: AdmissionAttributes) -> None:
        if attrs.subresource or attrs.object is None:
            return
        labels = _labels(attrs.object)
        name = str(_metadata(attrs.object).get("name") or attrs.name)
        policy, causes = self._policy(labels)
        exempt = name in self._exemptions.namespaces
        if attrs.operation is Operation.CREATE:
            if causes:
                raise errors.invalid(NAMESPACES, attrs.name, causes)
            if exempt:
                self._warn_exempt(name, policy, labels)
            return
        old_policy, old_causes = self._policy(_labels(attrs.old_object))
        if causes and (not old_causes or causes != old_causes):
            raise errors.invalid(NAMESPACES, attrs.name, causes)
        new, old = policy.enforce, old_policy.enforce
        if new == old or new.level is Level.PRIVILEGED or (
                new.version == old.version and compare_levels(new.level, old.level) < 1):
            return
        if exempt:
            self._warn_exempt(name, policy, labels)
            return
        pods = self._source.cached_list(PODS, name)
        for warning in existing_pod_warnings(name, new, pods,
                                             self._exemptions.runtime_classes):
            add_warning(warning)

    def _warn_exempt(self, name: str, policy: Policy, labels: dict[str, str]) -> None:
        warning = exempt_namespace_warning(name, policy, self._defaults, labels)
        if warning:
            add_warning(warning)


def _forbidden(attrs: AdmissionAttributes, why: str) -> errors.ApiError:
    """Upstream's ``NewForbidden(resource, attrs.GetName(), err)``: the request's name
    (generated by now), or none at all."""
    name = attrs.name or str(_metadata(attrs.object).get("name") or "")
    if name:
        return errors.forbidden(attrs.info, name, why)
    details = {"group": attrs.info.group} if attrs.info.group else {}
    return errors.ApiError(403, "Forbidden", f"{errors.qualified(attrs.info)} is forbidden: "
                                             f"{why}", {**details, "kind": attrs.info.plural})
