"""The table of served resources.

One :class:`ResourceInfo` per REST resource drives routing, discovery, OpenAPI
publication and Table printing. Adding a simple kind is one entry here (plus a
strategy in :mod:`apiserver.registry` when it has rules of its own).

This module is pure data: every layer (and the controllers) may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apiserver.api import builtin

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

#: Kinds served in two versions over one storage (:mod:`apiserver.api.conversion`): the
#: ``(group, version)`` objects of each ``(group, plural)`` are stored as.
_STORED_AS: dict[tuple[str, str], tuple[str, str]] = {
    ("autoscaling", "horizontalpodautoscalers"): ("autoscaling", "v2"),
    ("events.k8s.io", "events"): ("", "v1"),
}

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
    #: Group and version of ``kind`` when it is not the parent's (``autoscaling``/``v1``
    #: for ``scale``); empty otherwise.
    group: str = ""
    version: str = ""


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
    #: A custom resource (defined by a CustomResourceDefinition): JSON only, no
    #: strategic merge patch, type errors are validation errors.
    custom: bool = False
    #: A custom resource's Table columns after Name: ``(name, type, format, description,
    #: priority, jsonPath)`` from the CRD's ``additionalPrinterColumns``.
    printer_columns: tuple[tuple[str, str, str, str, int, str], ...] = ()
    #: A custom resource's ``scale`` subresource: ``(specReplicasPath,
    #: statusReplicasPath, labelSelectorPath)`` (``.spec.replicas`` style; "" when unset).
    scale_paths: tuple[str, str, str] | None = None
    #: A custom resource served at a version other than its CRD's storage version: the
    #: ``apiVersion`` its objects are stored with (``conversion.strategy: None`` only
    #: relabels them); empty otherwise.
    storage_api_version: str = ""

    def relabel(self, raw: bytes) -> bytes:
        """Stored bytes of an object as this version serves them (its ``apiVersion``)."""
        if not self.storage_api_version:
            return raw
        stored = b'"apiVersion":"' + self.storage_api_version.encode() + b'"'
        return raw.replace(stored, b'"apiVersion":"' + self.api_version.encode() + b'"', 1)

    @property
    def api_version(self) -> str:
        """The ``apiVersion`` string of objects of this resource."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        """``group/version``, or just ``version`` for the core group."""
        return self.api_version

    @property
    def stored_group_version(self) -> tuple[str, str]:
        """``(group, version)`` of the objects in this resource's storage: its own, or
        the stored version of a kind served in two versions."""
        return _STORED_AS.get((self.group, self.plural), (self.group, self.version))

    @property
    def converts(self) -> bool:
        """Served in a version other than the one its objects are stored in (a built-in
        kind of two versions; see :mod:`apiserver.api.conversion`)."""
        return not self.custom and self.stored_group_version != (self.group, self.version)

    @property
    def storage_prefix(self) -> str:
        """Key prefix in storage; keys are ``<prefix><namespace>/<name>``.

        Follows kube-apiserver's etcd layout (``/registry/<resource>/``),
        with the group added for non-core resources as upstream does. The versions of a
        kind served in two share one prefix.
        """
        group = self.stored_group_version[0] if not self.custom else self.group
        if group:
            return f"/registry/{group}/{self.plural}/"
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


def _subresource(spec: str, parent_kind: str) -> SubresourceInfo:
    """``name:verbs[@group/version/Kind|@Kind]`` from a :mod:`apiserver.api.builtin` row
    (``@Kind`` alone: another kind of the parent's group version)."""
    head, _, target = spec.partition("@")
    name, _, verbs = head.partition(":")
    group = version = ""
    kind = parent_kind
    if "/" in target:
        group, version, kind = target.split("/")
    elif target:
        kind = target
    if name == "binding":
        kind = "Binding"
    return SubresourceInfo(name=name, kind=kind, verbs=tuple(verbs.split(",")),
                           group=group, version=version)


#: What the discovery rows do not say: field selectors beyond metadata, per resource.
_FIELD_LABELS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "namespaces"): ("status.phase",),
    ("", "nodes"): ("spec.unschedulable",),
    ("", "pods"): (
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
    ("", "services"): ("spec.clusterIP", "spec.type"),
    ("", "events"): (
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
    ("", "secrets"): ("type",),
    ("", "replicationcontrollers"): ("status.replicas",),
    ("", "persistentvolumeclaims"): ("spec.volumeName",),
    ("", "persistentvolumes"): ("spec.storageClassName",),
    ("apps", "replicasets"): ("status.replicas",),
    ("batch", "jobs"): ("status.successful",),
    ("certificates.k8s.io", "certificatesigningrequests"): ("spec.signerName",),
}
#: events.k8s.io/v1 selects by the core Event's fields under their own names (upstream's
#: ``AddFieldLabelConversionsForEvent``).
_EVENTS_V1_LABELS = (
    ("regarding.kind", "involvedObject.kind"),
    ("regarding.namespace", "involvedObject.namespace"),
    ("regarding.name", "involvedObject.name"),
    ("regarding.uid", "involvedObject.uid"),
    ("regarding.apiVersion", "involvedObject.apiVersion"),
    ("regarding.resourceVersion", "involvedObject.resourceVersion"),
    ("regarding.fieldPath", "involvedObject.fieldPath"),
    ("reportingController", "reportingComponent"),
)
_FIELD_LABELS[("events.k8s.io", "events")] = (
    *(label for label, _ in _EVENTS_V1_LABELS), "reason", "type")
_FIELD_LABEL_ALIASES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("", "pods"): (("spec.host", "spec.nodeName"),),
    ("events.k8s.io", "events"): _EVENTS_V1_LABELS,
}


