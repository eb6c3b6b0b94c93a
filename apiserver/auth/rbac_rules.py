"""RBAC policy rules: matching a request, matching a subject, covering other rules.

Pure functions over ``rbac.authorization.k8s.io/v1`` dicts, as upstream's
``plugin/pkg/auth/authorizer/rbac/rbac.go`` (``RuleAllows``),
``pkg/apis/rbac/v1/evaluation_helpers.go`` (``VerbMatches``, ``ResourceMatches``…) and
``pkg/registry/rbac/validation`` (``appliesTo``, ``Covers``, ``CompactRules``,
``CompactString``) define them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from apiserver.api.user import UserInfo
from apiserver.registry.reviews import Attributes

Rule = dict[str, Any]

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


def _strings(rule: Rule, key: str) -> list[str]:
    value = rule.get(key)
    return [str(v) for v in value] if isinstance(value, list) else []


def verb_matches(rule: Rule, verb: str) -> bool:
    """``*`` or the verb itself."""
    verbs = _strings(rule, "verbs")
    return "*" in verbs or verb in verbs


def api_group_matches(rule: Rule, group: str) -> bool:
    """``*`` or the group itself."""
    groups = _strings(rule, "apiGroups")
    return "*" in groups or group in groups


def resource_matches(rule: Rule, combined: str, subresource: str) -> bool:
    """``*``, ``resource[/subresource]`` exactly, or ``*/subresource``."""
    for resource in _strings(rule, "resources"):
        if resource in ("*", combined):
            return True
        if subresource and resource == "*/" + subresource:
            return True
    return False


def resource_name_matches(rule: Rule, name: str) -> bool:
    """No resourceNames, or the name among them (an empty name matches none)."""
    names = _strings(rule, "resourceNames")
    return not names or name in names


def non_resource_url_matches(rule: Rule, path: str) -> bool:
    """``*``, the path itself, or a prefix ending in ``*``."""
    for url in _strings(rule, "nonResourceURLs"):
        if url in ("*", path):
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule's lists as sets, matched without re-reading the dict (the hot path)."""

    verbs: frozenset[str]
    groups: frozenset[str]
    resources: frozenset[str]
    names: frozenset[str]
    urls: tuple[str, ...]
    any_verb: bool
    any_group: bool
    any_resource: bool


def compile_rule(rule: Rule) -> CompiledRule:
    """``rule`` prepared for :func:`compiled_allows`."""
    verbs, groups = frozenset(_strings(rule, "verbs")), frozenset(_strings(rule, "apiGroups"))
    resources = frozenset(_strings(rule, "resources"))
    return CompiledRule(verbs, groups, resources, frozenset(_strings(rule, "resourceNames")),
                        tuple(_strings(rule, "nonResourceURLs")), "*" in verbs, "*" in groups,
                        "*" in resources)


def compiled_allows(attrs: Attributes, rule: CompiledRule) -> bool:
    """Upstream ``RuleAllows`` on a compiled rule."""
    if not (rule.any_verb or attrs.verb in rule.verbs):
        return False
    if not attrs.resource_request:
        path = attrs.path
        return any(url in ("*", path) or (url.endswith("*") and path.startswith(url.rstrip("*")))
                   for url in rule.urls)
    if not (rule.any_group or attrs.api_group in rule.groups):
        return False
    if rule.names and attrs.name not in rule.names:
        return False
    if rule.any_resource:
        return True
    sub = attrs.subresource
    if not sub:
        return attrs.resource in rule.resources
    return f"{attrs.resource}/{sub}" in rule.resources or f"*/{sub}" in rule.resources


def rule_allows(attrs: Attributes, rule: Rule) -> bool:
    """Upstream ``RuleAllows``."""
    if attrs.resource_request:
        combined = attrs.resource
        if attrs.subresource:
            combined = f"{attrs.resource}/{attrs.subresource}"
        return (verb_matches(rule, attrs.verb) and api_group_matches(rule, attrs.api_group)
                and resource_matches(rule, combined, attrs.subresource)
                and resource_name_matches(rule, attrs.name))
    return verb_matches(rule, attrs.verb) and non_resource_url_matches(rule, attrs.path)


# -- subjects -------------------------------------------------------------------------------


