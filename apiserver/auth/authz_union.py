"""``--authorization-mode``: the simple authorizers and their union, as kube-apiserver.

* :class:`PrivilegedGroups` — members of ``system:masters`` may do anything; kube-apiserver
  puts it in front of every configured mode (it lists no rules).
* :class:`AlwaysDeny` — no opinion on anything, reason ``Everything is forbidden.``
  (``AlwaysAllow`` lives with the review kinds, :mod:`apiserver.registry.reviews`).
* :class:`UnionAuthorizer` — asks each authorizer in order; the first allow or deny wins;
  otherwise no opinion with every reason joined by newlines. ``rules_for`` concatenates
  every authorizer's rules (incomplete if any is).
"""

from __future__ import annotations

from collections.abc import Sequence

from apiserver.api.user import MASTERS_GROUP, UserInfo
from apiserver.auth.authz_rbac import aggregate_message
from apiserver.auth.rbac_rules import go_quoted_list
from apiserver.registry.reviews import Attributes, Authorizer, Decision, Rules

MODES = ("AlwaysAllow", "AlwaysDeny", "RBAC", "Node")
#: Shared answers of :class:`PrivilegedGroups` (decisions are immutable).
_ALLOWED = Decision(allowed=True)
_NO_OPINION = Decision(allowed=False)


class ModeError(ValueError):
    """An ``--authorization-mode`` value kube-apiserver would refuse."""


def parse_modes(text: str) -> tuple[str, ...]:
    """The modes of a comma list, validated as upstream (known, no repeats, not empty)."""
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    if not modes:
        raise ModeError("at least one authorization-mode must be passed")
    for mode in modes:
        if mode not in MODES:
            raise ModeError(f'authorization-mode "{mode}" is not a valid mode')
    if len(set(modes)) != len(modes):
        raise ModeError(f"authorization-mode {go_quoted_list(modes)} has mode specified more "
                        "than once")
    return modes


class PrivilegedGroups:
    """Allows members of the given groups everything (upstream ``NewPrivilegedGroups``)."""

    def __init__(self, *groups: str) -> None:
        self.groups = frozenset(groups or (MASTERS_GROUP,))

    def authorize(self, attributes: Attributes) -> Decision:
        """Allowed for members; no opinion otherwise."""
        return _NO_OPINION if self.groups.isdisjoint(attributes.user.groups) else _ALLOWED

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        """Nothing: upstream does not ask it for rules (``system:masters`` see the rules of
        ``cluster-admin``, which the bootstrap policy binds to them)."""
        del user, namespace
        return Rules((), ())


class AlwaysDeny:
    """Upstream ``alwaysDenyAuthorizer``: no opinion, with a reason."""

    def authorize(self, attributes: Attributes) -> Decision:
        """No opinion: ``Everything is forbidden.``."""
        del attributes
        return Decision(allowed=False, reason="Everything is forbidden.")

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        """Nothing, and complete."""
        del user, namespace
        return Rules((), ())


class UnionAuthorizer:
    """Several authorizers asked in order (upstream ``union.New``)."""

    def __init__(self, authorizers: Sequence[Authorizer]) -> None:
        self.authorizers = tuple(authorizers)

    def authorize(self, attributes: Attributes) -> Decision:
        """The first allow or deny; otherwise no opinion with the reasons joined."""
        reasons: list[str] = []
        errors: list[str] = []
        for authorizer in self.authorizers:
            decision = authorizer.authorize(attributes)
            if decision.evaluation_error:
                errors.append(decision.evaluation_error)
            if decision.reason:
                reasons.append(decision.reason)
            if decision.allowed or decision.denied:
                return decision
        return Decision(allowed=False, reason="\n".join(reasons),
                        evaluation_error=aggregate_message(errors) if errors else "")

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        """Every authorizer's rules, in order."""
        resource: list[dict[str, object]] = []
        non_resource: list[dict[str, object]] = []
        incomplete = False
        errors: list[str] = []
        for authorizer in self.authorizers:
            rules = authorizer.rules_for(user, namespace)
            resource.extend(rules.resource_rules)
            non_resource.extend(rules.non_resource_rules)
            incomplete = incomplete or rules.incomplete
            if rules.evaluation_error:
                errors.append(rules.evaluation_error)
        return Rules(tuple(resource), tuple(non_resource), incomplete,
                     aggregate_message(errors) if errors else "")
