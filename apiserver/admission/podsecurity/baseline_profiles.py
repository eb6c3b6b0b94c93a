"""Baseline checks on a pod's security profiles and kernel settings: added capabilities,
AppArmor, SELinux, ``/proc`` mounts, seccomp and sysctls (``policy/check_*.go`` of the
same names).

Checks whose rules changed between policy versions come in one function per version
(``seccomp_baseline_1_0`` reads the alpha annotations, ``…_1_19`` the fields); the table in
:mod:`apiserver.admission.podsecurity.registry` says from which version each applies.
Messages are upstream's, to the character.
"""

from __future__ import annotations

from collections.abc import Callable

from apiserver.admission.podsecurity.result import (
    ALLOWED,
    CheckFn,
    CheckResult,
    Obj,
    containers,
    containers_phrase,
    field,
    join_quote,
    name,
    pluralize,
    security_context,
    strings,
)
from apiserver.api.gostrings import go_quote

#: The container runtime's default capabilities, which baseline lets a container add.
DEFAULT_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})


def capabilities_baseline(_meta: Obj, spec: Obj) -> CheckResult:
    """``capabilities.add`` may only name default capabilities (v1.0+)."""
    bad: list[str] = []
    added: set[str] = set()
    for container in containers(spec):
        caps = field(security_context(container), "capabilities")
        if caps is None:
            continue
        extra = [c for c in strings(caps.get("add")) if c not in DEFAULT_CAPABILITIES]
        if extra:
            bad.append(name(container))
            added.update(extra)
    if bad:
        return CheckResult(False, "non-default capabilities",
                           f"{containers_phrase(bad)} must not include "
                           f"{join_quote(sorted(added))} in securityContext.capabilities.add")
    return ALLOWED


APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
_APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def _apparmor_annotation_allowed(value: str) -> bool:
    return not value or value == "runtime/default" or value.startswith("localhost/")


def _disallowed_types(spec: Obj, type_of: Callable[[Obj | None], str | None],
                      allowed: frozenset[str]) -> tuple[list[str], set[str]]:
    """Who sets a profile type outside ``allowed`` (``pod``, then the containers phrase) and
    the types they set; ``type_of`` reads a security context's type (None: unset)."""
    setters: list[str] = []
    values: set[str] = set()
    pod_type = type_of(security_context(spec))
    if pod_type is not None and pod_type not in allowed:
        setters.append("pod")
        values.add(pod_type)
    bad: list[str] = []
    for container in containers(spec):
        kind = type_of(security_context(container))
        if kind is not None and kind not in allowed:
            bad.append(name(container))
            values.add(kind)
    if bad:
        setters.append(containers_phrase(bad))
    return setters, values


def _apparmor_type(context: Obj | None) -> str | None:
    """The AppArmor profile type set on ``context``, None when no profile is set."""
    profile = field(context, "appArmorProfile")
    return None if profile is None else str(profile.get("type") or "")


def apparmor(meta: Obj, spec: Obj) -> CheckResult:
    """AppArmor profiles (fields or the deprecated beta annotations) may only be the
    runtime's default or a localhost profile (v1.0+)."""
    setters, values = _disallowed_types(spec, _apparmor_type, _APPARMOR_TYPES)
    annotations = meta.get("annotations") or {}
    forbidden = sorted(f"{key}={go_quote(str(value))}" for key, value in annotations.items()
                       if key.startswith(APPARMOR_ANNOTATION_PREFIX)
                       and not _apparmor_annotation_allowed(str(value)))
    shown = sorted(values)
    if forbidden:
        shown += forbidden
        setters.append(pluralize("annotation", "annotations", len(forbidden)))
    if setters:
        return CheckResult(False, pluralize("forbidden AppArmor profile",
                                            "forbidden AppArmor profiles", len(shown)),
                           f"{' and '.join(setters)} must not set AppArmor profile type to "
                           f"{join_quote(shown)}")
    return ALLOWED


_SELINUX_TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
_SELINUX_TYPES_1_31 = _SELINUX_TYPES_1_0 | {"container_engine_t"}


