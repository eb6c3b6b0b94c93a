"""The restricted level's own checks: volume types, privilege escalation, non-root users,
seccomp and capabilities (``policy/check_restrictedVolumes.go``,
``check_allowPrivilegeEscalation.go``, ``check_runAsNonRoot.go``, ``check_runAsUser.go``,
``check_seccompProfile_restricted.go``, ``check_capabilities_restricted.go``).

Some replace a baseline check at the restricted level (the table in
:mod:`apiserver.admission.podsecurity.registry` says which); from policy v1.25 on, the
Linux-only ones let pods with ``spec.os.name: windows`` pass. Messages are upstream's, to
the character. (Upstream's relaxation of the user checks for user-namespace pods is
behind an alpha feature gate, off in 1.33, and is not modelled.)
"""

from __future__ import annotations

from apiserver.admission.podsecurity.baseline_profiles import SECCOMP_TYPES, seccomp_type
from apiserver.admission.podsecurity.result import (
    ALLOWED,
    CheckFn,
    CheckResult,
    Obj,
    containers,
    containers_phrase,
    field,
    is_windows,
    join_quote,
    name,
    pluralize,
    security_context,
    strings,
    volumes,
)

#: Volume sources restricted pods may use.
_ALLOWED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
                    "persistentVolumeClaim", "projected", "secret")
#: The others, in the order upstream names the first one a volume sets.
_RESTRICTED_VOLUMES = (
    "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
    "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
    "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume",
    "scaleIO", "storageos",
)


def restricted_volumes(_meta: Obj, spec: Obj) -> CheckResult:
    """Only the inline volume sources of :data:`_ALLOWED_VOLUMES` (v1.0+)."""
    bad: list[str] = []
    kinds: set[str] = set()
    for volume in volumes(spec):
        if any(volume.get(key) is not None for key in _ALLOWED_VOLUMES):
            continue
        bad.append(name(volume))
        kinds.add(next((key for key in _RESTRICTED_VOLUMES if volume.get(key) is not None),
                       "unknown"))
    if bad:
        return CheckResult(
            False, "restricted volume types",
            f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)} "
            f"{pluralize('uses', 'use', len(bad))} "
            f"{pluralize('restricted volume type', 'restricted volume types', len(kinds))} "
            f"{join_quote(sorted(kinds))}")
    return ALLOWED


def _unless_windows(check: CheckFn) -> CheckFn:
    """``check`` from v1.25 on: pods that say they run on Windows pass (the API refuses the
    Linux-only fields there)."""
    def windows_exempt(meta: Obj, spec: Obj) -> CheckResult:
        return ALLOWED if is_windows(spec) else check(meta, spec)
    return windows_exempt


def allow_privilege_escalation_1_8(_meta: Obj, spec: Obj) -> CheckResult:
    """Every container must set ``allowPrivilegeEscalation: false`` (v1.8+)."""
    bad = [name(c) for c in containers(spec)
           if (security_context(c) or {}).get("allowPrivilegeEscalation") is not False]
    if bad:
        return CheckResult(False, "allowPrivilegeEscalation != false",
                           f"{containers_phrase(bad)} must set "
                           "securityContext.allowPrivilegeEscalation=false")
    return ALLOWED


allow_privilege_escalation_1_25 = _unless_windows(allow_privilege_escalation_1_8)


