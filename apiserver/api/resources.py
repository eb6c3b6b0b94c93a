"""The table of served resources.

One :class:`ResourceInfo` per REST resource drives routing, discovery, OpenAPI
publication and Table printing. Adding a simple kind is one entry here (plus a
strategy in :mod:`apiserver.registry` when it has rules of its own).

This module is pure data: every layer (and the controllers) may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Verbs of a full CRUD resource, in the order upstream discovery lists them.
ALL_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)

#: Verbs of a ``/status`` subresource.
STATUS_VERBS: tuple[str, ...] = ("get", "patch", "update")


@dataclass(frozen=True)
class SubresourceInfo:
    """A subresource such as ``pods/status``.

    ``kind`` is the kind the subresource reads and writes (the parent's kind
    for ``status``), ``verbs`` the verbs it serves.
    """

    name: str
    kind: str
    verbs: tuple[str, ...]


@dataclass(frozen=True)
class ResourceInfo:
    """Everything the server needs to know about one REST resource.

    ``group`` is ``""`` for the legacy core group. ``schema_ref`` names the
    definition of the kind in the upstream OpenAPI schema
    (e.g. ``io.k8s.api.core.v1.Pod``).
    """

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    schema_ref: str
    list_kind: str
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[SubresourceInfo, ...] = ()
    #: Field selectors this resource supports beyond metadata.name/namespace.
    field_labels: tuple[str, ...] = ()
    #: Field-label aliases (``spec.host`` → ``spec.nodeName``).
    field_label_aliases: tuple[tuple[str, str], ...] = field(default=())

    @property
    def api_version(self) -> str:
        """The ``apiVersion`` string of objects of this resource."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        """``group/version``, or just ``version`` for the core group."""
        return self.api_version

    @property
    def storage_prefix(self) -> str:
        """Key prefix in storage; keys are ``<prefix><namespace>/<name>``.

        Follows kube-apiserver's etcd layout (``/registry/<resource>/``),
        with the group added for non-core resources as upstream does.
        """
        if self.group:
            return f"/registry/{self.group}/{self.plural}/"
        return f"/registry/{self.plural}/"

    def subresource(self, name: str) -> SubresourceInfo | None:
        """The subresource called ``name``, if this resource serves it."""
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None

    def all_field_labels(self) -> tuple[str, ...]:
        """All supported field labels, including metadata ones."""
        base: tuple[str, ...] = ("metadata.name",)
        if self.namespaced:
            base += ("metadata.namespace",)
        return base + self.field_labels


def _status(kind: str) -> SubresourceInfo:
    return SubresourceInfo(name="status", kind=kind, verbs=STATUS_VERBS)


NAMESPACES = ResourceInfo(
    group="",
    version="v1",
    kind="Namespace",
    plural="namespaces",
    singular="namespace",
    namespaced=False,
    schema_ref="io.k8s.api.core.v1.Namespace",
    list_kind="NamespaceList",
    short_names=("ns",),
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    subresources=(
        SubresourceInfo(name="finalize", kind="Namespace", verbs=("update",)),
        _status("Namespace"),
    ),
    field_labels=("status.phase",),
)

NODES = ResourceInfo(
    group="",
    version="v1",
    kind="Node",
    plural="nodes",
    singular="node",
    namespaced=False,
    schema_ref="io.k8s.api.core.v1.Node",
    list_kind="NodeList",
    short_names=("no",),
    subresources=(_status("Node"),),
    field_labels=("spec.unschedulable",),
)

PODS = ResourceInfo(
    group="",
    version="v1",
    kind="Pod",
    plural="pods",
    singular="pod",
    namespaced=True,
    schema_ref="io.k8s.api.core.v1.Pod",
    list_kind="PodList",
    short_names=("po",),
    categories=("all",),
    subresources=(
        SubresourceInfo(name="binding", kind="Binding", verbs=("create",)),
        _status("Pod"),
    ),
    field_labels=(
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
    ),
    field_label_aliases=(("spec.host", "spec.nodeName"),),
)

SERVICES = ResourceInfo(
    group="",
    version="v1",
    kind="Service",
    plural="services",
    singular="service",
    namespaced=True,
    schema_ref="io.k8s.api.core.v1.Service",
    list_kind="ServiceList",
    short_names=("svc",),
    categories=("all",),
    subresources=(_status("Service"),),
    field_labels=("spec.clusterIP", "spec.type"),
)

ENDPOINTS = ResourceInfo(
    group="",
    version="v1",
    kind="Endpoints",
    plural="endpoints",
    singular="endpoints",
    namespaced=True,
    schema_ref="io.k8s.api.core.v1.Endpoints",
    list_kind="EndpointsList",
    short_names=("ep",),
)

CONFIGMAPS = ResourceInfo(
    group="",
    version="v1",
    kind="ConfigMap",
    plural="configmaps",
    singular="configmap",
    namespaced=True,
    schema_ref="io.k8s.api.core.v1.ConfigMap",
    list_kind="ConfigMapList",
    short_names=("cm",),
)

EVENTS = ResourceInfo(
    group="",
    version="v1",
    kind="Event",
    plural="events",
    singular="event",
    namespaced=True,
    schema_ref="io.k8s.api.core.v1.Event",
    list_kind="EventList",
    short_names=("ev",),
    field_labels=(
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
)

ENDPOINTSLICES = ResourceInfo(
    group="discovery.k8s.io",
    version="v1",
    kind="EndpointSlice",
    plural="endpointslices",
    singular="endpointslice",
    namespaced=True,
    schema_ref="io.k8s.api.discovery.v1.EndpointSlice",
    list_kind="EndpointSliceList",
)

LEASES = ResourceInfo(
    group="coordination.k8s.io",
    version="v1",
    kind="Lease",
    plural="leases",
    singular="lease",
    namespaced=True,
    schema_ref="io.k8s.api.coordination.v1.Lease",
    list_kind="LeaseList",
)

#: Every served resource, core group first.
RESOURCES: tuple[ResourceInfo, ...] = (
    NAMESPACES,
    NODES,
    PODS,
    SERVICES,
    ENDPOINTS,
    CONFIGMAPS,
    EVENTS,
    ENDPOINTSLICES,
    LEASES,
)


def by_group_version() -> dict[str, list[ResourceInfo]]:
    """Resources grouped by ``group/version`` (``"v1"`` for core)."""
    grouped: dict[str, list[ResourceInfo]] = {}
    for info in RESOURCES:
        grouped.setdefault(info.group_version, []).append(info)
    return grouped


def lookup(group: str, version: str, plural: str) -> ResourceInfo | None:
    """The resource served at ``group/version/plural``, if any."""
    for info in RESOURCES:
        if info.group == group and info.version == version and info.plural == plural:
            return info
    return None


def by_kind(api_version: str, kind: str) -> ResourceInfo | None:
    """The resource whose objects have this ``apiVersion`` and ``kind``."""
    for info in RESOURCES:
        if info.api_version == api_version and info.kind == kind:
            return info
    return None