def _from_row(row: builtin.Row) -> ResourceInfo:
    group_version, plural, kind, scope, short, categories, verbs, subs = row
    group, _, version = group_version.rpartition("/")
    return ResourceInfo(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=scope == "N",
        schema_ref=f"{builtin.schema_prefix(group)}.{version}.{kind}",
        list_kind=f"{kind}List",
        short_names=tuple(short.split(",")) if short else (),
        categories=tuple(categories.split(",")) if categories else (),
        verbs=ALL_VERBS if verbs == "*" else tuple(verbs.split(",")),
        subresources=tuple(_subresource(s, kind) for s in subs.split()),
        field_labels=_FIELD_LABELS.get((group, plural), ()),
        field_label_aliases=_FIELD_LABEL_ALIASES.get((group, plural), ()),
    )


#: Every served resource, in upstream discovery order (core group first).
RESOURCES: tuple[ResourceInfo, ...] = tuple(_from_row(row) for row in builtin.ROWS)
_BY_PATH: dict[tuple[str, str, str], ResourceInfo] = {
    (info.group, info.version, info.plural): info for info in RESOURCES
}
_BY_KIND: dict[tuple[str, str], ResourceInfo] = {}
for _info in RESOURCES:
    _BY_KIND.setdefault((_info.api_version, _info.kind), _info)


def _builtin(group: str, plural: str) -> ResourceInfo:
    return next(i for i in RESOURCES if i.group == group and i.plural == plural)


NAMESPACES = _builtin("", "namespaces")
NODES = _builtin("", "nodes")
PODS = _builtin("", "pods")
SERVICES = _builtin("", "services")
ENDPOINTS = _builtin("", "endpoints")
CONFIGMAPS = _builtin("", "configmaps")
EVENTS = _builtin("", "events")
ENDPOINTSLICES = _builtin("discovery.k8s.io", "endpointslices")
LEASES = _builtin("coordination.k8s.io", "leases")
CUSTOMRESOURCEDEFINITIONS = _builtin("apiextensions.k8s.io", "customresourcedefinitions")


#: Resources added at run time (the versions of established CustomResourceDefinitions),
#: by path. Only the apiserver process registers any; insertion order is served order.
_DYNAMIC: dict[tuple[str, str, str], ResourceInfo] = {}


def register_dynamic(info: ResourceInfo) -> None:
    """Serve ``info`` from now on (replacing an earlier row at the same path).

    ``ValueError`` when the path is a built-in resource's.
    """
    path = (info.group, info.version, info.plural)
    if path in _BY_PATH:
        raise ValueError(f"{info.plural}.{info.group} is a built-in resource")
    _DYNAMIC[path] = info


def unregister_dynamic(group: str, version: str, plural: str) -> None:
    """Stop serving a run-time resource (no-op when it is not served)."""
    _DYNAMIC.pop((group, version, plural), None)


def served_resources() -> tuple[ResourceInfo, ...]:
    """Every resource served now: the built-in ones, then the run-time ones."""
    return RESOURCES + tuple(_DYNAMIC.values()) if _DYNAMIC else RESOURCES


def by_group_version() -> dict[str, list[ResourceInfo]]:
    """Resources grouped by ``group/version`` (``"v1"`` for core)."""
    grouped: dict[str, list[ResourceInfo]] = {}
    for info in served_resources():
        grouped.setdefault(info.group_version, []).append(info)
    return grouped


def lookup(group: str, version: str, plural: str) -> ResourceInfo | None:
    """The resource served at ``group/version/plural``, if any."""
    path = (group, version, plural)
    return _BY_PATH.get(path) or _DYNAMIC.get(path)


def served(group: str, version: str, plural: str) -> ResourceInfo:
    """The resource served at ``group/version/plural``; ``KeyError`` when not served."""
    info = lookup(group, version, plural)
    if info is None:
        raise KeyError((group, version, plural))
    return info


def by_kind(api_version: str, kind: str) -> ResourceInfo | None:
    """The resource whose objects have this ``apiVersion`` and ``kind``."""
    info = _BY_KIND.get((api_version, kind))
    if info is None and _DYNAMIC:
        info = next((i for i in _DYNAMIC.values()
                     if i.api_version == api_version and i.kind == kind), None)
    return info
