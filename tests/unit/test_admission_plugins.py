"""Admission plugin selection (the flags) and the chain's phases, without HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apiserver.admission import AdmissionAttributes, AdmissionChain, Operation
from apiserver.admission.externalips import DenyServiceExternalIPs
from apiserver.admission.plugins import (
    DEFAULT_ON,
    ORDER,
    FlagError,
    build_chain,
    enabled_plugins,
    node_restriction_factory,
    register_node_restriction,
    unimplemented,
)
from apiserver.admission.tolerations import DefaultTolerationSeconds
from apiserver.api import errors
from apiserver.api.resources import CONFIGMAPS, PODS, SERVICES
from apiserver.registry.admission_source import RegistrySource

IMPLEMENTED_DEFAULTS = ("NamespaceLifecycle", "LimitRanger", "ServiceAccount", "PodSecurity",
                        "Priority", "DefaultTolerationSeconds", "DefaultStorageClass",
                        "StorageObjectInUseProtection", "CertificateApproval",
                        "CertificateSigning", "CertificateSubjectRestriction",
                        "MutatingAdmissionWebhook",
                        "ValidatingAdmissionPolicy", "ValidatingAdmissionWebhook",
                        "ResourceQuota")


def test_defaults_are_upstreams_default_on_set_in_upstream_order() -> None:
    names = enabled_plugins()
    assert set(names) == DEFAULT_ON
    assert list(names) == [n for n in ORDER if n in DEFAULT_ON]
    assert "DenyServiceExternalIPs" not in names and "NodeRestriction" not in names
    assert tuple(n for n in names if n not in unimplemented(names)) == IMPLEMENTED_DEFAULTS


def test_flag_order_does_not_matter_and_disable_removes_defaults() -> None:
    names = enabled_plugins("ResourceQuota,DenyServiceExternalIPs,NodeRestriction",
                            "ServiceAccount, LimitRanger")
    assert "ServiceAccount" not in names and "LimitRanger" not in names
    order = [names.index(n) for n in ("NamespaceLifecycle", "NodeRestriction",
                                      "DefaultTolerationSeconds", "DenyServiceExternalIPs",
                                      "ValidatingAdmissionWebhook", "ResourceQuota")]
    assert order == sorted(order)


@pytest.mark.parametrize(("enable", "disable", "message"), [
    ("Bogus", "", 'enable-admission-plugins plugin "Bogus" is unknown'),
    ("", "Nope", 'disable-admission-plugins plugin "Nope" is unknown'),
    ("LimitRanger,ResourceQuota", "ResourceQuota,LimitRanger",
     "[LimitRanger ResourceQuota] in enable-admission-plugins and disable-admission-plugins "
     "overlapped"),
])
def test_bad_flags_are_refused_with_upstreams_messages(enable: str, disable: str,
                                                       message: str) -> None:
    with pytest.raises(FlagError) as caught:
        enabled_plugins(enable, disable)
    assert str(caught.value) == message


def _attrs(op: Operation, obj: dict[str, Any] | None, old: dict[str, Any] | None = None,
           info: Any = SERVICES) -> AdmissionAttributes:
    return AdmissionAttributes(info=info, operation=op, namespace="ns", name="x",
                               object=obj, old_object=old)


def test_chain_runs_mutating_plugins_then_validating_ones_in_order() -> None:
    chain = build_chain(enabled_plugins("DenyServiceExternalIPs"), RegistrySource({}),
                        lambda: None)  # type: ignore[arg-type,return-value]
    assert chain.names == ("NamespaceLifecycle", "LimitRanger", "ServiceAccount", "PodSecurity",
                           "Priority", "DefaultTolerationSeconds", "DefaultStorageClass",
                           "StorageObjectInUseProtection",
                           "CertificateSubjectRestriction", "DenyServiceExternalIPs",
                           "MutatingAdmissionWebhook", "ValidatingAdmissionPolicy",
                           "ValidatingAdmissionWebhook", "ResourceQuota")
    assert [p.name for p in chain.mutating] == ["NamespaceLifecycle", "LimitRanger",
                                                "ServiceAccount", "Priority",
                                                "DefaultTolerationSeconds",
                                                "DefaultStorageClass",
                                                "StorageObjectInUseProtection",
                                                "MutatingAdmissionWebhook"]
    assert [p.name for p in chain.validating] == ["LimitRanger", "ServiceAccount",
                                                  "PodSecurity", "Priority",
                                                  "CertificateSubjectRestriction",
                                                  "DenyServiceExternalIPs",
                                                  "ValidatingAdmissionPolicy",
                                                  "ValidatingAdmissionWebhook", "ResourceQuota"]


def test_node_restriction_registration_point_runs_the_function_at_its_place() -> None:
    seen: list[str] = []

    def admit(attrs: AdmissionAttributes) -> None:
        seen.append(attrs.name)
        if attrs.name == "forbidden":
            raise errors.forbidden(attrs.info, attrs.name, "node restricted")

    names = enabled_plugins("NodeRestriction", "NamespaceLifecycle,LimitRanger,"
                            "ServiceAccount,ResourceQuota")
    # The registry always builds it, so the server never reports it missing.
    assert "NodeRestriction" not in unimplemented(names)
    factories = {"NodeRestriction": node_restriction_factory(admit)}
    chain = build_chain(names, RegistrySource({}), lambda: None,  # type: ignore[arg-type,return-value]
                        factories)
    assert chain.names[0] == "NodeRestriction"
    attrs = _attrs(Operation.CREATE, {"metadata": {"name": "forbidden"}}, info=CONFIGMAPS)
    attrs.name = "forbidden"
    with pytest.raises(errors.ApiError) as caught:
        asyncio.run(chain.validate(attrs))
    assert caught.value.code == 403 and seen == ["forbidden"]
    # Installed for every chain instead:
    register_node_restriction(admit)
    try:
        assert "NodeRestriction" not in unimplemented(names)
    finally:
        from apiserver.admission import plugins

        plugins.FACTORIES.pop("NodeRestriction", None)


def _svc(*ips: str) -> dict[str, Any]:
    return {"metadata": {"name": "web"}, "spec": {"externalIPs": list(ips)}}


def test_deny_service_external_ips() -> None:
    plugin = DenyServiceExternalIPs()
    chain = AdmissionChain([plugin])
    asyncio.run(chain.validate(_attrs(Operation.CREATE, _svc())))
    with pytest.raises(errors.ApiError) as caught:
        asyncio.run(chain.validate(_attrs(Operation.CREATE, _svc("1.2.3.4"))))
    assert caught.value.code == 403
    assert caught.value.message == ('services "web" is forbidden: use of external IPs is '
                                    "denied by admission control")
    # Keeping or dropping existing ones is allowed; adding one is not.
    asyncio.run(chain.validate(_attrs(Operation.UPDATE, _svc("1.2.3.4"),
                                      _svc("1.2.3.4", "5.6.7.8"))))
    with pytest.raises(errors.ApiError):
        asyncio.run(chain.validate(_attrs(Operation.UPDATE, _svc("1.2.3.4", "9.9.9.9"),
                                          _svc("1.2.3.4"))))


def _pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "app", "image": "nginx"}], **spec}}


def test_default_toleration_seconds_added_unless_tolerated() -> None:
    chain = AdmissionChain([DefaultTolerationSeconds()])
    pod = _pod()
    asyncio.run(chain.admit(_attrs(Operation.CREATE, pod, info=PODS)))
    assert pod["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
         "effect": "NoExecute", "tolerationSeconds": 300},
    ]
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
           "effect": "NoExecute", "tolerationSeconds": 5}
    pod = _pod(tolerations=[own])
    asyncio.run(chain.admit(_attrs(Operation.UPDATE, pod, info=PODS)))
    assert [t["key"] for t in pod["spec"]["tolerations"]] == [
        own["key"], "node.kubernetes.io/not-ready"]
    # An empty key with an empty effect tolerates everything; a second pass adds nothing.
    pod = _pod(tolerations=[{"operator": "Exists"}])
    asyncio.run(chain.admit(_attrs(Operation.CREATE, pod, info=PODS)))
    assert pod["spec"]["tolerations"] == [{"operator": "Exists"}]
    # Subresources and malformed specs are left alone.
    status = _attrs(Operation.UPDATE, _pod(), info=PODS)
    status.subresource = "status"
    asyncio.run(chain.admit(status))
    assert "tolerations" not in status.object["spec"]  # type: ignore[index]
    asyncio.run(chain.admit(_attrs(Operation.CREATE, {"spec": "x"}, info=PODS)))
