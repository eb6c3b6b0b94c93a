"""Baseline checks that keep a pod off the host: host namespaces, privileged containers,
hostPath volumes, host ports and Windows HostProcess (``policy/check_hostNamespaces.go``,
``check_privileged.go``, ``check_hostPathVolumes.go``, ``check_hostPorts.go``,
``check_windowsHostProcess.go``).

Each check takes (pod metadata, pod spec) as JSON and answers a
:class:`~apiserver.admission.podsecurity.result.CheckResult` worded as upstream's, to the
character: the refusal message is built from these strings.
"""

from __future__ import annotations

from apiserver.admission.podsecurity.result import (
    ALLOWED,
    CheckResult,
    Obj,
    containers,
    containers_phrase,
    field,
    join_quote,
    name,
    pluralize,
    security_context,
    volumes,
)


def host_namespaces(_meta: Obj, spec: Obj) -> CheckResult:
    """``hostNetwork``, ``hostPID`` and ``hostIPC`` must be unset or false (v1.0+)."""
    shared = [f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC")
              if spec.get(key) is True]
    if shared:
        return CheckResult(False, "host namespaces", ", ".join(shared))
    return ALLOWED


def privileged(_meta: Obj, spec: Obj) -> CheckResult:
    """No container may set ``securityContext.privileged=true`` (v1.0+)."""
    bad = [name(c) for c in containers(spec)
           if (security_context(c) or {}).get("privileged") is True]
    if bad:
        return CheckResult(False, "privileged",
                           f"{containers_phrase(bad)} must not set "
                           "securityContext.privileged=true")
    return ALLOWED


def host_path_volumes(_meta: Obj, spec: Obj) -> CheckResult:
    """No volume may be a ``hostPath`` (v1.0+; restricted replaces it with its stricter
    volume-type check)."""
    bad = [name(v) for v in volumes(spec) if v.get("hostPath") is not None]
    if bad:
        return CheckResult(False, "hostPath volumes",
                           f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)}")
    return ALLOWED


def host_ports(_meta: Obj, spec: Obj) -> CheckResult:
    """No container port may set a ``hostPort`` (v1.0+)."""
    bad: list[str] = []
    ports: set[str] = set()
    for container in containers(spec):
        used = [str(p.get("hostPort")) for p in container.get("ports") or ()
                if isinstance(p, dict) and p.get("hostPort") not in (None, 0)]
        if used:
            bad.append(name(container))
            ports.update(used)
    if bad:
        # Upstream keeps the ports in a string set: they are listed in string order.
        return CheckResult(False, "hostPort",
                           f"{containers_phrase(bad)} {pluralize('uses', 'use', len(bad))} "
                           f"{pluralize('hostPort', 'hostPorts', len(ports))} "
                           f"{', '.join(sorted(ports))}")
    return ALLOWED


def _host_process(context: Obj | None) -> bool:
    return (field(context, "windowsOptions") or {}).get("hostProcess") is True


def windows_host_process(_meta: Obj, spec: Obj) -> CheckResult:
    """Neither the pod nor a container may set
    ``securityContext.windowsOptions.hostProcess=true`` (v1.0+)."""
    setters = ["pod"] if _host_process(security_context(spec)) else []
    bad = [name(c) for c in containers(spec) if _host_process(security_context(c))]
    if bad:
        setters.append(containers_phrase(bad))
    if setters:
        return CheckResult(False, "hostProcess",
                           f"{' and '.join(setters)} must not set "
                           "securityContext.windowsOptions.hostProcess=true")
    return ALLOWED
