"""The RBAC authorizer, over the registry's watch caches of the four RBAC kinds.

As upstream's ``plugin/pkg/auth/authorizer/rbac`` with its ``DefaultRuleResolver``:
ClusterRoleBindings are visited first, then the RoleBindings of the request's
namespace; the first rule that allows the request decides (``RBAC: allowed by …``);
a binding whose role is missing adds an error that becomes the denial's reason
(``RBAC: clusterrole.rbac.authorization.k8s.io "x" not found``).

Speed: the bindings are indexed by subject (user name, group, ServiceAccount) and the
index is rebuilt only when one of the caches changed (their ``generation``); the rules
that apply to a (user, groups, namespace) are memoised until then, so a decision is a
dictionary lookup plus a scan of that user's own rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from apiserver.api.user import UserInfo
from apiserver.auth.rbac_rules import (
    CompiledRule,
    Rule,
    compile_rule,
    compiled_allows,
    describe_subject,
    split_service_account,
    subject_index,
)
from apiserver.registry.reviews import Attributes, Decision, Rules
from apiserver.storage.cache import CachedObject

#: Memoised (user, namespace) rule sets kept at most; the memo is cleared past it.
_MEMO_LIMIT = 4096
#: Memoised decisions kept at most (cleared past it, and on any RBAC change).
_DECISION_LIMIT = 16384


class PolicySource(Protocol):
    """What the authorizer reads of one kind: the current objects and a change counter."""

    generation: int

    def objects(self) -> Iterable[CachedObject]: ...


@dataclass(frozen=True, slots=True)
class Grant:
    """One rule a user holds, with the binding that grants it (for allow reasons)."""

    rule: Rule
    source: str
    compiled: CompiledRule


@dataclass(slots=True)
class _Subjects:
    """Bindings by the subjects they name (a pre-filter; ``appliesTo`` decides)."""

    users: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    service_accounts: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, binding: dict[str, Any], namespace: str) -> None:
        for subject in binding.get("subjects") or ():
            if not isinstance(subject, dict):
                continue
            kind, name = subject.get("kind"), str(subject.get("name") or "")
            if kind == "User":
                self.users.setdefault(name, []).append(binding)
            elif kind == "Group":
                self.groups.setdefault(name, []).append(binding)
            elif kind == "ServiceAccount":
                sa_ns = str(subject.get("namespace") or namespace)
                self.service_accounts.setdefault((sa_ns, name), []).append(binding)

    def candidates(self, user: UserInfo) -> list[dict[str, Any]]:
        """Bindings that may apply to ``user``, once each, by name."""
        found: dict[int, dict[str, Any]] = {}
        for binding in self.users.get(user.username, ()):
            found[id(binding)] = binding
        for group in user.groups:
            for binding in self.groups.get(group, ()):
                found[id(binding)] = binding
        account = split_service_account(user.username)
        if account is not None:
            for binding in self.service_accounts.get(account, ()):
                found[id(binding)] = binding
        return sorted(found.values(), key=lambda b: str(b["metadata"].get("name", "")))


class _Index:
    """Roles by name and bindings by subject, at one generation of the caches."""

    def __init__(self, roles: PolicySource, cluster_roles: PolicySource,
                 role_bindings: PolicySource, cluster_role_bindings: PolicySource) -> None:
        self.cluster_roles = {o.name: o.obj for o in cluster_roles.objects()}
        self.roles = {(o.namespace, o.name): o.obj for o in roles.objects()}
        self.cluster_bindings = _Subjects()
        for o in cluster_role_bindings.objects():
            self.cluster_bindings.add(o.obj, "")
        self.bindings: dict[str, _Subjects] = {}
        for o in role_bindings.objects():
            self.bindings.setdefault(o.namespace, _Subjects()).add(o.obj, o.namespace)
        self._compiled: dict[int, CompiledRule] = {}

    def compiled(self, rule: Rule) -> CompiledRule:
        """``rule`` compiled once per index (the cached objects do not change in place)."""
        found = self._compiled.get(id(rule))
        if found is None:
            found = self._compiled[id(rule)] = compile_rule(rule)
        return found


def aggregate_message(messages: list[str]) -> str:
    """Upstream ``utilerrors.NewAggregate(...).Error()``."""
    if len(messages) == 1:
        return messages[0]
    return "[" + ", ".join(messages) + "]"


class RbacAuthorizer:
    """``--authorization-mode=RBAC``: decisions and rule listings from RBAC objects."""

    def __init__(self, roles: PolicySource, cluster_roles: PolicySource,
                 role_bindings: PolicySource, cluster_role_bindings: PolicySource) -> None:
        self._sources = (roles, cluster_roles, role_bindings, cluster_role_bindings)
        self._generation: tuple[int, ...] = ()
        self._index: _Index | None = None
        self._memo: dict[tuple[str, tuple[str, ...], str], tuple[list[Grant], list[str]]] = {}
        self._decisions: dict[tuple[Any, ...], Decision] = {}

    def _current(self) -> _Index:
        roles, cluster_roles, role_bindings, cluster_role_bindings = self._sources
        generation = (roles.generation, cluster_roles.generation, role_bindings.generation,
                      cluster_role_bindings.generation)
        if self._index is None or generation != self._generation:
            self._index = _Index(*self._sources)
            self._generation = generation
            self._memo.clear()
            self._decisions.clear()
        return self._index

    def role_rules(self, ref: Any, namespace: str) -> tuple[list[Rule], str]:
        """Upstream ``GetRoleReferenceRules``: (rules, error message or "")."""
        index = self._current()
        ref = ref if isinstance(ref, dict) else {}
        kind, name = ref.get("kind"), str(ref.get("name") or "")
        if kind == "ClusterRole":
            role = index.cluster_roles.get(name)
            missing = f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
        elif kind == "Role":
            role = index.roles.get((namespace, name))
            missing = f'role.rbac.authorization.k8s.io "{name}" not found'
        else:
            return [], f'unsupported role reference kind: "{kind}"'
        if role is None:
            return [], missing
        return [r for r in role.get("rules") or () if isinstance(r, dict)], ""

    def grants(self, user: UserInfo, namespace: str) -> tuple[list[Grant], list[str]]:
        """Every rule ``user`` holds in ``namespace`` (cluster-wide first) and the errors."""
        index = self._current()
        key = (user.username, user.groups, namespace)
        memo = self._memo.get(key)
        if memo is not None:
            return memo
        grants: list[Grant] = []
        problems: list[str] = []
        scopes: list[tuple[_Subjects, str]] = [(index.cluster_bindings, "")]
        if namespace and namespace in index.bindings:
            scopes.append((index.bindings[namespace], namespace))
        for subjects, scope in scopes:
            for binding in subjects.candidates(user):
                which = subject_index(user, binding.get("subjects"), scope)
                if which < 0:
                    continue
                rules, problem = self.role_rules(binding.get("roleRef"), scope)
                if problem:
                    problems.append(problem)
                    continue
                source = _describe(binding, which, scope)
                grants.extend(Grant(rule, source, index.compiled(rule)) for rule in rules)
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = (grants, problems)
        return grants, problems

    def authorize(self, attributes: Attributes) -> Decision:
        """Allowed by the first rule that matches; otherwise no opinion. Decisions are
        memoised until an RBAC object changes."""
        a, user = attributes, attributes.user
        key = (user.username, user.groups, a.verb, a.resource_request, a.api_group,
               a.resource, a.subresource, a.namespace, a.name, a.path)
        self._current()
        decision = self._decisions.get(key)
        if decision is not None:
            return decision
        decision = self._decide(attributes)
        if len(self._decisions) >= _DECISION_LIMIT:
            self._decisions.clear()
        self._decisions[key] = decision
        return decision

    def _decide(self, attributes: Attributes) -> Decision:
        grants, problems = self.grants(attributes.user, attributes.namespace)
        for grant in grants:
            if compiled_allows(attributes, grant.compiled):
                return Decision(allowed=True, reason=f"RBAC: allowed by {grant.source}")
        reason = f"RBAC: {aggregate_message(problems)}" if problems else ""
        return Decision(allowed=False, reason=reason)

    def rules(self, user: UserInfo, namespace: str) -> tuple[list[Rule], str]:
        """The policy rules ``user`` holds in ``namespace`` and the resolution errors
        (upstream ``RulesFor`` of the rule resolver, for escalation checks)."""
        grants, problems = self.grants(user, namespace)
        return [g.rule for g in grants], aggregate_message(problems) if problems else ""

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        """Resource and non-resource rules for a SelfSubjectRulesReview."""
        grants, problems = self.grants(user, namespace)
        resource_rules: list[dict[str, Any]] = []
        non_resource_rules: list[dict[str, Any]] = []
        for grant in grants:
            rule = grant.rule
            if rule.get("resources"):
                out: dict[str, Any] = {"verbs": list(rule.get("verbs") or [])}
                for key in ("apiGroups", "resources", "resourceNames"):
                    if rule.get(key):
                        out[key] = list(rule[key])
                resource_rules.append(out)
            if rule.get("nonResourceURLs"):
                non_resource_rules.append({"verbs": list(rule.get("verbs") or []),
                                           "nonResourceURLs": list(rule["nonResourceURLs"])})
        return Rules(tuple(resource_rules), tuple(non_resource_rules), False,
                     aggregate_message(problems) if problems else "")


def _describe(binding: dict[str, Any], which: int, namespace: str) -> str:
    """Upstream's ``clusterRoleBindingDescriber``/``roleBindingDescriber``."""
    ref = binding.get("roleRef") or {}
    subject = binding["subjects"][which]
    name = str(binding["metadata"].get("name", ""))
    if namespace:
        return (f'RoleBinding "{name}/{namespace}" of {ref.get("kind", "")} '
                f'"{ref.get("name", "")}" to {describe_subject(subject, namespace)}')
    return (f'ClusterRoleBinding "{name}" of {ref.get("kind", "")} "{ref.get("name", "")}" '
            f'to {describe_subject(subject, "")}')
