"""Which checks a level and policy version run, in which order (``policy/checks.go``,
``policy/registry.go``: the checks upstream 1.33 registers by default).

Contracts:

* :data:`CHECKS` lists every check with its ID, level and the versions its rules changed
  at; a restricted check may *override* baseline checks it makes stricter (restricted
  volume types replace the hostPath check, …).
* :func:`checks_for` gives the functions a :class:`LevelVersion` runs: none for
  ``privileged``; for ``baseline`` the baseline checks in force at that version; for
  ``restricted`` also the restricted ones, minus the baseline checks they override.
  Versions after the newest rule change (and ``latest``) run the newest rules. The order
  is upstream's, which refusals list reasons in: baseline IDs sorted, then restricted IDs
  sorted.
* :func:`evaluate` runs them on (pod metadata, pod spec) and aggregates the refusals.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import NamedTuple

from apiserver.admission.podsecurity import baseline_host as host
from apiserver.admission.podsecurity import baseline_profiles as profiles
from apiserver.admission.podsecurity import restricted
from apiserver.admission.podsecurity.levels import Level, LevelVersion
from apiserver.admission.podsecurity.result import Aggregate, CheckFn, Obj, aggregate


class Rule(NamedTuple):
    """A check's rules from policy version ``v1.<minimum>`` on."""

    minimum: int
    check: CheckFn
    overrides: tuple[str, ...] = ()


class Check(NamedTuple):
    """A check: its ID, its level and its rules (minimum versions strictly increasing)."""

    id: str
    level: Level
    rules: tuple[Rule, ...]


_B, _R = Level.BASELINE, Level.RESTRICTED

#: Upstream 1.33's default checks.
CHECKS: tuple[Check, ...] = (
    Check("appArmorProfile", _B, (Rule(0, profiles.apparmor),)),
    Check("capabilities_baseline", _B, (Rule(0, profiles.capabilities_baseline),)),
    Check("hostNamespaces", _B, (Rule(0, host.host_namespaces),)),
    Check("hostPathVolumes", _B, (Rule(0, host.host_path_volumes),)),
    Check("hostPorts", _B, (Rule(0, host.host_ports),)),
    Check("privileged", _B, (Rule(0, host.privileged),)),
    Check("procMount", _B, (Rule(0, profiles.proc_mount),)),
    Check("seLinuxOptions", _B, (Rule(0, profiles.selinux_1_0),
                                 Rule(31, profiles.selinux_1_31))),
    Check("seccompProfile_baseline", _B, (Rule(0, profiles.seccomp_baseline_1_0),
                                          Rule(19, profiles.seccomp_baseline_1_19))),
    Check("sysctls", _B, (Rule(0, profiles.sysctls_1_0), Rule(27, profiles.sysctls_1_27),
                          Rule(29, profiles.sysctls_1_29), Rule(32, profiles.sysctls_1_32))),
    Check("windowsHostProcess", _B, (Rule(0, host.windows_host_process),)),
    Check("allowPrivilegeEscalation", _R, (
        Rule(8, restricted.allow_privilege_escalation_1_8),
        Rule(25, restricted.allow_privilege_escalation_1_25))),
    Check("capabilities_restricted", _R, (
        Rule(22, restricted.capabilities_restricted_1_22, ("capabilities_baseline",)),
        Rule(25, restricted.capabilities_restricted_1_25, ("capabilities_baseline",)))),
    Check("restrictedVolumes", _R, (
        Rule(0, restricted.restricted_volumes, ("hostPathVolumes",)),)),
    Check("runAsNonRoot", _R, (Rule(0, restricted.run_as_non_root),)),
    Check("runAsUser", _R, (Rule(23, restricted.run_as_user),)),
    Check("seccompProfile_restricted", _R, (
        Rule(19, restricted.seccomp_restricted_1_19, ("seccompProfile_baseline",)),
        Rule(25, restricted.seccomp_restricted_1_25, ("seccompProfile_baseline",)))),
)

#: The newest version any rule starts at; newer versions (and ``latest``) evaluate as it.
MAX_MINOR = max(rule.minimum for check in CHECKS for rule in check.rules)

#: Baseline IDs sorted, then restricted IDs sorted (Go sorts bytewise, as Python does).
_ORDER = (sorted((c for c in CHECKS if c.level is _B), key=lambda c: c.id)
          + sorted((c for c in CHECKS if c.level is _R), key=lambda c: c.id))


def _rule_at(check: Check, minor: int) -> Rule | None:
    found = None
    for rule in check.rules:
        if rule.minimum <= minor:
            found = rule
    return found


@cache
def _checks_at(level: Level, minor: int) -> tuple[CheckFn, ...]:
    in_force = {c.id: rule for c in _ORDER
                if (c.level is _B or level is _R) and (rule := _rule_at(c, minor)) is not None}
    overridden = {o for rule in in_force.values() for o in rule.overrides}
    return tuple(rule.check for cid, rule in in_force.items() if cid not in overridden)


def checks_for(lv: LevelVersion) -> tuple[CheckFn, ...]:
    """The checks ``lv`` runs, in upstream's order."""
    if lv.level is Level.PRIVILEGED:
        return ()
    minor = lv.version.minor
    return _checks_at(lv.level, MAX_MINOR if minor is None else min(minor, MAX_MINOR))


def evaluate(lv: LevelVersion, meta: Obj, spec: Obj) -> Aggregate:
    """The refusals of ``lv``'s checks for a pod (or pod template)."""
    return aggregate(check(meta, spec) for check in checks_for(lv))


def check_ids(lv: LevelVersion) -> Sequence[str]:
    """The IDs of the checks ``lv`` runs, in order (for tests and diagnostics)."""
    functions = checks_for(lv)
    ids = []
    for check in _ORDER:
        rule = _rule_at(check, MAX_MINOR if lv.version.minor is None
                        else min(lv.version.minor, MAX_MINOR))
        if rule is not None and rule.check in functions:
            ids.append(check.id)
    return ids
