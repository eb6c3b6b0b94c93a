"""Pod Security levels, policy versions and a namespace's policy from its labels
(``k8s.io/pod-security-admission/api``).

Contracts:

* :func:`parse_level` / :func:`parse_version` accept upstream's spellings only
  (``privileged``/``baseline``/``restricted``; ``latest`` or ``v1.N``) and answer an error
  text with the value they fall back to, as upstream's ``ParseLevel``/``ParseVersion``.
* :func:`policy_from_labels` is upstream's ``PolicyToEvaluate``: a valid :class:`Policy` is
  always returned, along with the field errors of the labels that could not be parsed
  (``metadata.labels[<key>]: Invalid value: …``), in upstream's label order.
* Everything here is immutable and hashable, so policies can be memoised and compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from apiserver.api import errors
from apiserver.api.gostrings import go_quote

LABEL_PREFIX = "pod-security.kubernetes.io/"
ENFORCE_LEVEL_LABEL = LABEL_PREFIX + "enforce"
ENFORCE_VERSION_LABEL = LABEL_PREFIX + "enforce-version"
AUDIT_LEVEL_LABEL = LABEL_PREFIX + "audit"
AUDIT_VERSION_LABEL = LABEL_PREFIX + "audit-version"
WARN_LEVEL_LABEL = LABEL_PREFIX + "warn"
WARN_VERSION_LABEL = LABEL_PREFIX + "warn-version"

#: Audit annotations are written under the label prefix (upstream ``AuditAnnotationPrefix``).
AUDIT_ANNOTATION_PREFIX = LABEL_PREFIX
EXEMPTION_REASON_ANNOTATION = "exempt"
AUDIT_VIOLATIONS_ANNOTATION = "audit-violations"
ENFORCED_POLICY_ANNOTATION = "enforce-policy"


class Level(StrEnum):
    """A Pod Security Standard."""

    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"


#: Strictness rank of each level (upstream ``CompareLevels``).
_RANK = {Level.PRIVILEGED: 0, Level.BASELINE: 1, Level.RESTRICTED: 2}


def compare_levels(a: Level, b: Level) -> int:
    """-1, 0 or 1 as ``a`` is less strict than, as strict as, or stricter than ``b``."""
    return (_RANK[a] > _RANK[b]) - (_RANK[a] < _RANK[b])


@dataclass(frozen=True, slots=True, order=False)
class Version:
    """A policy version: ``v1.<minor>``, or ``latest`` (``minor`` None), which is newer
    than every numbered version. Upstream only knows major version 1."""

    minor: int | None = None

    @property
    def latest(self) -> bool:
        """Whether the version is ``latest`` (the newest rules)."""
        return self.minor is None

    def older(self, other: Version) -> bool:
        """Whether this version is older than ``other`` (upstream ``Version.Older``)."""
        if self.minor is None:
            return False
        return other.minor is None or self.minor < other.minor

    def __str__(self) -> str:
        return "latest" if self.minor is None else f"v1.{self.minor}"


LATEST = Version()


class LevelVersion(NamedTuple):
    """A level at a policy version; shown as upstream shows it: ``restricted:latest``."""

    level: Level
    version: Version

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"

    def equivalent(self, other: LevelVersion) -> bool:
        """Both privileged (any version), or the same level and version."""
        return (self.level is Level.PRIVILEGED and other.level is Level.PRIVILEGED) \
            or self == other


PRIVILEGED_LATEST = LevelVersion(Level.PRIVILEGED, LATEST)


class Policy(NamedTuple):
    """What a namespace asks for in each mode."""

    enforce: LevelVersion = PRIVILEGED_LATEST
    audit: LevelVersion = PRIVILEGED_LATEST
    warn: LevelVersion = PRIVILEGED_LATEST

    def fully_privileged(self) -> bool:
        """Whether enforce, audit and warn are all ``privileged`` (nothing to check)."""
        return (self.enforce.level is Level.PRIVILEGED and self.audit.level is Level.PRIVILEGED
                and self.warn.level is Level.PRIVILEGED)

    def equivalent(self, other: Policy) -> bool:
        """Whether enforce, audit and warn are each equivalent to ``other``'s."""
        return (self.enforce.equivalent(other.enforce) and self.audit.equivalent(other.audit)
                and self.warn.equivalent(other.warn))


#: Upstream's default AdmissionConfiguration: every mode ``privileged:latest``.
DEFAULT_POLICY = Policy()

