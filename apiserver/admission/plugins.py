"""The admission plugins by name, in kube-apiserver's fixed order, and the flags choosing them.

:data:`ORDER` is upstream's ``AllOrderedPlugins`` (1.33): the chain always runs the enabled
plugins in this order, whatever the order of ``--enable-admission-plugins``.
:data:`DEFAULT_ON` is upstream's default-on set; :func:`enabled_plugins` applies
``--enable-admission-plugins``/``--disable-admission-plugins`` as upstream does (unknown
names and names in both lists are errors). :func:`build_chain` makes the chain of the
enabled plugins kubemu implements (:data:`FACTORIES`); the others are reported by
:func:`unimplemented` so the server can say it is running without them.

Registration points for plugins written elsewhere:

* ``NodeRestriction``: :func:`node_restriction_factory` wraps a function
  ``admit(attributes)`` (sync or async; raises an ``ApiError`` to refuse) as a validating
  plugin; pass it to :func:`build_chain` in ``factories`` (the registry's
  ``admission_factories``) or install it for every chain with
  :func:`register_node_restriction`. Until then the name is accepted by the flags but
  inactive.
* ``MutatingAdmissionPolicy``: add a factory to :data:`FACTORIES` under the upstream
  name; its place in :data:`ORDER` is already right: before ``MutatingAdmissionWebhook``
  (the webhooks of :mod:`apiserver.admission.webhook`, after every built-in mutating
  plugin). ``ValidatingAdmissionPolicy`` (:mod:`apiserver.admission.policy`) runs between
  the two webhook plugins, before ResourceQuota.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime

from apiserver.admission.attributes import AdmissionAttributes, ObjectSource, Operation
from apiserver.admission.certsubject import CertificateSubjectRestriction
from apiserver.admission.chain import AdmissionChain
from apiserver.admission.externalips import DenyServiceExternalIPs
from apiserver.admission.limitranger import LimitRanger
from apiserver.admission.namespace import NamespaceLifecycle
from apiserver.admission.podsecurity import PodSecurity
from apiserver.admission.policy import ValidatingAdmissionPolicyPlugin
from apiserver.admission.priority import PriorityAdmission
from apiserver.admission.resourcequota import ResourceQuotaAdmission
from apiserver.admission.serviceaccount import ServiceAccountAdmission
from apiserver.admission.storage import DefaultStorageClass, StorageObjectInUseProtection
from apiserver.admission.tolerations import DefaultTolerationSeconds
from apiserver.admission.webhook import (
    MUTATING_NAME,
    VALIDATING_NAME,
    MutatingWebhooks,
    ValidatingWebhooks,
)

NAMESPACE_LIFECYCLE = "NamespaceLifecycle"
LIMIT_RANGER = "LimitRanger"
SERVICE_ACCOUNT = "ServiceAccount"
NODE_RESTRICTION = "NodeRestriction"
DEFAULT_TOLERATION_SECONDS = "DefaultTolerationSeconds"
DENY_SERVICE_EXTERNAL_IPS = "DenyServiceExternalIPs"
RESOURCE_QUOTA = "ResourceQuota"
VALIDATING_ADMISSION_POLICY = "ValidatingAdmissionPolicy"
PRIORITY = "Priority"
POD_SECURITY = "PodSecurity"

#: Upstream's ``AllOrderedPlugins``.
ORDER: tuple[str, ...] = (
    "AlwaysAdmit", "NamespaceAutoProvision", NAMESPACE_LIFECYCLE, "NamespaceExists",
    "LimitPodHardAntiAffinityTopology", LIMIT_RANGER, SERVICE_ACCOUNT, NODE_RESTRICTION,
    "TaintNodesByCondition", "AlwaysPullImages", "ImagePolicyWebhook", POD_SECURITY,
    "PodNodeSelector", PRIORITY, DEFAULT_TOLERATION_SECONDS, "PodTolerationRestriction",
    "EventRateLimit", "ExtendedResourceToleration", "DefaultStorageClass",
    "StorageObjectInUseProtection", "OwnerReferencesPermissionEnforcement",
    "PersistentVolumeClaimResize", "RuntimeClass", "CertificateApproval", "CertificateSigning",
    "ClusterTrustBundleAttest", "CertificateSubjectRestriction", "DefaultIngressClass",
    DENY_SERVICE_EXTERNAL_IPS, "PodTopologyLabels", "MutatingAdmissionPolicy",
    MUTATING_NAME, "ValidatingAdmissionPolicy", VALIDATING_NAME,
    RESOURCE_QUOTA, "AlwaysDeny",
)

#: Upstream's default-on plugins (every other one is off unless enabled).
DEFAULT_ON: frozenset[str] = frozenset({
    NAMESPACE_LIFECYCLE, LIMIT_RANGER, SERVICE_ACCOUNT, "DefaultStorageClass",
    "PersistentVolumeClaimResize", DEFAULT_TOLERATION_SECONDS, "MutatingAdmissionWebhook",
    "ValidatingAdmissionWebhook", RESOURCE_QUOTA, "StorageObjectInUseProtection", PRIORITY,
    "TaintNodesByCondition", "RuntimeClass", "CertificateApproval", "CertificateSigning",
    "ClusterTrustBundleAttest", "CertificateSubjectRestriction", "DefaultIngressClass",
    POD_SECURITY, "ValidatingAdmissionPolicy", "MutatingAdmissionPolicy",
})

Clock = Callable[[], datetime]
Factory = Callable[[ObjectSource, Clock], object]

#: How kubemu builds each plugin it implements.
FACTORIES: dict[str, Factory] = {
    VALIDATING_ADMISSION_POLICY: lambda source, _clock: ValidatingAdmissionPolicyPlugin(source),
    NAMESPACE_LIFECYCLE: lambda source, _clock: NamespaceLifecycle(source),
    LIMIT_RANGER: lambda source, _clock: LimitRanger(source),
    SERVICE_ACCOUNT: lambda source, _clock: ServiceAccountAdmission(source),
    POD_SECURITY: lambda source, _clock: PodSecurity(source),
    PRIORITY: lambda source, _clock: PriorityAdmission(source),
    "CertificateSubjectRestriction": lambda _source, _clock: CertificateSubjectRestriction(),
    DEFAULT_TOLERATION_SECONDS: lambda _source, _clock: DefaultTolerationSeconds(),
    "DefaultStorageClass": lambda source, _clock: DefaultStorageClass(source),
    "StorageObjectInUseProtection": lambda _source, _clock: StorageObjectInUseProtection(),
    DENY_SERVICE_EXTERNAL_IPS: lambda _source, _clock: DenyServiceExternalIPs(),
    RESOURCE_QUOTA: lambda source, clock: ResourceQuotaAdmission(source, clock),
    MUTATING_NAME: lambda source, _clock: MutatingWebhooks(source),
    VALIDATING_NAME: lambda source, _clock: ValidatingWebhooks(source),
}


class FlagError(ValueError):
    """``--enable-admission-plugins``/``--disable-admission-plugins`` are not valid."""


def _names(text: str | Iterable[str]) -> list[str]:
    parts = text.split(",") if isinstance(text, str) else list(text)
    return [p.strip() for p in parts if p.strip()]


def enabled_plugins(enable: str | Iterable[str] = (), disable: str | Iterable[str] = ()) \
        -> tuple[str, ...]:
    """The enabled plugin names, in :data:`ORDER` (upstream ``enabledPluginNames``)."""
    enabled, disabled = _names(enable), _names(disable)
    known = set(ORDER)
    for flag, names in (("enable-admission-plugins", enabled),
                        ("disable-admission-plugins", disabled)):
        for name in names:
            if name not in known:
                raise FlagError(f'{flag} plugin "{name}" is unknown')
    overlap = sorted(set(enabled) & set(disabled))
    if overlap:
        raise FlagError(f"[{' '.join(overlap)}] in enable-admission-plugins and "
                        "disable-admission-plugins overlapped")
    off = (set(ORDER) - DEFAULT_ON) | set(disabled)
    off -= set(enabled)
    return tuple(name for name in ORDER if name not in off)


def unimplemented(names: Sequence[str],
                  factories: Mapping[str, Factory] | None = None) -> tuple[str, ...]:
    """The enabled names kubemu has no plugin for (yet). NodeRestriction counts as
    implemented: the registry always builds it (:mod:`apiserver.registry.registry`); so do
    CertificateApproval and CertificateSigning, which kubemu checks in the
    CertificateSigningRequest strategy with the authorizer
    (:func:`apiserver.auth.authorization.signer_permission`), whatever the flags say."""
    built_elsewhere = (NODE_RESTRICTION, "CertificateApproval", "CertificateSigning")
    return tuple(name for name in names if name not in FACTORIES
                 and name not in built_elsewhere and name not in (factories or {}))


def build_chain(names: Sequence[str], source: ObjectSource, clock: Clock,
                factories: Mapping[str, Factory] | None = None) -> AdmissionChain:
    """The chain of the implemented plugins among ``names``, in :data:`ORDER`;
    ``factories`` adds (or replaces) plugin factories by upstream name."""
    table = {**FACTORIES, **(factories or {})}
    wanted = set(names)
    return AdmissionChain([table[name](source, clock) for name in ORDER
                           if name in wanted and name in table], source)


class FunctionPlugin:
    """A validating plugin made of one function ``admit(attributes)`` (sync or async)."""

    def __init__(self, name: str,
                 admit: Callable[[AdmissionAttributes], Awaitable[None] | None]) -> None:
        self.name = name
        self._admit = admit

    def handles(self, operation: Operation) -> bool:
        return True

    async def validate(self, attrs: AdmissionAttributes) -> None:
        result = self._admit(attrs)
        if inspect.isawaitable(result):
            await result


def node_restriction_factory(
    admit: Callable[[AdmissionAttributes], Awaitable[None] | None],
) -> Factory:
    """A factory running NodeRestriction's ``admit(attributes)`` at its place in the chain."""
    return lambda _source, _clock: FunctionPlugin(NODE_RESTRICTION, admit)


def register_node_restriction(
    admit: Callable[[AdmissionAttributes], Awaitable[None] | None],
) -> None:
    """Install NodeRestriction's ``admit(attributes)`` for every chain built from now on."""
    FACTORIES[NODE_RESTRICTION] = node_restriction_factory(admit)