def _selinux(allowed_types: frozenset[str]) -> CheckFn:
    def check(_meta: Obj, spec: Obj) -> CheckResult:
        bad_types: set[str] = set()
        set_user = set_role = False

        def valid(context: Obj | None) -> bool:
            nonlocal set_user, set_role
            options = field(context, "seLinuxOptions")
            if options is None:
                return True
            ok = True
            kind = str(options.get("type") or "")
            if kind not in allowed_types:
                ok = False
                bad_types.add(kind)
            if options.get("user"):
                ok, set_user = False, True
            if options.get("role"):
                ok, set_role = False, True
            return ok

        setters = [] if valid(security_context(spec)) else ["pod"]
        bad = [name(c) for c in containers(spec) if not valid(security_context(c))]
        if bad:
            setters.append(containers_phrase(bad))
        if not setters:
            return ALLOWED
        data: list[str] = []
        if bad_types:
            data.append(f"{pluralize('type', 'types', len(bad_types))} "
                        f"{join_quote(sorted(bad_types))}")
        if set_user:
            data.append("user may not be set")
        if set_role:
            data.append("role may not be set")
        return CheckResult(False, "seLinuxOptions",
                           f"{' and '.join(setters)} set forbidden "
                           f"securityContext.seLinuxOptions: {'; '.join(data)}")
    return check


#: SELinux type, user and role (v1.0+; v1.31 also allows ``container_engine_t``).
selinux_1_0 = _selinux(_SELINUX_TYPES_1_0)
selinux_1_31 = _selinux(_SELINUX_TYPES_1_31)


def proc_mount(_meta: Obj, spec: Obj) -> CheckResult:
    """``securityContext.procMount`` may only be ``Default`` (v1.0+). (Upstream relaxes this
    for user-namespace pods only behind an alpha feature gate, off in 1.33.)"""
    bad: list[str] = []
    kinds: set[str] = set()
    for container in containers(spec):
        mount = (security_context(container) or {}).get("procMount")
        if mount is not None and mount != "Default":
            bad.append(name(container))
            kinds.add(str(mount))
    if bad:
        return CheckResult(False, "procMount",
                           f"{containers_phrase(bad)} must not set securityContext.procMount "
                           f"to {join_quote(sorted(kinds))}")
    return ALLOWED


SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def _seccomp_annotation_allowed(value: str) -> bool:
    return value in ("runtime/default", "docker/default") or value.startswith("localhost/")


def seccomp_baseline_1_0(meta: Obj, spec: Obj) -> CheckResult:
    """The alpha seccomp annotations may only name the runtime's default or a localhost
    profile (v1.0 to v1.18)."""
    annotations = meta.get("annotations") or {}
    keys = [SECCOMP_POD_ANNOTATION] + [SECCOMP_CONTAINER_ANNOTATION_PREFIX + name(c)
                                       for c in containers(spec)]
    forbidden = {f"{key}={go_quote(str(annotations[key]))}" for key in keys
                 if key in annotations and not _seccomp_annotation_allowed(str(annotations[key]))}
    if forbidden:
        return CheckResult(False, "seccompProfile",
                           f"forbidden {pluralize('annotation', 'annotations', len(forbidden))} "
                           f"{', '.join(sorted(forbidden))}")
    return ALLOWED


def seccomp_type(context: Obj | None) -> str | None:
    """The seccomp profile type set on ``context``, None when no profile is set."""
    profile = field(context, "seccompProfile")
    return None if profile is None else str(profile.get("type") or "")


def seccomp_baseline_1_19(_meta: Obj, spec: Obj) -> CheckResult:
    """A seccomp profile, where set, must be ``RuntimeDefault`` or ``Localhost`` (v1.19+)."""
    setters, values = _disallowed_types(spec, seccomp_type, SECCOMP_TYPES)
    if setters:
        return CheckResult(False, "seccompProfile",
                           f"{' and '.join(setters)} must not set "
                           f"securityContext.seccompProfile.type to {join_quote(sorted(values))}")
    return ALLOWED


_SYSCTLS_1_0 = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
})
_SYSCTLS_1_27 = _SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
_SYSCTLS_1_29 = _SYSCTLS_1_27 | {
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
}
_SYSCTLS_1_32 = _SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}


def _sysctls(allowed: frozenset[str]) -> CheckFn:
    def check(_meta: Obj, spec: Obj) -> CheckResult:
        listed = (security_context(spec) or {}).get("sysctls")
        bad = [str(s.get("name") or "") for s in listed or () if isinstance(s, dict)
               and s.get("name") not in allowed]
        if bad:
            return CheckResult(False, "forbidden sysctls", ", ".join(bad))
        return ALLOWED
    return check


#: Only the namespaced, isolated sysctls of each policy version.
sysctls_1_0 = _sysctls(_SYSCTLS_1_0)
sysctls_1_27 = _sysctls(_SYSCTLS_1_27)
sysctls_1_29 = _sysctls(_SYSCTLS_1_29)
sysctls_1_32 = _sysctls(_SYSCTLS_1_32)