_LEVEL_ERROR = "must be one of privileged, baseline, restricted"
_VERSION_ERROR = 'must be "latest" or "v1.x"'
_VERSION = re.compile(r"v1\.([0-9]|[1-9][0-9]*)")


def parse_level(text: str) -> tuple[Level, str | None]:
    """The level ``text`` names, else ``restricted`` and upstream's error text."""
    try:
        return Level(text), None
    except ValueError:
        return Level.RESTRICTED, _LEVEL_ERROR


def parse_version(text: str) -> tuple[Version, str | None]:
    """The version ``text`` names, else ``latest`` and upstream's error text."""
    if text == "latest":
        return LATEST, None
    match = _VERSION.fullmatch(text)
    if match is None:
        return LATEST, _VERSION_ERROR
    return Version(int(match.group(1))), None


def has_policy_labels(labels: dict[str, str]) -> bool:
    """Whether any label is a Pod Security one (the fast path of unlabelled namespaces)."""
    return any(key.startswith(LABEL_PREFIX) for key in labels)


def policy_from_labels(labels: dict[str, str], defaults: Policy = DEFAULT_POLICY) \
        -> tuple[Policy, list[dict[str, str]]]:
    """The policy the labels ask for (``defaults`` for what they leave out) and the field
    errors of unparsable labels. An unparsable enforce level enforces ``restricted``; an
    unparsable audit or warn level fails open (``privileged``). When enforce is set to a
    level stricter than warn's and warn is not labelled, warn follows enforce."""
    enforce, audit, warn = defaults
    causes: list[dict[str, str]] = []

    def invalid(label: str, value: str, error: str | None) -> None:
        if error is not None:
            causes.append(errors.invalid_value(f"metadata.labels[{label}]", value, error))

    has_enforce_level = has_warn_level = has_warn_version = False
    if (text := labels.get(ENFORCE_LEVEL_LABEL)) is not None:
        level, error = parse_level(text)
        enforce = enforce._replace(level=level)
        has_enforce_level = error is None
        invalid(ENFORCE_LEVEL_LABEL, text, error)
    if (text := labels.get(ENFORCE_VERSION_LABEL)) is not None:
        version, error = parse_version(text)
        enforce = enforce._replace(version=version)
        invalid(ENFORCE_VERSION_LABEL, text, error)
    if (text := labels.get(AUDIT_LEVEL_LABEL)) is not None:
        level, error = parse_level(text)
        audit = audit._replace(level=Level.PRIVILEGED if error else level)
        invalid(AUDIT_LEVEL_LABEL, text, error)
    if (text := labels.get(AUDIT_VERSION_LABEL)) is not None:
        version, error = parse_version(text)
        audit = audit._replace(version=version)
        invalid(AUDIT_VERSION_LABEL, text, error)
    if (text := labels.get(WARN_LEVEL_LABEL)) is not None:
        has_warn_level = True
        level, error = parse_level(text)
        warn = warn._replace(level=Level.PRIVILEGED if error else level)
        invalid(WARN_LEVEL_LABEL, text, error)
    if (text := labels.get(WARN_VERSION_LABEL)) is not None:
        has_warn_version = True
        version, error = parse_version(text)
        warn = warn._replace(version=version)
        invalid(WARN_VERSION_LABEL, text, error)
    if not has_warn_level and has_enforce_level \
            and compare_levels(enforce.level, warn.level) > 0:
        warn = LevelVersion(enforce.level,
                            warn.version if has_warn_version else enforce.version)
    return Policy(enforce, audit, warn), causes


def exempt_namespace_warning(namespace: str, policy: Policy, defaults: Policy,
                             labels: dict[str, str]) -> str:
    """The warning an exempt namespace gets when labelled with a policy that will be
    ignored (the labelled, non-privileged modes), or "" when there is nothing to say."""
    if policy.fully_privileged() or policy.equivalent(defaults):
        return ""
    modes = []
    for mode, lv, level_label, version_label in (
        ("enforce", policy.enforce, ENFORCE_LEVEL_LABEL, ENFORCE_VERSION_LABEL),
        ("audit", policy.audit, AUDIT_LEVEL_LABEL, AUDIT_VERSION_LABEL),
        ("warn", policy.warn, WARN_LEVEL_LABEL, WARN_VERSION_LABEL),
    ):
        if lv.level is not Level.PRIVILEGED and (level_label in labels
                                                 or version_label in labels):
            modes.append(f"{mode}={lv}")
    return (f"namespace {go_quote(namespace)} is exempt from Pod Security, and the policy "
            f"({', '.join(modes)}) will be ignored")
