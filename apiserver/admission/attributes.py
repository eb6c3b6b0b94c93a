"""What an admission plugin sees and what it may call: upstream's ``admission.Attributes``,
``MutationInterface``/``ValidationInterface`` and the listers/client plugins are given.

Contracts:

* :class:`AdmissionAttributes` describes one write (create, update, delete, connect) of one
  object; a mutating plugin may change ``object`` in place, a validating one must not.
* A plugin refuses by raising :class:`~apiserver.api.errors.ApiError` (usually through
  :func:`forbidden`, which words it as upstream's ``admission.NewForbidden``).
* :class:`ObjectSource` is the only way a plugin reads or writes other objects; the
  registry implements it (upstream plugins use informers and a loopback client), so this
  layer never imports the registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from apiserver.api import errors
from apiserver.api.resources import ResourceInfo
from apiserver.api.user import REQUEST_USER, UserInfo


class Operation(StrEnum):
    """The operation of an admission request (upstream ``admission.Operation``)."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CONNECT = "CONNECT"


def _requester() -> UserInfo:
    return REQUEST_USER.get()


@dataclass(slots=True)
class AdmissionAttributes:
    """One request as admission sees it.

    ``object`` is the new object (None on DELETE); ``old_object`` the stored one (None on
    CREATE). ``info`` is the resource's table row: kind, resource, group and version come
    from it. ``user`` defaults to the requester of the current request.
    """

    info: ResourceInfo
    operation: Operation
    namespace: str
    name: str
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None = None
    subresource: str = ""
    dry_run: bool = False
    user: UserInfo = field(default_factory=_requester)
    #: The request's ``CreateOptions``/``UpdateOptions``/``DeleteOptions`` (meta.k8s.io/v1).
    options: dict[str, Any] | None = None
    #: Audit annotations plugins added (upstream ``Attributes.AddAnnotation``).
    audit_annotations: dict[str, str] = field(default_factory=dict)
    #: A webhook replaced ``object`` with a patched one: the store decodes it again
    #: (pruning, defaults), as upstream decodes a webhook's patched object.
    patched: bool = False

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def resource(self) -> str:
        return self.info.plural

    @property
    def group(self) -> str:
        return self.info.group

    @property
    def version(self) -> str:
        return self.info.version

    def is_core(self, plural: str) -> bool:
        """Whether this is a request on the main resource (no subresource) ``core/plural``."""
        return not self.info.group and self.info.plural == plural and not self.subresource


@runtime_checkable
class MutatingPlugin(Protocol):
    """A plugin of the mutating phase (upstream ``MutationInterface``)."""

    name: str

    def handles(self, operation: Operation) -> bool: ...

    async def admit(self, attrs: AdmissionAttributes) -> None: ...


@runtime_checkable
class ValidatingPlugin(Protocol):
    """A plugin of the validating phase (upstream ``ValidationInterface``)."""

    name: str

    def handles(self, operation: Operation) -> bool: ...

    async def validate(self, attrs: AdmissionAttributes) -> None: ...


class ObjectSource(Protocol):
    """Reads and writes of other objects, for plugins (implemented by the registry).

    ``cached``/``cached_list`` read the watch cache (upstream listers: possibly a little
    stale; what they return is shared and must not be changed); ``populated`` tells whether
    the watch cache holds any object of ``info`` (in any namespace); ``live`` is a
    consistent read (a private copy); ``generation`` changes whenever the watch cache of
    ``info`` changes (a plugin may keep what it derived from ``cached_list`` until then).
    ``update_status`` replaces an object's status with ``obj``'s, with ``obj``'s
    ``metadata.resourceVersion`` as precondition (409 when it moved) and returns the
    stored object. ``convert`` returns ``obj`` as version
    ``info`` shows it (through its CRD's conversion webhook, else only relabelled).
    """

    def cached(self, info: ResourceInfo, namespace: str, name: str) -> dict[str, Any] | None: ...

    def cached_list(self, info: ResourceInfo, namespace: str) -> Sequence[dict[str, Any]]: ...

    def populated(self, info: ResourceInfo) -> bool: ...

    def generation(self, info: ResourceInfo) -> int: ...

    async def live(self, info: ResourceInfo, namespace: str, name: str) \
        -> dict[str, Any] | None: ...

    async def update_status(self, info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]: ...

    async def convert(self, obj: dict[str, Any], info: ResourceInfo) -> dict[str, Any]: ...


def object_name(attrs: AdmissionAttributes) -> str:
    """The name upstream's admission errors show: the object's name, else its
    ``generateName`` (names are generated after mutating admission), else ``Unknown``."""
    obj = attrs.object
    if obj is not None:
        md = obj.get("metadata")
        if isinstance(md, dict):
            if md.get("name"):
                return str(md["name"])
            if md.get("generateName"):
                return str(md["generateName"])
        return "Unknown"
    return attrs.name or "Unknown"


def forbidden(attrs: AdmissionAttributes, why: str) -> errors.ApiError:
    """Upstream ``admission.NewForbidden``: ``pods "x" is forbidden: <why>``."""
    return errors.forbidden(attrs.info, object_name(attrs), why)