def service_account_user(namespace: str, name: str) -> str:
    """``system:serviceaccount:<ns>:<name>``."""
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def split_service_account(username: str) -> tuple[str, str] | None:
    """(namespace, name) of a ServiceAccount username, else None."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    namespace, sep, name = username[len(SERVICE_ACCOUNT_PREFIX):].partition(":")
    if not sep or not namespace or not name or ":" in name:
        return None
    return namespace, name


def applies_to_user(user: UserInfo, subject: Any, namespace: str) -> bool:
    """Upstream ``appliesToUser``: a ServiceAccount without a namespace is the binding's."""
    if not isinstance(subject, dict):
        return False
    kind = subject.get("kind")
    name = subject.get("name") or ""
    if kind == "User":
        return bool(user.username == name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_namespace = subject.get("namespace") or namespace
        return bool(sa_namespace) and user.username == service_account_user(sa_namespace, name)
    return False


def subject_index(user: UserInfo, subjects: Any, namespace: str) -> int:
    """Index of the first of ``subjects`` that applies to ``user``; -1 if none does."""
    if not isinstance(subjects, list):
        return -1
    for index, subject in enumerate(subjects):
        if applies_to_user(user, subject, namespace):
            return index
    return -1


def describe_subject(subject: dict[str, Any], binding_namespace: str) -> str:
    """How upstream's allow reasons name a subject."""
    kind = subject.get("kind", "")
    name = subject.get("name", "")
    if kind == "ServiceAccount":
        return f'{kind} "{name}/{subject.get("namespace") or binding_namespace}"'
    return f'{kind} "{name}"'


# -- covering (escalation checks) -----------------------------------------------------------


def breakdown(rule: Rule) -> list[Rule]:
    """Upstream ``BreakdownRule``: one rule per group, resource and verb (and name), then URLs."""
    out: list[Rule] = []
    names = _strings(rule, "resourceNames")
    verbs = _strings(rule, "verbs")
    for group in _strings(rule, "apiGroups"):
        for resource in _strings(rule, "resources"):
            for verb in verbs:
                base = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                if names:
                    out.extend({**base, "resourceNames": [n]} for n in names)
                else:
                    out.append(base)
    for url in _strings(rule, "nonResourceURLs"):
        out.extend({"nonResourceURLs": [url], "verbs": [verb]} for verb in verbs)
    return out


def _resources_cover(owned: Sequence[str], wanted: Sequence[str]) -> bool:
    if "*" in owned or all(w in owned for w in wanted):
        return True
    for path in wanted:
        if path in owned:
            continue
        if "/" not in path or "*/" + path.split("/", 1)[1] not in owned:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def _rule_covers(owner: Rule, sub: Rule) -> bool:
    owner_verbs, owner_groups = _strings(owner, "verbs"), _strings(owner, "apiGroups")
    owner_names = _strings(owner, "resourceNames")
    sub_names = _strings(sub, "resourceNames")
    verbs = "*" in owner_verbs or all(v in owner_verbs for v in _strings(sub, "verbs"))
    groups = "*" in owner_groups or all(g in owner_groups for g in _strings(sub, "apiGroups"))
    resources = _resources_cover(_strings(owner, "resources"), _strings(sub, "resources"))
    owner_urls = _strings(owner, "nonResourceURLs")
    urls = all(any(_url_covers(o, p) for o in owner_urls)
               for p in _strings(sub, "nonResourceURLs"))
    names = (not owner_names) if not sub_names else (
        not owner_names or all(n in owner_names for n in sub_names))
    return verbs and groups and resources and names and urls


def covers(owner_rules: Sequence[Rule], rules: Iterable[Rule]) -> list[Rule]:
    """The broken-down parts of ``rules`` that ``owner_rules`` do not cover (upstream
    ``Covers``); empty when everything is covered."""
    return [sub for rule in rules for sub in breakdown(rule)
            if not any(_rule_covers(owner, sub) for owner in owner_rules)]


def compact(rules: Sequence[Rule]) -> list[Rule]:
    """Upstream ``CompactRules``: merge the verbs of single group/resource(/name) rules."""
    out: list[Rule] = []
    simple: dict[tuple[str, str, str | None], Rule] = {}
    for rule in rules:
        names = _strings(rule, "resourceNames")
        groups, resources = _strings(rule, "apiGroups"), _strings(rule, "resources")
        plain = set(rule) <= {"apiGroups", "resources", "verbs", "resourceNames"}
        if (len(names) > 1 or _strings(rule, "nonResourceURLs") or len(groups) != 1
                or len(resources) != 1 or not plain):
            out.append(rule)
            continue
        key = (groups[0], resources[0], names[0] if names else None)
        if key in simple:
            simple[key]["verbs"] = [*simple[key]["verbs"], *_strings(rule, "verbs")]
        else:
            simple[key] = {k: list(v) for k, v in rule.items()}
    return out + list(simple.values())


def go_quoted_list(values: Sequence[str]) -> str:
    """Go's ``%q`` of a ``[]string``."""
    return "[" + " ".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for v in values) + "]"


def compact_string(rule: Rule) -> str:
    """Upstream ``CompactString``: ``{APIGroups:["" ], Resources:["pods"], Verbs:["get"]}``."""
    parts = []
    for key, label in (("apiGroups", "APIGroups"), ("resources", "Resources"),
                       ("nonResourceURLs", "NonResourceURLs"),
                       ("resourceNames", "ResourceNames"), ("verbs", "Verbs")):
        values = _strings(rule, key)
        if values:
            parts.append(f"{label}:{go_quoted_list(values)}")
    return "{" + ", ".join(parts) + "}"
