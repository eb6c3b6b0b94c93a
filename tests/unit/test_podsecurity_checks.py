"""The Pod Security checks, their versions and order, and how refusals are worded: each
expected string is upstream's (``k8s.io/pod-security-admission`` 1.33), to the character."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.admission.podsecurity import baseline_host as host
from apiserver.admission.podsecurity import baseline_profiles as profiles
from apiserver.admission.podsecurity import restricted
from apiserver.admission.podsecurity.levels import (
    LATEST,
    Level,
    LevelVersion,
    Policy,
    Version,
    compare_levels,
    parse_version,
    policy_from_labels,
)
from apiserver.admission.podsecurity.registry import check_ids, evaluate
from apiserver.admission.podsecurity.result import CheckFn, CheckResult, aggregate

RESTRICTED = LevelVersion(Level.RESTRICTED, LATEST)
BASELINE = LevelVersion(Level.BASELINE, LATEST)


def _c(name: str, **context: Any) -> dict[str, Any]:
    """A container named ``name`` with ``context`` as its securityContext (if any)."""
    container: dict[str, Any] = {"name": name, "image": "nginx"}
    if context:
        container["securityContext"] = context
    return container


def _refused(check: CheckFn, spec: dict[str, Any], meta: dict[str, Any] | None = None) \
        -> tuple[str, str]:
    result = check(meta or {}, spec)
    assert not result.allowed
    return result.reason, result.detail


# -- baseline ------------------------------------------------------------------


def test_host_namespaces() -> None:
    spec = {"hostNetwork": True, "hostPID": True, "hostIPC": True}
    assert _refused(host.host_namespaces, spec) == (
        "host namespaces", "hostNetwork=true, hostPID=true, hostIPC=true")
    assert host.host_namespaces({}, {"hostNetwork": False}).allowed


def test_privileged() -> None:
    spec = {"containers": [_c("a"), _c("b", privileged=False), _c("d", privileged=True)],
            "initContainers": [_c("e", privileged=True)]}
    assert _refused(host.privileged, spec) == (
        "privileged", 'containers "e", "d" must not set securityContext.privileged=true')


def test_host_path_volumes() -> None:
    spec = {"volumes": [{"name": "a", "hostPath": {"path": "/"}}, {"name": "b", "emptyDir": {}},
                        {"name": "c", "hostPath": {"path": "/x"}}]}
    assert _refused(host.host_path_volumes, spec) == ("hostPath volumes", 'volumes "a", "c"')


def test_host_ports_are_listed_as_strings_in_order() -> None:
    one = {"containers": [{"name": "a", "ports": [{"hostPort": 0}]},
                          {"name": "b", "ports": [{"hostPort": 0}, {"hostPort": 20}]}]}
    assert _refused(host.host_ports, one) == ("hostPort", 'container "b" uses hostPort 20')
    many = {"containers": [
        {"name": "a", "ports": [{"containerPort": 80}]},
        {"name": "b", "ports": [{"hostPort": 10}, {"hostPort": 20}]},
        {"name": "c", "ports": [{"hostPort": 10}, {"hostPort": 30}, {"hostPort": 9}]}]}
    assert _refused(host.host_ports, many) == (
        "hostPort", 'containers "b", "c" use hostPorts 10, 20, 30, 9')


def test_windows_host_process() -> None:
    spec = {"securityContext": {"windowsOptions": {"hostProcess": True}},
            "containers": [_c("a"), _c("c", windowsOptions={}),
                           _c("d", windowsOptions={"hostProcess": False}),
                           _c("e", windowsOptions={"hostProcess": True}),
                           _c("f", windowsOptions={"hostProcess": True})]}
    assert _refused(host.windows_host_process, spec) == (
        "hostProcess", 'pod and containers "e", "f" must not set '
                       "securityContext.windowsOptions.hostProcess=true")


def test_capabilities_baseline() -> None:
    spec = {"containers": [_c("a", capabilities={"add": ["FOO", "BAR", "CHOWN"]}),
                           _c("b", capabilities={"add": ["BAR", "BAZ"]}),
                           _c("c", capabilities={"add": ["NET_BIND_SERVICE"]})]}
    assert _refused(profiles.capabilities_baseline, spec) == (
        "non-default capabilities",
        'containers "a", "b" must not include "BAR", "BAZ", "FOO" in '
        "securityContext.capabilities.add")


def test_apparmor_fields_and_annotations() -> None:
    pod = {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}}
    assert _refused(profiles.apparmor, pod) == (
        "forbidden AppArmor profile", 'pod must not set AppArmor profile type to "Unconfined"')
    init = {"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}},
            "containers": [_c("foo")],
            "initContainers": [_c("bar", appArmorProfile={"type": "Unconfined"})]}
    assert _refused(profiles.apparmor, init) == (
        "forbidden AppArmor profile",
        'container "bar" must not set AppArmor profile type to "Unconfined"')
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    meta = {"annotations": {prefix: "bogus", prefix + "a": "", prefix + "b": "runtime/default",
                            prefix + "c": "localhost/", prefix + "d": "localhost/foo",
                            prefix + "e": "unconfined", prefix + "f": "unknown", "env": "x"}}
    assert _refused(profiles.apparmor, {}, meta) == (
        "forbidden AppArmor profiles",
        "annotations must not set AppArmor profile type to "
        f'"{prefix}="bogus"", "{prefix}e="unconfined"", "{prefix}f="unknown""')
    assert profiles.apparmor({}, {"containers": [
        _c("a", appArmorProfile={"type": "Localhost", "localhostProfile": "p"})]}).allowed


def test_selinux_options_and_their_versions() -> None:
    spec = {"securityContext": {"seLinuxOptions": {"type": "foo", "user": "bar", "role": "baz"}},
            "containers": [_c("a", seLinuxOptions={"type": "container_t"}),
                           _c("b", seLinuxOptions={"type": "container_init_t"}),
                           _c("c", seLinuxOptions={"type": "container_kvm_t"}),
                           _c("d", seLinuxOptions={"type": "container_engine_t"}),
                           _c("e", seLinuxOptions={"type": "bar"}),
                           _c("f", seLinuxOptions={"user": "bar"}),
                           _c("g", seLinuxOptions={"role": "baz"})]}
    assert _refused(profiles.selinux_1_31, spec) == (
        "seLinuxOptions",
        'pod and containers "e", "f", "g" set forbidden securityContext.seLinuxOptions: '
        'types "bar", "foo"; user may not be set; role may not be set')
    # Before v1.31 container_engine_t is not allowed either.
    assert _refused(profiles.selinux_1_0, spec)[1].startswith(
        'pod and containers "d", "e", "f", "g" set forbidden securityContext.seLinuxOptions: '
        'types "bar", "container_engine_t", "foo"')
    assert _refused(profiles.selinux_1_31, {"securityContext": {"seLinuxOptions": {
        "role": "r"}}}) == ("seLinuxOptions",
                            "pod set forbidden securityContext.seLinuxOptions: role may not be "
                            "set")


def test_proc_mount() -> None:
    spec = {"containers": [_c("a"), _c("b", procMount="Default"), _c("d", procMount="Unmasked"),
                           _c("e", procMount="other")]}
    assert _refused(profiles.proc_mount, spec) == (
        "procMount",
        'containers "d", "e" must not set securityContext.procMount to "Unmasked", "other"')


def test_seccomp_baseline_annotations_before_1_19() -> None:
    meta = {"annotations": {
        "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
        "container.seccomp.security.alpha.kubernetes.io/a": "unconfined",
        "container.seccomp.security.alpha.kubernetes.io/b": "unknown",
        "container.seccomp.security.alpha.kubernetes.io/c": "localhost/x",
        "container.seccomp.security.alpha.kubernetes.io/z": "unconfined",  # no such container
    }}
    spec = {"containers": [_c("a"), _c("b"), _c("c")]}
    assert _refused(profiles.seccomp_baseline_1_0, spec, meta) == (
        "seccompProfile",
        'forbidden annotations container.seccomp.security.alpha.kubernetes.io/a="unconfined", '
        'container.seccomp.security.alpha.kubernetes.io/b="unknown", '
        'seccomp.security.alpha.kubernetes.io/pod="unconfined"')


def test_seccomp_baseline_fields() -> None:
    spec = {"securityContext": {"seccompProfile": {"type": "Unconfined"}},
            "containers": [_c("a"), _c("b", seccompProfile={"type": "RuntimeDefault"}),
                           _c("c", seccompProfile={"type": "Unconfined"}),
                           _c("d", seccompProfile={"type": "Unconfined"})]}
    assert _refused(profiles.seccomp_baseline_1_19, spec) == (
        "seccompProfile", 'pod and containers "c", "d" must not set '
                          'securityContext.seccompProfile.type to "Unconfined"')


@pytest.mark.parametrize(("check", "allowed", "refused"), [
    (profiles.sysctls_1_0, "net.ipv4.tcp_syncookies", "net.ipv4.ip_local_reserved_ports"),
    (profiles.sysctls_1_27, "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time"),
    (profiles.sysctls_1_29, "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem"),
    (profiles.sysctls_1_32, "net.ipv4.tcp_wmem", "kernel.msgmax"),
])
def test_sysctls_by_version(check: CheckFn, allowed: str, refused: str) -> None:
    def spec(*names: str) -> dict[str, Any]:
        return {"securityContext": {"sysctls": [{"name": n, "value": "1"} for n in names]}}
    assert check({}, spec(allowed)).allowed
    assert _refused(check, spec("a", refused, allowed, "b")) == (
        "forbidden sysctls", f"a, {refused}, b")


# -- restricted ----------------------------------------------------------------


def test_restricted_volume_types() -> None:
    allowed = ["emptyDir", "secret", "persistentVolumeClaim", "downwardAPI", "configMap",
               "projected", "csi", "ephemeral", "image"]
    refused = ["hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs",
               "iscsi", "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc",
               "azureFile", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk",
               "portworxVolume", "scaleIO", "storageos"]
    vols = [{"name": f"a{i}", kind: {}} for i, kind in enumerate(allowed, 1)]
    vols += [{"name": f"b{i}", kind: {}} for i, kind in enumerate(refused, 1)]
    vols.append({"name": "c1"})
    assert _refused(restricted.restricted_volumes, {"volumes": vols}) == (
        "restricted volume types",
        "volumes " + ", ".join(f'"b{i}"' for i in range(1, 22)) + ', "c1" use restricted '
        'volume types "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", '
        '"fc", "flexVolume", "flocker", "gcePersistentDisk", "gitRepo", "glusterfs", '
        '"hostPath", "iscsi", "nfs", "photonPersistentDisk", "portworxVolume", "quobyte", '
        '"rbd", "scaleIO", "storageos", "unknown", "vsphereVolume"')
    assert _refused(restricted.restricted_volumes, {"volumes": [{"name": "h", "hostPath": {}}]}
                    ) == ("restricted volume types",
                          'volume "h" uses restricted volume type "hostPath"')


def test_allow_privilege_escalation() -> None:
    spec = {"containers": [_c("a"), _c("b", allowPrivilegeEscalation=None),
                           _c("c", allowPrivilegeEscalation=True),
                           _c("d", allowPrivilegeEscalation=False)]}
    expected = ("allowPrivilegeEscalation != false",
                'containers "a", "b", "c" must set securityContext.allowPrivilegeEscalation=false')
    assert _refused(restricted.allow_privilege_escalation_1_8, spec) == expected
    assert _refused(restricted.allow_privilege_escalation_1_25, spec) == expected
    windows = {"os": {"name": "windows"}, "containers": [_c("a")]}
    assert restricted.allow_privilege_escalation_1_25({}, windows).allowed
    assert not restricted.allow_privilege_escalation_1_8({}, windows).allowed


def test_run_as_non_root() -> None:
    explicit = {"securityContext": {"runAsNonRoot": False},
                "containers": [_c("a"), _c("b", runAsNonRoot=True), _c("c", runAsNonRoot=False),
                               _c("d", runAsNonRoot=False)]}
    assert _refused(restricted.run_as_non_root, explicit) == (
        "runAsNonRoot != true",
        'pod and containers "c", "d" must not set securityContext.runAsNonRoot=false')
    implicit = {"containers": [_c("a"), _c("b"), _c("c", runAsNonRoot=True)]}
    assert _refused(restricted.run_as_non_root, implicit) == (
        "runAsNonRoot != true",
        'pod or containers "a", "b" must set securityContext.runAsNonRoot=true')
    pod_level = {"securityContext": {"runAsNonRoot": True}, "containers": [_c("a")]}
    assert restricted.run_as_non_root({}, pod_level).allowed


def test_run_as_user() -> None:
    spec = {"securityContext": {"runAsUser": 0},
            "containers": [_c("a"), _c("b", runAsUser=1000), _c("c", runAsUser=0),
                           _c("d", runAsUser=0)]}
    assert _refused(restricted.run_as_user, spec) == (
        "runAsUser=0", 'pod and containers "c", "d" must not set runAsUser=0')
    assert _refused(restricted.run_as_user, {"securityContext": {"runAsUser": 0}}) == (
        "runAsUser=0", "pod must not set runAsUser=0")


def test_seccomp_restricted() -> None:
    implicit = {"containers": [_c("a"), _c("b"), _c("c", seccompProfile={"type": "Localhost"})]}
    assert _refused(restricted.seccomp_restricted_1_19, implicit) == (
        "seccompProfile", 'pod or containers "a", "b" must set '
                          'securityContext.seccompProfile.type to "RuntimeDefault" or '
                          '"Localhost"')
    explicit = {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [_c("a"), _c("c", seccompProfile={"type": "Unconfined"})]}
    assert _refused(restricted.seccomp_restricted_1_25, explicit) == (
        "seccompProfile",
        'container "c" must not set securityContext.seccompProfile.type to "Unconfined"')
    assert restricted.seccomp_restricted_1_25({}, {"os": {"name": "windows"},
                                                   "containers": [_c("a")]}).allowed


def test_capabilities_restricted() -> None:
    spec = {"containers": [_c("a", capabilities={"add": ["FOO", "BAR"]}),
                           _c("b", capabilities={"add": ["BAR", "BAZ"]}),
                           _c("c", capabilities={"add": ["NET_BIND_SERVICE", "CHOWN"],
                                                 "drop": ["ALL", "FOO"]})]}
    assert _refused(restricted.capabilities_restricted_1_22, spec) == (
        "unrestricted capabilities",
        'containers "a", "b" must set securityContext.capabilities.drop=["ALL"]; '
        'containers "a", "b", "c" must not include "BAR", "BAZ", "CHOWN", "FOO" in '
        "securityContext.capabilities.add")
    assert _refused(restricted.capabilities_restricted_1_25,
                    {"os": {"name": "linux"}, "containers": [_c("a")]}) == (
        "unrestricted capabilities",
        'container "a" must set securityContext.capabilities.drop=["ALL"]')
    assert restricted.capabilities_restricted_1_25(
        {}, {"os": {"name": "windows"}, "containers": [_c("a")]}).allowed


# -- levels, versions, order, aggregation ---------------------------------------------


def test_checks_by_level_and_version_in_upstreams_order() -> None:
    baseline = ["appArmorProfile", "capabilities_baseline", "hostNamespaces", "hostPathVolumes",
                "hostPorts", "privileged", "procMount", "seLinuxOptions",
                "seccompProfile_baseline", "sysctls", "windowsHostProcess"]
    assert list(check_ids(BASELINE)) == baseline
    assert list(check_ids(LevelVersion(Level.BASELINE, Version(0)))) == baseline
    assert check_ids(LevelVersion(Level.PRIVILEGED, LATEST)) == []
    # Restricted replaces the baseline capability, hostPath and seccomp checks.
    assert list(check_ids(RESTRICTED)) == [
        "appArmorProfile", "hostNamespaces", "hostPorts", "privileged", "procMount",
        "seLinuxOptions", "sysctls", "windowsHostProcess", "allowPrivilegeEscalation",
        "capabilities_restricted", "restrictedVolumes", "runAsNonRoot", "runAsUser",
        "seccompProfile_restricted"]
    old = list(check_ids(LevelVersion(Level.RESTRICTED, Version(18))))
    assert "seccompProfile_baseline" in old and "capabilities_baseline" in old
    assert "runAsUser" not in old and "allowPrivilegeEscalation" in old
    assert "allowPrivilegeEscalation" not in check_ids(LevelVersion(Level.RESTRICTED,
                                                                    Version(7)))
    assert "runAsUser" in check_ids(LevelVersion(Level.RESTRICTED, Version(23)))


def test_a_version_decides_which_rules_apply() -> None:
    sysctl = {"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "1"}]}}
    assert not evaluate(LevelVersion(Level.BASELINE, Version(31)), {}, sysctl).allowed
    assert evaluate(LevelVersion(Level.BASELINE, Version(32)), {}, sysctl).allowed
    assert evaluate(LevelVersion(Level.BASELINE, Version(99)), {}, sysctl).allowed
    annotated = {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}}
    assert not evaluate(LevelVersion(Level.BASELINE, Version(18)), annotated, {}).allowed
    assert evaluate(LevelVersion(Level.BASELINE, Version(19)), annotated, {}).allowed


def test_kubectl_run_privileged_is_refused_with_upstreams_reasons_in_order() -> None:
    spec = {"containers": [_c("priv", privileged=True)]}
    assert evaluate(RESTRICTED, {}, spec).forbidden_detail() == (
        'privileged (container "priv" must not set securityContext.privileged=true), '
        'allowPrivilegeEscalation != false (container "priv" must set '
        "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
        '(container "priv" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "priv" must set '
        "securityContext.runAsNonRoot=true), seccompProfile (pod or container \"priv\" must "
        'set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')
    assert evaluate(RESTRICTED, {}, spec).forbidden_reason() == (
        "privileged, allowPrivilegeEscalation != false, unrestricted capabilities, "
        "runAsNonRoot != true, seccompProfile")
    assert evaluate(BASELINE, {}, spec).forbidden_detail() == (
        'privileged (container "priv" must not set securityContext.privileged=true)')


def test_a_compliant_pod_passes_restricted() -> None:
    spec = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [_c("app", allowPrivilegeEscalation=False,
                              capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})],
            "volumes": [{"name": "token", "projected": {"sources": []}}]}
    assert evaluate(RESTRICTED, {}, spec).allowed


def test_aggregation_of_reasons_and_details() -> None:
    result = aggregate([CheckResult(True), CheckResult(False, "a", "x"), CheckResult(False, "b"),
                        CheckResult(False, "", "y")])
    assert result.forbidden_reason() == "a, b, unknown forbidden reason"
    assert result.forbidden_detail() == "a (x), b, unknown forbidden reason (y)"
    assert aggregate([CheckResult(True)]).allowed


# -- labels -------------------------------------------------------------------------


def test_policy_from_labels_defaults_warn_to_a_stricter_enforce() -> None:
    policy, causes = policy_from_labels({"pod-security.kubernetes.io/enforce": "baseline",
                                         "pod-security.kubernetes.io/enforce-version": "v1.30"})
    assert not causes
    assert str(policy.enforce) == "baseline:v1.30" and str(policy.warn) == "baseline:v1.30"
    assert str(policy.audit) == "privileged:latest"
    policy, _ = policy_from_labels({"pod-security.kubernetes.io/enforce": "restricted",
                                    "pod-security.kubernetes.io/warn": "baseline"})
    assert str(policy.warn) == "baseline:latest"
    policy, _ = policy_from_labels({"pod-security.kubernetes.io/enforce": "restricted",
                                    "pod-security.kubernetes.io/warn-version": "v1.25"})
    assert str(policy.warn) == "restricted:v1.25"


def test_policy_from_labels_reports_bad_values_and_fails_safe() -> None:
    policy, causes = policy_from_labels({
        "pod-security.kubernetes.io/enforce": "bogus",
        "pod-security.kubernetes.io/enforce-version": "1.30",
        "pod-security.kubernetes.io/audit": "nope",
        "pod-security.kubernetes.io/warn-version": "v1.05",
    })
    assert [c["message"] for c in causes] == [
        'Invalid value: "bogus": must be one of privileged, baseline, restricted',
        'Invalid value: "1.30": must be "latest" or "v1.x"',
        'Invalid value: "nope": must be one of privileged, baseline, restricted',
        'Invalid value: "v1.05": must be "latest" or "v1.x"',
    ]
    assert causes[0]["field"] == "metadata.labels[pod-security.kubernetes.io/enforce]"
    # A bad enforce level enforces restricted; bad audit/warn levels fail open.
    assert policy == Policy(LevelVersion(Level.RESTRICTED, LATEST),
                            LevelVersion(Level.PRIVILEGED, LATEST),
                            LevelVersion(Level.PRIVILEGED, LATEST))


def test_versions_and_levels() -> None:
    assert parse_version("v1.0") == (Version(0), None)
    assert parse_version("v2.1")[1] is not None and parse_version("latest") == (LATEST, None)
    assert Version(5).older(Version(30)) and Version(30).older(LATEST)
    assert not LATEST.older(Version(99))
    assert compare_levels(Level.RESTRICTED, Level.BASELINE) == 1
    assert compare_levels(Level.PRIVILEGED, Level.BASELINE) == -1
    assert compare_levels(Level.BASELINE, Level.BASELINE) == 0
