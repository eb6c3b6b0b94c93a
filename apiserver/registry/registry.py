"""Wires one :class:`Store` per served resource.

The registry owns the bootstrapping every kube-apiserver does at start (the
system namespaces, the system priority classes). Emptying and finalizing a
terminating namespace is kube-controller-manager's ``namespace`` controller's job
(:mod:`controllers.namespace`), as upstream: without it a deleted namespace stays
``Terminating``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from apiserver.admission.plugins import (
    NODE_RESTRICTION,
    Factory,
    build_chain,
    enabled_plugins,
    node_restriction_factory,
)
from apiserver.admission.webhook.dispatch import (
    MUTATING_NAME,
    VALIDATING_NAME,
    MutatingWebhooks,
    ValidatingWebhooks,
    webhook_client,
)
from apiserver.api import errors
from apiserver.api.resources import (
    ENDPOINTS,
    ENDPOINTSLICES,
    NAMESPACES,
    NODES,
    PODS,
    RESOURCES,
    SERVICES,
    ResourceInfo,
)
from apiserver.registry.admission_source import RegistrySource
from apiserver.registry.admissionregistration import (
    MutatingWebhookConfigurationStrategy,
    ValidatingAdmissionPolicyBindingStrategy,
    ValidatingAdmissionPolicyStrategy,
    ValidatingWebhookConfigurationStrategy,
)
from apiserver.registry.apiregistration import APIServiceStrategy, ControllerRevisionStrategy
from apiserver.registry.bootstrap import ensure_system_priority_classes
from apiserver.registry.certificates import CertificateSigningRequestStrategy
from apiserver.registry.core_more import (
    EventV1Strategy,
    LeaseStrategy,
    PodTemplateStrategy,
    ResourceQuotaStrategy,
    RuntimeClassStrategy,
)
from apiserver.registry.crd.conversion import WebhookConverter
from apiserver.registry.crd.converting_store import ConvertingStore
from apiserver.registry.crd.manager import CustomResourceManager
from apiserver.registry.crd.strategies import (
    CustomResourceDefinitionStrategy,
    CustomResourceStrategy,
)
from apiserver.registry.flowcontrol import FlowSchemaStrategy, PriorityLevelConfigurationStrategy
from apiserver.registry.identitylease import IdentityLease
from apiserver.registry.kinds import (
    EndpointSliceStrategy,
    EndpointsStrategy,
    NamespaceStrategy,
    NodeStrategy,
    PodStrategy,
    ServiceStrategy,
)
from apiserver.registry.networking import IngressClassStrategy, IngressStrategy
from apiserver.registry.networking_more import (
    IPAddressStrategy,
    NetworkPolicyStrategy,
    ServiceCIDRStrategy,
)
from apiserver.registry.noderestriction import NodeRestriction
from apiserver.registry.policy import (
    HorizontalPodAutoscalerStrategy,
    PodDisruptionBudgetStrategy,
    PriorityClassStrategy,
)
from apiserver.registry.rbac import BindingStrategy, RoleStrategy
from apiserver.registry.secrets import ConfigMapStrategy, SecretStrategy
from apiserver.registry.service.rest import ServiceOptions, ServiceREST
from apiserver.registry.storage import (
    CSIDriverStrategy,
    CSINodeStrategy,
    CSIStorageCapacityStrategy,
    PersistentVolumeClaimStrategy,
    PersistentVolumeStrategy,
    StorageClassStrategy,
    VolumeAttachmentStrategy,
)
from apiserver.registry.store import Clock, Store, now_utc
from apiserver.registry.strategy import Strategy
from apiserver.registry.systemnamespaces import DEFAULT_INTERVAL as SYSTEM_NAMESPACES_INTERVAL
from apiserver.registry.systemnamespaces import ensure_system_namespaces, keep_system_namespaces
from apiserver.registry.table_strategy import TableStrategy, configure
from apiserver.registry.versions import BuiltinConverter
from apiserver.registry.workloads.batch import CronJobStrategy, JobStrategy
from apiserver.registry.workloads.validation import (
    DaemonSetStrategy,
    DeploymentStrategy,
    ReplicaSetStrategy,
    ReplicationControllerStrategy,
    StatefulSetStrategy,
)
from apiserver.storage.cache import CachedObject, WatchCache
from apiserver.storage.interface import Storage

#: Hand-written strategies of the first kinds, by (group, plural); their write-policy
#: flags are still set from :mod:`apiserver.registry.kinds_table`.
_HANDWRITTEN: dict[tuple[str, str], type[Strategy]] = {
    (info.group, info.plural): cls
    for info, cls in (
        (NAMESPACES, NamespaceStrategy),
        (NODES, NodeStrategy),
        (PODS, PodStrategy),
        (SERVICES, ServiceStrategy),
        (ENDPOINTS, EndpointsStrategy),
        (ENDPOINTSLICES, EndpointSliceStrategy),
    )
}
_RBAC = "rbac.authorization.k8s.io"
_ADMISSION = "admissionregistration.k8s.io"
#: Validating table strategies by (group, plural); any other resource gets a plain
#: :class:`TableStrategy`.
_FAMILIES: dict[tuple[str, str], type[TableStrategy]] = {
    ("", "configmaps"): ConfigMapStrategy,
    ("", "secrets"): SecretStrategy,
    ("", "replicationcontrollers"): ReplicationControllerStrategy,
    ("apps", "deployments"): DeploymentStrategy,
    ("apps", "replicasets"): ReplicaSetStrategy,
    ("apps", "statefulsets"): StatefulSetStrategy,
    ("apps", "daemonsets"): DaemonSetStrategy,
    ("batch", "jobs"): JobStrategy,
    ("batch", "cronjobs"): CronJobStrategy,
    ("autoscaling", "horizontalpodautoscalers"): HorizontalPodAutoscalerStrategy,
    ("policy", "poddisruptionbudgets"): PodDisruptionBudgetStrategy,
    ("scheduling.k8s.io", "priorityclasses"): PriorityClassStrategy,
    ("networking.k8s.io", "ingresses"): IngressStrategy,
    ("networking.k8s.io", "ingressclasses"): IngressClassStrategy,
    (_RBAC, "roles"): RoleStrategy,
    (_RBAC, "clusterroles"): RoleStrategy,
    (_RBAC, "rolebindings"): BindingStrategy,
    (_RBAC, "clusterrolebindings"): BindingStrategy,
    # -- API-group kinds (admission, aggregation, certificates, flowcontrol, networking)
    (_ADMISSION, "mutatingwebhookconfigurations"): MutatingWebhookConfigurationStrategy,
    (_ADMISSION, "validatingwebhookconfigurations"): ValidatingWebhookConfigurationStrategy,
    (_ADMISSION, "validatingadmissionpolicies"): ValidatingAdmissionPolicyStrategy,
    (_ADMISSION, "validatingadmissionpolicybindings"): ValidatingAdmissionPolicyBindingStrategy,
    ("networking.k8s.io", "networkpolicies"): NetworkPolicyStrategy,
    ("networking.k8s.io", "ipaddresses"): IPAddressStrategy,
    ("networking.k8s.io", "servicecidrs"): ServiceCIDRStrategy,
    ("apiregistration.k8s.io", "apiservices"): APIServiceStrategy,
    ("apps", "controllerrevisions"): ControllerRevisionStrategy,
    ("certificates.k8s.io", "certificatesigningrequests"): CertificateSigningRequestStrategy,
    ("flowcontrol.apiserver.k8s.io", "flowschemas"): FlowSchemaStrategy,
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"):
        PriorityLevelConfigurationStrategy,
    # core and storage kinds of apiserver.registry.core_more / apiserver.registry.storage
    ("", "persistentvolumes"): PersistentVolumeStrategy,
    ("", "persistentvolumeclaims"): PersistentVolumeClaimStrategy,
    ("", "podtemplates"): PodTemplateStrategy,
    ("", "resourcequotas"): ResourceQuotaStrategy,
    ("storage.k8s.io", "storageclasses"): StorageClassStrategy,
    ("storage.k8s.io", "csidrivers"): CSIDriverStrategy,
    ("storage.k8s.io", "csinodes"): CSINodeStrategy,
    ("storage.k8s.io", "csistoragecapacities"): CSIStorageCapacityStrategy,
    ("storage.k8s.io", "volumeattachments"): VolumeAttachmentStrategy,
    ("node.k8s.io", "runtimeclasses"): RuntimeClassStrategy,
    ("coordination.k8s.io", "leases"): LeaseStrategy,
    ("events.k8s.io", "events"): EventV1Strategy,
    ("apiextensions.k8s.io", "customresourcedefinitions"): CustomResourceDefinitionStrategy,
}


def strategy_for(info: ResourceInfo) -> Strategy:
    """A fresh strategy of ``info``, its flags taken from the kinds table."""
    key = (info.group, info.plural)
    handwritten = _HANDWRITTEN.get(key)
    if handwritten is not None:
        return configure(handwritten(), info)
    return _FAMILIES.get(key, TableStrategy)(info)



class Registry:
    """All stores, over one storage and one watch cache."""

    def __init__(
        self,
        storage: Storage,
        watch_cache: WatchCache,
        clock: Clock = now_utc,
        resources: tuple[ResourceInfo, ...] = RESOURCES,
        services: ServiceOptions | None = None,
        system_namespaces_interval: float = SYSTEM_NAMESPACES_INTERVAL,
        admission_plugins: Sequence[str] | None = None,
        admission_factories: Mapping[str, Factory] | None = None,
    ) -> None:
        """``admission_plugins``: the enabled admission plugins (None: upstream's default
        set, see :func:`apiserver.admission.plugins.enabled_plugins`);
        ``admission_factories``: plugins built outside the admission layer, by upstream
        name (NodeRestriction: ``{"NodeRestriction": node_restriction_factory(admit)}``)."""
        self.storage = storage
        self.system_namespaces_interval = system_namespaces_interval
        self.services = ServiceREST(storage, services)
        self.identity_lease: IdentityLease | None = None
        self.watch_cache = watch_cache
        self.clock = clock
        self.stores: dict[tuple[str, str, str], Store] = {}
        if admission_plugins is None:
            admission_plugins = enabled_plugins()
        source = RegistrySource(self.stores)
        #: Calls admission and conversion webhooks (services resolved through this
        #: registry's caches).
        self.webhook_client = webhook_client(source)
        node_restriction = NodeRestriction(lambda ns, name: source.cached(PODS, ns, name))
        client = self.webhook_client
        self.admission = build_chain(admission_plugins, source, clock, {
            NODE_RESTRICTION: node_restriction_factory(node_restriction.admit),
            MUTATING_NAME: lambda source, _clock: MutatingWebhooks(source, client),
            VALIDATING_NAME: lambda source, _clock: ValidatingWebhooks(source, client),
            **(admission_factories or {})})
        for info in resources:
            strategy = strategy_for(info)
            store: Store
            if info.plural == SERVICES.plural and not info.group:
                store = self.services.make_store(info, storage, watch_cache, clock,
                                                 self.admission)
            elif info.converts:
                store = ConvertingStore(info, strategy, storage, watch_cache, clock,
                                        self.admission, at_run_time=True)
            else:
                store = Store(info, strategy, storage, watch_cache, clock, self.admission)
            self.stores[(info.group, info.version, info.plural)] = store
        for info in resources:
            if info.converts:
                # The second version of a built-in kind reads the stored version's cache.
                group, version = info.stored_group_version
                converting = self.stores[(info.group, info.version, info.plural)]
                assert isinstance(converting, ConvertingStore)
                converting.cache = self.stores[(group, version, info.plural)].cache
                converting.configure(BuiltinConverter(),
                                     f"{group}/{version}" if group else version)
        self.namespaces = self.stores[("", "v1", "namespaces")]
        self.custom_resources = CustomResourceManager(
            self.stores[("apiextensions.k8s.io", "v1", "customresourcedefinitions")],
            self.stores, self._custom_store, clock, self._converter)
        self._system_namespaces: asyncio.Task[None] | None = None

    def store(self, info: ResourceInfo) -> Store:
        """The store of ``info``; 404 when a custom resource stopped being served."""
        try:
            return self.stores[(info.group, info.version, info.plural)]
        except KeyError:
            raise errors.path_not_found() from None

    def _custom_store(self, info: ResourceInfo, strategy: CustomResourceStrategy,
                      converter: WebhookConverter | None = None,
                      storage_api_version: str = "") -> Store:
        if converter is None:
            return Store(info, strategy, self.storage, self.watch_cache, self.clock,
                         self.admission, at_run_time=True)
        store = ConvertingStore(info, strategy, self.storage, self.watch_cache, self.clock,
                                self.admission, at_run_time=True)
        store.configure(converter, storage_api_version)
        return store

    def _converter(self, crd_name: str, webhook: Mapping[str, Any]) -> WebhookConverter:
        return WebhookConverter(crd_name, webhook, self.webhook_client)

    def _namespace(self, name: str) -> CachedObject | None:
        return self.namespaces.cache.get(self.namespaces.key(None, name))

    async def start(self) -> None:
        """Load the cache, create the system namespaces and priority classes."""
        await self.watch_cache.start()
        await ensure_system_namespaces(self.namespaces, self._namespace)
        priority_classes = self.stores.get(("scheduling.k8s.io", "v1", "priorityclasses"))
        if priority_classes is not None:
            await ensure_system_priority_classes(priority_classes)
        await self.custom_resources.start()
        await self.services.start(self.stores)
        leases = self.stores.get(("coordination.k8s.io", "v1", "leases"))
        if leases is not None:
            options = self.services.options
            self.identity_lease = IdentityLease(
                leases, f"{options.advertise_ip}:{options.advertise_port}", self.clock)
            self.identity_lease.start()
        self._system_namespaces = asyncio.create_task(
            keep_system_namespaces(self.namespaces, self._namespace,
                                   self.system_namespaces_interval),
            name="system-namespaces",
        )

    async def stop(self) -> None:
        """Stop background work and close every watcher."""
        task = self._system_namespaces
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.custom_resources.stop()
        if self.identity_lease is not None:
            await self.identity_lease.stop()
        await self.services.stop()
        await self.webhook_client.close()
        self.watch_cache.close_watchers()