def run_as_non_root(_meta: Obj, spec: Obj) -> CheckResult:
    """``runAsNonRoot: true`` on the pod or on every container, and false nowhere
    (v1.0+)."""
    setters: list[str] = []
    pod_non_root = False
    pod_value = (security_context(spec) or {}).get("runAsNonRoot")
    if pod_value is not None:
        if pod_value:
            pod_non_root = True
        else:
            setters.append("pod")
    explicit: list[str] = []
    implicit: list[str] = []
    for container in containers(spec):
        value = (security_context(container) or {}).get("runAsNonRoot")
        if value is not None:
            if not value:
                explicit.append(name(container))
        elif not pod_non_root:
            implicit.append(name(container))
    if explicit:
        setters.append(containers_phrase(explicit))
    if setters:
        return CheckResult(False, "runAsNonRoot != true",
                           f"{' and '.join(setters)} must not set "
                           "securityContext.runAsNonRoot=false")
    if implicit:
        return CheckResult(False, "runAsNonRoot != true",
                           f"pod or {containers_phrase(implicit)} must set "
                           "securityContext.runAsNonRoot=true")
    return ALLOWED


def _root(context: Obj | None) -> bool:
    uid = (context or {}).get("runAsUser")
    return isinstance(uid, int) and not isinstance(uid, bool) and uid == 0


def run_as_user(_meta: Obj, spec: Obj) -> CheckResult:
    """Neither the pod nor a container may set ``runAsUser: 0`` (v1.23+)."""
    setters = ["pod"] if _root(security_context(spec)) else []
    bad = [name(c) for c in containers(spec) if _root(security_context(c))]
    if bad:
        setters.append(containers_phrase(bad))
    if setters:
        return CheckResult(False, "runAsUser=0",
                           f"{' and '.join(setters)} must not set runAsUser=0")
    return ALLOWED


def seccomp_restricted_1_19(_meta: Obj, spec: Obj) -> CheckResult:
    """A ``RuntimeDefault`` or ``Localhost`` seccomp profile on the pod or on every
    container, and no other type anywhere (v1.19+)."""
    setters: list[str] = []
    values: set[str] = set()
    pod_set = False
    pod_type = seccomp_type(security_context(spec))
    if pod_type is not None:
        if pod_type in SECCOMP_TYPES:
            pod_set = True
        else:
            setters.append("pod")
            values.add(pod_type)
    explicit: list[str] = []
    implicit: list[str] = []
    for container in containers(spec):
        kind = seccomp_type(security_context(container))
        if kind is not None:
            if kind not in SECCOMP_TYPES:
                explicit.append(name(container))
                values.add(kind)
        elif not pod_set:
            implicit.append(name(container))
    if explicit:
        setters.append(containers_phrase(explicit))
    if setters:
        return CheckResult(False, "seccompProfile",
                           f"{' and '.join(setters)} must not set "
                           f"securityContext.seccompProfile.type to {join_quote(sorted(values))}")
    if implicit:
        return CheckResult(False, "seccompProfile",
                           f"pod or {containers_phrase(implicit)} must set "
                           'securityContext.seccompProfile.type to "RuntimeDefault" or '
                           '"Localhost"')
    return ALLOWED


seccomp_restricted_1_25 = _unless_windows(seccomp_restricted_1_19)


def capabilities_restricted_1_22(_meta: Obj, spec: Obj) -> CheckResult:
    """Every container drops ``ALL`` and adds nothing but ``NET_BIND_SERVICE`` (v1.22+)."""
    missing_drop: list[str] = []
    adding: list[str] = []
    added: set[str] = set()
    for container in containers(spec):
        caps = field(security_context(container), "capabilities")
        if caps is None:
            missing_drop.append(name(container))
            continue
        if "ALL" not in strings(caps.get("drop")):
            missing_drop.append(name(container))
        extra = [c for c in strings(caps.get("add")) if c != "NET_BIND_SERVICE"]
        if extra:
            adding.append(name(container))
            added.update(extra)
    details: list[str] = []
    if missing_drop:
        details.append(f'{containers_phrase(missing_drop)} must set '
                       'securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f"{containers_phrase(adding)} must not include "
                       f"{join_quote(sorted(added))} in securityContext.capabilities.add")
    if details:
        return CheckResult(False, "unrestricted capabilities", "; ".join(details))
    return ALLOWED


capabilities_restricted_1_25 = _unless_windows(capabilities_restricted_1_22)
